"""Shared bench helpers: machine description, medians, results files, peak RSS of a child."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
OUT = ROOT / "bench" / "out"


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    import torch

    return (
        f"{model}, {os.cpu_count()} cores, {mem:.0f} GiB RAM, no GPU; Python {platform.python_version()}, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads"
    )


def median(xs) -> float:
    return float(statistics.median(xs))


def paired_ratio(num: list[float], den: list[float]) -> float:
    """Median of per-run ratios: each pair was measured side by side, so the VM's drift cancels."""
    return median([a / b for a, b in zip(num, den)])


def save(name: str, data: dict) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    data = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": machine(), **data}
    path = OUT / f"{name}.json"
    path.write_text(json.dumps(data, indent=1, default=lambda o: o.item() if hasattr(o, "item") else str(o)))
    return path


def need_shared() -> None:
    if not SHARED.is_dir():
        sys.exit(f"bench needs the real data at {SHARED}")


def peak_rss_mb(args: list[str], env: dict | None = None) -> tuple[float, float, str]:
    """Run `python -m bench.rss ARGS...` and return (peak RSS MB, wall seconds, stdout)."""
    t = time.perf_counter()
    p = subprocess.run(
        [sys.executable, "-m", "bench.rss", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=dict(os.environ, **(env or {})),
    )
    wall = time.perf_counter() - t
    if p.returncode != 0:
        raise RuntimeError(p.stderr[-2000:])
    line = [x for x in p.stdout.splitlines() if x.startswith("PEAK_RSS_MB ")][-1]
    return float(line.split()[1]), wall, p.stdout
