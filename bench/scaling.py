"""Scaling: training and sorting time at 250, 500, 1,000 and 2,000 images.

Images are distinct crops/flips of the real hymenoptera photos (saved as new JPEGs,
so the content-hash cache cannot reuse them). Training uses the default recipe
(head only, 30 epochs, no augmentation); sorting runs the trained model over the same images.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

from .common import SHARED, median, save

WORK = Path("/tmp/gs-bench-scaling")
SIZES = (250, 500, 1000, 2000)


def make(n: int) -> Path:
    from PIL import Image

    root = WORK / "pool"
    src = sorted((SHARED / "hymenoptera").rglob("*.jpg"))
    rng = random.Random(0)
    for k in range(n):
        cls = "ants" if "ants" in str(src[k % len(src)]) else "bees"
        t = root / cls / f"{k:05d}.jpg"
        if t.exists():
            continue
        t.parent.mkdir(parents=True, exist_ok=True)
        im = Image.open(src[k % len(src)]).convert("RGB")
        w, h = im.size
        s = rng.uniform(0.7, 1.0)
        x0, y0 = rng.uniform(0, w * (1 - s)), rng.uniform(0, h * (1 - s))
        im = im.crop((int(x0), int(y0), int(x0 + w * s), int(y0 + h * s)))
        if rng.random() < 0.5:
            im = im.transpose(Image.FLIP_LEFT_RIGHT)
        im.save(t, quality=90)
    return root


def subset(root: Path, n: int) -> Path:
    import os

    dest = WORK / f"n{n}"
    if not dest.exists():
        for p in sorted(root.rglob("*.jpg"), key=lambda p: p.name)[:n]:
            t = dest / p.parent.name / p.name
            t.parent.mkdir(parents=True, exist_ok=True)
            os.link(p, t)
    return dest


def run(runs: int = 3) -> None:
    from core.data.dataset import load_dataset
    from core.data.files import list_images
    from core.inference.sort import predict_paths
    from core.models.features import FeatureCache
    from core.training import model_io
    from core.training.config import TrainConfig
    from core.training.train import train

    pool = make(max(SIZES))
    rows = []
    bundle = None
    for n in SIZES:
        data = subset(pool, n)
        tt, ss = [], []
        for r in range(runs):
            t = time.perf_counter()
            res = train(load_dataset(data, seed=r), TrainConfig(seed=r), FeatureCache())
            tt.append(time.perf_counter() - t)
            bundle = model_io.ModelBundle.from_result(res)
            paths = list_images(data)
            t = time.perf_counter()
            for _ in predict_paths(bundle, paths):
                pass
            ss.append(time.perf_counter() - t)
        rows.append({"n": n, "train_s": median(tt), "sort_s": median(ss), "train_raw": tt, "sort_raw": ss})
        print(f"  n={n}: train {median(tt):.1f}s, sort {median(ss):.1f}s", flush=True)
    save("scaling", {"rows": rows, "runs": runs, "command": "python -m bench scaling"})
