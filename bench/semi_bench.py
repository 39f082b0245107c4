"""Let the unsorted photos teach: the supervised head against learning from the gallery, at few labels.

For trashnet and hymenoptera, with 5%, 10% and 30% of each class labelled (the rest is the
gallery, its truth read only here): train the default Quick model on the labelled part (it holds
its own validation split), score the gallery once (build_teacher), and compare
- accuracy on the unlabelled rest: the head alone vs learning from the gallery (smoothing over
  look-alikes or self-training on confident photos, whichever validation keeps; else the head),
- the certified filing at 98%: share filed and how right it really is,
- checks to 95% right in the teach loop (suggested batches of 12), with and without learning,
and the time of one re-sort of a 1,000- and a 10,000-photo gallery (features repeated to size).

    python -m bench semi --runs 3
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from .common import SHARED, median, save
from .teach_bench import GOAL, TARGET, _labelled, _loop, _split, _train_quick

SHARES = (0.05, 0.10, 0.30)
LOOP_SHARES = (0.10, 0.30)  # the teach loop is run at these (at 5% validation is too small to decide)


def filing(teacher, truth: dict[Path, str], labels: dict[Path, str]) -> dict:
    """The certified rule at TARGET on the teacher's current predictions, measured against the truth."""
    from core.inference.certify import certified_rule

    preds = teacher.predictions()
    rule, cert = certified_rule(preds, teacher.classes, teacher.held_out(), TARGET, labels)
    rest = [p for p in preds if p.path not in labels]
    filed = [p for p in rest if rule.folder(p) != "unsure"]
    right = [p.label == truth[p.path] for p in filed]
    return {
        "accuracy": float(np.mean([p.label == truth[p.path] for p in rest])),
        "filed_share": len(filed) / max(1, len(rest)),
        "filed_precision": float(np.mean(right)) if right else float("nan"),
        "certified": cert.certified,
        "held_out": cert.held_out,
    }


def resort_seconds(teacher, n: int) -> dict:
    """One re-sort (24 answers) of an n-photo gallery made by repeating the teacher's rows; graph build apart."""
    reps = int(np.ceil(n / len(teacher.paths)))
    rng = np.random.default_rng(0)
    teacher.X = (np.tile(teacher.X, (reps, 1))[:n] + rng.normal(0, 1e-3, (n, teacher.X.shape[1]))).astype(np.float32)
    teacher.paths = [Path(f"/g/{k}.jpg") for k in range(n)]
    teacher.graph = None
    t = time.perf_counter()
    teacher.build_graph()
    graph_s = time.perf_counter() - t
    labels = {teacher.paths[k]: teacher.classes[k % len(teacher.classes)] for k in range(24)}
    times = []
    for _ in range(3):
        t = time.perf_counter()
        preds = teacher.resort(labels)
        from core.inference.certify import certified_rule

        certified_rule(preds, teacher.classes, teacher.held_out(), TARGET, labels)
        times.append(time.perf_counter() - t)
    return {"graph_s": graph_s, "resort_s": median(times)}


def _teacher(items, share: float, seed: int, tmp: Path, cache):
    """Quick trained on the labelled share, the rest scored as a gallery: (teacher, gallery truth)."""
    from core.inference.teach import build_teacher
    from core.training.model_io import ModelBundle

    part, gallery = _split(items, share, seed)
    ds, result = _train_quick(part, tmp, seed)
    teacher, _ = build_teacher(
        ModelBundle.from_result(result),
        [p for p, _ in gallery],
        cache,
        [(i.path, i.label) for i in ds.split_items("train")],
        [(i.path, i.label) for i in ds.split_items("val")],
    )
    return teacher, dict(gallery), len(part)


def one(name: str, items, share: float, seed: int, tmp: Path, cache, loop: bool) -> dict:
    teacher, truth, labelled = _teacher(items, share, seed, tmp, cache)
    gallery = list(truth)
    out = {"dataset": name, "share": share, "seed": seed, "labelled": labelled, "gallery": len(gallery)}
    for learn in (False, True):
        teacher.learn = learn
        teacher.reset()
        key = "learn" if learn else "head"
        out[key] = filing(teacher, truth, {})
        if learn:
            out["learned"] = teacher.learned.words() if teacher.learned else "not run"
            out["learn_used"] = bool(teacher.learned and teacher.learned.used)
        if loop:
            curve, reached = _loop(teacher, truth, "suggested", seed, max_checks=len(gallery), until=GOAL)
            out[key]["checks_to_goal"] = reached
            out[key]["after_loop"] = filing(teacher, truth, teacher.labels)
            teacher.reset()
    return out


def run(runs: int = 3) -> dict:
    from core.models.features import FeatureCache

    rows = []
    for name in ("trashnet", "hymenoptera"):
        items = _labelled(SHARED / name)
        cache = FeatureCache()
        with tempfile.TemporaryDirectory() as tmp:
            for share in SHARES:
                for seed in range(runs):
                    r = one(name, items, share, seed, Path(tmp), cache, share in LOOP_SHARES)
                    h, s = r["head"], r["learn"]
                    checks = (
                        f"; checks to {GOAL:.0%}: {h.get('checks_to_goal')} -> {s.get('checks_to_goal')}"
                        if "checks_to_goal" in h
                        else ""
                    )
                    print(
                        f"{name} {share:.0%} seed {seed}: acc {h['accuracy']:.3f} -> {s['accuracy']:.3f} "
                        f"(used: {r['learn_used']}); filed at 98% {h['filed_share']:.2f}@{h['filed_precision']:.3f}"
                        f" -> {s['filed_share']:.2f}@{s['filed_precision']:.3f}{checks}",
                        flush=True,
                    )
                    rows.append(r)
                    if name == "trashnet" and share == 0.30 and seed == 0:
                        t, _, _ = _teacher(items, share, seed, Path(tmp), cache)
                        timing = {n: resort_seconds(t, n) for n in (1000, 10000)}
                        print(f"re-sort: {timing}", flush=True)
    summary = {}
    for name in ("trashnet", "hymenoptera"):
        for share in SHARES:
            rs = [r for r in rows if r["dataset"] == name and r["share"] == share]
            s = {
                f"{m}_{k}": median([r[m][k] for r in rs])
                for m in ("head", "learn")
                for k in ("accuracy", "filed_share", "filed_precision")
            }
            s["gain_points"] = median([100 * (r["learn"]["accuracy"] - r["head"]["accuracy"]) for r in rs])
            s["learn_used"] = sum(r["learn_used"] for r in rs)
            if share in LOOP_SHARES:
                pairs = [(r["head"]["checks_to_goal"], r["learn"]["checks_to_goal"]) for r in rs]
                s["checks_head"] = [a for a, _ in pairs]
                s["checks_learn"] = [b for _, b in pairs]
                ok = [(a, b) for a, b in pairs if a and b is not None]
                s["checks_ratio"] = median([b / a for a, b in ok]) if ok else None
            summary[f"{name} {share:.0%}"] = s
    data = {
        "command": f"python -m bench semi --runs {runs}",
        "target": TARGET,
        "goal": GOAL,
        "rows": rows,
        "summary": summary,
        "resort": timing,
    }
    save("semi", data)
    return data
