"""Grad-CAM latency on CPU at each backbone's input size: one image, and a batch of 16 in one call.

    python bench/cam_latency.py [--runs 5] [--method gradcam] [--threads N] [--images DIR]

Times ``Explainer.explain`` end to end from decoded PIL images: eval crop,
forward, backward to the CAM layer, heatmap resize and overlay. EfficientNet-
Lite0 uses its real pretrained weights; MobileNetV2 uses random weights
(timing does not depend on the weight values, and its pretrained weights need
a download). Targets: <= 150 ms median per image, batch of 16 <= 2 s.
The load average is printed because on a shared machine it dominates: with
more busy processes than cores, OpenMP threads that spin while waiting make
two threads far slower than one. Try ``--threads 1`` or OMP_WAIT_POLICY=PASSIVE
(set before Python starts) to see the difference.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from PIL import Image  # noqa: E402

from core.analysis.explain import Explainer  # noqa: E402
from core.data.images import is_image_name, load_rgb  # noqa: E402
from core.models.backbones import WeightsChoice, build_network, check_weights, get_spec  # noqa: E402

TARGET_SINGLE_MS, TARGET_BATCH_S = 150.0, 2.0
# ../shared next to the checkout, or next to the worktrees folder
DEFAULT_IMAGES = next(
    (
        p / "shared" / "data" / "hymenoptera" / "val"
        for p in (ROOT.parent, ROOT.parent.parent)
        if (p / "shared" / "data" / "hymenoptera" / "val").is_dir()
    ),
    ROOT.parent / "shared" / "data" / "hymenoptera" / "val",
)


def images(folder: Path, n: int) -> list[Image.Image]:
    paths = sorted(p for p in folder.rglob("*") if is_image_name(p.name))[:n] if folder.is_dir() else []
    if len(paths) < n:  # no data folder: synthetic photos-sized images
        g = torch.Generator().manual_seed(0)
        return [Image.fromarray((torch.rand(375, 500, 3, generator=g) * 255).byte().numpy()) for _ in range(n)]
    return [load_rgb(p, min_side=256) for p in paths]


def median_seconds(fn, runs: int) -> float:
    fn()  # warm-up (allocator, first-call overheads)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--method", default="gradcam")
    ap.add_argument("--images", type=Path, default=DEFAULT_IMAGES)
    ap.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's choice)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    imgs = images(args.images, 16)
    rows = []
    for name in ("efficientnet_lite0", "mobilenet_v2"):
        weights = WeightsChoice() if check_weights(name) is None else WeightsChoice("random")
        net = build_network(name, 2, weights)
        net.requires_grad_(False)
        ex = Explainer(net, ["a", "b"], get_spec(name).preprocess)
        single = median_seconds(lambda ex=ex: ex.explain(imgs[:1], args.method), args.runs)
        batch = median_seconds(lambda ex=ex: ex.explain(imgs, args.method, batch_size=16), args.runs)
        rows.append((get_spec(name).label, "pretrained" if weights.kind == "pretrained" else "random", single, batch))

    print(
        f"Grad-CAM latency ({args.method}, each backbone at its input size (Lite0 288 px, MobileNetV2 224 px), CPU, {torch.get_num_threads()} threads, "
        f"median of {args.runs} runs, input {'real photos' if args.images.is_dir() else 'synthetic 500x375'}, "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)\n"
    )
    print("| backbone | weights | 1 image (ms) | batch of 16 (s) | per image in batch (ms) | targets met |")
    print("|---|---|---:|---:|---:|---|")
    for label, w, single, batch in rows:
        ok = single * 1000 <= TARGET_SINGLE_MS and batch <= TARGET_BATCH_S
        print(
            f"| {label} | {w} | {single * 1000:.0f} | {batch:.2f} | {batch / 16 * 1000:.0f} | {'yes' if ok else 'no'} |"
        )
    print(f"\nTargets: <= {TARGET_SINGLE_MS:.0f} ms for one image, <= {TARGET_BATCH_S:.0f} s for a batch of 16.")
    return 0


def run(runs: int = 5) -> None:
    """`python -m bench cam`: the table above, kept for BENCHMARKS.md (as the app runs: passive OpenMP waits)."""
    import contextlib
    import io

    from bench.common import save

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        main(["--runs", str(max(5, runs))])
    print(buf.getvalue())
    save(
        "cam",
        {
            "title": "Grad-CAM latency per image (CPU; Lite0 at 288 px, MobileNetV2 at 224 px)",
            "markdown": buf.getvalue(),
            "command": "OMP_WAIT_POLICY=PASSIVE python -m bench cam",
        },
    )


if __name__ == "__main__":
    sys.exit(main())
