"""Sorting against the machine's own limit: decode-only, forward-only and ours, in one run.

On 2 cores a photo costs decoding plus the forward pass, and both compete for the same cores,
so the most any pipeline can sort is ``1 / (1/decode rate + 1/forward rate)``, each rate
measured with both cores on that work alone. Measured for Lite0, Lite1 and Lite2 on two
galleries of 4000x3000 JPEGs: the bench's upscaled photos (smooth, 0.6 MB) and "detailed" ones
(mosaics of 64 real photos, over 3 MB, like a phone photo's detail: decoding grows with it).
Forward-only runs the very function ours runs (:func:`core.models.runtime.predict_fn`) on ready
tensors; weights are random (speed does not depend on their values).

    python -m bench sort-limit [--runs N]
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from .common import SHARED, median, save
from .sort_bench import WORK, make_gallery

BACKBONES = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")
N = 150


def detailed_gallery(n: int = N) -> Path:
    """4000x3000 mosaics of 64 real photos each (quality 90, over 3 MB), each mosaic different."""
    from PIL import Image

    dest = WORK / "detailed"
    dest.mkdir(parents=True, exist_ok=True)
    have = sorted(dest.glob("*.jpg"))
    if len(have) >= n:
        return dest
    src = sorted((SHARED / "trashnet").rglob("*.jpg")) + sorted((SHARED / "hymenoptera").rglob("*.jpg"))
    tiles = {}
    for k in range(len(have), n):
        mosaic = Image.new("RGB", (4000, 3000))
        for t in range(64):
            p = src[(k * 37 + t * 11) % len(src)]
            if p not in tiles:
                tiles[p] = Image.open(p).convert("RGB").resize((500, 375))
            mosaic.paste(tiles[p], ((t % 8) * 500, (t // 8) * 375))
        mosaic.save(dest / f"detailed_{k:04d}.jpg", quality=90)
    return dest


def _rates(bundle, paths: list[Path], batch: int = 16) -> dict[str, float]:
    from core.data.preprocess import eval_array
    from core.inference.sort import predict_paths
    from core.models import runtime
    from core.models.features import decode_batches

    pre = bundle.preprocess
    t = time.perf_counter()
    n = sum(len(idx) for idx, _, _ in decode_batches(paths, lambda im: eval_array(im, pre), batch, pre.resize_to))
    decode = n / (time.perf_counter() - t)
    net = bundle.network.eval()
    forward = runtime.predict_fn(net, bundle.frozen_boundary(), n_images=len(paths))
    x = torch.randn(64, 3, pre.size, pre.size)
    forward(x[:batch])  # export and warm-up, not timed (ours pays it once per sort)
    t = time.perf_counter()
    for _ in range(3):
        for k in range(0, len(x), batch):
            forward(x[k : k + batch]).softmax(1)
    fwd = 3 * len(x) / (time.perf_counter() - t)
    t = time.perf_counter()
    n = sum(1 for _ in predict_paths(bundle, paths, batch))
    ours = n / (time.perf_counter() - t)
    return {"decode": decode, "forward": fwd, "ours": ours, "limit": 1 / (1 / decode + 1 / fwd)}


def run(runs: int = 3, n: int = N) -> None:
    from core.models.backbones import WeightsChoice, build_network
    from core.training.model_io import ModelBundle

    galleries = {
        "upscaled (bench gallery)": sorted(make_gallery(max(n, 1000)).glob("*.jpg"))[:n],
        "detailed (phone-like)": sorted(detailed_gallery(n).glob("*.jpg"))[:n],
    }
    sizes = {g: median([p.stat().st_size / 1e6 for p in ps]) for g, ps in galleries.items()}
    bundles = {b: ModelBundle(build_network(b, 2, WeightsChoice("random")), b, ["a", "b"]) for b in BACKBONES}
    raw: dict[str, dict[str, list[dict]]] = {}
    for r in range(runs):
        for g, paths in galleries.items():
            for b, bundle in bundles.items():
                m = _rates(bundle, paths)
                raw.setdefault(g, {}).setdefault(b, []).append(m)
                print(
                    f"  run {r + 1} {g} {b}: decode {m['decode']:.1f}, forward {m['forward']:.1f}, "
                    f"limit {m['limit']:.1f}, ours {m['ours']:.1f} img/s ({m['ours'] / m['limit']:.2f})",
                    flush=True,
                )
    rows = []
    for g, per in raw.items():
        for b, ms in per.items():
            rows.append(
                {
                    "gallery": g,
                    "mb": sizes[g],
                    "backbone": b,
                    "input": bundles[b].preprocess.size,
                    **{k: median([m[k] for m in ms]) for k in ("decode", "forward", "limit", "ours")},
                    "fraction": median([m["ours"] / m["limit"] for m in ms]),  # per-run ratios: drift cancels
                }
            )
    lines = [
        f"{n} 4000x3000 JPEGs per gallery, median of {runs} runs (galleries and backbones interleaved "
        "within each run); images/s with both cores busy. Limit = 1 / (1/decode + 1/forward); "
        "'ours / limit' is the median of the per-run ratios.",
        "",
        "| gallery (median MB) | backbone (px) | decode only | forward only | limit | ours | ours / limit |",
        "|---|---|---|---|---|---|---|",
    ]
    for x in rows:
        lines.append(
            f"| {x['gallery']} ({x['mb']:.2f}) | {x['backbone']} ({x['input']}) | {x['decode']:.1f} | "
            f"{x['forward']:.1f} | {x['limit']:.1f} | {x['ours']:.1f} | {x['fraction']:.2f} |"
        )
    worst = min(x["fraction"] for x in rows)
    lines += ["", f"Target ours / limit ≥ 0.9: {'met' if worst >= 0.9 else '**not met**'} (lowest {worst:.2f})."]
    save(
        "sort-limit",
        {
            "title": "Sorting against the decode + forward limit (Lite0, Lite1, Lite2)",
            "command": "python -m bench sort-limit",
            "rows": rows,
            "raw": raw,
            "markdown": "\n".join(lines),
        },
    )
