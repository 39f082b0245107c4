"""The inputs of a run: training, validation and test images at the network's boundary.

:class:`Inputs` computes them (through the feature cache) when a run first needs
them; :func:`features_to_compute` counts what is still missing, for forecasts.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..data import augment
from ..data.preprocess import eval_array
from ..events import Advance, OnEvent, Status, StopCheck
from ..models import runtime
from ..models.backbones import Network, get_spec
from ..models.features import FeatureCache, decode_batches
from . import budget
from .config import TrainConfig

# Up to this many photos in a split, a pooled run (Quick) keeps their un-augmented maps too: Better reads
# validation's and test's, a custom recipe may read the training photos'. Past it memory would grow by
# ~30 KB a photo (Lite0) for maps a run on a working set never reads; Better computes what it needs.
KEEP_MAPS = 2_000


@dataclass
class Rows:
    """Some images' inputs at the boundary, their text layouts (for a network that reads text) and labels."""

    X: torch.Tensor
    T: torch.Tensor | None
    y: torch.Tensor
    paths: list[Path]

    def __len__(self) -> int:
        return len(self.y)


def batch_of(T: torch.Tensor | None, idx) -> torch.Tensor | None:
    return T[idx] if T is not None else None


def view_name(cfg: TrainConfig, v: int) -> str:
    """The cache's name for augmented view ``v`` of a run's training images ("eval" without augmentation)."""
    steps = cfg.augment_steps
    return "eval" if not steps else f"aug{v}s{cfg.seed}:{','.join(steps)}"


def view_rows(cfg: TrainConfig, train_y: np.ndarray, v: int) -> np.ndarray:
    """Which training photos view ``v`` covers: all of them, or the run's working set for that view."""
    if not cfg.view_photos or cfg.view_photos >= len(train_y):
        return np.arange(len(train_y))
    return budget.view_sample(train_y, cfg.view_photos, v, cfg.seed)


def features_to_compute(
    cfg: TrainConfig, cache: FeatureCache, boundary: int, train_paths, eval_paths, train_y: np.ndarray | None = None
) -> int:
    """Cached inputs a run with ``cfg`` still has to compute: one per validation/test image, one per
    training image (of each view's working set, when ``train_y`` says which) and view the epochs will reach."""
    views = min(cfg.views if cfg.augment_steps else 1, cfg.total_epochs)
    train_paths = list(train_paths)
    todo = cache.count_missing(cfg.feature_tag, boundary, list(eval_paths), "eval")
    for v in range(views):
        rows = view_rows(cfg, train_y, v) if train_y is not None else range(len(train_paths))
        todo += cache.count_missing(cfg.feature_tag, boundary, [train_paths[i] for i in rows], view_name(cfg, v))
    return todo


