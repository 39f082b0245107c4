"""One Workspace per browser session, kept in a small registry.

The page keeps the workspace id in ``st.query_params`` so a browser refresh
(a new Streamlit session) finds its data and its running job again. Idle
workspaces expire (GS_SESSION_IDLE_S, two hours by default): their queued jobs
leave the line, running ones are stopped, their feature caches, Grad-CAM caches,
models and the ONNX sessions only they used are released, and their temp folders
deleted. The server's registry sweeps in a background thread too, so sessions
expire when no page runs. When the server's memory passes its budget, the caches
of the sessions idle longest are dropped first.
"""

from __future__ import annotations

import secrets
import shutil
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .jobs import Job
from .state import DataState, DiscoverState, ModelState, ReviewState, RunRecord, SortState, TrainState, Widgets

if TYPE_CHECKING:  # torch stays off the first page paint
    from ..analysis.explain import CamCache, Explainer
    from ..models.features import FeatureCache
    from ..training.config import TrainConfig, TrainResult
    from ..training.ladder import LadderRequest

IDLE_SECONDS = 2 * 3600  # the default; the server's registry takes GS_SESSION_IDLE_S (core/settings.py)
SWEEP_EVERY_S = 60.0  # the server's registry sweeps at least this often (a quarter of the idle time when shorter)
TRIM_IDLE_SECONDS = 10 * 60  # under memory pressure, caches of sessions idle this long are dropped


