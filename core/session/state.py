"""Per-session state: a few typed objects, each with the transitions that change it.

A :class:`~core.session.workspace.Workspace` holds one of each. Pages read these fields
and call these methods; no page keeps engine objects or cross-page requests in
loose dictionaries. Why methods for the transitions: "a new dataset" must reset
the same things wherever it happens (Data, Discover, the demo button), and "take
a finished job's result" must happen exactly once whichever page sees it first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ..data.dataset import Dataset
from ..data.decisions import Decisions, apply_to
from .jobs import Job

if TYPE_CHECKING:  # torch stays off the first page paint
    from ..analysis.discover import Grouping
    from ..analysis.evaluate import LabelErrorReport
    from ..analysis.health import Finding, HealthReport, Item
    from ..inference.certify import Certificate
    from ..inference.gallery import GalleryScan
    from ..inference.placement import FilingRule
    from ..inference.sort import Prediction
    from ..inference.teach import Estimate, Teacher
    from ..training.config import TrainConfig, TrainResult
    from ..training.ladder import LadderRequest
    from ..training.lr_find import LrFinding
    from ..training.model_io import ModelBundle

R = TypeVar("R")


@dataclass
class JobSlot(Generic[R]):
    """The session's job of one kind, and its result handed over once."""

    job: Job[R] | None = None
    _taken: Job[R] | None = field(default=None, repr=False)

    def start(self, job: Job[R]) -> Job[R]:
        self.job = job.start()
        return self.job

    @property
    def running(self) -> bool:
        return self.job is not None and self.job.alive

    def take(self) -> R | None:
        """The finished job's result the first time it is asked for; None otherwise."""
        job = self.job
        if job is None or job.alive or job.result is None or self._taken is job:
            return None
        self._taken = job
        return job.result

    def stop(self) -> None:
        if self.job is not None:
            self.job.stop()


# ---------------------------------------------------------------- data


@dataclass
class HealthEntry:
    """The health report of one version of the dataset, and the optional outlier findings."""

    key: str
    report: HealthReport
    items: list[Item]
    outliers: list[Finding] | None = None


@dataclass
class DataState:
    dataset: Dataset | None = None
    source: str = ""  # what the user brought, in words
    skipped: list[tuple[str, str]] = field(default_factory=list)  # what intake left out, and why
    excluded: set[Path] = field(default_factory=set)
    relabel: dict[Path, str] = field(default_factory=dict)
    health: HealthEntry | None = None
    generation: int = 0  # counts datasets: a model from another generation was trained on other data
    from_groups: bool = False  # the dataset came from Discover's groups
    extra: dict[Path, str] = field(default_factory=dict)  # photos labelled while sorting: trained on too
    taken_uploads: dict[str, tuple] = field(default_factory=dict)  # uploader -> signature already taken in

    def set_dataset(self, dataset: Dataset, source: str, skipped=(), from_groups: bool = False) -> None:
        """The one way a new dataset arrives: what belonged to the old one is dropped."""
        self.dataset = dataset
        self.source = source
        self.skipped = list(skipped)
        self.excluded = set()
        self.relabel = {}
        self.health = None
        self.generation += 1
        self.from_groups = from_groups
        self.extra = {}

    def effective(self) -> Dataset | None:
        """The dataset with the user's exclusions and relabels applied (what training sees)."""
        if self.dataset is None:
            return None
        ds = self.dataset.with_changes(self.excluded, self.relabel)
        if self.extra:
            from ..data.dataset import with_extra_labels

            ds = with_extra_labels(ds, self.extra)
        return ds

    @property
    def version(self) -> tuple:
        """Changes whenever the data training would see changes (new data, exclusions, relabels)."""
        return (
            self.generation,
            frozenset(self.excluded),
            frozenset(self.relabel.items()),
            frozenset(self.extra.items()),
        )

    def exclude(self, paths) -> None:
        self.excluded.update(paths)

    def include(self, paths) -> None:
        self.excluded.difference_update(paths)


# ---------------------------------------------------------------- training and the model in use


