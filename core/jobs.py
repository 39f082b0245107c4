"""Background jobs: run a long function in a thread, expose a thread-safe snapshot.

The thread only writes to the job's own state under a lock; pages read
``snapshot()`` from a fragment that reruns every second. Nothing here knows
about Streamlit. Stop is an event the work function checks every batch.
"""
from __future__ import annotations

import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

MAX_BATCH_POINTS = 5000


def release_memory() -> None:
    """Hand freed heap pages back to the OS (glibc keeps them otherwise).

    A job's transient buffers (decoded batches, activations) are freed when it ends,
    but without this the process keeps their pages, and the next job's peak stacks
    on top: on a 2.7 GB hosted container that is the difference that matters.
    """
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (macOS, Windows, musl): nothing to do
        pass


class Stopped(Exception):
    """Raised inside long loops when the user pressed Stop."""


@dataclass
class Snapshot:
    state: str  # idle | running | done | stopped | failed
    message: str
    progress: float  # 0..1 overall
    progress_text: str
    epochs: list[dict]
    batches: list[dict]
    events: int
    error: str | None
    started: float | None
    finished: float | None
    eta_seconds: float | None
    extra: dict = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.state == "running"


class Job:
    """One background run of ``work(on_event, should_stop) -> result``."""

    def __init__(self, name: str, work: Callable[[Callable[[dict], None], Callable[[], bool]], Any],
                 total_epochs: int = 0) -> None:
        self.name = name
        self._work = work
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"gs-{name}", daemon=True)
        self.total_epochs = total_epochs
        self.result: Any = None
        self._state = "idle"
        self._message = "Waiting to start"
        self._progress = 0.0
        self._progress_text = ""
        self._epochs: list[dict] = []
        self._batches: list[dict] = []
        self._events = 0
        self._error: str | None = None
        self._trace: str | None = None
        self._started: float | None = None
        self._finished: float | None = None
        self._extra: dict = {}
        self._plan: dict = {}  # training: how many feature images, and their share of the work
        self._feat_done: dict[str, int] = {}
        self._epoch_frac = 0.0

    # -- control
    def start(self) -> "Job":
        with self._lock:
            self._state = "running"
            self._started = time.time()
            self._message = "Starting"
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def join(self, timeout: float | None = None) -> bool:
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def trace(self) -> str | None:
        return self._trace

    # -- thread side
    def _on_event(self, e: dict) -> None:
        with self._lock:
            self._events += 1
            kind = e.get("type")
            if kind in ("status", "path"):
                if kind == "path":
                    self._extra["path"] = e["message"]
                else:
                    self._message = e["message"]
            elif kind == "plan":
                self._plan = dict(e)
            elif kind == "cache":
                self._progress_text = f"{e['done']}/{e['total']} images"
                self._feat_done[e["what"]] = e["done"]
                self._advance(e["done"] / max(1, e["total"]) * (0.3 if "validation" in e["what"] else 1.0))
            elif kind == "batch":
                if len(self._batches) < MAX_BATCH_POINTS:
                    self._batches.append({"step": len(self._batches) + 1, **{k: e[k] for k in ("epoch", "batch", "loss", "lr")}})
                ep_total = max(1, self.total_epochs)
                self._epoch_frac = max(self._epoch_frac, (e["epoch"] - 1 + e["batch"] / max(1, e["batches"])) / ep_total)
                self._advance()
                self._progress_text = f"Epoch {e['epoch']}/{ep_total}, batch {e['batch']}/{e['batches']}"
            elif kind == "epoch":
                self._epochs.append({k: v for k, v in e.items() if k != "type"})
                self._epoch_frac = max(self._epoch_frac, e["epoch"] / max(1, self.total_epochs))
                self._advance()
                self._message = f"Epoch {e['epoch']}/{self.total_epochs}: val acc {e['val_acc']:.3f}"
            elif kind == "progress":
                self._progress = e["done"] / max(1, e["total"])
                self._progress_text = e.get("text", f"{e['done']}/{e['total']}")
            elif kind == "extra":
                self._extra.update(e.get("data", {}))

    def _advance(self, cache_frac: float | None = None) -> None:
        """Overall progress from feature images computed and epochs run, weighted by their share of the
        work: with cached features most of the time goes into computing them (some during epochs, one
        augmented view per epoch), so counting epochs alone stalls the bar and misleads the ETA."""
        n = self._plan.get("feature_images", 0)
        if n:
            share = self._plan.get("feature_share", 0.9)
            done = min(1.0, sum(self._feat_done.values()) / n)
            p = share * done + (1 - share) * self._epoch_frac
        elif cache_frac is not None and not self._epochs:
            p = 0.5 * cache_frac  # no plan (e.g. full fine-tuning): features fill the first half
        else:
            p = self._epoch_frac
        self._progress = max(self._progress, min(1.0, p))

    def _run(self) -> None:
        try:
            result = self._work(self._on_event, self._stop.is_set)
            with self._lock:
                self.result = result
                self._state = "stopped" if self._stop.is_set() else "done"
                self._message = "Stopped; kept the best epoch so far" if self._stop.is_set() else "Finished"
                self._progress = 1.0 if self._state == "done" else self._progress
        except Exception as exc:  # shown to the user as a readable message
            with self._lock:
                if isinstance(exc, Stopped):
                    self._state = "stopped"
                    self._message = "Stopped before the first epoch finished"
                else:
                    self._state = "failed"
                    self._error = f"{exc.__class__.__name__}: {exc}" if not isinstance(exc, ValueError) else str(exc)
                    self._trace = traceback.format_exc()
                    self._message = "Failed"
        finally:
            release_memory()
            with self._lock:
                self._finished = time.time()

    # -- reader side
    def snapshot(self) -> Snapshot:
        with self._lock:
            eta = None
            if self._state == "running" and self._started and self._progress > 0.02:
                elapsed = time.time() - self._started
                eta = elapsed * (1 - self._progress) / self._progress
            return Snapshot(self._state, self._message, self._progress, self._progress_text,
                            list(self._epochs), list(self._batches), self._events, self._error,
                            self._started, self._finished, eta, dict(self._extra))
