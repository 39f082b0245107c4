"""Reading the text on photos: accuracy on the generated phone gallery, and what it costs.

    python -m bench text-accuracy [--runs N]   # train on half the gallery, sort the other half at 98%
    python -m bench text-speed [--runs N]      # sorting 12 MP JPEGs and Quick's wall time, text on vs off

The gallery is :mod:`bench.phone_gallery`'s (7 kinds, 150 each, seed 0), built next to the
repository on first use. Each seed splits it in two halves stratified by kind, keeping every
source photo's variants on one side (scenery reuses its 44 sources). The user's commands run
as they would: ``core train HALF --out M --seed S`` (the automatic default, with ``--text`` or
``--no-text``), then ``core sort M OTHER_HALF --precision 0.98``; the truth is only read here.
"""

from __future__ import annotations

import csv
import json
import os
import random
import re
import shutil
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from .common import OUT, ROOT, median, paired_ratio, peak_rss_mb, save

GALLERY = ROOT.parent / "bench-data" / "phone_gallery"
TARGET = 0.98


def gallery() -> tuple[Path, dict[str, dict]]:
    """The generated gallery and its manifest (built once, about 7 minutes here)."""
    manifest = GALLERY.with_name(GALLERY.name + ".manifest.json")
    if not manifest.exists():
        from .phone_gallery import build, write_manifest

        if GALLERY.exists():
            shutil.rmtree(GALLERY)
        write_manifest(build(GALLERY, 150, seed=0))
    return GALLERY, json.loads(manifest.read_text())["files"]


def halves(files: dict[str, dict], seed: int) -> tuple[list[str], list[str]]:
    """Two halves stratified by kind; the variants of one source photo stay together."""
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for rel, info in sorted(files.items()):
        groups[(info["kind"], (info.get("sources") or [rel])[0])].append(rel)
    rng = random.Random(seed)
    first, second = [], []
    by_kind: dict[str, list[list[str]]] = defaultdict(list)
    for (kind, _), members in groups.items():
        by_kind[kind].append(members)
    for kind in sorted(by_kind):
        gs = by_kind[kind]
        rng.shuffle(gs)
        half, n_first = sum(len(g) for g in gs) / 2, 0
        for g in gs:
            if n_first < half:
                first.extend(g)
                n_first += len(g)
            else:
                second.extend(g)
    return first, second


def _link_tree(root: Path, rels: list[str], dest: Path, flat: bool) -> dict[str, str]:
    """Hard links of ``rels`` under ``dest`` (class folders, or one flat folder); returns name -> kind."""
    truth = {}
    for k, rel in enumerate(rels):
        kind = rel.split("/")[0]
        name = f"{k:05d}{Path(rel).suffix}" if flat else rel
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(root / rel, target)
        truth[name] = kind
    return truth


def score(predictions_csv: Path, truth: dict[str, str]) -> dict:
    """Accuracy, meme recall, the share filed at the target and how many of those are right."""
    with open(predictions_csv) as f:
        rows = [r for r in csv.DictReader(f) if r["path"] in truth]
    right = [r["class"] == truth[r["path"]] for r in rows]
    memes = [r["class"] == "memes" for r in rows if truth[r["path"]] == "memes"]
    filed = [r for r in rows if r["folder"] != "unsure"]
    filed_right = [r["class"] == truth[r["path"]] for r in filed]
    per_kind = {
        k: sum(r["class"] == k for r in rows if truth[r["path"]] == k)
        / max(1, sum(truth[r["path"]] == k for r in rows))
        for k in sorted(set(truth.values()))
    }
    return {
        "n": len(rows),
        "accuracy": sum(right) / max(1, len(rows)),
        "meme_recall": sum(memes) / max(1, len(memes)),
        "recall_by_kind": per_kind,
        "filed_share": len(filed) / max(1, len(rows)),
        "filed_precision": sum(filed_right) / max(1, len(filed)),
    }


