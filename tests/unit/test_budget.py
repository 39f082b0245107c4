"""Better on a large gallery: the working set and step budget follow from the time and memory budgets."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.data.dataset import load_dataset
from core.events import Batch, Epoch, Recorder
from core.models.features import FeatureCache
from core.training import budget, ladder
from core.training.budget import Rates, cost_s, plan, val_sample, view_sample
from core.training.config import Phase, TrainConfig
from core.training.train import train
from tests.helpers.images import make_class_folders

RATES = Rates(feature_s=0.03, step_s=0.004, map_mb=0.03)  # about Lite0's on this machine


def _plan(n_train: int, seconds: float = 120.0, memory_mb: float = 10_000.0, n_val: int | None = None):
    return plan(n_train, n_val if n_val is not None else n_train // 4, 3, 8, 32, RATES, seconds, memory_mb)


def test_a_small_gallery_gets_every_photo_in_every_view():
    ws = _plan(400)
    assert not ws.bounded and ws.photos == 400 and ws.limit == ""
    assert ws.steps == 8 * math.ceil(400 / 32)
    assert "every training photo" in ws.words()


def test_the_working_set_is_the_largest_that_fits_the_time():
    ws = _plan(20_000, seconds=120.0)
    assert ws.bounded and ws.limit == "time"
    cost = lambda w: cost_s(w, ws.val_photos, 5_000, 3, 8, 32, RATES)  # noqa: E731
    assert cost(ws.photos) <= 120.0 < cost(ws.photos + 1)
    assert ws.seconds == pytest.approx(cost(ws.photos))
    assert ws.steps == 8 * math.ceil(ws.photos / 32)  # the step budget follows from the working set


def test_the_working_set_fits_the_memory_budget():
    ws = _plan(20_000, seconds=10_000.0, memory_mb=50.0)
    assert ws.limit == "memory" and ws.maps_mb <= 50.0
    assert (ws.photos + 1) * 3 * RATES.map_mb > 50.0


def test_cost_stops_growing_with_the_photo_count():
    small, big = _plan(5_000, n_val=1_250), _plan(20_000, n_val=1_250)
    assert small.photos == big.photos and small.seconds == pytest.approx(big.seconds)
    assert small.val_photos == big.val_photos == budget.VAL_PHOTOS
    assert big.reaches == 3 * big.photos  # three views, three different slices
    assert "per view" in big.words() and "validation photos" in big.words()


def test_too_little_time_is_not_worth_a_run():
    assert not _plan(5_000, seconds=5.0).worth_it
    assert _plan(5_000, seconds=120.0).worth_it


def test_views_are_stratified_different_slices():
    y = np.repeat(np.arange(3), [600, 300, 100])
    views = [view_sample(y, 200, v, seed=0) for v in range(3)]
    for idx in views:
        assert len(idx) == 200 and len(set(idx.tolist())) == 200
        counts = np.bincount(y[idx], minlength=3)
        assert np.all(np.abs(counts - np.array([120, 60, 20])) <= 2)  # each class by its share
    assert len(set(np.concatenate(views).tolist())) == 600  # no photo twice across the views
    assert np.array_equal(view_sample(y, 200, 1, seed=0), views[1])  # a rerun repeats
    assert np.array_equal(view_sample(y, 2_000, 0, seed=0), np.arange(1_000))


def test_validation_subset_is_fixed_and_stratified():
    y = np.repeat(np.arange(2), [900, 100])
    a, b = val_sample(y, 100, seed=3), val_sample(y, 100, seed=3)
    assert np.array_equal(a, b) and abs(int(np.sum(y[a] == 1)) - 10) <= 1


def test_a_bounded_run_trains_on_the_working_set_and_scores_all_of_validation(tmp_path):
    ds = load_dataset(make_class_folders(tmp_path / "d", classes=("a", "b"), n=12), 0.34)
    n_train, n_val = len(ds.split_items("train")), len(ds.split_items("val"))
    cfg = TrainConfig(
        phases=[Phase("last 2 blocks + head", 2, 1e-3)],
        augment="light",
        views=2,
        view_photos=6,
        val_photos=4,
        batch_size=2,
    )
    events = Recorder()
    r = train(ds, cfg, FeatureCache(), events)
    batches = events.of(Batch)
    assert n_train > 6 and batches and {b.batches for b in batches} == {3}  # 6 photos a view, not all of them
    assert r.metrics.n_val == n_val and len(r.val_probs) == n_val  # the figure reported is the full split
    assert "covers 6 of the training photos" in r.path_in_use
    assert len(events.of(Epoch)) == 2


def test_better_on_a_large_gallery_is_fitted_to_the_time_left(tmp_path, monkeypatch):
    ds = load_dataset(make_class_folders(tmp_path / "d", classes=("a", "b"), n=40), 0.25)
    cfg, ws = ladder.fitted(ds, ladder.recipe("better"), FeatureCache(), seconds=math.inf)
    assert not ws.bounded and cfg.view_photos == 0  # all the time in the world: every photo
    half = ws.seconds * 0.5
    cfg, ws = ladder.fitted(ds, ladder.recipe("better"), FeatureCache(), seconds=half)
    assert ws.bounded and cfg.view_photos == ws.photos < len(ds.split_items("train"))
    assert ws.limit == "time" and ws.seconds <= half
    fc = ladder.forecast("better", ds, cfg, FeatureCache())
    assert fc.batches == 8 * math.ceil(ws.photos / 32)  # what the Train page shows is what will run
    monkeypatch.setattr(ladder, "maps_budget_mb", lambda: 1e-6)
    _, ws = ladder.fitted(ds, ladder.recipe("better"), FeatureCache(), seconds=math.inf)
    assert ws.limit == "memory"


def test_quick_on_a_large_gallery_keeps_only_the_maps_better_reads(tmp_path, monkeypatch):
    from core.models.backbones import VIA_UNFREEZE, boundary_of
    from core.training import inputs

    ds = load_dataset(make_class_folders(tmp_path / "d", classes=("a", "b"), n=10), 0.3)
    tr, va = [i.path for i in ds.split_items("train")], [i.path for i in ds.split_items("val")]
    cfg = ladder.recipe("quick")
    via = boundary_of(cfg.backbone, VIA_UNFREEZE)  # where pooled runs compute through: Better's inputs
    small = FeatureCache()
    train(ds, cfg, small)
    assert small.count_missing(cfg.feature_tag, via, tr, "eval") == 0  # a small gallery keeps them all
    monkeypatch.setattr(inputs, "KEEP_MAPS", len(va))
    large = FeatureCache()
    train(ds, cfg, large)
    assert large.count_missing(cfg.feature_tag, via, tr, "eval") == len(tr) > len(va)  # not kept per training photo
    assert large.count_missing(cfg.feature_tag, via, va, "eval") == 0  # validation's: Better's inputs
    monkeypatch.setattr(inputs, "KEEP_MAPS", len(va) - 1)
    huge = FeatureCache()
    train(ds, cfg, huge)
    assert huge.count_missing(cfg.feature_tag, via, va, "eval") == len(va)  # a split past it keeps none
    assert huge.count_missing(cfg.feature_tag, boundary_of(cfg.backbone, 0), va, "eval") == 0  # pooled: yes