@dataclass
class Workspace:
    """Everything one browser session has: its data, jobs, models and decisions, and a temp folder."""

    id: str
    dir: Path
    created: float = field(default_factory=time.time)
    last_seen: float = field(default_factory=time.time)
    data: DataState = field(default_factory=DataState)
    train: TrainState = field(default_factory=TrainState)
    model: ModelState = field(default_factory=ModelState)
    review: ReviewState = field(default_factory=ReviewState)
    sort: SortState = field(default_factory=SortState)
    discover: DiscoverState = field(default_factory=DiscoverState)
    widgets: Widgets = field(default_factory=Widgets)
    _cache: FeatureCache | None = None
    _cams: CamCache | None = None
    _explainer: Explainer | None = None
    _uploads: int = 0
    _model_version: tuple | None = None  # DataState.version the model in use was trained on

    @property
    def cache(self) -> FeatureCache:
        if self._cache is None:
            from ..models.features import FeatureCache

            self._cache = FeatureCache()
        return self._cache

    @property
    def cams(self) -> CamCache:
        """Bounded LRU of Grad-CAM results for this session."""
        if self._cams is None:
            from ..analysis.explain import CamCache

            self._cams = CamCache()
        return self._cams

    def explainer(self, bundle) -> Explainer:
        """The Grad-CAM explainer for the model in use; rebuilt (and the CAM cache emptied) when it changes."""
        if self._explainer is None or self._explainer.source is not bundle.network:
            from ..analysis.explain import Explainer

            self._explainer = Explainer.from_bundle(bundle)
            self.cams.clear()
        return self._explainer

    def job(self, name: str, work, images: int = 0, progress=None) -> Job:
        """A job of this session that waits its turn in the process-wide scheduler.

        ``name`` is also its kind for the memory estimate (core/session/scheduler.NEEDS);
        ``images`` how many photos it works on."""
        from .scheduler import estimate_mb

        return Job(name, work, progress, need_mb=estimate_mb(name, images), owner=self.id)

    # -- data and model versions
    def start_training(self, what: TrainConfig | LadderRequest, note: str = "") -> Job:
        """Train on the data as it is now, in the background: a quality rung (or the automatic climb),
        or a custom recipe. ``note`` says why, with the run."""
        from ..training.ladder import LadderRequest, climb
        from ..training.train import train
        from .progress import TrainingProgress

        data, cache = self.data.effective(), self.cache
        if isinstance(what, LadderRequest):
            work = lambda on_event, should_stop: climb(data, what, cache, on_event, should_stop)  # noqa: E731
        else:
            work = lambda on_event, should_stop: train(data, what, cache, on_event, should_stop)  # noqa: E731
        images = len(data.labelled) if data is not None else 0
        return self.train.start(self.job("train", work, images, TrainingProgress()), self.data.version, note)

    @property
    def model_staleness(self) -> str | None:
        """Why the model in use may not fit the current data: None, "other data" or "changed data"."""
        run = self.model.run
        if run is None:
            return None
        if run.data_version[:1] != self.data.version[:1]:
            return "other data"
        return "changed data" if run.data_version != self.data.version else None

    def collect(self) -> None:
        """Adopt finished training results, whichever page the user is on when they arrive.

        Every result becomes a run in the runs table; the model in use becomes the best run
        on the current data, unless the user chose a model themselves.
        """
        job = self.train.slot.job
        if job is None:
            return
        snap = job.snapshot()
        known = {id(r.result) for r in self.train.runs}
        for cand in snap.progress.candidates:
            if id(cand) not in known:
                self.train.record(cand, "stopped" if cand.metrics.stopped_early else "done")
                known.add(id(cand))
        done = self.train.slot.take()
        results = getattr(done, "results", None) or ([done] if done is not None else [])  # a climb, or one run
        for result in results:
            if id(result) not in known:
                self.train.record(result, "stopped" if result.metrics.stopped_early else "done")
                known.add(id(result))
        self._choose_model()

    def add_run(self, result: TrainResult, state: str = "done") -> RunRecord:
        """A finished result trained on the data as it is now (tests, and models made outside a job)."""
        self.train.job_data_version = self.data.version
        run = self.train.record(result, state)
        self._choose_model()
        return run

    def _choose_model(self) -> None:
        if self.model.chosen_by_user and self.model.bundle is not None:
            return
        best = self.train.best(self.data.version) or self.train.best()
        if best is not None and best is not self.model.run:
            self.model.use_run(best)

    def choose_run(self, number: int) -> None:
        """The user picks which run's model is in use."""
        for r in self.train.runs:
            if r.number == number:
                self.model.use_run(r, by_user=True)
                return
        raise ValueError(f"there is no run {number}")

    def new_folder(self, kind: str) -> Path:
        self._uploads += 1
        p = self.dir / f"{kind}-{self._uploads}"
        p.mkdir(parents=True, exist_ok=True)
        return p

    def jobs(self) -> list[Job]:
        slots = (
            self.train.slot,
            self.sort.slot,
            self.sort.place_slot,
            self.sort.resort_slot,
            self.discover.slot,
            self.review.label_slot,
        )
        return [s.job for s in slots if s.job is not None]

    @property
    def busy(self) -> bool:
        return any(j.alive for j in self.jobs())

    def cache_mb(self) -> float:
        """What this session's feature cache holds (MB)."""
        return self._cache.nbytes() / 2**20 if self._cache is not None else 0.0

    def drop_caches(self) -> None:
        """Let go of what can be computed again: feature caches, Grad-CAM results, the explainer."""
        if self._cache is not None:
            self._cache.clear()
        if self._cams is not None:
            self._cams.clear()
        self._explainer = None

    def close(self) -> None:
        """Release everything this session holds; it cannot be used afterwards."""
        for j in self.jobs():
            j.stop()  # a queued job leaves the line at once
        for j in self.jobs():
            j.join(timeout=10)
        self.drop_caches()
        # models, kept embeddings and features of its runs, sorts and groups
        self.train = TrainState()
        self.model = ModelState()
        self.sort = SortState()
        self.discover = DiscoverState()
        self.review = ReviewState()
        if "core.models.runtime" in sys.modules:  # never import torch just to close a session
            sys.modules["core.models.runtime"].release_owner(self.id)
        shutil.rmtree(self.dir, ignore_errors=True)


