"""Sorting throughput on large JPEGs: plain loop vs ours vs the forward-pass ceiling.

Large "phone photos" are made by upscaling real hymenoptera photos to 4000x3000;
5,000-image galleries reuse those files through hard links (same bytes, other
names), which is enough to show whether peak memory grows with gallery size.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import torch

from core.data.files import list_images
from core.inference.sort import predict_paths
from core.models import runtime
from core.training import model_io

from .common import SHARED, median, paired_ratio, peak_rss_mb, save

WORK = Path("/tmp/gs-bench-sort")


def make_gallery(n: int = 1000, size=(4000, 3000)) -> Path:
    from PIL import Image

    base = WORK / "large"
    base.mkdir(parents=True, exist_ok=True)
    have = sorted(base.glob("*.jpg"))
    if len(have) < n:
        src = sorted((SHARED / "hymenoptera").rglob("*.jpg"))
        for k in range(len(have), n):
            im = Image.open(src[k % len(src)]).convert("RGB").resize(size, Image.BILINEAR)
            if k >= len(src):  # different content per file
                im = im.transpose(Image.FLIP_LEFT_RIGHT) if (k // len(src)) % 2 else im.rotate(180)
            im.save(base / f"large_{k:05d}.jpg", quality=90)
    return base


def linked_gallery(base: Path, n: int) -> Path:
    dest = WORK / f"linked{n}"
    if dest.is_dir() and len(list(dest.glob("*.jpg"))) == n:
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    files = sorted(base.glob("*.jpg"))
    for k in range(n):
        target = dest / f"img_{k:05d}.jpg"
        if not target.exists():
            os.link(files[k % len(files)], target)
    return dest


def plain(bundle, paths, batch_size: int = 32) -> float:
    """PIL full decode + torchvision transforms + per-batch forward, no overlap."""
    import torchvision.transforms as T
    from PIL import Image

    pre = bundle.preprocess
    tf = T.Compose([T.Resize(pre.resize_to), T.CenterCrop(pre.size), T.ToTensor(), T.Normalize(pre.mean, pre.std)])
    t = time.perf_counter()
    for k in range(0, len(paths), batch_size):
        x = torch.stack([tf(Image.open(p).convert("RGB")) for p in paths[k : k + batch_size]])
        with torch.inference_mode():
            bundle.network(x).softmax(1)
    return len(paths) / (time.perf_counter() - t)


def ours(bundle, paths, batch_size: int = 32) -> float:
    t = time.perf_counter()
    n = sum(1 for _ in predict_paths(bundle, paths, batch_size))
    return n / (time.perf_counter() - t)


def ceiling(bundle, n: int = 256, batch_size: int = 32, engine: str = "torch") -> float:
    """The model forward alone on pre-made tensors, in the given runtime (set-up not timed)."""
    net = bundle.network.eval()
    x = torch.randn(n, 3, bundle.preprocess.size, bundle.preprocess.size)
    forward = runtime.session(net, 0, len(net.stages), True, x[:batch_size], engine).run
    forward(x[:batch_size])  # warm-up
    t = time.perf_counter()
    for k in range(0, n, batch_size):
        forward(x[k : k + batch_size]).softmax(1)
    return n / (time.perf_counter() - t)


def decode_ms(bundle, paths, n: int = 40) -> float:
    """One core's time to decode + preprocess one large JPEG the way ours does (draft mode)."""
    from core.data.images import load_rgb
    from core.data.preprocess import eval_array

    pre = bundle.preprocess
    times = []
    for p in paths[:n]:
        t = time.perf_counter()
        eval_array(load_rgb(p, min_side=pre.resize_to), pre)
        times.append(time.perf_counter() - t)
    return 1000 * median(times)


