"""Background jobs and per-session workspaces."""

from __future__ import annotations

import threading
import time

import pytest

from core.events import Advance, Batch, Epoch, Plan, Status, Step
from core.session.jobs import Job
from core.session.progress import TrainingProgress, forecast_words
from core.session.workspace import Registry


def test_job_runs_in_background_and_snapshots_progress():
    gate = threading.Event()

    def work(on_event, should_stop):
        on_event(Plan((Step("batches", 2),)))
        on_event(Epoch(1, 2, 1, "head only", 1.0, 0.5, 1.0, 0.5, 1e-3, 0.1))
        on_event(Advance("batches", 1))
        gate.wait(5)
        return 42

    job = Job("t", work, TrainingProgress()).start()
    deadline = time.time() + 5
    while not job.snapshot().progress.epochs and time.time() < deadline:
        time.sleep(0.01)
    snap = job.snapshot()
    assert snap.state == "running" and len(snap.progress.epochs) == 1 and snap.progress.fraction == pytest.approx(0.5)
    gate.set()
    assert job.join(5)
    assert job.snapshot().state == "done" and job.result == 42 and job.snapshot().progress.fraction == 1.0


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_training_progress_counts_feature_work_so_the_bar_never_stalls():
    """5 augmented views over 30 epochs: a view is computed at each of epochs 1-5. Counting epochs only,
    the bar sat still (and the ETA grew) while views 2-5 were computed."""
    clock = FakeClock()
    p = TrainingProgress(clock=clock)
    n_train, n_val = 100, 20
    p.apply(Plan((Step("features", n_val + 5 * n_train), Step("batches", 30))))
    seen, etas = [], []
    computed = 0

    def epoch(k: int) -> None:
        nonlocal computed
        if k <= 5:
            p.apply(Status(f"Computing features for training view {k} of 5"))
            for _ in range(2):
                clock.t += 0.5  # 10 ms per image
                computed += 50
                p.apply(Advance("features", computed))
        if k == 1:
            clock.t += 0.2
            computed += n_val
            p.apply(Advance("features", computed))
        p.apply(Status(f"Training, epoch {k} of 30"))
        clock.t += 0.01
        p.apply(Batch(k, 30, 1, 1, 1.0, 1e-3))
        p.apply(Advance("batches", k))
        p.apply(Epoch(k, 30, 1, "head only", 1.0, 0.5, 1.0, 0.5, 1e-3, 0.01))
        seen.append(p.fraction)
        etas.append(p.eta_seconds)

    for k in range(1, 31):
        epoch(k)
    steps = [b - a for a, b in zip(seen, seen[1:5])]
    assert min(steps) > 0.15, seen[:6]  # each of views 2-5 moves the bar about a fifth of the way
    assert all(b >= a for a, b in zip(seen, seen[1:])) and seen[-1] == pytest.approx(1.0)
    assert seen[4] > 0.85  # once the features are in, the cheap epochs are the last part
    # the ETA after the first epoch is what the rest really took: 4 views of 1 s + 29 batches of 10 ms
    assert etas[0] == pytest.approx(4 * 1.0 + 29 * 0.01, rel=0.1)
    assert etas[5] == pytest.approx(25 * 0.01, rel=0.1)  # and it falls once only cheap epochs remain
    view = p.view()
    assert view.detail == "Epoch 30/30, batch 1/1" and view.message == "Epoch 30/30: val acc 0.500"


def test_a_run_keeps_its_first_plan_as_the_promise_it_is_held_to():
    """Automatic plans Quick and Better, then plans again once Quick is done: the page compares the
    run with what was said before it started, so the first plan is the one kept, rung by rung."""
    p = TrainingProgress(clock=FakeClock())
    assert p.view().promised == ()
    p.apply(Plan((Step("quick:features", 100, 0.05), Step("quick:batches", 40, 0.1))))
    p.apply(Plan((Step("quick:features", 100, 0.05), Step("quick:batches", 40, 0.1), Step("better:batches", 300, 0.2))))
    assert p.view().promised == pytest.approx((9.0,))  # the first plan, not the later one
    q = TrainingProgress(clock=FakeClock())
    q.apply(Plan((Step("quick:features", 100, 0.05), Step("quick:batches", 40, 0.1), Step("better:batches", 300, 0.2))))
    assert q.view().promised == pytest.approx((9.0, 60.0))
    assert forecast_words(q.view().promised) == "9 s, up to 1 min"
    assert forecast_words((42.4,)) == "42 s" and forecast_words(()) == ""
    unknown = TrainingProgress(clock=FakeClock())
    unknown.apply(Plan((Step("features", 10), Step("batches", 5, 0.1))))  # a cost not measured yet: no promise
    assert unknown.view().promised == ()


def test_stop_is_seen_within_a_batch():
    def work(on_event, should_stop):
        for b in range(10_000):
            if should_stop():
                return b
            time.sleep(0.001)
        return -1

    job = Job("t", work).start()
    time.sleep(0.05)
    job.stop()
    assert job.join(2)
    assert job.snapshot().state == "stopped" and 0 < job.result < 10_000


def test_failure_in_thread_becomes_readable_error():
    def work(on_event, should_stop):
        raise RuntimeError("disk on fire")

    job = Job("t", work).start()
    job.join(30)
    snap = job.snapshot()
    assert snap.state == "failed" and "disk on fire" in snap.error


def test_workspaces_are_separate_and_found_again(tmp_path):
    reg = Registry(tmp_path, idle_seconds=60)
    a, b = reg.get(None), reg.get(None)
    assert a.id != b.id and a.dir != b.dir
    a.data.exclude([tmp_path / "x.jpg"])
    assert not b.data.excluded
    assert reg.get(a.id) is a  # a browser refresh finds its workspace
    assert reg.get("forged-id").id != "forged-id"  # unknown ids never choose their own folder


def test_idle_workspaces_expire_stop_jobs_and_delete_files(tmp_path):
    reg = Registry(tmp_path, idle_seconds=60)
    ws = reg.get(None)
    (ws.dir / "upload.jpg").write_bytes(b"x")
    job = ws.train.slot.start(
        Job("t", lambda on_event, should_stop: [time.sleep(0.01) for _ in range(1000) if not should_stop()])
    )
    expired = reg.sweep(now=time.time() + 3600)
    assert expired == [ws.id]
    assert not ws.dir.exists()
    assert not job.alive
    assert len(reg) == 0


def test_a_finished_training_job_is_adopted_once_from_any_page(tmp_path):
    from types import SimpleNamespace

    reg = Registry(tmp_path)
    ws = reg.get(None)
    cfg = SimpleNamespace(backbone="efficientnet_lite0")
    metrics = SimpleNamespace(val_accuracy=1.0, stopped_early=False, rung="")
    result = SimpleNamespace(
        network=object(), config=cfg, classes=["a", "b"], metrics=metrics, val_probs=[[0.9, 0.1]], val_true=[0]
    )
    ws.train.slot.start(Job("t", lambda e, s: result)).join(5)
    assert ws.model.bundle is None
    ws.collect()  # what every page does when it reads the workspace
    assert ws.model.bundle is not None and ws.model.bundle.classes == ["a", "b"] and ws.model.result is result
    assert len(ws.model.bundle.held_out) == 1  # its validation predictions come with it (filing's claim)
    assert len(ws.train.runs) == 1
    ws.model.use_file("loaded from a file later", "other.pt")
    ws.collect()
    assert ws.model.bundle == "loaded from a file later" and len(ws.train.runs) == 1  # adopted once
