"""Memory at any gallery size: peak RSS of the default training and of sorting, at about 1k, 5k
and 20k photos, and of Discover followed by training in one process.

The larger galleries are trashnet's photos copied with augmentation (``scale_bench.make_large``:
crop, flip, small rotation, light and contrast; a photo's copies in one split). Each run is its own
process, measured by its VmHWM (``bench.rss``):

- *train*: ``core train DATA --out M`` (Automatic, 240 s budget), the user's command;
- *sort*: ``core sort M GALLERY --out OUT`` with the model trained on trashnet, over every photo of
  the gallery (copies into class folders);
- *discover then train*: what the Discover page and then the Train page do in one session: the
  groups proposed on the default backbone, then the default training, one feature cache.

    python -m bench memory [--runs N]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .common import ROOT, SHARED, median, peak_rss_mb, save
from .scale_bench import make_large

SIZES = {"1k": 1, "5k": 5, "20k": 20}  # copies of trashnet's 1,037 photos (1 = trashnet itself)


def gallery(copies: int) -> Path:
    return SHARED / "trashnet" if copies == 1 else make_large(copies)


def photos(root: Path) -> int:
    return sum(1 for p in root.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))


def train_rss(data: Path, out: Path) -> dict:
    peak, wall, text = peak_rss_mb(["-q", "train", str(data), "--out", str(out)])
    kept = text.split("kept ")[1].split()[0] if "kept " in text else "?"
    return {"peak_rss_mb": peak, "wall_s": wall, "kept": kept.lower()}


def sort_rss(model: Path, data: Path, out: Path) -> dict:
    peak, wall, _ = peak_rss_mb(["-q", "sort", str(model), str(data), "--out", str(out)])
    return {"peak_rss_mb": peak, "wall_s": wall}


def discover_then_train_rss(data: Path, hosted: bool) -> dict:
    """Discover and the default training in one process, sharing one feature cache (one session).
    Hosted, Discover runs on Lite0 (training's backbone); locally on Lite2, closed before training."""
    t = time.perf_counter()
    env = dict(os.environ, GS_HOSTED="1" if hosted else "0")
    cmd = [sys.executable, "-m", "bench.memory_curve", str(data)]
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        raise RuntimeError(p.stderr[-2000:])
    line = [x for x in p.stdout.splitlines() if x.startswith("PEAK_RSS_MB ")][-1]
    return {"peak_rss_mb": float(line.split()[1]), "wall_s": time.perf_counter() - t}


def _discover_then_train(data: Path) -> None:
    from bench.rss import peak_rss_mb as vmhwm
    from core.analysis.discover import discover
    from core.data.dataset import load_dataset
    from core.data.files import is_image_name, walk
    from core.models.features import FeatureCache
    from core.training.ladder import LadderRequest, climb

    cache = FeatureCache()
    g = discover([p for p, why in walk(data) if why is None and is_image_name(p.name)], cache=cache)
    print(f"groups {len(set(g.labels))}", flush=True)
    r = climb(load_dataset(data, 0.2, 0), LadderRequest(), cache)
    print(f"kept {r.best.metrics.rung} val_accuracy {r.best.metrics.val_accuracy:.4f}")
    print(f"PEAK_RSS_MB {vmhwm():.1f}")


def run(runs: int = 1, train_sizes: tuple[str, ...] = tuple(SIZES), carried: str = "") -> None:
    """Every row; ``train_sizes`` (always with 1k, whose model the sorts use) re-measures only those
    trainings and carries the other training rows over from the last run, saying so (and ``carried``:
    what changed since)."""
    rows, note = [], ""
    train_sizes = ("1k", *[s for s in train_sizes if s != "1k"])
    if set(train_sizes) != set(SIZES):
        import json

        from .common import OUT

        last = json.loads((OUT / "memory.json").read_text())
        kept = [r for r in last["rows"] if r["job"] == "train" and r["size"] not in train_sizes]
        rows += kept
        note = f"training at {', '.join(r['size'] for r in kept)}: from the run of {last['date']}{carried}"
    with tempfile.TemporaryDirectory(prefix="gs-memory-") as tmp:
        model = Path(tmp) / "m1k"
        for size, copies in SIZES.items():
            if size not in train_sizes:
                continue
            data = gallery(copies)
            n = photos(data)
            for k in range(runs):
                out = model if copies == 1 and k == 0 else Path(tmp) / f"m{size}-{k}"
                r = {"size": size, "photos": n, "job": "train", **train_rss(data, out)}
                print(f"  train {size} ({n:,} photos): peak {r['peak_rss_mb']:.0f} MB, {r['wall_s']:.0f} s", flush=True)
                rows.append(r)
        for size, copies in SIZES.items():
            if copies == 1:
                continue
            data = gallery(copies)
            for k in range(runs):
                r = {"size": size, "photos": photos(data), "job": "sort"}
                r.update(sort_rss(model, data, Path(tmp) / f"sorted-{size}-{k}"))
                print(f"  sort {size}: peak {r['peak_rss_mb']:.0f} MB, {r['wall_s']:.0f} s", flush=True)
                rows.append(r)
        for hosted in (True, False):
            job = "discover then train" + (" (hosted)" if hosted else "")
            for _ in range(runs):
                data = SHARED / "trashnet"
                r = {"size": "1k", "photos": photos(data), "job": job, **discover_then_train_rss(data, hosted)}
                print(f"  {job} 1k: peak {r['peak_rss_mb']:.0f} MB", flush=True)
                rows.append(r)
    summary = {
        f"{job} {size}": median([r["peak_rss_mb"] for r in rows if r["job"] == job and r["size"] == size])
        for job, size in dict.fromkeys((r["job"], r["size"]) for r in rows)
    }
    command = f"python -m bench memory --runs {runs}"
    if note:
        command = f"python -c 'import bench.memory_curve as M; M.run({runs}, {train_sizes!r})'"
    save("memory", {"command": command, "rows": rows, "summary": summary, **({"note": note} if note else {})})


if __name__ == "__main__":
    _discover_then_train(Path(sys.argv[1]))