def sort_accuracy() -> dict:
    """Train on hymenoptera/train (defaults), `python -m core sort` hymenoptera/val, score vs folder names."""
    import csv
    import shutil

    model_dir, out = WORK / "model-train-only", WORK / "sorted-val"
    _, train_wall, _ = peak_rss_mb(["-q", "train", str(SHARED / "hymenoptera" / "train"), "--out", str(model_dir)])
    shutil.rmtree(out, ignore_errors=True)
    peak_rss_mb(["-q", "sort", str(model_dir), str(SHARED / "hymenoptera" / "val"), "--out", str(out)])
    rows = list(csv.DictReader(open(out / "predictions.csv")))
    good = [r for r in rows if not r["error"]]
    acc = sum(r["class"] == r["path"].split("/")[0] for r in good) / len(good)
    print(
        f"  sort hymenoptera/val with a model trained on hymenoptera/train: accuracy {acc:.4f} on {len(good)} images",
        flush=True,
    )
    return {
        "accuracy": acc,
        "images": len(good),
        "train_wall_s": train_wall,
        "command": "python -m core train ../shared/data/hymenoptera/train --out M && "
        "python -m core sort M ../shared/data/hymenoptera/val --out OUT",
    }


def gallery_rss(base: Path, model_dir: Path) -> dict:
    """Peak RSS of `python -m core sort` on 1,000 and 5,000 images (flat if sorting streams)."""
    import shutil

    rss = {}
    for count in (1000, 5000):
        g = linked_gallery(base, count)
        peak, wall, _ = peak_rss_mb(["-q", "sort", str(model_dir), str(g), "--out", str(WORK / f"out{count}")])
        rss[count] = {"peak_rss_mb": peak, "wall_s": wall, "img_per_s": count / wall}
        print(f"  sort {count} images: peak RSS {peak:.0f} MB, {wall:.0f}s", flush=True)
        shutil.rmtree(WORK / f"out{count}", ignore_errors=True)
    return rss


