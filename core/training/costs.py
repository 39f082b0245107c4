"""What a training run will cost on this machine, from per-image costs measured here, not constants.

Two costs per (backbone, where training starts): computing one cached input (the frozen
prefix, in the runtime the cache uses) and one training step's forward and backward per image
of the trainable part (the whole network when training starts at stage 0: the Best rung).
Each is measured once per process on a few random inputs (about a second), and replaced by
what real runs measured as soon as there is one: :func:`learn` is told a run's own rates.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import torch
from torch import nn

from ..models import runtime
from ..models.backbones import build_network, get_spec
from ..models.features import resume

DECODE_MS = 6.0  # decoding and resizing one photo (a 512 x 384 JPEG here); refined by real runs
TEXT_THREADS = 2  # the decode threads text detection runs in, beside the forward pass


@dataclass(frozen=True)
class Costs:
    prefix_ms: float  # one cached input: decode + the frozen prefix
    step_ms: float  # one image's forward + backward through the trainable part (boundary 0: all of it)
    map_mb: float = 0.0  # one cached input in memory (spatial maps are stored as float16)


_measured: dict[tuple[str, int], Costs] = {}
_learned: dict[tuple[str, int, str], float] = {}
_lock = threading.Lock()


def _time(fn, n: int = 3) -> float:
    """Seconds per call: the median of ``n`` calls after a warm-up. A mean let one call slowed by
    another thread (a warm-up, a page) move the forecast: trashnet's was 138-174 s over three runs."""
    fn()  # warm up (first call pays for allocation and kernels)
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return sorted(times)[n // 2]


def _step_ms(net: nn.Module, boundary: int, x: torch.Tensor) -> float:
    with torch.inference_mode():
        z = net.prefix(x, boundary)
    z = z.clone()
    net.set_trainable(99 if boundary == 0 else len(net.stages) - 1 - boundary)
    net.train()

    def step():
        net.zero_grad(set_to_none=True)
        net.forward_from(z, boundary).sum().backward()

    with torch.enable_grad():
        return 1000 * _time(step) / len(x)


def _probe(backbone: str, boundary: int) -> Costs:
    size = get_spec(backbone).preprocess.size
    net = build_network(backbone, 4)
    x = torch.randn(8, 3, size, size)
    stop = min(boundary, len(net.stages)) or len(net.stages)
    via = min(net.pool_via, stop)  # as the feature cache computes it: the shared session, then torch
    forward = runtime.forward_fn(net, 0, via, head=False, n_images=runtime.MIN_IMAGES)
    prefix = 1000 * _time(lambda: resume(net, forward(x), via, stop)) / len(x) + DECODE_MS
    with torch.inference_mode():
        z = resume(net, forward(x[:1]), via, stop)
    map_mb = z.numel() * (2 if z.dim() == 4 else 4) / 2**20
    # the whole network's backward only when full fine-tuning is asked about: its activations
    # cost ~1 GB of RSS that glibc keeps afterwards, too much for Quick and Better on a 1.5 GB host
    step = _step_ms(net, boundary, x[:4] if boundary == 0 else x[:8]) if boundary < len(net.stages) else 0.05
    return Costs(prefix, step, map_mb)


def measure(backbone: str, boundary: int) -> Costs:
    """Per-image costs of training ``backbone`` from stage ``boundary`` (measured once per process)."""
    key = (backbone, boundary)
    with _lock:
        if key in _measured:
            return _measured[key]
    costs = _probe(backbone, boundary)
    runtime.give_back_memory()  # the probe's network and activations are gone: give their pages back
    with _lock:
        _measured[key] = costs
    return costs


_text_ms: list[float] = []


def text_ms() -> float:
    """Wall milliseconds text detection adds per photo: one detection (measured once per process on
    a 384 x 288 picture, which the detector runs at its own fixed pixel budget whatever the photo),
    shared by the decode threads it runs in."""
    with _lock:
        if _text_ms:
            return _text_ms[0]
    import numpy as np
    from PIL import Image

    from ..models.text_layout import detect_layout

    img = Image.fromarray(np.random.default_rng(0).integers(0, 256, (288, 384, 3), dtype=np.uint8))
    ms = 1000 * _time(lambda: detect_layout(img)) / TEXT_THREADS
    with _lock:
        _text_ms[:] = [ms]
    return ms


def learn(backbone: str, boundary: int, kind: str, ms_per_unit: float) -> None:
    """A real run's measured rate (``kind``: 'features' per image, 'step' per image) replaces the probe's."""
    with _lock:
        _learned[(backbone, boundary, kind)] = ms_per_unit


def costs(backbone: str, boundary: int) -> Costs:
    c = measure(backbone, boundary)
    with _lock:
        prefix = _learned.get((backbone, boundary, "features"), c.prefix_ms)
        step = _learned.get((backbone, boundary, "step"), c.step_ms)
    return Costs(prefix, step, c.map_mb)


def measured_already(backbone: str, boundary: int) -> bool:
    with _lock:
        return (backbone, boundary) in _measured


def measure_in_background(backbone: str, boundaries) -> bool:
    """Start measuring what is not measured yet; True when every cost is known already."""
    missing = [b for b in boundaries if not measured_already(backbone, b)]
    if not missing:
        return True

    def work() -> None:
        for b in missing:
            measure(backbone, b)

    runtime.warm_in_background(f"costs|{backbone}|{','.join(map(str, missing))}", work)
    return False
