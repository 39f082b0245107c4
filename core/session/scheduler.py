"""One process-wide admission queue for the heavy work of every browser session.

Why: a Streamlit server is one process shared by every visitor. Four visitors training at once
made each run 5x slower (they share the same cores) and stacked their memory towards the
container's limit. Here each heavy job (training, Discover, sorting, a label check, a batch of
Grad-CAM heatmaps) declares what memory it expects to need; it runs when it fits in the memory
budget and a CPU slot is free, and waits in a FIFO queue otherwise. A waiting job knows its place
and an honest wait: the running jobs' own remaining time (from their progress), plus the expected
length of the jobs ahead of it (measured on earlier jobs of the same kind, or declared).

Nothing here knows what the work is, nor about Streamlit.
"""

from __future__ import annotations

import itertools
import statistics
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

Eta = Callable[[], "float | None"]  # seconds left of a running job, None when not known yet

HISTORY = 8  # durations kept per kind of job, for the expected length of queued jobs


class Cancelled(Exception):
    """A queued job was cancelled before it ran."""


@dataclass(eq=False)
class Ticket:
    """One job's place: queued, then running, then released (or cancelled while queued)."""

    id: int
    name: str
    need_mb: float
    owner: str | None = None
    expected_s: float | None = None  # declared length, if the caller knows it
    eta: Eta | None = None  # remaining seconds once running (the job's progress)
    state: str = "queued"  # queued | running | released | cancelled
    queued_at: float = 0.0
    started_at: float | None = None


@dataclass(frozen=True)
class Place:
    """What a queued job can say about its wait."""

    position: int  # 1 = next to run
    ahead: int  # jobs running or queued before it
    wait_s: float | None  # None: a job ahead of it has no estimate yet
    reason: str  # "memory" or "cpu": what it waits for

    def words(self) -> str:
        """'2nd in line, about 40 s' (or '2nd in line' when no honest estimate exists yet)."""
        text = f"{ordinal(self.position)} in line"
        if self.wait_s is not None:
            from .progress import duration_words

            text += f", about {duration_words(self.wait_s)}"
        return text


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


@dataclass
class Scheduler:
    """Admits jobs by a memory budget (MB) and a number of CPU slots, first come first served."""

    budget_mb: float
    slots: int = 1
    clock: Callable[[], float] = time.monotonic
    _queue: deque[Ticket] = field(default_factory=deque)
    _running: list[Ticket] = field(default_factory=list)
    _history: dict[str, deque[float]] = field(default_factory=lambda: defaultdict(lambda: deque(maxlen=HISTORY)))
    _cond: threading.Condition = field(default_factory=threading.Condition)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    # -- the job's side
    def submit(
        self,
        name: str,
        need_mb: float,
        owner: str | None = None,
        expected_s: float | None = None,
        eta: Eta | None = None,
    ) -> Ticket:
        """Join the queue (and run at once if it fits and nobody is waiting before)."""
        with self._cond:
            t = Ticket(next(self._ids), name, max(0.0, float(need_mb)), owner, expected_s, eta, queued_at=self.clock())
            self._queue.append(t)
            self._admit()
            return t

    def wait(self, ticket: Ticket, should_stop: Callable[[], bool] = lambda: False, poll: float = 0.2) -> None:
        """Block until ``ticket`` runs; raises :class:`Cancelled` if it is cancelled or ``should_stop`` says so."""
        with self._cond:
            while ticket.state == "queued":
                if should_stop():
                    self._cancel(ticket)
                    break
                self._cond.wait(poll)
            if ticket.state != "running":
                raise Cancelled(ticket.name)

    def release(self, ticket: Ticket) -> None:
        """The job ended (or was cancelled): its memory and slot go to the next in line."""
        with self._cond:
            if ticket.state == "running":
                self._running.remove(ticket)
                if ticket.started_at is not None:
                    self._history[ticket.name].append(self.clock() - ticket.started_at)
                ticket.state = "released"
            elif ticket.state == "queued":
                self._cancel(ticket)
            self._admit()
            self._cond.notify_all()

    def cancel(self, ticket: Ticket) -> None:
        """Leave the queue (a job that already runs is stopped by its own stop flag, not here)."""
        with self._cond:
            if ticket.state == "queued":
                self._cancel(ticket)

    @contextmanager
    def admitted(
        self, name: str, need_mb: float, owner: str | None = None, should_stop: Callable[[], bool] = lambda: False
    ) -> Iterator[Ticket]:
        """Run a block of heavy work (in the caller's thread) once it is admitted."""
        ticket = self.submit(name, need_mb, owner)
        try:
            self.wait(ticket, should_stop)
            yield ticket
        finally:
            self.release(ticket)

    # -- what pages show
    def place(self, ticket: Ticket) -> Place | None:
        """A queued ticket's place in line and its expected wait; None once it runs."""
        with self._cond:
            if ticket.state != "queued":
                return None
            queue = list(self._queue)
            running = list(self._running)
            now = self.clock()
            history = {k: list(v) for k, v in self._history.items()}
        k = queue.index(ticket)
        # the running jobs' own ETAs are read outside the lock: they take their job's lock
        ends = []
        for r in running:
            left = _left(r, now, history)
            ends.append((None if left is None else now + left, r.need_mb))
        wait = self._simulate(queue[: k + 1], ends, now, history)
        reason = "cpu" if len(running) >= self.slots else "memory"
        return Place(k + 1, len(running) + k, wait, reason)

    def _simulate(self, line: list[Ticket], ends: list, now: float, history) -> float | None:
        """When the last ticket of ``line`` starts, admitting in order as the running jobs end."""
        running = list(ends)  # (end time or None, need_mb)
        start = now
        for t in line:
            while not self._fits(t.need_mb, [m for _, m in running]):
                known = [i for i, (end, _) in enumerate(running) if end is not None]
                if not known:
                    return None  # the jobs to wait for have no estimate yet
                first = min(known, key=lambda i: running[i][0])
                start = max(start, running.pop(first)[0])
            if t is line[-1]:
                return max(0.0, start - now)
            length = t.expected_s if t.expected_s is not None else _typical(history, t.name)
            running.append((None if length is None else start + length, t.need_mb))
        return None

    def _fits(self, need_mb: float, running_needs: list[float]) -> bool:
        if not running_needs:
            return True  # alone, a job always runs (one bigger than the budget would otherwise wait forever)
        return len(running_needs) < self.slots and sum(running_needs) + need_mb <= self.budget_mb

    def _admit(self) -> None:
        """Start queued jobs in order while the head of the line fits. Caller holds the lock."""
        admitted = False
        while self._queue and self._fits(self._queue[0].need_mb, [r.need_mb for r in self._running]):
            t = self._queue.popleft()
            t.state, t.started_at = "running", self.clock()
            self._running.append(t)
            admitted = True
        if admitted:
            self._cond.notify_all()

    def _cancel(self, ticket: Ticket) -> None:
        self._queue.remove(ticket)
        ticket.state = "cancelled"
        self._admit()
        self._cond.notify_all()

    # -- state, for tests and the load bench
    @property
    def running(self) -> list[Ticket]:
        with self._cond:
            return list(self._running)

    @property
    def queued(self) -> list[Ticket]:
        with self._cond:
            return list(self._queue)

    def used_mb(self) -> float:
        with self._cond:
            return sum(r.need_mb for r in self._running)

    def cancel_owner(self, owner: str) -> int:
        """Take every queued job of one session out of the line (the session closed)."""
        with self._cond:
            mine = [t for t in self._queue if t.owner == owner]
            for t in mine:
                self._cancel(t)
            return len(mine)


