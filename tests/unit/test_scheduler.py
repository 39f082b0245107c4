"""The process-wide admission queue for heavy jobs (core/session/scheduler.py) and its use by Job."""

from __future__ import annotations

import threading
import time

import pytest

from core.events import Advance, Plan, Step
from core.session.jobs import Job
from core.session.scheduler import Cancelled, Scheduler, estimate_mb


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_admits_by_budget_and_queues_what_does_not_fit():
    s = Scheduler(budget_mb=1000, slots=4)
    a = s.submit("train", 600)
    b = s.submit("sort", 300)
    c = s.submit("train", 600)  # 600 + 300 + 600 > 1000: waits
    assert (a.state, b.state, c.state) == ("running", "running", "queued")
    assert s.used_mb() == 900
    s.release(b)
    assert c.state == "queued"  # 600 + 600 still does not fit
    s.release(a)
    assert c.state == "running"


def test_cpu_slots_bound_how_many_run_at_once():
    s = Scheduler(budget_mb=10_000, slots=1)
    a, b = s.submit("train", 100), s.submit("train", 100)
    assert (a.state, b.state) == ("running", "queued")
    s.release(a)
    assert b.state == "running"


def test_a_job_bigger_than_the_budget_still_runs_alone():
    s = Scheduler(budget_mb=500, slots=2)
    big = s.submit("discover", 900)
    assert big.state == "running"
    small = s.submit("sort", 10)
    assert small.state == "queued"  # not beside it: it already takes more than the budget


def test_fifo_order_is_kept_even_when_a_later_job_would_fit():
    s = Scheduler(budget_mb=1000, slots=4)
    a = s.submit("train", 700)
    big = s.submit("train", 700)
    small = s.submit("gradcam", 100)  # would fit now, but the big one came first
    assert (big.state, small.state) == ("queued", "queued")
    assert s.place(big).position == 1 and s.place(small).position == 2
    s.release(a)
    assert (big.state, small.state) == ("running", "running")


def test_cancelling_a_queued_job_frees_its_place():
    s = Scheduler(budget_mb=1000, slots=1)
    a, b, c = s.submit("train", 100), s.submit("train", 100), s.submit("sort", 100)
    assert s.place(c).position == 2
    s.cancel(b)
    assert b.state == "cancelled" and s.place(c).position == 1
    with pytest.raises(Cancelled):
        s.wait(b)
    s.release(a)
    assert c.state == "running"


def test_a_finishing_job_admits_the_next_and_wakes_its_thread():
    s = Scheduler(budget_mb=1000, slots=1)
    a, b = s.submit("train", 100), s.submit("train", 100)
    woke = threading.Event()

    def waiter():
        s.wait(b)
        woke.set()

    t = threading.Thread(target=waiter)
    t.start()
    time.sleep(0.1)
    assert not woke.is_set()
    s.release(a)
    assert woke.wait(2) and b.state == "running"
    t.join(2)


def test_the_wait_estimate_comes_from_the_running_jobs_eta():
    clock = Clock()
    s = Scheduler(budget_mb=1000, slots=1, clock=clock)
    left = {"a": 40.0}
    s.submit("train", 100, eta=lambda: left["a"])
    b = s.submit("train", 100)
    c = s.submit("train", 100, expected_s=25)
    pb = s.place(b)
    assert pb.position == 1 and pb.wait_s == pytest.approx(40)
    assert "1st in line, about 40 s" in pb.words()
    # c waits for a, then for b: b's length is not known yet (no train job has finished), so no number
    assert s.place(c).position == 2 and s.place(c).wait_s is None
    left["a"] = 10.0  # the running job's own progress moved on: the wait shrinks with it
    assert s.place(b).wait_s == pytest.approx(10)


def test_queued_jobs_ahead_count_with_what_their_kind_took_before():
    clock = Clock()
    s = Scheduler(budget_mb=1000, slots=1, clock=clock)
    first = s.submit("train", 100)
    clock.t += 30  # a train job took 30 s
    s.release(first)
    a = s.submit("train", 100, eta=lambda: 20.0)
    b, c = s.submit("train", 100), s.submit("train", 100)
    assert s.place(b).wait_s == pytest.approx(20)
    assert s.place(c).wait_s == pytest.approx(50)  # a's 20 s left, then b's typical 30 s
    assert "2nd in line, about 50 s" in s.place(c).words()
    s.release(a)


def test_estimates_grow_with_the_images():
    assert estimate_mb("train", 2000) > estimate_mb("train", 200) > 0


def _blocking_job(name, gate, sched, need=100):
    def work(on_event, should_stop):
        on_event(Plan((Step("images", 10),)))
        on_event(Advance("images", 5))
        while not gate.is_set() and not should_stop():
            time.sleep(0.01)
        return name

    return Job(name, work, need_mb=need, sched=sched)


def test_jobs_wait_their_turn_say_their_place_and_can_be_cancelled_while_queued():
    s = Scheduler(budget_mb=1000, slots=1)
    gate = threading.Event()
    a = _blocking_job("a", gate, s).start()
    b = _blocking_job("b", gate, s).start()
    c = _blocking_job("c", gate, s).start()
    snap = b.snapshot()
    assert snap.state == "queued" and snap.active and snap.place.position == 1
    assert c.snapshot().place.position == 2 and "2nd in line" in c.snapshot().waiting_words()
    b.stop()  # cancelled while queued
    assert b.join(2) and b.snapshot().state == "stopped" and "waiting in line" in b.snapshot().message
    assert c.snapshot().place.position == 1
    gate.set()
    assert a.join(5) and c.join(5)
    assert a.result == "a" and c.result == "c" and c.snapshot().state == "done"
    assert s.running == [] and s.queued == []


def test_a_job_without_a_memory_need_runs_at_once():
    s = Scheduler(budget_mb=100, slots=1)
    gate = threading.Event()
    hog = _blocking_job("hog", gate, s).start()
    free = Job("light", lambda on_event, should_stop: 1, sched=s).start()  # no need_mb: not scheduled
    assert free.join(2) and free.result == 1
    gate.set()
    assert hog.join(5)
