"""Metrics from predictions: accuracy, per-class P/R/F1, confusion, mistakes by loss."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class Evaluation:
    classes: list[str]
    accuracy: float
    confusion: np.ndarray  # rows = true, cols = predicted
    per_class: list[dict]  # class, precision, recall, f1, support
    macro: dict
    rows: list[dict]  # one per image: path, true, pred, confidence, loss, top3, correct

    def to_dict(self) -> dict:
        return {"classes": self.classes, "accuracy": self.accuracy,
                "confusion": self.confusion.tolist(), "per_class": self.per_class, "macro": self.macro,
                "misclassified": [r for r in self.rows if not r["correct"]]}


def evaluate_probs(paths: list[Path], y_true: list[int], probs: np.ndarray, classes: list[str]) -> Evaluation:
    n_c = len(classes)
    y = np.asarray(y_true, dtype=int)
    probs = np.asarray(probs, dtype=np.float64).reshape(len(y), n_c) if len(y) else np.zeros((0, n_c))
    pred = probs.argmax(1) if len(y) else np.zeros(0, dtype=int)
    conf = np.zeros((n_c, n_c), dtype=int)
    for t, p in zip(y, pred):
        conf[t, p] += 1
    per_class = []
    for k, c in enumerate(classes):
        tp = conf[k, k]
        prec = tp / conf[:, k].sum() if conf[:, k].sum() else 0.0
        rec = tp / conf[k, :].sum() if conf[k, :].sum() else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        per_class.append({"class": c, "precision": float(prec), "recall": float(rec), "f1": float(f1),
                          "support": int(conf[k, :].sum())})
    macro = {m: float(np.mean([r[m] for r in per_class])) if per_class else 0.0
             for m in ("precision", "recall", "f1")}
    rows = []
    for i in range(len(y)):
        order = np.argsort(-probs[i])[:3]
        rows.append({
            "path": str(paths[i]), "true": classes[y[i]], "pred": classes[pred[i]],
            "confidence": float(probs[i, pred[i]]),
            "loss": float(-np.log(max(probs[i, y[i]], 1e-12))),
            "top3": [(classes[k], float(probs[i, k])) for k in order],
            "correct": bool(pred[i] == y[i]),
        })
    rows.sort(key=lambda r: -r["loss"])  # most confidently wrong first
    acc = float((pred == y).mean()) if len(y) else float("nan")
    return Evaluation(list(classes), acc, conf, per_class, macro, rows)