def _typical(history: dict[str, list[float]], name: str) -> float | None:
    past = history.get(name)
    return statistics.median(past) if past else None


def _left(t: Ticket, now: float, history) -> float | None:
    """A running job's remaining seconds: its own ETA, else what its kind usually takes, less the time spent."""
    if t.eta is not None:
        try:
            left = t.eta()
        except Exception:  # an ETA must never break the queue
            left = None
        if left is not None:
            return max(0.0, left)
    length = t.expected_s if t.expected_s is not None else _typical(history, t.name)
    if length is None or t.started_at is None:
        return None
    return max(1.0, length - (now - t.started_at))


# What a job of each kind is expected to need above the idle server, in MB: (fixed, per image).
# Measured with the demo (194 photos, Lite0) on the test machine: one training run raises the
# server's RSS by ~350 MB (ONNX session and arena, the optimiser, activations of 16-image
# batches, the kept float16 maps of the last two blocks' inputs); each further concurrent run
# adds ~250 MB (the pretrained prefix's session is shared by content). Discover may open Lite2's
# session beside Lite0's; sorting decodes big photos two batches ahead.
NEEDS: dict[str, tuple[float, float]] = {
    "train": (350.0, 0.4),
    "discover": (400.0, 0.1),
    "sort": (300.0, 0.05),
    "label-errors": (300.0, 0.05),
    "gradcam": (150.0, 2.0),
    "resort": (50.0, 0.01),
    "place": (30.0, 0.0),
}
SESSIONS_RESERVE_MB = 200  # kept free for what sessions hold between jobs (feature caches, models, pages)


def estimate_mb(kind: str, images: int = 0) -> float:
    """The memory a job of this kind over ``images`` photos is expected to need (MB)."""
    fixed, per_image = NEEDS.get(kind, (300.0, 0.1))
    return fixed + per_image * max(0, images)


_SCHEDULER: Scheduler | None = None
_make_lock = threading.Lock()


def scheduler() -> Scheduler:
    """The process-wide scheduler, sized on first use (after the pages have imported the engine).

    Its memory budget is what the settings allow the server (core/settings.py) less what the
    server holds when the first heavy job arrives (Python, torch, ONNX Runtime, Streamlit: ~600 MB
    with CPU wheels, ~950 MB with the CUDA build) and a reserve for the sessions' own state.
    """
    global _SCHEDULER
    with _make_lock:
        if _SCHEDULER is None:
            from ..settings import load_settings, rss_mb

            s = load_settings()
            budget = max(300.0, s.server_memory_mb - rss_mb() - SESSIONS_RESERVE_MB)
            _SCHEDULER = Scheduler(budget_mb=budget, slots=s.heavy_jobs)
        return _SCHEDULER