class Registry:
    """The workspaces by id. ``sweep_every`` (seconds) starts a background sweep with the first
    workspace, so idle ones expire even when no page runs; without it, ``get`` sweeps.
    ``release_shared``: when the last workspace closes, release what the process keeps warm for
    every session too (:func:`release_shared_state`); the server's registry does."""

    def __init__(
        self,
        root: Path | None = None,
        idle_seconds: float = IDLE_SECONDS,
        sweep_every: float | None = None,
        release_shared: bool = False,
    ) -> None:
        self._root = Path(root) if root else Path(tempfile.gettempdir()) / "gallery-sorter"
        self._items: dict[str, Workspace] = {}
        self._lock = threading.Lock()
        self.idle_seconds = idle_seconds
        self.sweep_every = sweep_every
        self.release_shared = release_shared
        self._sweeper: threading.Thread | None = None
        self.tick_hooks: list[Callable[[], None]] = []  # each sweeper tick: the page layer's own cleaning

    def get(self, ws_id: str | None) -> Workspace:
        """The workspace for this id, or a fresh one (unknown or expired ids get a new id)."""
        self.sweep()
        self.start_sweeper()
        with self._lock:
            ws = self._items.get(ws_id or "")
            if ws is None:
                new_id = secrets.token_urlsafe(12)
                d = self._root / new_id
                d.mkdir(parents=True, exist_ok=True)
                ws = Workspace(new_id, d)
                self._items[new_id] = ws
            ws.last_seen = time.time()
            return ws

    def sweep(self, now: float | None = None) -> list[str]:
        """Close the workspaces idle longer than ``idle_seconds``; then keep memory within its budget."""
        now = now or time.time()
        with self._lock:
            old = [w for w in self._items.values() if now - w.last_seen > self.idle_seconds]
            for w in old:
                del self._items[w.id]
        for w in old:
            w.close()
        if old:
            self._after_close()
        self.trim(now)
        return [w.id for w in old]

    def _after_close(self) -> None:
        """Sessions were closed: free their cycles and hand the pages back; with none left, the
        server's shared warm state goes too (``release_shared``), so memory returns to idle."""
        if self.release_shared and not self._items:
            release_shared_state()
        from .jobs import release_memory

        release_memory(collect=True)

    def trim(self, now: float | None = None, limit_mb: float | None = None, rss=None) -> list[str]:
        """Over the memory limit: drop the caches of idle sessions (no job running), longest idle first.

        ``limit_mb`` defaults to the server's budget (core/settings.py); ``rss`` says the process's
        memory now in MB (the real one by default; tests pass their own).
        """
        from ..settings import rss_mb

        rss = rss or rss_mb
        if limit_mb is None:
            from ..settings import load_settings

            limit_mb = load_settings().server_memory_mb
        if rss() <= limit_mb:
            return []
        now = now or time.time()
        with self._lock:
            idle = sorted(
                (w for w in self._items.values() if now - w.last_seen > TRIM_IDLE_SECONDS and not w.busy),
                key=lambda w: w.last_seen,
            )
        trimmed = []
        for w in idle:
            if rss() <= limit_mb:
                break
            if w.cache_mb() or w._cams is not None or w._explainer is not None:
                w.drop_caches()
                trimmed.append(w.id)
                from .jobs import release_memory

                release_memory()
        return trimmed

    def start_sweeper(self) -> None:
        """Sweep every ``sweep_every`` seconds from a daemon thread (once; not when sweep_every is unset)."""
        if not self.sweep_every or self._sweeper is not None:
            return
        with self._lock:
            if self._sweeper is not None:
                return
            self._sweeper = threading.Thread(
                target=_sweep_forever, args=(weakref.ref(self), self.sweep_every), name="gs-sweeper", daemon=True
            )
            self._sweeper.start()

    def release(self, ws_id: str) -> None:
        with self._lock:
            ws = self._items.pop(ws_id, None)
        if ws:
            ws.close()
            self._after_close()

    def __len__(self) -> int:
        return len(self._items)


def _sweep_forever(ref: weakref.ref, every: float) -> None:
    """Sweep the registry every ``every`` seconds while it exists (a weak reference: tests' registries go)."""
    while True:
        time.sleep(every)
        reg = ref()
        if reg is None:
            return
        try:
            if len(reg):
                reg.sweep()
        except Exception:  # a failed sweep must not end the sweeping; the next one tries again
            pass
        for hook in list(reg.tick_hooks):
            try:
                hook()
            except Exception:
                pass
        del reg


def release_shared_state() -> None:
    """No session left: close the ONNX Runtime sessions kept for every session (warm-ups, shared
    exports), the text detector's session, and the pretrained weights kept for building networks.
    The next visitor's page loads them again in seconds. Modules not imported yet stay so."""
    mods = sys.modules
    if "core.models.runtime" in mods:
        mods["core.models.runtime"].release_all()
    if "core.models.backbones" in mods:
        mods["core.models.backbones"].forget_weights()
    if "core.models.text_detector" in mods:
        mods["core.models.text_detector"].close()


def _server_registry() -> Registry:
    from ..settings import load_settings

    idle = load_settings().session_idle_s
    return Registry(idle_seconds=idle, sweep_every=min(SWEEP_EVERY_S, max(1.0, idle / 4)), release_shared=True)


REGISTRY = _server_registry()