def run_rss(runs: int = 1) -> None:
    """Only the memory table, kept beside the rest of the last sort bench."""
    import json

    from .common import OUT

    prev = json.loads((OUT / "sort.json").read_text())
    prev["rss"] = gallery_rss(make_gallery(prev["n"]), Path("/tmp/gs-bench-m0"))
    prev["rss_measured"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    prev["rss_note"] = (
        "Memory table re-measured on its own (`python -m bench sort-rss`, "
        + prev["rss_measured"]
        + ") after fixing the measurement: peak RSS is now the sorting process's VmHWM; getrusage's "
        "ru_maxrss had carried over the bench process's own 2.4 GB into the child's figure."
    )
    (OUT / "sort.json").write_text(json.dumps(prev, indent=1, default=str))


def decode_by_detail(reps: int = 15) -> dict:
    """Draft-mode decode of two 4000x3000 JPEGs at quality 90: an upscaled photo (smooth, like the bench
    gallery) and an 8x8 mosaic of real photos (detail like a phone photo's). Entropy decoding, which
    draft mode cannot skip, grows with the file's size."""
    import io

    from PIL import Image

    src = sorted((SHARED / "hymenoptera" / "train").rglob("*.jpg"))
    smooth = Image.open(src[0]).convert("RGB").resize((4000, 3000), Image.BILINEAR)
    mosaic = Image.new("RGB", (4000, 3000))
    for k, p in enumerate(src[:64]):
        mosaic.paste(Image.open(p).convert("RGB").resize((500, 375)), ((k % 8) * 500, (k // 8) * 375))
    out = {}
    for name, im in (("upscaled photo (like the bench gallery)", smooth), ("mosaic of 64 real photos", mosaic)):
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=90)
        data, times = buf.getvalue(), []
        for _ in range(reps):
            t = time.perf_counter()
            x = Image.open(io.BytesIO(data))
            x.draft("RGB", (500, 375))
            x.load()
            times.append(time.perf_counter() - t)
        out[name] = {"mb": len(data) / 1e6, "decode_ms": 1000 * median(times)}
        print(f"  {name}: {len(data) / 1e6:.2f} MB, draft decode {out[name]['decode_ms']:.1f} ms", flush=True)
    return out


def summarise_backbone(row: dict[str, list[float]], input_size: int) -> dict:
    o, c, dec = median(row["ours"]), median(row["ceiling"]), median(row["decode_ms"])
    limit = 2000 / (dec + 2000 / c)  # both cores busy: decode + forward core-ms per image
    return {
        "ours": o,
        "ceiling": c,
        "decode_ms": dec,
        "forward_core_ms": 2000 / c,
        "fraction_of_ceiling": paired_ratio(row["ours"], row["ceiling"]),
        "pipeline_limit": limit,
        "fraction_of_limit": o / limit,
        "input_size": input_size,
        "raw": row,
    }


def run_backbones(runs: int = 3, n: int = 200, names=("efficientnet_lite0", "resnet34", "resnet50")) -> None:
    """Ours vs the forward-only ceiling for lighter and heavier backbones, side by side in one run.

    Where the ceiling sits depends on how the forward pass compares with decoding: a light
    model spends as many core-ms per image decoding as in the forward pass, a heavy one far
    fewer. Weights are random (speed does not depend on their values; nothing here is scored).
    """
    from core.models.backbones import WeightsChoice, build_network
    from core.training.model_io import ModelBundle

    paths = sorted(make_gallery(max(n, 1000)).glob("*.jpg"))[:n]
    engine = "onnxruntime" if runtime.wants_onnx(n) else "torch"
    rows: dict[str, dict[str, list[float]]] = {}
    bundles = {name: ModelBundle(build_network(name, 2, WeightsChoice("random")), name, ["a", "b"]) for name in names}
    for r in range(runs):
        for name, bundle in bundles.items():
            row = rows.setdefault(name, {"ours": [], "ceiling": [], "decode_ms": []})
            row["ours"].append(ours(bundle, paths))
            row["ceiling"].append(ceiling(bundle, engine=engine))
            row["decode_ms"].append(decode_ms(bundle, paths))
            print(
                f"  run {r + 1} {name}: ours {row['ours'][-1]:.2f} img/s, ceiling {row['ceiling'][-1]:.2f} img/s, "
                f"decode {row['decode_ms'][-1]:.1f} ms",
                flush=True,
            )
    table = {name: summarise_backbone(row, bundles[name].preprocess.size) for name, row in rows.items()}
    save(
        "sort-backbones",
        {
            "table": table,
            "n": n,
            "runs": runs,
            "engine": engine,
            "decode_by_detail": decode_by_detail(),
            "command": "python -m bench sort-backbones",
        },
    )


def run(runs: int = 3, n: int = 1000, n_plain: int = 100) -> None:
    accuracy = sort_accuracy()
    model_dir = Path("/tmp/gs-bench-m0")
    if not (model_dir / "model.pt").exists():
        from core.cli import main

        main(["-q", "train", str(SHARED / "hymenoptera"), "--out", str(model_dir), "--epochs", "5", "--views", "1"])
    bundle = model_io.load(model_dir)
    print(f"sort: making {n} large JPEGs (4000x3000)…", flush=True)
    base = make_gallery(n)
    paths = sorted(base.glob("*.jpg"))[:n]
    engine = "onnxruntime" if runtime.wants_onnx(n) else "torch"
    rows = {"plain": [], "ours": [], "ceiling": [], "ceiling_torch": [], "decode_ms": []}
    for r in range(runs):
        rows["plain"].append(plain(bundle, paths[:n_plain]))
        rows["ours"].append(ours(bundle, paths))
        rows["ceiling"].append(ceiling(bundle, engine=engine))
        rows["ceiling_torch"].append(ceiling(bundle, engine="torch"))
        rows["decode_ms"].append(decode_ms(bundle, paths))
        print(
            f"  run {r + 1}: plain {rows['plain'][-1]:.2f} img/s, ours {rows['ours'][-1]:.2f} img/s, "
            f"ceiling ({engine}) {rows['ceiling'][-1]:.2f} img/s, eager torch forward "
            f"{rows['ceiling_torch'][-1]:.2f} img/s, decode {rows['decode_ms'][-1]:.1f} ms",
            flush=True,
        )
    dec = median(rows.pop("decode_ms"))
    med = {k: median(v) for k, v in rows.items()}
    limit = 2000 / (dec + 2000 / med["ceiling"])  # both cores busy: decode + forward core-ms per image
    rss = gallery_rss(base, model_dir)
    save(
        "sort",
        {
            "img_per_s": med,
            "raw": rows,
            "ratio_vs_plain": paired_ratio(rows["ours"], rows["plain"]),
            "fraction_of_ceiling": paired_ratio(rows["ours"], rows["ceiling"]),
            "engine": engine,
            "decode_ms": dec,
            "pipeline_limit": limit,
            "n": n,
            "n_plain": n_plain,
            "runs": runs,
            "rss": rss,
            "accuracy": accuracy,
            "command": "python -m bench sort",
        },
    )
    _ = np, list_images
