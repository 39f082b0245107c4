"""Events folded into what a progress bar shows: one model for the pages and the CLI.

Why an ETA from measured rates: a plan names its steps (features to compute,
batches to train, images to sort) and what one unit is expected to cost; as the
work runs, each step's own rate is measured and replaces the guess. Remaining
time is the sum over steps of units left times their rate, so a run whose
first minute is feature extraction and whose rest is cheap epochs does not
promise hours (nor seconds) it will not take.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from ..events import Advance, Batch, Candidate, Epoch, Event, Note, Plan, Status, Step

MAX_BATCH_POINTS = 5000
MIN_UNITS_FOR_RATE = 1  # units are batches or chunks of images: one is already a fair sample


@dataclass(frozen=True)
class ProgressView:
    """An immutable picture of a job's progress, safe to read from any thread."""

    fraction: float  # 0..1 of the whole plan
    message: str  # what it is doing now
    detail: str  # e.g. "120/830 images" or "Epoch 3/30, batch 2/9"
    eta_seconds: float | None
    description: str  # how the work runs (from the plan)
    epochs: tuple[dict, ...] = ()
    batches: tuple[dict, ...] = ()
    notes: tuple[Note, ...] = ()
    candidates: tuple = ()  # models finished while the job runs on (TrainResult)
    promised: tuple[float, ...] = ()  # the first plan's expected seconds, part by part (see JobProgress)


@dataclass
class _StepState:
    step: Step
    done: int = 0
    spent: float = 0.0  # seconds attributed to this step's units

    @property
    def rate(self) -> float | None:
        if self.done >= MIN_UNITS_FOR_RATE and self.spent > 0:
            return self.spent / self.done
        return self.step.seconds_each


@dataclass
class JobProgress:
    """Folds :mod:`core.events` into a :class:`ProgressView`. The job that owns it serialises calls."""

    clock: Callable[[], float] = time.monotonic
    message: str = "Starting"
    detail: str = ""
    description: str = ""
    steps: dict[str, _StepState] = field(default_factory=dict)
    notes: list[Note] = field(default_factory=list)
    promised: tuple[float, ...] = ()
    _last: float | None = None
    _fraction: float = 0.0

    def apply(self, e: Event) -> None:
        now = self.clock()
        if isinstance(e, Note):
            self.notes.append(e)
            return
        if isinstance(e, Status):
            self.message = e.message
        elif isinstance(e, Plan):
            self._plan(e)
        elif isinstance(e, Advance):
            self._advance(e, now)
        else:
            return  # other events do not mark time: the next Advance is charged for it
        self._last = now

    def _plan(self, plan: Plan) -> None:
        """A new plan keeps the work already done in steps of the same name. The first plan is also
        kept as the promise the run is held to when it ends (:attr:`promised`)."""
        if not self.promised:
            self.promised = promised_seconds(plan)
        old = self.steps
        self.steps = {}
        for s in plan.steps:
            state = _StepState(s)
            if s.name in old:
                state.done, state.spent = min(old[s.name].done, s.total), old[s.name].spent
            self.steps[s.name] = state
        if plan.description:
            self.description = plan.description

    def _advance(self, e: Advance, now: float) -> None:
        state = self.steps.get(e.step)
        if state is None:  # work nobody planned: track it on its own
            state = self.steps[e.step] = _StepState(Step(e.step, max(e.done, 1)))
        grew = e.done - state.done
        if grew > 0 and self._last is not None:
            state.spent += now - self._last
        state.done = max(state.done, min(e.done, max(state.step.total, e.done)))
        if e.text:
            self.detail = e.text

    def _costs(self) -> dict[str, float]:
        """Seconds per unit for every step; unknown steps cost what an average known step costs."""
        known = {n: s.rate for n, s in self.steps.items() if s.rate is not None}
        if not known:
            return {n: 1.0 / max(1, s.step.total) for n, s in self.steps.items()}  # equal shares
        whole = [known[n] * s.step.total for n, s in self.steps.items() if n in known]
        avg_step = sum(whole) / len(whole)
        return {n: known.get(n, avg_step / max(1, s.step.total)) for n, s in self.steps.items()}

    @property
    def fraction(self) -> float:
        if not self.steps:
            return self._fraction
        costs = self._costs()
        total = sum(costs[n] * s.step.total for n, s in self.steps.items())
        done = sum(costs[n] * min(s.done, s.step.total) for n, s in self.steps.items())
        self._fraction = max(self._fraction, min(1.0, done / total if total > 0 else 0.0))
        return self._fraction

    @property
    def eta_seconds(self) -> float | None:
        """Seconds left from measured rates (or the plan's expectations); None before anything is known."""
        if not self.steps:
            return None
        left = 0.0
        for s in self.steps.values():
            remaining = max(0, s.step.total - s.done)
            if remaining and s.rate is None:
                return None
            left += remaining * (s.rate or 0.0)
        return left

    def view(self, epochs: tuple[dict, ...] = (), batches: tuple[dict, ...] = ()) -> ProgressView:
        return ProgressView(
            self.fraction,
            self.message,
            self.detail,
            self.eta_seconds,
            self.description,
            epochs,
            batches,
            tuple(self.notes),
            promised=self.promised,
        )

    def finish(self) -> None:
        """The work ended normally: every step is done."""
        for s in self.steps.values():
            s.done = s.step.total
        self._fraction = 1.0


