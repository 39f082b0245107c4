"""`--engine ray` vs the local engine: sorting the same large JPEGs on this machine.

Measured in one process: the local engine (`predict_paths`) and the Ray engine
(`predict_paths_ray`) on a local Ray instance started for each run, start-up included,
as `python -m core sort --engine ray` does it.
"""

from __future__ import annotations

import time
from pathlib import Path

from core.inference.ray_engine import predict_paths_ray
from core.inference.sort import predict_paths
from core.training import model_io

from .common import median, save
from .sort_bench import make_gallery


def run(runs: int = 3, n: int = 300) -> None:
    model_dir = Path("/tmp/gs-bench-m0")
    if not (model_dir / "model.pt").exists():
        raise SystemExit("run `python -m bench sort` first (it trains the model this bench sorts with)")
    bundle = model_io.load(model_dir)
    paths = sorted(make_gallery().glob("*.jpg"))[:n]
    sum(1 for _ in predict_paths(bundle, paths[:32]))  # warm-up: export the ONNX prefix once
    local, ray = [], []
    for _ in range(runs):
        t = time.perf_counter()
        got = sum(1 for p in predict_paths(bundle, paths) if p.label)
        local.append(n / (time.perf_counter() - t))
        t = time.perf_counter()
        got_ray = sum(1 for p in predict_paths_ray(model_dir, paths) if p.label)
        ray.append(n / (time.perf_counter() - t))
        assert got == got_ray == n, (got, got_ray)
        print(f"  local {local[-1]:.1f} img/s, ray {ray[-1]:.1f} img/s (start-up included)", flush=True)
    md = "\n".join(
        [
            f"{n} 4000x3000 JPEGs, median of {runs} runs, images/s (Ray: a local instance started for each run, "
            "one actor per core, start-up included):\n",
            "| engine | images/s |",
            "|---|---|",
            f"| local (`python -m core sort`) | {median(local):.1f} |",
            f"| ray (`python -m core sort --engine ray`) | {median(ray):.1f} |",
            "",
            "On 2 cores Ray adds process start-up and per-batch serialisation and has no extra cores to "
            "spread over; it is there for clusters (docs/scaling.md).",
        ]
    )
    save(
        "ray",
        {
            "title": "Sorting on Ray (`--engine ray`) vs the local engine",
            "n": n,
            "runs": runs,
            "img_per_s": {"local": median(local), "ray": median(ray)},
            "raw": {"local": local, "ray": ray},
            "markdown": md,
            "command": "python -m bench ray",
        },
    )
