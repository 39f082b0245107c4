"""Background jobs: run a long function in a thread, expose a thread-safe snapshot.

The thread only writes to the job's own progress model under a lock; pages read
``snapshot()`` from a fragment that reruns every second, the CLI prints from the
same model. Nothing here knows about Streamlit or about what the work is.

A job that declares its memory need (``need_mb``) goes through the process-wide
scheduler (:mod:`core.session.scheduler`): it waits in line, "queued", until it fits,
and its snapshot says its place and wait. Stopping a queued job takes it out of line.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ..events import Event, OnEvent, StopCheck, Stopped
from ..settings import trim_heap
from .progress import JobProgress, ProgressView
from .scheduler import Cancelled, Place, Scheduler, Ticket, scheduler

R = TypeVar("R")
Work = Callable[[OnEvent, StopCheck], R]


def release_memory(collect: bool = False) -> None:
    """Hand freed heap pages back to the OS (glibc keeps them otherwise).

    A job's transient buffers (decoded batches, activations) are freed when it ends,
    but without this the process keeps their pages, and the next job's peak stacks
    on top: on a 2.7 GB hosted container that is the difference that matters.
    ``collect`` runs Python's full collection first: what a closed session held in
    reference cycles is freed only then (the server turns Streamlit's after-run collection off).
    """
    if collect:
        import gc

        gc.collect()
    trim_heap()


@dataclass(frozen=True)
class Snapshot:
    state: str  # queued | running | done | stopped | failed
    progress: ProgressView
    error: str | None
    started: float | None
    finished: float | None
    place: Place | None = None  # while queued: its place in line and expected wait

    @property
    def active(self) -> bool:
        return self.state in ("queued", "running")

    @property
    def queued(self) -> bool:
        return self.state == "queued"

    def waiting_words(self) -> str:
        """'Waiting for other visitors' work: 2nd in line, about 40 s'."""
        if self.place is None:
            return "Waiting for a free slot"
        return f"Waiting for other work on this server to finish: {self.place.words()}"

    @property
    def message(self) -> str:
        return self.progress.message

    @property
    def elapsed(self) -> float:
        end = self.finished or time.time()
        return max(0.0, end - self.started) if self.started else 0.0


def user_message(exc: BaseException) -> str:
    """An error in words: our own errors already speak to the user; others get a plain prefix."""
    if isinstance(exc, (ValueError, FileNotFoundError, PermissionError)):
        return str(exc) or "invalid input"
    if isinstance(exc, MemoryError):
        return "the computer ran out of memory; try fewer or smaller images"
    text = str(exc).strip()
    if isinstance(exc, OSError) and getattr(exc, "strerror", None):
        text = exc.strerror
    return f"an unexpected problem: {text}" if text else "an unexpected problem"


class Job(Generic[R]):
    """One background run of ``work(on_event, should_stop) -> result``."""

    def __init__(
        self,
        name: str,
        work: Work,
        progress: JobProgress | None = None,
        *,
        need_mb: float | None = None,
        owner: str | None = None,
        sched: Scheduler | None = None,
    ) -> None:
        """``need_mb``: the memory it expects to need; given, the job waits its turn in ``sched``
        (the process-wide scheduler by default). ``owner``: the workspace it belongs to."""
        self.name = name
        self.owner = owner
        self._need = need_mb
        self._sched = sched
        self._ticket: Ticket | None = None
        self._run_started: float | None = None
        self._work = work
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"gs-{name}", daemon=True)
        self._progress = progress if progress is not None else JobProgress()
        self.result: R | None = None
        self._state = "running"
        self._error: str | None = None
        self._trace: str | None = None
        self._started: float | None = None
        self._finished: float | None = None

    # -- control
    def start(self) -> Job[R]:
        with self._lock:
            self._started = time.time()
        if self._need is not None:  # join the line now, in the caller's thread: first come, first served
            if self._sched is None:
                self._sched = scheduler()
            self._ticket = self._sched.submit(self.name, self._need, self.owner, eta=self._eta)
            if self._ticket.state == "queued":
                with self._lock:
                    self._state = "queued"
                    self._progress.message = "Waiting for other work on this server to finish"
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._ticket is not None and self._sched is not None:
            self._sched.cancel(self._ticket)  # a queued job leaves the line at once

    def _eta(self) -> float | None:
        """Seconds left, for the scheduler's wait estimates: the progress ETA, else from the fraction done."""
        with self._lock:
            eta = self._progress.eta_seconds
            fraction = self._progress.fraction
            began = self._run_started
        if eta is None and began is not None and 0.02 < fraction < 1.0:
            spent = time.time() - began
            eta = spent * (1 - fraction) / fraction
        return eta

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
    def ended(self) -> bool:
        """Started and finished (done, stopped or failed)."""
        return self._started is not None and not self._thread.is_alive()

    @property
    def trace(self) -> str | None:
        return self._trace

    # -- thread side
    def on_event(self, e: Event) -> None:
        with self._lock:
            self._progress.apply(e)

    def _run(self) -> None:
        try:
            if self._ticket is not None and self._sched is not None:
                self._sched.wait(self._ticket, self._stop.is_set)
            with self._lock:
                self._state = "running"
                self._run_started = time.time()
                if self._ticket is not None and self._progress.message.startswith("Waiting"):
                    self._progress.message = "Starting"
            if self.owner is not None:  # ONNX sessions it opens are this workspace's (released with it)
                from ..models.runtime import acting_for

                with acting_for(self.owner):
                    result = self._work(self.on_event, self._stop.is_set)
            else:
                result = self._work(self.on_event, self._stop.is_set)
            with self._lock:
                self.result = result
                stopped = self._stop.is_set()
                self._state = "stopped" if stopped else "done"
                if stopped:
                    self._progress.message = "Stopped; kept the best result so far"
                else:
                    self._progress.message = "Finished"
                    self._progress.finish()
        except Cancelled:
            with self._lock:
                self._state = "stopped"
                self._progress.message = "Cancelled while waiting in line"
        except Stopped:
            with self._lock:
                self._state = "stopped"
                self._progress.message = "Stopped before anything was finished"
        except Exception as exc:  # shown to the user as a readable message
            with self._lock:
                self._state = "failed"
                self._error = user_message(exc)
                self._trace = traceback.format_exc()
                self._progress.message = "Failed"
        finally:
            release_memory()
            if self._ticket is not None and self._sched is not None:
                self._sched.release(self._ticket)  # the next in line may start
            with self._lock:
                self._finished = time.time()

    # -- reader side
    def snapshot(self) -> Snapshot:
        with self._lock:
            state = self._state
            snap = (self._progress.view(), self._error, self._started, self._finished)
        # the place is asked outside this job's lock: the scheduler reads the running jobs' ETAs
        place = self._sched.place(self._ticket) if state == "queued" and self._ticket and self._sched else None
        return Snapshot(state, *snap, place=place)


def run_inline(work: Work, on_event: OnEvent | None = None) -> Any:
    """Run ``work`` in this thread (the CLI's way), with no stop button."""
    return work(on_event or (lambda e: None), lambda: False)
