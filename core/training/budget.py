"""How much of a large gallery one Better run works on: a working set and a step budget.

Why: Better fine-tunes the last blocks on inputs cached per photo and augmented view, for a
fixed number of epochs, so its time and memory grew with the photo count and the galleries with
most photos never got it ("Better would take about 371 s, beyond the 240 s budget" on 4,317
flowers). Past a few hundred photos the last blocks need a number of optimiser steps, not more
passes over every photo. So each view's cached maps cover a sample of the training photos: a
different slice of one stratified order per view (three views reach three times as many
photos), as many as the time left and the memory budget allow; the steps follow from it. While
the epochs run, validation scores a fixed stratified subset when the split is large; the full
split is scored once at the end (that is the figure reported).

Everything here is arithmetic on counts and measured rates: the ladder's forecast and the run
itself take the same plan.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MIN_PHOTOS = 300  # per view: below this the last blocks see too little to beat Quick's head
VAL_PHOTOS = 600  # validation photos scored after each epoch when the split is larger


@dataclass(frozen=True)
class Rates:
    """Measured seconds and megabytes per photo (``core.training.costs``), as the planner uses them."""

    feature_s: float  # one augmented view's cached input: decode + the frozen prefix
    step_s: float  # one photo's forward and backward through the trainable part
    map_mb: float  # one cached input in memory


@dataclass(frozen=True)
class WorkingSet:
    """What one Better run works on, and what it is expected to cost."""

    photos: int  # training photos each view's cached maps cover
    of: int  # training photos in all
    views: int
    epochs: int
    batch_size: int
    val_photos: int  # scored after each epoch
    of_val: int
    seconds: float
    maps_mb: float  # the views' cached maps in memory
    limit: str = ""  # what bounded it: "", "time" or "memory"

    @property
    def bounded(self) -> bool:
        return self.photos < self.of

    @property
    def steps(self) -> int:
        return self.epochs * max(1, math.ceil(self.photos / self.batch_size))

    @property
    def reaches(self) -> int:
        """Distinct training photos the views cover together."""
        return min(self.of, self.views * self.photos)

    @property
    def worth_it(self) -> bool:
        return self.photos >= min(self.of, MIN_PHOTOS)

    def words(self) -> str:
        """'works on 900 of 3,320 training photos per view (3 views reach 2,700), 232 steps, ...'"""
        if self.bounded:
            text = (
                f"works on {self.photos:,} of {self.of:,} training photos per view ({self.views} views reach "
                f"{self.reaches:,}), {self.steps} steps, to fit the {self.limit} budget"
            )
        else:
            text = f"works on every training photo in each of {self.views} views, {self.steps} steps"
        if self.val_photos < self.of_val:
            text += (
                f"; it picks its best epoch on {self.val_photos:,} of {self.of_val:,} validation photos "
                "(all are scored at the end)"
            )
        return text


def cost_s(photos: int, val_photos: int, n_val: int, views: int, epochs: int, batch: int, rates: Rates) -> float:
    """Seconds for a run over ``photos`` per view: their views' inputs, the steps, the per-epoch and
    final validation passes (a forward pass is about a third of a step)."""
    steps = epochs * max(1, math.ceil(photos / batch))
    return (
        views * photos * rates.feature_s
        + steps * batch * rates.step_s
        + (epochs * val_photos + n_val) * rates.step_s / 3
    )


def plan(
    n_train: int,
    n_val: int,
    views: int,
    epochs: int,
    batch: int,
    rates: Rates,
    seconds: float,
    memory_mb: float,
    fixed_s: float = 0.0,
) -> WorkingSet:
    """The largest working set (at most every photo) whose run fits ``seconds`` (after ``fixed_s``
    of work that does not depend on it) and whose cached maps fit ``memory_mb``."""
    val_photos = min(n_val, VAL_PHOTOS)

    def total(w: int) -> float:
        return fixed_s + cost_s(w, val_photos, n_val, views, epochs, batch, rates)

    by_memory = int(memory_mb // max(views * rates.map_mb, 1e-9))
    lo, hi = 0, n_train  # the largest w with total(w) <= seconds (total grows with w)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if total(mid) <= seconds else (lo, mid - 1)
    by_time = lo
    photos = min(n_train, by_time, by_memory)
    limit = "" if photos >= n_train else ("memory" if by_memory < by_time else "time")
    photos = max(photos, min(n_train, 1))
    return WorkingSet(
        photos, n_train, views, epochs, batch, val_photos, n_val, total(photos), photos * views * rates.map_mb, limit
    )


def everything(n_train: int, n_val: int, views: int, epochs: int, batch: int, rates: Rates, fixed_s: float = 0.0):
    """Every photo in every view (what a run asked for by hand does, and what small galleries get)."""
    return plan(n_train, n_val, views, epochs, batch, rates, math.inf, math.inf, fixed_s)


def stratified_order(y: np.ndarray, seed: int) -> np.ndarray:
    """An order of the photos that interleaves the classes by their share: any prefix is stratified."""
    rng = np.random.default_rng(seed)
    keyed = []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        # the k-th photo of a class of n sits at (k + u) / n: prefixes take each class by its share
        keyed += [((k + rng.random()) / len(idx), int(i)) for k, i in enumerate(idx)]
    return np.array([i for _, i in sorted(keyed)], dtype=int)


def view_sample(y: np.ndarray, photos: int, view: int, seed: int) -> np.ndarray:
    """The training photos view ``view`` covers: slice ``view`` of one stratified order (wrapping),
    so the views together reach as many different photos as they can. Sorted, for stable rows."""
    n = len(y)
    if photos >= n:
        return np.arange(n)
    order = stratified_order(y, seed)
    start = (view * photos) % n
    take = np.concatenate([order, order])[start : start + photos]
    return np.sort(take)


def val_sample(y: np.ndarray, photos: int, seed: int) -> np.ndarray:
    """The fixed validation subset scored after each epoch (a stratified prefix)."""
    if photos >= len(y):
        return np.arange(len(y))
    return np.sort(stratified_order(y, seed + 7919)[:photos])
