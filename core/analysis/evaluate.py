"""Metrics from predictions: accuracy, per-class P/R/F1, confusion, mistakes by loss,
and likely label errors (k-fold cross-validated linear model on pooled features).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ..data.dataset import Dataset
    from ..models.backbones import WeightsChoice
    from ..models.features import FeatureCache


@dataclass
class Evaluation:
    classes: list[str]
    accuracy: float
    confusion: np.ndarray  # rows = true, cols = predicted
    per_class: list[dict]  # class, precision, recall, f1, support
    macro: dict
    rows: list[dict]  # one per image: path, true, pred, confidence, loss, top3, correct

    def to_dict(self) -> dict:
        return {
            "classes": self.classes,
            "accuracy": self.accuracy,
            "confusion": self.confusion.tolist(),
            "per_class": self.per_class,
            "macro": self.macro,
            "misclassified": [r for r in self.rows if not r["correct"]],
        }


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
        per_class.append(
            {
                "class": c,
                "precision": float(prec),
                "recall": float(rec),
                "f1": float(f1),
                "support": int(conf[k, :].sum()),
            }
        )
    macro = {m: float(np.mean([r[m] for r in per_class])) if per_class else 0.0 for m in ("precision", "recall", "f1")}
    rows = []
    for i in range(len(y)):
        order = np.argsort(-probs[i])[:3]
        rows.append(
            {
                "path": str(paths[i]),
                "true": classes[y[i]],
                "pred": classes[pred[i]],
                "confidence": float(probs[i, pred[i]]),
                "loss": float(-np.log(max(probs[i, y[i]], 1e-12))),
                "top3": [(classes[k], float(probs[i, k])) for k in order],
                "correct": bool(pred[i] == y[i]),
            }
        )
    rows.sort(key=lambda r: -r["loss"])  # most confidently wrong first
    acc = float((pred == y).mean()) if len(y) else float("nan")
    return Evaluation(list(classes), acc, conf, per_class, macro, rows)


# ---------------------------------------------------------------- likely label errors


@dataclass
class LabelSuspect:
    path: Path
    split: str
    given: str  # the label the image has now
    suggested: str  # the out-of-fold prediction
    confidence: float  # out-of-fold probability of ``suggested``
    given_prob: float  # out-of-fold probability of ``given`` (low = likely wrong)


@dataclass
class LabelErrorReport:
    classes: list[str]
    suspects: list[LabelSuspect]  # most likely wrong first
    n_checked: int
    folds: int
    oof_accuracy: float  # how well the linear model predicts held-out labels at all
    skipped: list[tuple[str, str]] = field(default_factory=list)
    confirmed: int = 0  # checked images whose label the person confirmed: never listed as suspects


def out_of_fold_probs(
    X: np.ndarray, y: np.ndarray, n_classes: int, folds: int = 5, seed: int = 0, C: float = 10.0
) -> np.ndarray:
    """Probabilities for every row from a logistic regression that never saw that row.

    Why out-of-fold: a model scoring its own training images has memorised their
    labels, right or wrong; only held-out predictions can disagree with a label.
    Why L2-normalised rows (not per-feature scaling): with few images per fold,
    standardising 1280 dims inflates noise dims and flags clean outliers.
    (scikit-learn arrives with grad-cam, which depends on it.)
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import Normalizer

    y = np.asarray(y, dtype=int)
    counts = np.bincount(y, minlength=n_classes)
    present = counts[counts > 0]
    if len(present) < 2 or present.min() < 2:
        raise ValueError("label checking needs at least two classes with two or more images each")
    k = int(min(folds, present.min()))
    probs = np.zeros((len(y), n_classes))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter on tiny folds
        for tr, te in StratifiedKFold(k, shuffle=True, random_state=seed).split(X, y):
            clf = make_pipeline(Normalizer(), LogisticRegression(C=C, max_iter=2000))
            clf.fit(X[tr], y[tr])
            probs[np.ix_(te, clf.classes_)] = clf.predict_proba(X[te])
    return probs


def likely_label_errors(
    X: np.ndarray,
    y: Sequence[int],
    classes: Sequence[str],
    paths: Sequence[Path],
    splits: Sequence[str] | None = None,
    folds: int = 5,
    seed: int = 0,
    min_confidence: float = 0.0,
    confirmed: Collection[tuple[Path, str]] = (),
) -> tuple[list[LabelSuspect], np.ndarray]:
    """Images whose given class disagrees with the out-of-fold prediction, most likely wrong first.

    Classes with fewer than two images are left out (nothing to hold out against).
    ``confirmed`` holds (photo, label) pairs the person confirmed (a move, a keep, a teach
    answer, a photo placed in a group): a photo whose label is one of them is never a
    suspect, as the person's word outranks a cross-validated guess. It still trains the
    folds. Returns (suspects, out-of-fold probabilities for the rows that were checked).
    """
    y = np.asarray(y, dtype=int)
    counts = np.bincount(y, minlength=len(classes))
    rows = np.flatnonzero(counts[y] >= 2)
    probs = out_of_fold_probs(np.asarray(X, dtype=np.float64)[rows], y[rows], len(classes), folds, seed)
    sure = {(Path(p), c) for p, c in confirmed}
    suspects = []
    for r, p in zip(rows, probs):
        pred = int(p.argmax())
        if (Path(paths[r]), classes[y[r]]) in sure:
            continue
        if pred != y[r] and p[pred] >= min_confidence:
            suspects.append(
                LabelSuspect(
                    Path(paths[r]),
                    splits[r] if splits else "train",
                    classes[y[r]],
                    classes[pred],
                    float(p[pred]),
                    float(p[y[r]]),
                )
            )
    # most confidently contradicted first: the order the page shows them in, by the figure it shows
    suspects.sort(key=lambda s: (-s.confidence, s.given_prob))
    return suspects, probs


def find_label_errors(
    dataset: Dataset,
    backbone: str,
    weights: WeightsChoice,
    cache: FeatureCache,
    folds: int = 5,
    seed: int = 0,
    min_confidence: float = 0.0,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    confirmed: Collection[tuple[Path, str]] = (),
) -> LabelErrorReport:
    """Check every labelled, included training and validation image of ``dataset`` (a test split stays out).

    ``confirmed``: (photo, label) pairs the person confirmed; those labels are never flagged.
    """
    items = [i for i in dataset.labelled if i.split != "test"]
    classes = list(dataset.classes)
    cidx = {c: k for k, c in enumerate(classes)}
    from ..models.features import pretrained_features

    f = pretrained_features([i.path for i in items], backbone, weights, cache, progress, should_stop)
    X, ok, fails = f.X, f.ok, f.failures
    kept = [items[i] for i in ok]
    y = np.array([cidx[i.label] for i in kept], dtype=int)
    suspects, probs = likely_label_errors(
        X, y, classes, [i.path for i in kept], [i.split for i in kept], folds, seed, min_confidence, confirmed
    )
    counts = np.bincount(y, minlength=len(classes))
    checked = y[counts[y] >= 2]
    sure = {(Path(p), c) for p, c in confirmed}
    n_sure = sum(1 for i in kept if counts[cidx[i.label]] >= 2 and (i.path, i.label) in sure)
    acc = float((probs.argmax(1) == checked).mean()) if len(checked) else float("nan")
    return LabelErrorReport(
        classes,
        suspects,
        len(checked),
        int(min(folds, counts[counts >= 2].min())),
        acc,
        [(str(items[i].path), e) for i, e in fails],
        n_sure,
    )
