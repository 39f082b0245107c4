"""The quality ladder: Quick first, Better only when validation says so and time allows, never a worse model."""

from __future__ import annotations

import pytest

from core.data.dataset import load_dataset
from core.events import Candidate, Epoch, Note, Recorder
from core.models.features import FeatureCache
from core.training import ladder
from core.training.ladder import LadderRequest, climb, forecast, recipe
from tests.helpers.images import make_class_folders


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = make_class_folders(tmp_path_factory.mktemp("ladder") / "d", classes=("stripes", "dots", "plain"), n=8)
    return load_dataset(root, val_fraction=0.25, seed=0)


def test_easy_data_stops_at_quick_and_says_why(data):
    events = Recorder()
    out = climb(data, LadderRequest("auto"), FeatureCache(), events)
    assert len(out.results) == 1 and out.best.metrics.rung == "quick"
    assert "the head is enough" in out.reasons[-1]
    assert [n.message for n in events.of(Note)] == out.reasons  # every decision is told, once


def test_automatic_climbs_to_better_keeps_the_better_model_and_hands_quick_over_first(data, monkeypatch):
    monkeypatch.setattr(ladder, "GOOD_ENOUGH", 1.01)  # as if validation said the head is the limit
    better = recipe("better")
    better.phases[0].epochs = 2
    monkeypatch.setattr(ladder, "recipe", lambda rung, *a, **k: better if rung == "better" else recipe(rung, *a, **k))
    events = Recorder()
    out = climb(data, LadderRequest("auto", budget_s=3600), FeatureCache(), events)
    assert [r.metrics.rung for r in out.results] == ["quick", "better"]
    cands = events.of(Candidate)
    assert len(cands) == 1 and cands[0].result is out.results[0]  # Quick was usable before Better began
    first_better = next(i for i, e in enumerate(events.events) if isinstance(e, Epoch) and e.unfreeze != "head only")
    assert events.events.index(cands[0]) < first_better
    accs = [r.metrics.val_accuracy for r in out.results]
    assert out.best.metrics.val_accuracy == max(accs)  # never a worse model than Quick
    assert any("fine-tuned too" in r for r in out.reasons)


def test_a_short_budget_keeps_quick_and_says_what_better_would_cost(data, monkeypatch):
    monkeypatch.setattr(ladder, "GOOD_ENOUGH", 1.01)
    out = climb(data, LadderRequest("auto", budget_s=0.001), FeatureCache())
    assert len(out.results) == 1 and any("would not fit" in r and "budget" in r for r in out.reasons)


def test_forecasts_come_from_measured_costs_and_cached_features_are_free(data):
    cache = FeatureCache()
    quick = forecast("quick", data, recipe("quick"), cache)
    better = forecast("better", data, recipe("better"), cache)
    best = forecast("best", data, recipe("best"), cache)
    assert quick.features == len(data.labelled) and quick.seconds > 0
    assert better.features == len(data.split_items("val")) + 3 * len(data.split_items("train"))
    assert best.features == 0 and best.seconds > better.seconds > 0  # every epoch decodes and runs it all
    from core.training.train import train

    train(data, recipe("quick"), cache)
    assert forecast("quick", data, recipe("quick"), cache).features == 0  # cached: nothing left to compute


def test_a_split_smaller_than_a_batch_is_costed_at_its_own_size(data):
    """Eight photos train as one batch of eight: a batch costed at ``batch_size`` photos made Best's
    forecast on a 10-photo set 'about 2 min' for a 20 s run."""
    from dataclasses import replace

    n = len(data.split_items("train"))
    for rung in ("best", "better"):
        cfg = recipe(rung)
        small, big = (
            forecast(rung, data, replace(cfg, batch_size=n)),
            forecast(rung, data, replace(cfg, batch_size=4 * n)),
        )
        assert small.batches == big.batches  # one batch an epoch either way
        assert big.batch_s == pytest.approx(small.batch_s)  # and it holds the same photos


def test_best_is_refused_where_the_server_switches_it_off(data):
    with pytest.raises(ValueError, match="switched off"):
        climb(data, LadderRequest("best", allow_best=False))


def test_quick_and_better_forecasts_never_run_a_whole_network_backward(data, monkeypatch):
    """The whole network's backward costs ~1 GB of RSS: only a Best forecast may pay for it."""
    from core.training import costs

    seen: list[int] = []
    real = costs._step_ms
    monkeypatch.setattr(costs, "_measured", {})
    monkeypatch.setattr(costs, "_step_ms", lambda net, boundary, x: seen.append(boundary) or real(net, boundary, x))
    for rung in ("quick", "better"):
        forecast(rung, data, recipe(rung))
    assert seen and 0 not in seen
    forecast("best", data, recipe("best"))
    assert seen[-1] == 0


def test_a_cost_probe_is_not_moved_by_one_slow_call(monkeypatch):
    """Forecasts rest on a few timed calls: one slowed by another thread must not set the rate."""
    from core.training import costs

    clock = [0.0]
    durations = iter([0.5, 0.010, 0.300, 0.012])  # warm-up, then one call slowed by something else

    def call():
        clock[0] += next(durations)

    monkeypatch.setattr(costs.time, "perf_counter", lambda: clock[0])
    assert costs._time(call, 3) == pytest.approx(0.012)


def test_better_planned_before_quick_counts_only_what_quick_leaves(data, monkeypatch):
    """Quick reads every photo's text and keeps validation's maps (up to KEEP_MAPS a split): a Better
    forecast made before the climb must not count them again, and must count them past that size."""
    from core.models.backbones import boundary_of
    from core.training import costs, inputs

    cache, name = FeatureCache(), recipe("better").backbone
    rate = costs.costs(name, boundary_of(name, 2)).prefix_ms / 1000
    after = forecast("better", data, recipe("better"), cache, after_quick=True)
    assert after.features == 3 * len(data.split_items("train"))  # only the augmented views
    assert after.feature_s == pytest.approx(rate)  # no text detection folded in: Quick read it all
    monkeypatch.setattr(inputs, "KEEP_MAPS", 0)
    monkeypatch.setattr(ladder, "KEEP_MAPS", 0)
    past = forecast("better", data, recipe("better"), cache, after_quick=True)
    assert past.features == after.features + len(data.split_items("val"))  # validation's maps: not kept