@dataclass
class Inputs:
    """The training and validation inputs at the network's boundary, computed (and cached) on demand.

    With a frozen prefix (``boundary > 0``) inputs are the prefix's cached outputs: one
    augmented view per epoch is computed until all views are cached. Without one (full
    fine-tuning) training images are decoded and augmented afresh every epoch.
    """

    net: Network
    cfg: TrainConfig
    cache: FeatureCache
    boundary: int
    classes: list[str]
    train_paths: list[Path]
    train_y: np.ndarray
    val_paths: list[Path]
    val_y: np.ndarray
    emit: OnEvent
    should_stop: StopCheck
    test_paths: list[Path] = field(default_factory=list)
    test_y: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    skipped: list[tuple[str, str]] = field(default_factory=list)
    computed: int = 0  # feature images computed so far (the plan's "features" step)
    _views: dict[int, Rows] = field(default_factory=dict)
    _val: Rows | None = None
    _val_subset: Rows | None = None
    _text_rows: dict[Path, np.ndarray] = field(default_factory=dict)  # full fine-tuning's layouts, by path

    @property
    def cached(self) -> bool:
        return self.boundary > 0

    @property
    def reads_text(self) -> bool:
        return self.net.text_dim > 0

    @property
    def steps(self) -> list[str]:
        return self.cfg.augment_steps

    @property
    def n_views(self) -> int:
        return self.cfg.views if self.steps else 1

    @property
    def min_side(self) -> int:
        return get_spec(self.cfg.backbone).preprocess.resize_to

    def view_name(self, v: int) -> str:
        return view_name(self.cfg, v)

    def transform(self, k: int):
        """View k's (or epoch k's) augmentation: seeded by the run's seed, so reruns repeat."""
        pre = get_spec(self.cfg.backbone).preprocess
        if not self.steps:
            return lambda img: eval_array(img, pre)
        return augment.train_transform(self.steps, pre, seed=self.cfg.seed * 1_000_003 + k)

    def missing(self) -> int:
        """Feature images this run still has to compute (what the plan counts)."""
        if not self.cached:
            return 0
        return features_to_compute(
            self.cfg, self.cache, self.boundary, self.train_paths, self.val_paths + self.test_paths, self.train_y
        )

    @property
    def view_size(self) -> int:
        """Training photos one epoch goes through (the working set on a large gallery)."""
        return len(view_rows(self.cfg, self.train_y, 0)) if self.cached else len(self.train_paths)

    def _rows(self, paths: list[Path], labels: np.ndarray, view: str, transform) -> Rows:
        X, ok = self._features(paths, view, transform, len(paths) <= KEEP_MAPS)
        kept = [paths[i] for i in ok]
        T = torch.from_numpy(self.cache.text_vectors(kept)) if self.reads_text else None
        return Rows(X, T, torch.tensor(labels[ok], dtype=torch.long), kept)

    def _features(self, paths: list[Path], view: str, transform, keep_maps: bool) -> tuple[torch.Tensor, list[int]]:
        base = {"computed": self.computed, "hits": None}

        def progress(done: int, total: int) -> None:
            if base["hits"] is None:  # the first call reports what was cached already
                base["hits"] = done
            self.computed = base["computed"] + done - base["hits"]
            self.emit(Advance("features", self.computed, f"{done}/{total} images"))

        X, ok, fails = self.cache.features(
            self.net,
            self.cfg.feature_tag,
            self.boundary,
            paths,
            view,
            transform,
            self.min_side,
            progress=progress,
            should_stop=self.should_stop,
            dtype=None,  # as stored: batches are upcast one at a time
            via=self.net.pool_via,
            keep_via=keep_maps,  # pooled features here: their maps are Better's inputs
            text=self.reads_text,  # layouts are detected while the photos are decoded anyway
        )
        for i, e in fails:
            if (str(paths[i]), e) not in self.skipped:
                self.skipped.append((str(paths[i]), e))
        if self.computed > base["computed"]:
            runtime.give_back_memory()  # decoded photos and batch buffers: back to the OS before training
        return X, ok

    def validation(self, full: bool = False) -> Rows:
        """Validation inputs, computed once, after the first training batches (the chart's first point
        comes sooner). On a large split the epochs score a fixed stratified subset; ``full``: all of it."""
        if self._val is None:
            if self.val_paths:
                self.emit(Status(f"Computing features for {len(self.val_paths)} validation images"))
                self._val = self._rows(self.val_paths, self.val_y, "eval", self._eval_tf())
            else:
                self._val = Rows(torch.empty(0), None, torch.empty(0, dtype=torch.long), [])
        if full or not self.cfg.val_photos or self.cfg.val_photos >= len(self._val):
            return self._val
        if self._val_subset is None:
            keep = torch.from_numpy(budget.val_sample(self._val.y.numpy(), self.cfg.val_photos, self.cfg.seed))
            v = self._val
            self._val_subset = Rows(v.X[keep], batch_of(v.T, keep), v.y[keep], [v.paths[i] for i in keep.tolist()])
        return self._val_subset

    def test(self) -> Rows:
        """The test split's inputs, computed once at the very end (nothing before looks at them)."""
        if not self.test_paths:
            return Rows(torch.empty(0), None, torch.empty(0, dtype=torch.long), [])
        self.emit(Status(f"Scoring the {len(self.test_paths)} test images once"))
        return self._rows(self.test_paths, self.test_y, "eval", self._eval_tf())

    def _eval_tf(self):
        pre = get_spec(self.cfg.backbone).preprocess
        return lambda img: eval_array(img, pre)

    def view(self, v: int, epoch: int) -> Rows:
        if v not in self._views:
            what = f"training view {v + 1} of {self.n_views}" if self.n_views > 1 else "the training images"
            self.emit(Status(f"Computing features for {what}" + (f" (epoch {epoch})" if v else "")))
            rows = view_rows(self.cfg, self.train_y, v)
            paths = [self.train_paths[i] for i in rows]
            self._views[v] = self._rows(paths, self.train_y[rows], self.view_name(v), self.transform(v))
        return self._views[v]

    def training_layouts(self) -> torch.Tensor | None:
        """Text layouts of the training images (what the head's text scaling is fitted on)."""
        if not self.reads_text:
            return None
        if self.cached:
            return self.view(0, 1).T
        self.emit(Status(f"Reading the text on {len(self.train_paths)} training images"))
        for i, e in self.cache.ensure_text(self.train_paths, self.min_side, self.should_stop):
            if (str(self.train_paths[i]), e) not in self.skipped:
                self.skipped.append((str(self.train_paths[i]), e))
        ok = [p for p in self.train_paths if self.cache.text_layout(p) is not None]
        self._text_rows = dict(zip(ok, self.cache.text_vectors(ok)))
        return torch.from_numpy(np.stack(list(self._text_rows.values()))) if ok else torch.zeros(0, self.net.text_dim)

    def batches(
        self, epoch: int, generator: torch.Generator
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]]:
        """Shuffled training batches for one epoch: (inputs, text layouts or None, labels)."""
        bs = self.cfg.batch_size
        if self.cached:
            rows = self.view((epoch - 1) % self.n_views, epoch)
            X, y = rows.X, rows.y
            self.emit(Status(f"Training, epoch {epoch} of {self.cfg.total_epochs}"))
            perm = torch.randperm(len(X), generator=generator)
            for s in range(0, len(X), bs):
                xb = X[perm[s : s + bs]].float()
                if self.cfg.feature_flip and xb.dim() == 4:  # mirror some cached maps: a free augmentation
                    flip = torch.rand(len(xb), generator=generator) < self.cfg.feature_flip
                    xb = torch.where(flip[:, None, None, None], xb.flip(-1), xb)
                yield xb, batch_of(rows.T, perm[s : s + bs]), y[perm[s : s + bs]]
            return
        self.emit(Status(f"Training, epoch {epoch} of {self.cfg.total_epochs} (decoding and augmenting every image)"))
        order = torch.randperm(len(self.train_paths), generator=generator).tolist()
        if self.reads_text:  # a photo whose layout could not be read cannot be read by the head either
            order = [i for i in order if self.train_paths[i] in self._text_rows]
        paths = [self.train_paths[i] for i in order]
        y = torch.tensor(self.train_y[order], dtype=torch.long)
        for idx, xb, _ in decode_batches(paths, self.transform(epoch), bs, self.min_side, should_stop=self.should_stop):
            if len(idx):
                tb = torch.from_numpy(np.stack([self._text_rows[paths[i]] for i in idx])) if self.reads_text else None
                yield xb, tb, y[idx]