@dataclass
class RunRecord:
    """One training run of this session, kept side by side with the others."""

    number: int
    result: TrainResult
    state: str  # done | stopped
    data_version: tuple
    note: str = ""

    @property
    def accuracy(self) -> float | None:
        return self.result.metrics.val_accuracy


@dataclass
class TrainState:
    slot: JobSlot = field(default_factory=JobSlot)
    runs: list[RunRecord] = field(default_factory=list)
    job_data_version: tuple | None = None  # DataState.version when the running job started
    lr_finding: LrFinding | None = None
    settings: TrainConfig | LadderRequest | None = None  # the Train page's current choice (what a retrain uses)
    run_note: tuple[Job | None, str] = (None, "")  # why the current run started, said with it

    def start(self, job: Job, data_version: tuple, note: str = "") -> Job:
        self.job_data_version = data_version
        self.run_note = (job, note)
        return self.slot.start(job)

    def record(self, result: TrainResult, state: str) -> RunRecord:
        run = RunRecord(len(self.runs) + 1, result, state, self.job_data_version or ())
        self.runs.append(run)
        return run

    def best(self, data_version: tuple | None = None) -> RunRecord | None:
        """The run that validates best (on the given data version, when one is given); a finished run wins a tie."""
        pool = [r for r in self.runs if data_version is None or r.data_version == data_version]
        scored = [r for r in pool if r.accuracy is not None]
        if not scored:
            return pool[-1] if pool else None
        return max(scored, key=lambda r: (r.accuracy, r.state == "done", r.number))


@dataclass
class ModelState:
    """The model in use on Review and Sort: a run of this session, or a file the user loaded."""

    bundle: ModelBundle | None = None
    run: RunRecord | None = None  # None: loaded from a file
    chosen_by_user: bool = False
    file_name: str = ""
    loaded_file_id: str | None = None

    def use_run(self, run: RunRecord, by_user: bool = False) -> None:
        from ..training.model_io import ModelBundle

        self.bundle = ModelBundle.from_result(run.result)
        self.run = run
        self.chosen_by_user = by_user
        self.file_name = ""

    def use_file(self, bundle: ModelBundle, name: str, file_id: str | None = None) -> None:
        self.bundle = bundle
        self.run = None
        self.chosen_by_user = True
        self.file_name = name
        self.loaded_file_id = file_id

    @property
    def result(self) -> TrainResult | None:
        return self.run.result if self.run is not None else None

    @property
    def source(self) -> str:
        """Which model this is, in words (Review, Sort and the export say it)."""
        if self.bundle is None:
            return "no model"
        if self.run is None:
            return f"model file {self.file_name}" if self.file_name else "a loaded model file"
        m = self.run.result.metrics
        acc = f", {m.val_accuracy:.1%} on validation" if m.val_accuracy is not None else ""
        rung = f" ({m.rung})" if m.rung else ""
        return f"run {self.run.number}{rung}{acc}"


# ---------------------------------------------------------------- review, sort, discover


@dataclass
class ReviewState:
    decisions: Decisions = field(default_factory=Decisions)  # move / exclude / keep, per image
    label_slot: JobSlot = field(default_factory=JobSlot)
    label_report: LabelErrorReport | None = None
    label_sig: int | None = None  # the labels the report was computed on
    cell: tuple | None = None  # the confusion-matrix cell last clicked

    def apply(self, data: DataState) -> int:
        """Write the review decisions into the data's exclusions and relabels; returns how many images changed."""
        if data.dataset is not None:
            self.decisions.retain(i.path for i in data.dataset.items)
        changed = len(self.decisions.pending())
        data.excluded, data.relabel = apply_to(self.decisions, data.excluded, data.relabel)
        return changed