@dataclass
class TrainingProgress(JobProgress):
    """Also keeps the epochs and batches a training run reports, for the live chart."""

    epochs: list[dict] = field(default_factory=list)
    batches: list[dict] = field(default_factory=list)
    candidates: list = field(default_factory=list)

    def apply(self, e: Event) -> None:
        if isinstance(e, Candidate):
            self.candidates.append(e.result)
            return
        if isinstance(e, Batch):
            if len(self.batches) < MAX_BATCH_POINTS:
                self.batches.append(
                    {"step": len(self.batches) + 1, "epoch": e.epoch, "batch": e.batch, "loss": e.loss, "lr": e.lr}
                )
            self.detail = f"Epoch {e.epoch}/{e.epochs}, batch {e.batch}/{e.batches}"
        elif isinstance(e, Epoch):
            self.epochs.append(e.row())
            self.message = f"Epoch {e.epoch}/{e.epochs}: val acc {e.val_acc:.3f}"
        super().apply(e)

    def view(self, epochs: tuple[dict, ...] = (), batches: tuple[dict, ...] = ()) -> ProgressView:
        return replace(super().view(tuple(self.epochs), tuple(self.batches)), candidates=tuple(self.candidates))


def promised_seconds(plan: Plan) -> tuple[float, ...]:
    """Expected seconds of each part of a plan, in order: steps named "part:kind" (a climb's
    "quick:features", "quick:batches", "better:...") add up by part. Empty if a cost is unknown."""
    parts: dict[str, float] = {}
    for s in plan.steps:
        if s.seconds_each is None:
            return ()
        part = s.name.split(":")[0]
        parts[part] = parts.get(part, 0.0) + s.total * s.seconds_each
    return tuple(parts.values())


def forecast_words(seconds: Sequence[float]) -> str:
    """'40 s', or '40 s, up to 3 min' when later parts may run too (Automatic: Quick, then Better).
    The Train page says this before a run and the finished run repeats it: the same words, compared."""
    if not seconds:
        return ""
    said = duration_words(seconds[0])
    return f"{said}, up to {duration_words(sum(seconds))}" if len(seconds) > 1 else said


def eta_words(seconds: float | None) -> str:
    """'about 40 s left', 'about 3 min left' (an ETA rounded the way a person says it)."""
    if seconds is None:
        return ""
    if seconds < 60:
        return f"about {max(1, round(seconds))} s left"
    if seconds < 3600:
        return f"about {round(seconds / 60)} min left"
    return f"about {seconds / 3600:.1f} h left"


def duration_words(seconds: float) -> str:
    """'40 s', '3 min', '1.2 h'."""
    if seconds < 60:
        return f"{max(1, round(seconds))} s"
    if seconds < 3600:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"
