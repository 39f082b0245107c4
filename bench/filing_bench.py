"""Does filing spend its precision target on photos? A user's sort, measured against the truth.

For a shared set with class folders: a stratified 60% is the labelled folder, the other 40% a flat
gallery of neutral names (its truth read only here). As a user would: ``core train TRAIN --out M``
(the automatic default), then ``core sort M GALLERY --precision 0.98`` and the same with
``--learn-from-gallery --data TRAIN``. For each sort: the share filed and how right it really
is, the certified figure the CLI printed, and what the best single threshold on the
``calibrated`` column could have filed at 98% knowing the truth (the hindsight share), and
what the old per-photo rule (each filed photo at least 98% likely) would have filed.

    python -m bench filing --runs 3
"""

from __future__ import annotations

import csv
import os
import random
import re
import tempfile
import time
from pathlib import Path

from .common import SHARED, median, peak_rss_mb, save

TARGET = 0.98
TRAIN_SHARE = 0.6
SETS = ("trashnet",)  # phone photos in 6 classes, the closest shared set to a clothing gallery


def split_links(root: Path, seed: int, tmp: Path) -> dict[str, str]:
    """Hard links: tmp/train/<class>/... (60%) and tmp/gallery/<n>.jpg (40%); returns gallery name -> class."""
    from core.data.dataset import scan_folder

    by: dict[str, list[Path]] = {}
    for item in scan_folder(root).labelled:
        by.setdefault(item.label, []).append(item.path)
    rng, truth, n = random.Random(seed), {}, 0
    for cls in sorted(by):
        paths = sorted(by[cls])
        rng.shuffle(paths)
        k = round(TRAIN_SHARE * len(paths))
        for p in paths[:k]:
            (tmp / "train" / cls).mkdir(parents=True, exist_ok=True)
            os.link(p, tmp / "train" / cls / p.name)
        for p in paths[k:]:
            (tmp / "gallery").mkdir(parents=True, exist_ok=True)
            name = f"{n:05d}{p.suffix.lower()}"
            os.link(p, tmp / "gallery" / name)
            truth[name] = cls
            n += 1
    return truth


def measure(predictions_csv: Path, truth: dict[str, str], target: float = TARGET) -> dict:
    """Filed share and precision of a sort, the hindsight share, and the old per-photo rule's."""
    rows = [r for r in csv.DictReader(open(predictions_csv)) if Path(r["path"]).name in truth and r["class"]]
    ok = [r["class"] == truth[Path(r["path"]).name] for r in rows]
    filed = [k for k, r in enumerate(rows) if r["folder"] != "unsure"]
    cal = [float(r["calibrated"]) for r in rows]
    order = sorted(range(len(rows)), key=lambda k: -cal[k])
    best, right = 0, 0
    for n, k in enumerate(order, 1):
        right += ok[k]
        if right / n >= target:
            best = n
    per_photo = [k for k in range(len(rows)) if cal[k] >= target]
    return {
        "n": len(rows),
        "accuracy": sum(ok) / max(1, len(rows)),
        "filed_share": len(filed) / max(1, len(rows)),
        "filed_precision": sum(ok[k] for k in filed) / max(1, len(filed)),
        "hindsight_share": best / max(1, len(rows)),
        "per_photo_share": len(per_photo) / max(1, len(rows)),
        "per_photo_precision": sum(ok[k] for k in per_photo) / max(1, len(per_photo)),
    }


def one(name: str, seed: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="gs-filing-", dir=SHARED.parent.parent) as tmp:
        tmp = Path(tmp)
        truth = split_links(SHARED / name, seed, tmp)
        peak, train_s, out = peak_rss_mb(["train", str(tmp / "train"), "--out", str(tmp / "m"), "--seed", str(seed)])
        row = {
            "dataset": name,
            "seed": seed,
            "gallery": len(truth),
            "kept": re.search(r"kept (\w+)", out).group(1) if "kept" in out else "",
            "train_s": train_s,
            "train_peak_mb": peak,
        }
        for key, extra in (("plain", []), ("learn", ["--learn-from-gallery", "--data", str(tmp / "train")])):
            dest = tmp / f"sorted-{key}"
            sort_peak, sort_s, said = peak_rss_mb(
                ["sort", str(tmp / "m"), str(tmp / "gallery"), "--out", str(dest), "--precision", str(TARGET), *extra]
            )
            got = re.search(r"certified precision >= ([\d.]+)%", said)
            row[key] = {
                **measure(dest / "predictions.csv", truth),
                "certified": float(got.group(1)) / 100 if got else None,
                "said": [line for line in said.splitlines() if line.startswith(("filed", "certified", "At least"))],
                "sort_s": sort_s,
                "sort_peak_mb": sort_peak,
            }
        return row


def run(runs: int = 3) -> dict:
    rows = []
    for name in SETS:
        for seed in range(runs):
            t0 = time.perf_counter()
            r = one(name, seed)
            rows.append(r)
            for key in ("plain", "learn"):
                m = r[key]
                print(
                    f"{name} seed {seed} {key}: filed {m['filed_share']:.3f} at {m['filed_precision']:.3f} "
                    f"(certified {m['certified']}); hindsight {m['hindsight_share']:.3f}; per-photo "
                    f"{m['per_photo_share']:.3f} at {m['per_photo_precision']:.3f}; acc {m['accuracy']:.3f}",
                    flush=True,
                )
            print(f"  ({r['kept']}, {time.perf_counter() - t0:.0f} s)", flush=True)
    summary = {
        f"{name} {key}": {
            k: median([r[key][k] for r in rows if r["dataset"] == name])
            for k in (
                "accuracy",
                "filed_share",
                "filed_precision",
                "hindsight_share",
                "per_photo_share",
                "per_photo_precision",
            )
        }
        | {"min_precision": min(r[key]["filed_precision"] for r in rows if r["dataset"] == name)}
        for name in SETS
        for key in ("plain", "learn")
    }
    data = {"command": f"python -m bench filing --runs {runs}", "target": TARGET, "rows": rows, "summary": summary}
    save("filing", data)
    return data