def run_accuracy(runs: int = 3, modes: tuple[bool, ...] = (True, False)) -> None:
    """``modes``: text on and/or off; rows of a mode not run now are kept from the last results."""
    root, files = gallery()
    rows = []
    for seed in range(runs):
        train_rels, held_rels = halves(files, seed)
        for text in modes:
            with tempfile.TemporaryDirectory(prefix="gs-text-", dir=root.parent) as tmp:
                tmp = Path(tmp)
                _link_tree(root, train_rels, tmp / "train", flat=False)
                truth = _link_tree(root, held_rels, tmp / "held", flat=True)
                flag = "--text" if text else "--no-text"
                t0 = time.perf_counter()
                peak, wall, out = peak_rss_mb(
                    ["train", str(tmp / "train"), "--out", str(tmp / "m"), "--seed", str(seed), flag]
                )
                sort_peak, sort_wall, _ = peak_rss_mb(
                    ["sort", str(tmp / "m"), str(tmp / "held"), "--out", str(tmp / "s"), "--precision", str(TARGET)]
                )
                r = {
                    "seed": seed,
                    "text": text,
                    "val_accuracy": float(re.search(r"^val_accuracy ([\d.]+)", out, re.M).group(1)),
                    "kept": re.search(r"kept (\w+)", out).group(1),
                    "reads": re.search(r"^text (.*)$", out, re.M).group(1),
                    "train_s": wall,
                    "train_peak_mb": peak,
                    "sort_s": sort_wall,
                    "sort_peak_mb": sort_peak,
                    **score(tmp / "s" / "predictions.csv", truth),
                }
                learn = tmp / "s-learn"
                peak_rss_mb(
                    ["sort", str(tmp / "m"), str(tmp / "held"), "--out", str(learn), "--precision", str(TARGET)]
                    + ["--learn-from-gallery", "--data", str(tmp / "train")]
                )
                r["learn"] = score(learn / "predictions.csv", truth)
                rows.append(r)
                print(
                    f"  learning from the gallery: acc {r['learn']['accuracy']:.3f} memes "
                    f"{r['learn']['meme_recall']:.3f} filed {r['learn']['filed_share']:.3f} at "
                    f"{r['learn']['filed_precision']:.3f}",
                    flush=True,
                )
                print(
                    f"  seed {seed} text {text}: acc {r['accuracy']:.3f} memes {r['meme_recall']:.3f} "
                    f"filed {r['filed_share']:.3f} at {r['filed_precision']:.3f} ({r['kept']}, {r['reads']}; "
                    f"{time.perf_counter() - t0:.0f} s)",
                    flush=True,
                )
    old = OUT / "text_accuracy.json"
    if old.exists():
        rows = [r for r in json.loads(old.read_text())["rows"] if r["text"] not in modes] + rows
    summary = {
        mode: {
            k: median([r[k] for r in rows if r["text"] == (mode == "text")])
            for k in ("accuracy", "meme_recall", "filed_share", "filed_precision", "val_accuracy", "train_s")
        }
        | {"train_peak_mb": max(r["train_peak_mb"] for r in rows if r["text"] == (mode == "text"))}
        | {"sort_peak_mb": max(r["sort_peak_mb"] for r in rows if r["text"] == (mode == "text"))}
        for mode in ("text", "no text")
    }
    save(
        "text_accuracy",
        {
            "command": f"python -m bench text-accuracy --runs {runs}"
            + ("" if len(modes) == 2 else f" (text {'on' if modes[0] else 'off'}; the other mode's rows kept)"),
            "gallery": f"{root.name}: {len(files)} generated photos in 7 kinds (bench/phone_gallery.py, seed 0)",
            "target": TARGET,
            "rows": rows,
            "summary": summary,
        },
    )


# ---------------------------------------------------------------- speed and memory


def _twelve_mp(src: list[Path], dest: Path, n: int) -> list[Path]:
    """n 4032 x 3024 JPEGs (12 MP, a phone camera's size) made from the gallery's photos and memes."""
    from PIL import Image

    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for k in range(n):
        p = dest / f"IMG_{k:04d}.jpg"
        if not p.exists():
            with Image.open(src[k % len(src)]) as im:
                im.convert("RGB").resize((4032, 3024), Image.BICUBIC).save(p, quality=90)
        out.append(p)
    return out


def _sort_rate(bundle, paths: list[Path]) -> float:
    from core.inference.sort import predict_paths

    t = time.perf_counter()
    n = sum(1 for _ in predict_paths(bundle, paths))
    return n / (time.perf_counter() - t)


def run_speed(runs: int = 3) -> None:
    """Sorting rate with and without text (interleaved, one model each), and Quick's wall time."""
    import numpy as np

    from core.data.dataset import load_dataset
    from core.models.features import FeatureCache
    from core.training.ladder import recipe
    from core.training.model_io import ModelBundle
    from core.training.train import train

    from .common import SHARED

    root, files = gallery()
    picks = [root / r for r, i in sorted(files.items()) if i["kind"] in ("memes", "animals", "documents")]
    big = _twelve_mp(picks[::7], root.parent / "phone_gallery_12mp", 60)
    ds = load_dataset(root, 0.2, 0)
    bundles = {}
    for text in (True, False):
        r = train(ds, recipe("quick", text=text), FeatureCache())
        bundles[text] = ModelBundle.from_result(r)
    _sort_rate(bundles[True], big[:8])  # warm both paths: exports, detector session
    _sort_rate(bundles[False], big[:8])
    on, off = [], []
    for k in range(runs):
        order = (True, False) if k % 2 == 0 else (False, True)
        got = {t: _sort_rate(bundles[t], big) for t in order}
        on.append(got[True])
        off.append(got[False])
        print(f"  sort 12 MP: text {got[True]:.1f} img/s, no text {got[False]:.1f} img/s", flush=True)
    quick = {"text": [], "no text": [], "peak_text": [], "peak_no_text": []}
    data = SHARED / "trashnet"
    for k in range(runs):
        for text in (True, False) if k % 2 == 0 else (False, True):
            with tempfile.TemporaryDirectory(prefix="gs-quick-") as tmp:
                flag = "--text" if text else "--no-text"
                peak, wall, _ = peak_rss_mb(["-q", "train", str(data), "--out", tmp, "--quality", "quick", flag])
            quick["text" if text else "no text"].append(wall)
            quick["peak_text" if text else "peak_no_text"].append(peak)
            print(f"  quick on trashnet, {flag}: {wall:.1f} s, peak {peak:.0f} MB", flush=True)
    save(
        "text_speed",
        {
            "command": f"python -m bench text-speed --runs {runs}",
            "sort_12mp": {
                "images": len(big),
                "text_img_s": on,
                "no_text_img_s": off,
                "ratio_median": paired_ratio(on, off),
            },
            "quick_trashnet": {
                "text_s": quick["text"],
                "no_text_s": quick["no text"],
                "ratio_median": paired_ratio(quick["text"], quick["no text"]),
                "peak_text_mb": float(np.max(quick["peak_text"])),
                "peak_no_text_mb": float(np.max(quick["peak_no_text"])),
            },
        },
    )
