"""Teach by fixing, with a simulated user: how many checks until the gallery is right?

For each data set and split seed: train the default Quick model on part of a labelled set,
score the rest as an unlabelled gallery (build_teacher), then repeatedly "check" the next
suggested batch of 12 (an oracle answers with the true class) and re-sort. After every batch
we record the share of the gallery whose best guess (or the user's answer) is right, the
share auto-filed at a 98% target and how right that share really is. The same loop with
photos checked in random order is the baseline. Also: the precision of auto-filed photos
before any check (calibration held to the truth), and the time of one re-sort.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import numpy as np

from .common import SHARED, median, save

BATCH = 12
GOAL = 0.95
TARGET = 0.98


def _split(items, train_share: float, seed: int):
    """A stratified split of labelled (path, class) pairs into (labelled part, gallery)."""
    rng = random.Random(seed)
    by: dict[str, list] = {}
    for p, c in items:
        by.setdefault(c, []).append((p, c))
    part, gallery = [], []
    for c in sorted(by):
        xs = sorted(by[c])
        rng.shuffle(xs)
        k = max(2, round(len(xs) * train_share))
        part += xs[:k]
        gallery += xs[k:]
    return part, gallery


def _train_quick(part, tmp: Path, seed: int):
    from core.data.dataset import Dataset, Item, stratified_split
    from core.training.config import TrainConfig
    from core.training.train import train

    classes = sorted({c for _, c in part})
    ds = stratified_split(Dataset(tmp, [Item(p, c, "train") for p, c in part], "classes", classes), 0.2, seed)
    return ds, train(ds, TrainConfig(seed=seed))


def _state(preds, truth, labels):
    right = [labels.get(p.path, p.label) == truth[p.path] for p in preds]
    rest = [p for p in preds if p.path not in labels]
    filed = [p for p in rest if (p.calibrated or 0) >= TARGET]
    precision = float(np.mean([p.label == truth[p.path] for p in filed])) if filed else float("nan")
    return float(np.mean(right)), len(filed) / max(1, len(preds)), precision


def _loop(teacher, truth, order: str, seed: int, max_checks: int, until: float = 1.0):
    from core.inference.teach import next_to_check

    preds = teacher.predictions()
    labels: dict[Path, str] = {}
    curve = [(0, *_state(preds, truth, labels))]
    rng = random.Random(seed)
    while len(labels) < min(max_checks, len(preds)) and curve[-1][1] < until:
        if order == "suggested":
            picks = [
                preds[i].path
                for i in next_to_check(preds, teacher.features_for([p.path for p in preds]), labels, BATCH)
            ]
        else:
            left = [p.path for p in preds if p.path not in labels]
            picks = rng.sample(left, min(BATCH, len(left)))
        for p in picks:
            labels[p] = truth[p]
        preds = teacher.resort(labels)
        curve.append((len(labels), *_state(preds, truth, labels)))
    reached = next((n for n, acc, *_ in curve if acc >= GOAL), None)
    return curve, reached


def one(name: str, items, train_share: float, seed: int, tmp: Path) -> dict:
    from core.inference.teach import build_teacher

    part, gallery = _split(items, train_share, seed)
    ds, result = _train_quick(part, tmp, seed)
    from core.training.model_io import ModelBundle

    bundle = ModelBundle.from_result(result)
    from core.models.features import FeatureCache

    cache = FeatureCache()
    truth = dict(gallery)
    t0 = time.perf_counter()
    teacher, _ = build_teacher(
        bundle,
        [p for p, _ in gallery],
        cache,
        [(i.path, i.label) for i in ds.split_items("train")],
        [(i.path, i.label) for i in ds.split_items("val")],
    )
    score_s = time.perf_counter() - t0
    acc0, filed0, prec0 = _state(teacher.predictions(), truth, {})
    out = {
        "dataset": name,
        "seed": seed,
        "gallery": len(gallery),
        "trained_on": len(part),
        "quick_val_acc": result.metrics.val_accuracy,
        "score_s": round(score_s, 2),
        "start": {"accuracy": acc0, "filed_at_98": filed0, "precision_at_98": prec0},
    }
    for order in ("suggested", "random"):
        teacher.reset()
        curve, reached = _loop(teacher, truth, order, seed, max_checks=len(gallery))
        out[order] = {"checks_to_goal": reached, "curve": curve}
    # the time of one re-sort of a 1,000-photo gallery (rows repeated to that size)
    reps = int(np.ceil(1000 / len(teacher.paths)))
    teacher.X = np.tile(teacher.X, (reps, 1))[:1000]
    teacher.paths = [Path(f"/g/{k}.jpg") for k in range(1000)]
    teacher.graph = None
    teacher.build_graph()  # built once by the sort pass, not by a re-sort
    labels = {teacher.paths[k]: teacher.classes[k % len(teacher.classes)] for k in range(24)}
    times = []
    for _ in range(3):
        t = time.perf_counter()
        teacher.resort(labels)
        times.append(time.perf_counter() - t)
    out["resort_1000_s"] = median(times)
    return out


def _labelled(folder: Path):
    from core.data.dataset import scan_folder

    ds = scan_folder(folder)
    return [(i.path, i.label) for i in ds.labelled]


def run(runs: int = 3) -> dict:
    import tempfile

    sets = {"trashnet": (_labelled(SHARED / "trashnet"), 0.3), "hymenoptera": (_labelled(SHARED / "hymenoptera"), 0.3)}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (items, share) in sets.items():
            for seed in range(runs):
                r = one(name, items, share, seed, Path(tmp))
                print(
                    f"{name} seed {seed}: start acc {r['start']['accuracy']:.3f}; checks to {GOAL:.0%}: "
                    f"suggested {r['suggested']['checks_to_goal']}, random {r['random']['checks_to_goal']}; "
                    f"precision at 98% {r['start']['precision_at_98']:.3f} ({r['start']['filed_at_98']:.0%} filed); "
                    f"re-sort {r['resort_1000_s']:.2f} s",
                    flush=True,
                )
                rows.append(r)
    data = {"command": "python -m bench teach", "batch": BATCH, "goal": GOAL, "target": TARGET, "rows": rows}
    save("teach", data)
    return data
