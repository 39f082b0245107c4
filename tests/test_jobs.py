"""Background jobs and per-session workspaces."""
from __future__ import annotations

import threading
import time

import pytest

from core.jobs import Job
from core.workspace import Registry


def test_job_runs_in_background_and_snapshots_progress():
    gate = threading.Event()

    def work(on_event, should_stop):
        on_event({"type": "epoch", "epoch": 1, "train_loss": 1.0, "train_acc": 0.5, "val_loss": 1.0, "val_acc": 0.5})
        gate.wait(5)
        return 42

    job = Job("t", work, total_epochs=2).start()
    deadline = time.time() + 5
    while not job.snapshot().epochs and time.time() < deadline:
        time.sleep(0.01)
    snap = job.snapshot()
    assert snap.state == "running" and len(snap.epochs) == 1 and snap.progress == pytest.approx(0.5)
    gate.set()
    assert job.join(5)
    assert job.snapshot().state == "done" and job.result == 42


def test_training_progress_counts_feature_work_so_the_bar_never_stalls():
    """5 augmented views over 30 epochs: a view is computed at each of epochs 1-5. Counting epochs only,
    the bar sat still (and the ETA grew) while views 2-5 were computed."""
    job = Job("t", lambda on_event, should_stop: None, total_epochs=30)
    n_train, n_val = 100, 20
    job._on_event({"type": "plan", "feature_images": n_val + 5 * n_train, "feature_share": 0.9})
    seen = []

    def epoch(k: int) -> None:
        if k <= 5:
            for done in (50, 100):
                job._on_event({"type": "cache", "what": f"training view {k}/5", "done": done, "total": n_train})
        if k == 1:
            job._on_event({"type": "cache", "what": "validation", "done": n_val, "total": n_val})
        job._on_event({"type": "batch", "epoch": k, "batch": 1, "batches": 1, "loss": 1.0, "lr": 1e-3})
        job._on_event({"type": "epoch", "epoch": k, "train_loss": 1.0, "train_acc": 0.5, "val_loss": 1.0,
                       "val_acc": 0.5})
        seen.append(job.snapshot().progress)

    for k in range(1, 31):
        epoch(k)
    steps = [b - a for a, b in zip(seen, seen[1:5])]
    assert min(steps) > 0.15, seen[:6]  # each of views 2-5 moves the bar about a fifth of the way
    assert all(b >= a for a, b in zip(seen, seen[1:])) and seen[-1] == pytest.approx(1.0)
    assert seen[4] > 0.85  # once the features are in, the cheap epochs are the last tenth
    assert job.snapshot().progress_text == "Epoch 30/30, batch 1/1"


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
    a.excluded.add(tmp_path / "x.jpg")
    assert not b.excluded
    assert reg.get(a.id) is a  # a browser refresh finds its workspace
    assert reg.get("forged-id").id != "forged-id"  # unknown ids never choose their own folder


def test_idle_workspaces_expire_stop_jobs_and_delete_files(tmp_path):
    reg = Registry(tmp_path, idle_seconds=60)
    ws = reg.get(None)
    (ws.dir / "upload.jpg").write_bytes(b"x")
    ws.job = Job("t", lambda on_event, should_stop: [time.sleep(0.01) for _ in range(1000) if not should_stop()]).start()
    expired = reg.sweep(now=time.time() + 3600)
    assert expired == [ws.id]
    assert not ws.dir.exists()
    assert not ws.job.alive
    assert len(reg) == 0


def test_a_finished_training_job_is_adopted_once_from_any_page(tmp_path):
    from types import SimpleNamespace

    reg = Registry(tmp_path)
    ws = reg.get(None)
    cfg = SimpleNamespace(backbone="efficientnet_lite0", to_dict=lambda: {"seed": 0})
    result = SimpleNamespace(network=object(), config=cfg, classes=["a", "b"], metrics={"val_accuracy": 1.0})
    ws.job = Job("t", lambda e, s: result).start()
    ws.job.join(5)
    assert ws.bundle is None
    ws.collect()  # what every page does when it reads the workspace
    assert ws.bundle is not None and ws.bundle.classes == ["a", "b"] and ws.train_result is result
    ws.bundle = "loaded from a file later"
    ws.collect()
    assert ws.bundle == "loaded from a file later"  # the same job is not adopted twice
