"""Frozen forward passes, through ONNX Runtime when it is installed.

Nothing is trained here. The parts of a network whose weights do not change
while they run (the frozen prefix the feature cache stores, a trained model at
sort time) are exported once to ONNX and run by ONNX Runtime, which on this
2-core CPU runs EfficientNet-Lite0 several times faster than eager torch (see
BENCHMARKS.md). Training and Grad-CAM stay in torch. Any export or runtime
failure falls back to torch, so the engine can only change speed, never answers
(a test checks parity).

``GS_ENGINE=torch`` turns it off; ``GS_ENGINE=onnxruntime`` forces it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import logging
import os
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..settings import trim_heap  # streams call it as runtime.trim_heap

log = logging.getLogger(__name__)

# Exporting costs ~1.5 s; below this many images eager torch finishes first.
MIN_IMAGES = 48
# ONNX Runtime's arena grows with the largest batch it has seen and keeps it. Lite0 at 288 px,
# 5 interleaved runs here: 4 images per run were as fast as 8 (7.7-7.9 against 8.3-9.9 ms per
# image) with 100 MB less arena per session; 2 saved 50 MB more and were no faster.
ORT_BATCH = 4
ENGINES = ("auto", "torch", "onnxruntime")


def choice() -> str:
    e = os.environ.get("GS_ENGINE", "auto").strip().lower()
    return e if e in ENGINES else "auto"


def available() -> bool:
    return importlib.util.find_spec("onnxruntime") is not None


def wants_onnx(n_images: int, engine: str | None = None) -> bool:
    e = engine or choice()
    if e == "torch" or not available():
        return False
    return e == "onnxruntime" or n_images >= MIN_IMAGES


class _Part(nn.Module):
    """stages[start:stop] (+ head): the piece of a Network one session runs."""

    def __init__(self, net: nn.Module, start: int, stop: int, head: bool) -> None:
        super().__init__()
        self.stages = nn.ModuleList(list(net.stages)[start:stop])
        self.head = net.head if head else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for stage in self.stages:
            x = stage(x)
        return self.head(x) if self.head is not None else x


@dataclass
class Session:
    run: Callable[[torch.Tensor], torch.Tensor]
    engine: str


def fingerprint(part: nn.Module) -> str:
    """What an exported graph depends on: the piece's structure and every weight it reads.

    Keying sessions by content (not by network object) lets every job and browser session
    that uses the same pretrained prefix share one export, and makes a changed weight a miss.
    BatchNorm's ``num_batches_tracked`` is left out: inference never reads it, and
    ``load_state_dict(strict=False)`` rewrites it.
    """
    h = hashlib.blake2b(digest_size=16)
    h.update(repr(part).encode())
    for name, t in part.state_dict().items():
        if name.endswith("num_batches_tracked"):
            continue
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _onnx_session(part: nn.Module, example: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    import onnxruntime as ort

    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            part,
            (example[:1].contiguous(),),
            buf,
            input_names=["x"],
            output_names=["y"],
            dynamic_axes={"x": {0: "n", 2: "h", 3: "w"}, "y": {0: "n"}},
            dynamo=False,
        )
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = max(1, torch.get_num_threads())
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    # Idle workers sleep instead of spinning: every run here overlaps photo decoding (and in the app,
    # page reruns) on the same 2 cores, which spinning workers starve. Sorting 200 12 MP JPEGs with
    # Lite0: 0.73-0.76 of the decode + forward limit spinning, 0.97-1.02 without; the forward pass
    # alone is as fast either way.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    sess = ort.InferenceSession(buf.getvalue(), opts, providers=["CPUExecutionProvider"])
    lock = threading.Lock()  # one run at a time: each already uses every core

    def run(x: torch.Tensor) -> torch.Tensor:
        arr = x.contiguous().numpy()
        with lock:
            outs = [sess.run(["y"], {"x": arr[k : k + ORT_BATCH]})[0] for k in range(0, len(arr), ORT_BATCH)]
        return torch.from_numpy(outs[0] if len(outs) == 1 else np.concatenate(outs))

    return run


def give_back_memory() -> None:
    """Return freed heap to the OS after a heavy phase (a backward pass, a batch of big photos).

    glibc keeps freed blocks for reuse, so a process's RSS stays at its highest point long after
    the work that needed it: a measured 600 MB after the cost probe's backward pass. On a 1.5 GB
    host that is the difference between fitting and not.
    """
    import gc

    gc.collect()
    trim_heap()


@contextmanager
def closing_new_sessions() -> Iterator[None]:
    """Close, on the way out, the ONNX Runtime sessions opened inside, and hand the memory back.

    For work on a backbone the next step will not use (Discover's Lite2 before training on
    Lite0): its session and arena would otherwise sit beside the next one until evicted. The
    sessions that were open before (the ones training and sorting share) stay open.
    """
    with _lock:
        before = set(_onnx)
    try:
        yield
    finally:
        with _lock:
            for key in [k for k in _onnx if k not in before and k not in _inflight]:
                del _onnx[key]
        give_back_memory()


def _torch_run(part: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    def run(x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            if x.dim() == 4:
                x = x.contiguous(memory_format=torch.channels_last)
            return part(x)

    return run


MAX_SESSIONS = 4  # each holds its weights plus an arena of ~80 MB once it has run
_onnx: OrderedDict[str, Callable | None] = OrderedDict()  # None: export failed, use torch
_inflight: dict[str, threading.Event] = {}
_lock = threading.Lock()
_users: dict[str, set[str]] = {}  # session key -> the owners (browser sessions) that used it
_acting = threading.local()


@contextmanager
def acting_for(owner: str | None) -> Iterator[None]:
    """Sessions used inside are recorded as used by ``owner`` (a workspace id), for :func:`release_owner`."""
    before = getattr(_acting, "owner", None)
    _acting.owner = owner
    try:
        yield
    finally:
        _acting.owner = before


def _note_user(key: str) -> None:
    owner = getattr(_acting, "owner", None)
    if owner is not None:
        _users.setdefault(key, set()).add(owner)


def release_owner(owner: str) -> int:
    """Forget ``owner``; close the sessions only it used (a trained model's, a backbone no one else runs).

    Sessions used by other owners, or opened outside any owner (warm-ups shared by everyone), stay.
    Returns how many sessions were closed.
    """
    closed = 0
    with _lock:
        for key in list(_users):
            users = _users[key]
            users.discard(owner)
            if not users:
                del _users[key]
                if key in _onnx and key not in _inflight:
                    del _onnx[key]
                    closed += 1
    if closed:
        give_back_memory()
    return closed


def release_all() -> int:
    """Close every ONNX Runtime session not being exported, shared warm-ups included (no session is
    left to use them); the next warm-up or job exports again. Returns how many were closed."""
    with _lock:
        keys = [k for k in _onnx if k not in _inflight]
        for key in keys:
            del _onnx[key]
        _users.clear()
        _warming.clear()  # the next visitor's page warms the export up again
    give_back_memory()
    return len(keys)


def _onnx_runner(part: nn.Module, example: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """The shared ONNX Runtime runner for this piece; exported once, even when asked from many threads."""
    key = fingerprint(part)
    while True:
        with _lock:
            if key in _onnx:
                _onnx.move_to_end(key)
                _note_user(key)
                return _onnx[key]
            wait = _inflight.get(key)
            if wait is None:
                _inflight[key] = threading.Event()
                break
        wait.wait()  # another thread is exporting this very piece
    run = None
    try:
        run = _onnx_session(part, example)
    except Exception as exc:  # an exporter gap must cost speed, not the run
        log.warning("ONNX Runtime unavailable for this model (%s); using torch", exc)
    finally:
        with _lock:
            _onnx[key] = run
            _note_user(key)
            while len(_onnx) > MAX_SESSIONS:
                gone, _ = _onnx.popitem(last=False)
                _users.pop(gone, None)
            _inflight.pop(key).set()
    return run


def session(
    net: nn.Module, start: int, stop: int, head: bool, example: torch.Tensor, engine: str = "onnxruntime"
) -> Session:
    """A runner for net.stages[start:stop] (+ head); ONNX exports are shared by content."""
    part = _Part(net, start, stop, head).eval()
    fallback = _torch_run(part)
    if engine == "onnxruntime":
        fast = _onnx_runner(part, example)
        if fast is not None:

            def run(x: torch.Tensor) -> torch.Tensor:
                try:
                    return fast(x)
                except Exception as exc:  # e.g. an input shape the graph cannot take
                    log.warning("ONNX Runtime failed on this batch (%s); using torch", exc)
                    return fallback(x)

            return Session(run, "onnxruntime")
    return Session(fallback, "torch")


def _exported(net: nn.Module, start: int, stop: int, head: bool) -> bool:
    """An ONNX session for this piece already exists: using it costs nothing."""
    key = fingerprint(_Part(net, start, stop, head))
    with _lock:
        return _onnx.get(key) is not None


_warming: set[str] = set()


def warm_in_background(name: str, work: Callable[[], None]) -> threading.Thread | None:
    """Run ``work`` (an export the user will need next) once per name, off the page's thread."""
    with _lock:
        if name in _warming:
            return None
        _warming.add(name)

    def run() -> None:
        try:
            work()
        except Exception as exc:  # a warm-up is only a head start: the real job reports errors
            log.info("warm-up %s skipped: %s", name, exc)

    # not a daemon: a process that exits mid-export waits for it (seconds) instead of aborting
    # in C++ ("terminate called without an active exception") with a non-zero exit code
    t = threading.Thread(target=run, name=f"warm-{name}", daemon=False)
    t.start()
    return t


def forward_fn(
    net: nn.Module, start: int, stop: int, head: bool, n_images: int, engine: str | None = None
) -> Callable[[torch.Tensor], torch.Tensor]:
    """Batch -> output for a frozen piece of ``net``, using the fastest engine worth its set-up."""
    part_runner: dict[str, Session] = {}

    def run(x: torch.Tensor) -> torch.Tensor:
        if "s" not in part_runner:
            use = wants_onnx(n_images, engine) or (
                choice() != "torch" and engine != "torch" and _exported(net, start, stop, head)
            )
            part_runner["s"] = session(net, start, stop, head, x, "onnxruntime" if use else "torch")
        return part_runner["s"].run(x)

    return run


def trunk_fn(
    net: nn.Module, frozen: int, n_images: int, engine: str | None = None
) -> Callable[[torch.Tensor], torch.Tensor]:
    """Batch -> pooled features (everything but the head) of a network whose stages before ``frozen``
    never trained.

    The frozen prefix runs in the session training already exported for it (no second export,
    no second memory arena); the trained rest runs in torch. With nothing known to be frozen
    (``frozen=0``) the whole trunk is exported as one piece. The head is left to the caller:
    a tiny matrix product, and the features are what re-sorting with corrections reuses.
    """
    n_stages = len(net.stages)
    if frozen <= 0:
        return forward_fn(net, 0, n_stages, False, n_images, engine)
    frozen = min(frozen, getattr(net, "pool_via", frozen))  # the session training used (Network.pool_via)
    prefix = forward_fn(net, 0, frozen, False, n_images, engine)
    if frozen >= n_stages:
        return prefix

    def run(x: torch.Tensor) -> torch.Tensor:
        z = prefix(x)
        with torch.inference_mode():
            if z.dim() == 4:
                z = z.contiguous(memory_format=torch.channels_last)
            for stage in net.stages[frozen:]:
                z = stage(z)
            return z

    return run


def predict_fn(net: nn.Module, frozen: int, n_images: int, engine: str | None = None) -> Callable[..., torch.Tensor]:
    """(batch, text layouts or None) -> logits: the trunk (see :func:`trunk_fn`), then the head in torch."""
    trunk = trunk_fn(net, frozen, n_images, engine)

    def run(x: torch.Tensor, text: torch.Tensor | None = None) -> torch.Tensor:
        z = trunk(x)
        with torch.inference_mode():
            return net.classify(z.float(), text)

    return run
