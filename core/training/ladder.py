"""The quality ladder: Quick, Better, Best, and a default that climbs only when validation says so.

- **Quick** trains a new head on pooled features computed once per photo: a result in seconds.
- **Better** also fine-tunes the last two blocks, on their inputs computed once per photo and
  augmented view (the feature cache), starting from Quick's head, BatchNorm on ImageNet's
  statistics, the blocks at a tenth of the head's learning rate.
- **Best** fine-tunes the whole network as fastai's ``fine_tune`` does: one epoch with the body
  frozen, then all of it with lower learning rates for the early layers, one-cycle, flips and
  random resized crops; every epoch decodes and runs every photo (slow on a CPU).
- **Automatic** (the default) runs Quick, and goes on to Better only when the validation images
  say the head is the limit and Better fits in the time budget; it keeps whichever model
  validates best, so it never hands over a worse model than Quick.

Every rung's head also reads each photo's text layout unless switched off. Quick (alone or in the
automatic climb) trains a second head without it on the same cached features (about a second)
and keeps the text only when validation improves with it; the rungs after it follow that choice.

Each rung's expected time comes from per-image costs measured on this machine
(:mod:`core.training.costs`) and this dataset's counts.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np

from ..data.dataset import Dataset
from ..events import Advance, Candidate, Note, OnEvent, Plan, Status, Step, StopCheck, ignore, never
from ..models.backbones import UNFREEZE_CHOICES, boundary_of, get_spec
from ..models.features import FeatureCache
from ..models.runtime import give_back_memory
from ..settings import load_settings, rss_mb
from . import budget
from .budget import WorkingSet
from .config import Phase, TrainConfig, TrainResult
from .costs import DECODE_MS, costs, text_ms
from .inputs import KEEP_MAPS, features_to_compute
from .train import train

RUNGS = ("quick", "better", "best")
MODES = ("auto", *RUNGS)
LABELS = {"auto": "Automatic", "quick": "Quick", "better": "Better", "best": "Best"}
WORDS = {
    "auto": "Quick first, then Better when the validation photos say it will help and it fits the time budget",
    "quick": "a new head on features computed once per photo",
    "better": "also fine-tunes the last two blocks, on inputs computed once per photo and view",
    "best": "fine-tunes the whole network, every photo decoded and run every epoch (slow on a CPU)",
}
GOOD_ENOUGH = 0.985  # Quick at or above this on validation: nothing left that validation can measure
DEFAULT_BUDGET_S = 240.0  # Quick + Better on ~1,000 photos here (trashnet: about 3 min) fits; Best never does
BEST_EPOCHS = 12  # the unfrozen epochs a Best run plans for (it stops earlier when validation stops improving)


def recipe(rung: str, backbone: str = "efficientnet_lite0", seed: int = 0, text: bool = True) -> TrainConfig:
    """The training settings of a rung (what the Train page shows and a run uses)."""
    if rung == "quick":
        return TrainConfig(backbone=backbone, seed=seed, text=text)
    if rung == "better":
        return TrainConfig(
            backbone=backbone,
            seed=seed,
            text=text,
            phases=[Phase("last 2 blocks + head", 8, 3e-4)],
            augment="light",
            views=3,
            head_lr_mult=10.0,
            bn_frozen=True,
            schedule="cosine",
        )
    if rung == "best":
        return TrainConfig(
            backbone=backbone,
            seed=seed,
            text=text,
            phases=[Phase("head only", 1, 2e-3), Phase("all", BEST_EPOCHS, 1e-3)],
            augment="light",
            views=1,
            schedule="onecycle",
            lr_decay=0.3,
            early_stopping=4,
            weight_decay=1e-2,
        )
    raise ValueError(f"unknown quality rung {rung!r}; choose from {', '.join(RUNGS)}")


@dataclass(frozen=True)
class Forecast:
    """What a rung will cost on this dataset here: feature images and batches, each at its measured rate."""

    rung: str
    features: int  # cached inputs still to compute (what is cached already is free)
    feature_s: float  # seconds per feature image
    batches: int
    batch_s: float  # seconds per training batch (with its share of validation)

    @property
    def seconds(self) -> float:
        return self.features * self.feature_s + self.batches * self.batch_s


def _train_labels(dataset: Dataset) -> tuple[list, np.ndarray]:
    items = dataset.split_items("train")
    cidx = {c: i for i, c in enumerate(dataset.classes)}
    return [i.path for i in items], np.array([cidx[i.label] for i in items], dtype=int)


def _scored(dataset: Dataset, after_quick: bool = False) -> tuple[list, int]:
    """The photos a run scores without training on them (validation, then test), and how many validate.
    ``after_quick``: only those whose un-augmented maps Quick will not have kept (a split past KEEP_MAPS)."""
    val = [i.path for i in dataset.split_items("val")]
    test = [i.path for i in dataset.split_items("test")]
    if after_quick:
        return [p for split in (val, test) if len(split) > KEEP_MAPS for p in split], len(val)
    return val + test, len(val)


def forecast(
    rung: str, dataset: Dataset, cfg: TrainConfig, cache: FeatureCache | None = None, after_quick: bool = False
) -> Forecast:
    """Expected seconds of ``cfg`` (a rung's recipe, fitted to the budgets) on this dataset here,
    from measured per-image costs. ``after_quick``: Quick will have cached the un-augmented inputs
    (up to KEEP_MAPS a split) and read every photo's text."""
    tr, tr_y = _train_labels(dataset)
    ev, n_va = _scored(dataset, after_quick)
    boundary = boundary_of(cfg.backbone, cfg.deepest_unfreeze)
    c = costs(cfg.backbone, boundary)
    n_view = min(len(tr), cfg.view_photos) if cfg.view_photos and boundary else len(tr)
    per_epoch = max(1, -(-n_view // cfg.batch_size))
    batches = cfg.total_epochs * per_epoch
    per_batch = n_view / per_epoch  # photos in a batch on average: 8 photos make one batch of 8, not of 32
    if boundary == 0:  # full fine-tuning: every batch decodes and runs whole photos
        per_image = c.step_ms + DECODE_MS
        val_share = n_va * c.prefix_ms / per_epoch
        return Forecast(rung, 0, 0.0, batches, (per_batch * per_image + val_share) / 1000)
    cache = cache or FeatureCache()
    feats = features_to_compute(cfg, cache, boundary, tr, ev, tr_y)
    n_scored = min(n_va, cfg.val_photos) if cfg.val_photos else n_va
    val_share = n_scored * c.step_ms / 3 / per_epoch  # validation: a forward pass, about a third of a step
    feature_s, batch_s = c.prefix_ms / 1000, (per_batch * c.step_ms + val_share) / 1000
    if cfg.text and feats and not after_quick:  # layouts still to detect, in the features' rate (steps stay)
        unread = sum(1 for p in tr + ev if cache.text_layout(p) is None)
        feature_s += unread * text_ms() / 1000 / feats
    if cfg.text and rung == "quick":  # Quick trains a second head without text, to compare
        batch_s *= 2
    return Forecast(rung, feats, feature_s, batches, batch_s)


ACTIVATIONS_MB = 300  # beside its cached maps, a Better run rose 283 MB above the RSS it started at (trashnet)


def maps_budget_mb() -> float:
    """What a run's cached maps may take: the run's memory budget less what the process holds now."""
    return max(64.0, load_settings().run_memory_mb - rss_mb() - ACTIVATIONS_MB)


def fitted(
    dataset: Dataset, cfg: TrainConfig, cache: FeatureCache | None, seconds: float, after_quick: bool = False
) -> tuple[TrainConfig, WorkingSet]:
    """``cfg`` (a Better-like recipe on cached inputs) with the working set that fits ``seconds``
    and the memory budget: every photo on a small gallery, a sample per view on a large one.
    ``after_quick``: planned before Quick runs, which caches the un-augmented inputs Better reads
    (up to KEEP_MAPS a split) and reads every photo's text."""
    tr, tr_y = _train_labels(dataset)
    pending, n_va = _scored(dataset, after_quick)
    boundary = boundary_of(cfg.backbone, cfg.deepest_unfreeze)
    c = costs(cfg.backbone, boundary)
    cache = cache or FeatureCache()
    feature_s = c.prefix_ms / 1000
    unread = sum(1 for p in tr if cache.text_layout(p) is None) if cfg.text and not after_quick else 0
    if unread:  # layouts still to detect: their share of the views' inputs
        feature_s += unread / len(tr) * text_ms() / 1000
    fixed_s = cache.count_missing(cfg.feature_tag, boundary, pending, "eval") * c.prefix_ms / 1000
    views = min(cfg.views if cfg.augment_steps else 1, cfg.total_epochs)
    rates = budget.Rates(feature_s, c.step_ms / 1000, c.map_mb)
    ws = budget.plan(len(tr), n_va, views, cfg.total_epochs, cfg.batch_size, rates, seconds, maps_budget_mb(), fixed_s)
    val_photos = ws.val_photos if ws.val_photos < n_va else 0
    return replace(cfg, view_photos=ws.photos if ws.bounded else 0, val_photos=val_photos), ws


@dataclass
class LadderRequest:
    mode: str = "auto"  # auto | quick | better | best
    backbone: str = "efficientnet_lite0"
    seed: int = 0
    budget_s: float = DEFAULT_BUDGET_S  # auto: the whole climb should take about this long
    allow_best: bool = True  # off on a shared server: full fine-tuning there is too slow
    text: bool = True  # read each photo's text layout too (Quick keeps it only if validation improves)

    def validate(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown quality {self.mode!r}; choose from {', '.join(MODES)}")
        if self.mode == "best" and not self.allow_best:
            raise ValueError("Best (the whole network) is switched off on this server; choose Quick or Better")
        get_spec(self.backbone)


def forecasts(dataset: Dataset, request: LadderRequest, cache: FeatureCache | None = None) -> list[Forecast]:
    """What a climb plans before it starts (and the Train page shows): each rung it may run, Better
    fitted to the budget that Quick leaves."""
    if request.mode not in ("auto", "better"):
        cfg = recipe(request.mode, request.backbone, request.seed, request.text)
        return [forecast(request.mode, dataset, cfg, cache)]
    better = recipe("better", request.backbone, request.seed, request.text)
    if request.mode == "better":
        return [forecast("better", dataset, fitted(dataset, better, cache, request.budget_s)[0], cache)]
    fq = forecast("quick", dataset, recipe("quick", request.backbone, request.seed, request.text), cache)
    better, ws = fitted(dataset, better, cache, request.budget_s - fq.seconds, after_quick=True)
    if not ws.worth_it:
        return [fq]  # Better will not fit what Quick leaves of the budget: the plan is Quick alone
    return [fq, forecast("better", dataset, better, cache, after_quick=True)]


@dataclass
class LadderResult:
    results: list[TrainResult]
    chosen: int  # index of the model that validates best
    reasons: list[str] = field(default_factory=list)  # what the climb decided, in words
    working_set: WorkingSet | None = None  # what Better was fitted to (when it was considered)

    @property
    def best(self) -> TrainResult:
        return self.results[self.chosen]


def _acc(r: TrainResult) -> float:
    return r.metrics.val_accuracy if r.metrics.val_accuracy is not None else -1.0


def _prefixed(emit: OnEvent, rung: str) -> OnEvent:
    """A rung's own events, its steps renamed so several rungs fit in one plan; its own plan dropped."""

    def on(e):
        if isinstance(e, Plan):
            return
        if isinstance(e, Advance):
            e = replace(e, step=f"{rung}:{e.step}")
        emit(e)

    return on


def _plan(emit: OnEvent, forecasts: list[Forecast], words: str) -> None:
    steps = []
    for f in forecasts:
        steps.append(Step(f"{f.rung}:features", f.features, f.feature_s))
        steps.append(Step(f"{f.rung}:batches", f.batches, f.batch_s))
    emit(Plan(tuple(steps), words))


def _helps(with_text: TrainResult, without: TrainResult) -> bool:
    """Validation improves with the text: higher accuracy, or the same with a clearly lower loss."""
    a, b = _acc(with_text), _acc(without)
    if a != b:
        return a > b
    la, lb = with_text.metrics.val_loss, without.metrics.val_loss
    return la is not None and lb is not None and la < 0.9 * lb


def _text_or_not(dataset, quick: TrainResult, cache, emit: OnEvent, stop: StopCheck) -> tuple[TrainResult, str]:
    """Quick with text layouts against the same head without them, on the same cached features.

    The text is kept only when validation improves with it: a gallery with no writing that
    matters gets the plainer model, and the rungs after Quick follow the choice. Returns the
    Quick to keep and what was decided, in words ("" when nothing was compared).
    """
    if not quick.config.text or quick.metrics.n_val == 0 or stop():
        return quick, ""
    emit(Status("Quick: checking whether reading the text on photos helps"))
    plain = _run("quick", dataset, replace(quick.config, text=False), cache, ignore, stop)
    if _acc(quick) == _acc(plain) and quick.metrics.val_loss is not None and plain.metrics.val_loss is not None:
        scores = (
            f"{_acc(quick):.1%} on validation either way, loss {quick.metrics.val_loss:.2f} with it against "
            f"{plain.metrics.val_loss:.2f} without"
        )
    else:
        scores = f"{_acc(quick):.1%} on validation with it, {_acc(plain):.1%} without"
    if _helps(quick, plain):
        quick.metrics.text = f"reads the text on photos: {scores}"
        return quick, f"Reading the text on photos helps ({scores}): the model reads it."
    plain.metrics.text = f"pixels only: reading the text on photos did not improve validation ({scores})"
    return plain, f"Reading the text on photos did not improve validation ({scores}): this model reads pixels only."


def _run(rung: str, dataset, cfg, cache, emit, stop, head_from=None) -> TrainResult:
    emit(Status(f"{LABELS[rung]}: {WORDS[rung]}"))
    r = train(dataset, cfg, cache, _prefixed(emit, rung), stop, head_from=head_from)
    give_back_memory()  # the next rung (or the page) starts from a small heap
    r.metrics.rung = rung
    return r


def climb(
    dataset: Dataset,
    request: LadderRequest,
    cache: FeatureCache | None = None,
    on_event: OnEvent | None = None,
    should_stop: StopCheck | None = None,
) -> LadderResult:
    """Train at the requested rung, or (automatic) climb from Quick as far as validation and time say."""
    request.validate()
    emit, stop = on_event or ignore, should_stop or never
    cache = cache if cache is not None else FeatureCache()
    t0 = time.perf_counter()
    if request.mode != "auto":
        cfg = recipe(request.mode, request.backbone, request.seed, request.text)
        said, result_ws = "", None
        if request.mode == "better":
            cfg, ws = fitted(dataset, cfg, cache, request.budget_s)
            said = f"Better {ws.words()}."
            emit(Note(said))
            result_ws = ws
        _plan(emit, [forecast(request.mode, dataset, cfg, cache)], f"{LABELS[request.mode]}: {WORDS[request.mode]}")
        r = _run(request.mode, dataset, cfg, cache, emit, stop)
        if request.mode == "quick":
            r, said = _text_or_not(dataset, r, cache, emit, stop)
            if said:
                emit(Note(said))
        return LadderResult([r], 0, [said] if said else [], result_ws)
    quick_cfg = recipe("quick", request.backbone, request.seed, request.text)
    planned = forecasts(dataset, request, cache)
    fq = planned[0]
    _plan(emit, planned, f"Automatic: {WORDS['auto']}")
    quick, said = _text_or_not(dataset, _run("quick", dataset, quick_cfg, cache, emit, stop), cache, emit, stop)
    left = request.budget_s - (time.perf_counter() - t0)
    # fitted again to the time actually left and the memory Quick left behind
    better = recipe("better", request.backbone, request.seed, quick.config.text)
    better_cfg, ws = fitted(dataset, better, cache, left)
    fb = forecast("better", dataset, better_cfg, cache)
    if ws.worth_it and planned[1:] != [fb]:
        _plan(emit, [fq, fb], f"Automatic: {WORDS['auto']}")  # the bar counts what Better will really do
    emit(Candidate(quick))  # usable now, while the climb goes on
    results, reasons = [quick], [said] if said else []
    if said:
        emit(Note(said))
    acc = _acc(quick)
    if stop() or quick.metrics.stopped_early:
        reasons.append("Stopped after Quick.")
    elif quick.metrics.n_val == 0:
        reasons.append("No validation images to tell whether fine-tuning helps: Quick is kept.")
    elif acc >= GOOD_ENOUGH:
        reasons.append(f"Quick reached {acc:.1%} on validation: the head is enough, nothing left to measure.")
    elif not ws.worth_it:
        reasons.append(
            f"Quick reached {acc:.1%}. Better on even {budget.MIN_PHOTOS} photos per view would not fit the "
            f"{max(0.0, left):.0f} s left of the {request.budget_s:.0f} s budget: choose Better on its own, "
            "or a larger budget."
        )
    else:
        reasons.append(
            f"Quick reached {acc:.1%}: the head alone is the limit, so the last blocks are "
            f"fine-tuned too (Better, about {fb.seconds:.0f} s; it {ws.words()})."
        )
        emit(Note(reasons[-1]))
        results.append(_run("better", dataset, better_cfg, cache, emit, stop, head_from=quick.network))
    if len(results) == 1:
        _plan(emit, [fq], f"Automatic: {WORDS['auto']}")  # the plan shrinks to what ran: the bar ends full
        emit(Note(reasons[-1]))
    chosen = max(range(len(results)), key=lambda i: (_acc(results[i]), not results[i].metrics.stopped_early, -i))
    if chosen != len(results) - 1:
        reasons.append(
            f"{LABELS[results[chosen].metrics.rung]} validates best ({_acc(results[chosen]):.1%} against "
            f"{_acc(results[-1]):.1%}): it stays the model in use."
        )
        emit(Note(reasons[-1]))
    return LadderResult(results, chosen, reasons, ws)


__all__ = [
    "LABELS",
    "MODES",
    "RUNGS",
    "UNFREEZE_CHOICES",
    "LadderRequest",
    "LadderResult",
    "climb",
    "forecast",
    "forecasts",
    "fitted",
    "recipe",
]
