"""Decode pipeline and the frozen-prefix feature cache.

With the backbone (or a prefix of it) frozen, its output for an image never
changes, so it is computed once per (backbone, weights, boundary, image
content, view) and training runs on the stored tensors. This is what makes an
epoch take milliseconds instead of a full forward pass over every image.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from PIL import Image

from ..data.images import ImageError, load_rgb
from ..data.preprocess import eval_array
from ..events import StopCheck, Stopped
from . import runtime, text_detector, text_layout
from .text_layout import TextLayout

if TYPE_CHECKING:
    from .backbones import WeightsChoice

Progress = Callable[[int, int], None]


def file_hash(path: Path) -> str:
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


_hash_memo: dict[tuple[str, float, int], str] = {}
_hash_lock = threading.Lock()


def content_key(path: Path) -> str:
    """Content hash, memoised on (path, mtime, size) so unchanged files are not re-read."""
    st = path.stat()
    key = (str(path), st.st_mtime, st.st_size)
    with _hash_lock:
        hit = _hash_memo.get(key)
    if hit is None:
        hit = file_hash(path)
        with _hash_lock:
            _hash_memo[key] = hit
    return hit


TRIM_EVERY = 256  # photos decoded between heap trims (a trim takes milliseconds; 256 photos, seconds)


def decode_batches(
    paths: Sequence[Path],
    transform: Callable,
    batch_size: int,
    min_side: int,
    workers: int = 2,
    should_stop: StopCheck | None = None,
    also: Callable[[int, Image.Image], None] | None = None,
) -> Iterator[tuple[list[int], torch.Tensor, list[tuple[int, str]]]]:
    """Yield (indices, batch, failures); decoding of the next batch overlaps compute.

    Unreadable images are reported, not raised, so one bad file never stops a run. ``also(i, img)``
    runs in the decoding thread on each decoded image (text detection): it overlaps the forward
    pass like the decoding does, and is done for a batch before that batch is yielded. Every
    ``TRIM_EVERY`` photos the heap's free pages go back to the OS (:func:`core.settings.trim_heap`).
    """

    def load(i: int):
        try:
            img = load_rgb(paths[i], min_side=min_side)
            arr = transform(img)
            if also is not None:
                also(i, img)
            return i, arr, None
        except ImageError as exc:
            return i, None, str(exc)

    order = list(range(len(paths)))
    chunks = [order[k : k + batch_size] for k in range(0, len(order), batch_size)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending = [pool.map(load, chunks[0])] if chunks else []
        for n in range(len(chunks)):
            if n + 1 < len(chunks):
                pending.append(pool.map(load, chunks[n + 1]))
            results = list(pending.pop(0))
            if should_stop and should_stop():
                raise Stopped()
            ok = [(i, a) for i, a, err in results if err is None]
            failures = [(i, err) for i, a, err in results if err is not None]
            if ok:
                batch = torch.from_numpy(np.stack([a for _, a in ok]))
                yield [i for i, _ in ok], batch, failures
            else:
                yield [], torch.empty(0), failures
            if (n + 1) * batch_size // TRIM_EVERY > n * batch_size // TRIM_EVERY:
                runtime.trim_heap()  # the freed photos' buffers back to the OS: flat memory, any gallery size


def text_key(path: Path) -> tuple:
    """A text layout's cache key: the image's content, the descriptor's version and the detector's size."""
    return ("text", text_layout.VERSION, text_detector.DETECT_PIXELS, content_key(Path(path)))


class FeatureCache:
    """Per-workspace store of frozen-prefix outputs and text layouts. Never shared between sessions."""

    def __init__(self) -> None:
        self._store: dict[tuple, torch.Tensor] = {}
        self._text: dict[tuple, TextLayout] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._store)

    def nbytes(self) -> int:
        with self._lock:
            tensors = sum(t.numel() * t.element_size() for t in self._store.values())
            return tensors + sum(t.vector.nbytes + t.boxes.nbytes for t in self._text.values())

    def clear(self) -> None:
        with self._lock:
            self._store.clear()
            self._text.clear()

    # ------------------------------------------------------------ text layouts

    def _text_saver(self, keys: Sequence[tuple]) -> Callable[[int, Image.Image], None]:
        """A decode-thread hook storing the layout of image i (keys[i]) unless it is stored already."""

        def save(i: int, img: Image.Image) -> None:
            with self._lock:
                if keys[i] in self._text:
                    return
            layout = text_layout.detect_layout(img)
            with self._lock:
                self._text[keys[i]] = layout

        return save

    def ensure_text(
        self, paths: Sequence[Path], min_side: int, should_stop: StopCheck | None = None, batch_size: int = 16
    ) -> list[tuple[int, str]]:
        """Compute the text layouts still missing for ``paths`` (decoding only those); returns failures."""
        keys = [text_key(p) for p in paths]
        with self._lock:
            first = {k: i for i, k in reversed(list(enumerate(keys))) if k not in self._text}
        missing = sorted(first.values())  # one decode per content: copies share their layout
        if not missing:
            return []
        save = self._text_saver([keys[i] for i in missing])
        failures = []
        for _, _, fails in decode_batches(
            [paths[i] for i in missing],
            lambda im: np.zeros(1, np.float32),
            batch_size,
            min_side,
            should_stop=should_stop,
            also=save,
        ):
            failures += [(missing[i], e) for i, e in fails]
        return failures

    def text_layout(self, path: Path) -> TextLayout | None:
        with self._lock:
            return self._text.get(text_key(path))

    def text_vectors(self, paths: Sequence[Path]) -> np.ndarray:
        """(len(paths), DIM) descriptors of images whose layouts are stored (:meth:`ensure_text` first)."""
        keys = [text_key(p) for p in paths]
        with self._lock:
            rows = [self._text[k].vector for k in keys]
        return np.stack(rows) if rows else np.zeros((0, text_layout.DIM), np.float32)

    def _put(self, keys: list[tuple], out: torch.Tensor) -> None:
        """Store one row of ``out`` per key; spatial maps as float16 (half the memory, upcast when used)."""
        if out.dim() == 4:
            out = out.to(torch.float16)
        with self._lock:
            for j, k in enumerate(keys):
                self._store[k] = out[j].clone()

    def count_missing(self, tag: str, boundary: int, paths: Sequence[Path], view: str) -> int:
        """How many of ``paths`` a call with these arguments would compute (for a plan's counts)."""
        with self._lock:
            return sum(1 for p in paths if (tag, boundary, view, content_key(Path(p))) not in self._store)

    def features(
        self,
        net: torch.nn.Module,
        tag: str,
        boundary: int,
        paths: Sequence[Path],
        view: str,
        transform: Callable,
        min_side: int,
        batch_size: int = 16,  # 16 x 224 px keeps activation memory ~half of 32, at the same speed on CPU
        progress: Progress | None = None,
        should_stop: StopCheck | None = None,
        forward: Callable[[torch.Tensor], torch.Tensor] | None = None,
        dtype: torch.dtype | None = torch.float32,
        via: int | None = None,
        keep_via: bool = False,
        text: bool = False,
    ) -> tuple[torch.Tensor, list[int], list[tuple[int, str]]]:
        """Stacked features for ``paths`` (computing only the missing ones).

        Returns (features, indices that succeeded, failures); ``view`` names the
        transform ("eval" or "aug3:<steps>") so augmented views never mix. ``forward``
        replaces the default runner of stages[:boundary] (a trained model's trunk).
        ``dtype=None`` returns spatial maps as stored (float16): training upcasts a
        batch at a time instead of holding a float32 copy of every view. ``via``: run the
        prefix only to this earlier boundary (in the shared session) and the stages after it
        in torch; ``keep_via`` also stores those maps, the inputs a deeper run will need. ``text``:
        also store every image's text layout, detected while its pixels are decoded anyway.
        """
        keys = [(tag, boundary, view, content_key(Path(p))) for p in paths]
        with self._lock:
            missing = [i for i, k in enumerate(keys) if k not in self._store]
        failures: list[tuple[int, str]] = []
        done = len(paths) - len(missing)
        if progress:
            progress(done, len(paths))
        if missing:
            net.eval()
            through = via if forward is None and via is not None and 0 < via < boundary else boundary
            if forward is None:
                forward = runtime.forward_fn(net, 0, through, head=False, n_images=len(missing))
            also = self._text_saver([text_key(paths[i]) for i in missing]) if text else None
            for idx, batch, fails in decode_batches(
                [paths[i] for i in missing], transform, batch_size, min_side, should_stop=should_stop, also=also
            ):
                failures += [(missing[i], e) for i, e in fails]
                if len(idx):
                    out = forward(batch)
                    if through < boundary:
                        if keep_via:
                            self._put([(tag, through, view, keys[missing[i]][3]) for i in idx], out)
                        out = resume(net, out, through, boundary)
                    self._put([keys[missing[i]] for i in idx], out)
                done += len(idx) + len(fails)
                if progress:
                    progress(done, len(paths))
        if text:  # images whose features were cached before any text was asked for
            computed = set(missing)
            self.ensure_text([p for i, p in enumerate(paths) if i not in computed], min_side, should_stop)
        with self._lock:
            ok = [i for i, k in enumerate(keys) if k in self._store]
            feats = [self._store[keys[i]] for i in ok]
        stacked = torch.stack(feats) if feats else torch.empty(0)
        if dtype is None:
            self._share(keys, ok, stacked)
        return (stacked.to(dtype) if dtype is not None else stacked), ok, failures

    def _share(self, keys: list[tuple], ok: list[int], stacked: torch.Tensor) -> None:
        """Let the store's entries be rows of ``stacked``, the inputs a run holds as it trains: the
        cache and the run then keep one copy, not two (~100 MB at Better's peak on 4,000 photos;
        Quick's pooled features, 5 KB a photo). Only for inputs returned as stored (``dtype=None``):
        that caller reads them and never writes into them."""
        with self._lock:
            for j, i in enumerate(ok):
                if self._store.get(keys[i]) is not None:
                    self._store[keys[i]] = stacked[j]


def resume(net: torch.nn.Module, z: torch.Tensor, start: int, stop: int) -> torch.Tensor:
    """stages[start:stop] of a frozen network in torch, from the prefix's output."""
    with torch.inference_mode():
        z = z.float().contiguous(memory_format=torch.channels_last)
        for stage in net.stages[start:stop]:
            z = stage(z)
        return z


def feature_tag(backbone: str, weights: WeightsChoice) -> str:
    """Names a frozen backbone in cache keys: every user of pretrained features must spell it this way."""
    return f"{backbone}|{weights.label}"


@dataclass
class PooledFeatures:
    """Pooled pretrained features for the images that decoded."""

    X: np.ndarray  # (len(ok), feature_dim) float32
    ok: list[int]  # indices into the requested paths
    failures: list[tuple[int, str]] = field(default_factory=list)  # (index, why)
    T: np.ndarray | None = None  # (len(ok), text_layout.DIM) text layouts, when asked for


def pretrained_features(
    paths: Sequence[Path],
    backbone: str,
    weights: WeightsChoice | None = None,
    cache: FeatureCache | None = None,
    progress: Progress | None = None,
    should_stop: StopCheck | None = None,
    text: bool = False,
) -> PooledFeatures:
    """Pooled features of the *pretrained* backbone (and the photos' text layouts), through the cache.

    The key (feature tag, head-only boundary, "eval" view) is the one head-only
    training uses, so Discover, the label check, the health report and training
    share one computation per image.
    """
    from .backbones import WeightsChoice, build_network, get_spec

    weights = weights or WeightsChoice()
    cache = cache if cache is not None else FeatureCache()
    pre = get_spec(backbone).preprocess
    net = build_network(backbone, 2, weights)  # the frozen backbone; the head is not used
    X, ok, fails = cache.features(
        net,
        feature_tag(backbone, weights),
        net.boundary(0),
        [Path(p) for p in paths],
        "eval",
        lambda im: eval_array(im, pre),
        pre.resize_to,
        progress=progress,
        should_stop=should_stop,
        via=net.pool_via,  # the session training's rungs use: one export, one arena
        text=text,
    )
    X = X.float()
    if X.dim() == 4:  # a spatial map (a boundary before the pool): pool it
        X = X.mean(dim=(2, 3))
    dim = get_spec(backbone).feature_dim
    T = cache.text_vectors([paths[i] for i in ok]) if text else None
    return PooledFeatures(X.numpy() if len(ok) else np.zeros((0, dim), np.float32), ok, fails, T)
