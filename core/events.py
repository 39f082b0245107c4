"""What long-running work reports while it runs: typed events, and the Stop signal.

Training, feature extraction, sorting and grouping run without knowing who
listens (a background job, the CLI's printer, a test). They call ``on_event``
with one of these dataclasses and check ``should_stop`` between batches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class Stopped(Exception):
    """Raised inside long loops when the user pressed Stop."""


@dataclass(frozen=True)
class Status:
    """A sentence saying what the work is doing now."""

    message: str


@dataclass(frozen=True)
class Step:
    """One kind of work in a plan: how many units, and what one is expected to cost."""

    name: str  # e.g. "features", "batches", "images"
    total: int
    seconds_each: float | None = None  # expected cost of one unit, when it was measured before


@dataclass(frozen=True)
class Plan:
    """The work ahead, announced before it starts (and again when it changes)."""

    steps: tuple[Step, ...]
    description: str = ""  # how the work runs, in the user's words


@dataclass(frozen=True)
class Advance:
    """``done`` units of step ``step`` are finished (a running count, not an increment)."""

    step: str
    done: int
    text: str = ""  # optional detail for the progress bar


@dataclass(frozen=True)
class Batch:
    epoch: int
    epochs: int
    batch: int
    batches: int
    loss: float
    lr: float


@dataclass(frozen=True)
class Epoch:
    epoch: int
    epochs: int
    phase: int
    unfreeze: str
    train_loss: float
    train_acc: float
    val_loss: float
    val_acc: float
    lr: float
    seconds: float
    stage: str = ""  # the quality rung this epoch belongs to, when a ladder runs several

    def row(self) -> dict:
        """One row of a history table (history.json, the live chart)."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class Note:
    """Something the user should know about the run (a rung skipped, a model kept), said once."""

    message: str
    kind: str = "info"  # info | warning


@dataclass(frozen=True, eq=False)
class Candidate:
    """A usable model finished while the work goes on (a ladder's Quick rung before Better runs)."""

    result: Any  # a core.training.config.TrainResult (typed loosely: events sit below the training layer)


Event = Status | Plan | Advance | Batch | Epoch | Note | Candidate
OnEvent = Callable[[Event], None]
StopCheck = Callable[[], bool]


def ignore(_: Event) -> None:
    """An ``on_event`` that listens to nothing."""


def never() -> bool:
    return False


@dataclass
class Recorder:
    """Keeps every event (tests and the CLI use it to look back at a run)."""

    events: list[Event] = field(default_factory=list)

    def __call__(self, e: Event) -> None:
        self.events.append(e)

    def of(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]
