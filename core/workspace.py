"""One Workspace per browser session, kept in a small registry.

The page keeps the workspace id in ``st.query_params`` so a browser refresh
(a new Streamlit session) finds its data and its running job again. Idle
workspaces expire: their jobs are stopped and their temp folders deleted.
"""
from __future__ import annotations

import secrets
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from typing import TYPE_CHECKING, Any

from .dataset import Dataset
from .jobs import Job
from .review import Decisions, apply_to

if TYPE_CHECKING:  # torch stays off the first page paint
    from .explain import CamCache, Explainer
    from .features import FeatureCache
    from .model_io import ModelBundle

IDLE_SECONDS = 2 * 3600


@dataclass
class Workspace:
    id: str
    dir: Path
    created: float = field(default_factory=time.time)
    last_seen: float = field(default_factory=time.time)
    dataset: Dataset | None = None
    source: str = ""  # what the user brought, in words
    excluded: set[Path] = field(default_factory=set)
    relabel: dict[Path, str] = field(default_factory=dict)
    job: Job | None = None
    job_data_version: int | None = None  # data_version when the current training job started
    model_data_version: int | None = None  # ... and when the model in use was trained
    bundle: "ModelBundle | None" = None
    train_result: Any = None
    sort_preds: list = field(default_factory=list)
    sort_root: Path | None = None
    sort_overrides: dict[Path, str] = field(default_factory=dict)
    _cache: "FeatureCache | None" = None
    sort_job: Job | None = None
    discover_job: Job | None = None
    ui: dict = field(default_factory=dict)  # page-level choices that must survive a refresh
    decisions: Decisions = field(default_factory=Decisions)  # Review page: move / exclude / keep
    review_job: Job | None = None  # likely-label-error scan
    _cams: "CamCache | None" = None
    _explainer: "Explainer | None" = None
    _uploads: int = 0

    @property
    def cache(self) -> "FeatureCache":
        if self._cache is None:
            from .features import FeatureCache

            self._cache = FeatureCache()
        return self._cache

    @property
    def cams(self) -> "CamCache":
        """Bounded LRU of Grad-CAM results for this session."""
        if self._cams is None:
            from .explain import CamCache

            self._cams = CamCache()
        return self._cams

    def explainer(self, network, classes: list[str], backbone: str) -> "Explainer":
        """The Grad-CAM explainer for ``network``; rebuilt (and the CAM cache emptied) when the model changes."""
        if self._explainer is None or self._explainer.source is not network:
            from .backbones import get_spec
            from .explain import Explainer

            self._explainer = Explainer(network, classes, get_spec(backbone).preprocess)
            self.cams.clear()
        return self._explainer

    def apply_review(self) -> int:
        """Write the review decisions into ``excluded`` / ``relabel``; returns how many images changed."""
        if self.dataset is not None:
            self.decisions.retain(i.path for i in self.dataset.items)
        changed = len(self.decisions.pending())
        self.excluded, self.relabel = apply_to(self.decisions, self.excluded, self.relabel)
        return changed

    @property
    def data_version(self) -> int:
        """Changes whenever the data training would see changes (new data, exclusions, relabels)."""
        return hash((id(self.dataset), frozenset(self.excluded), frozenset(self.relabel.items())))

    def start_training(self, job: Job) -> Job:
        """Run a training job, remembering which version of the data it saw."""
        self.job_data_version = self.data_version
        self.job = job.start()
        return self.job

    @property
    def model_is_stale(self) -> bool:
        """True when the model in use was trained here on data the user has changed since."""
        return self.train_result is not None and self.model_data_version != self.data_version

    def new_folder(self, kind: str) -> Path:
        self._uploads += 1
        p = self.dir / f"{kind}-{self._uploads}"
        p.mkdir(parents=True, exist_ok=True)
        return p

    def effective_dataset(self) -> Dataset | None:
        if self.dataset is None:
            return None
        return self.dataset.with_changes(self.excluded, self.relabel)

    def collect(self) -> None:
        """Adopt a finished training job's model, whichever page the user is on when it ends."""
        job = self.job
        if job is None or job.alive or job.result is None or self.ui.get("_collected") is job:
            return
        from .model_io import ModelBundle

        r = job.result
        self.train_result = r
        self.bundle = ModelBundle.from_result(r)
        self.ui["_collected"] = job
        self.model_data_version = self.job_data_version

    def jobs(self) -> list[Job]:
        return [j for j in (self.job, self.sort_job, self.discover_job, self.review_job) if j is not None]

    def close(self) -> None:
        for j in self.jobs():
            j.stop()
        for j in self.jobs():
            j.join(timeout=10)
        if self._cache is not None:
            self._cache.clear()
        if self._cams is not None:
            self._cams.clear()
        self._explainer = None
        shutil.rmtree(self.dir, ignore_errors=True)


class Registry:
    def __init__(self, root: Path | None = None, idle_seconds: float = IDLE_SECONDS) -> None:
        self._root = Path(root) if root else Path(tempfile.gettempdir()) / "gallery-sorter"
        self._items: dict[str, Workspace] = {}
        self._lock = threading.Lock()
        self.idle_seconds = idle_seconds

    def get(self, ws_id: str | None) -> Workspace:
        """The workspace for this id, or a fresh one (unknown or expired ids get a new id)."""
        self.sweep()
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
        now = now or time.time()
        with self._lock:
            old = [w for w in self._items.values()
                   if now - w.last_seen > self.idle_seconds]
            for w in old:
                del self._items[w.id]
        for w in old:
            w.close()
        return [w.id for w in old]

    def release(self, ws_id: str) -> None:
        with self._lock:
            ws = self._items.pop(ws_id, None)
        if ws:
            ws.close()

    def __len__(self) -> int:
        return len(self._items)


REGISTRY = Registry()