@dataclass
class SortState:
    root: Path | None = None  # the gallery being sorted (a session folder, or a local folder read in place)
    source: str = ""  # where the gallery came from, in words
    local: bool = False  # root is the user's own folder (not a copy in the session)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # entries of root not sorted, and why
    preds: list[Prediction] = field(default_factory=list)
    overrides: dict[Path, str] = field(default_factory=dict)
    slot: JobSlot = field(default_factory=JobSlot)  # predicting
    place_slot: JobSlot = field(default_factory=JobSlot)  # copying or moving the files
    scan: GalleryScan | None = None  # what the last sort looked at (companions, kept files)
    destination: Path | None = None  # a local sort's class folders go here (the gallery itself: in place)
    last_journal: Path | None = None  # the last move, for "Undo last sort"
    said: tuple[str, str] | None = None  # (kind, text) about the last copy, move or undo, said once
    teacher: Teacher | None = None  # the gallery's kept features and the head that re-sorts them
    corrections: Decisions = field(default_factory=Decisions)  # what the user checked: right, or moved
    resort_slot: JobSlot = field(default_factory=JobSlot)  # re-sorting with the corrections
    batch: list[Path] = field(default_factory=list)  # the photos to check now
    estimates: list[Estimate] = field(default_factory=list)  # after the first sort and each re-sort
    failures: list[Prediction] = field(default_factory=list)  # photos that could not be read
    audit: dict[Path, str] = field(default_factory=dict)  # audited filed photos -> the person's class (evidence)
    audit_batch: list[Path] = field(default_factory=list)  # the audit sample on screen
    curve: list[tuple[FilingRule, Certificate]] = field(default_factory=list)  # per target, for these predictions
    curve_key: tuple = ()  # what `curve` was made from

    @property
    def busy(self) -> bool:
        """A sort, re-sort, copy or move is under way: what is on screen is about to change."""
        return self.slot.running or self.resort_slot.running or self.place_slot.running

    def labels(self) -> dict[Path, str]:
        """The user's word on each checked photo: its class."""
        from ..data.decisions import labels_from

        return labels_from(self.corrections)

    def confirmed(self) -> dict[Path, str]:
        """Every photo the person gave a class while sorting (checks and audit answers): training data."""
        from ..inference.audit import NOT_A_CLASS

        return {**self.labels(), **{p: c for p, c in self.audit.items() if c != NOT_A_CLASS}}

    def placed_by_person(self) -> dict[Path, str]:
        """Where the person's word puts a photo: its class, or unsure/ when it is none of the classes."""
        from ..inference.audit import NOT_A_CLASS
        from ..inference.sort import UNSURE

        return {**self.labels(), **{p: UNSURE if c == NOT_A_CLASS else c for p, c in self.audit.items()}}

    def set_gallery(self, root: Path, source: str, local: bool = False, skipped=()) -> None:
        self.root = root
        self.source = source
        self.local = local
        self.preds = []
        self.overrides = {}
        self.skipped = list(skipped)
        self.scan = None
        self.teacher = None
        self.corrections = Decisions()
        self.audit, self.audit_batch = {}, []
        self.batch = []
        self.estimates = []
        self.failures = []

    def clear(self) -> None:
        self.set_gallery(None, "")  # type: ignore[arg-type]

    def say(self, kind: str, text: str) -> None:
        self.said = (kind, text)

    def take_said(self) -> tuple[str, str] | None:
        said, self.said = self.said, None
        return said


@dataclass
class DiscoverState:
    grouping: Grouping | None = None
    slot: JobSlot = field(default_factory=JobSlot)
    revision: int = 0  # bumps on every edit: widget keys follow it
    what: str = ""  # what was grouped, in words
    message: tuple[str, str] | None = None  # (kind, text) to say once on the next run
    dataset: Dataset | None = None  # the dataset "Train on these groups" made

    def set_grouping(self, g: Grouping) -> None:
        self.grouping = g
        self.revision += 1

    def say(self, kind: str, text: str) -> None:
        self.message = (kind, text)

    def take_message(self) -> tuple[str, str] | None:
        msg, self.message = self.message, None
        return msg


@dataclass
class Widgets:
    """Widget values that must survive a page switch or a refresh (Streamlit forgets undrawn widgets)."""

    values: dict[str, Any] = field(default_factory=dict)
