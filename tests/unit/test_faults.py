"""Faults a user can cause or meet: stop at any moment, a failing thread, a full disk."""

from __future__ import annotations

import errno
import shutil

import pytest

from core import cli
from core.data.dataset import load_dataset
from core.data.files import list_images
from core.events import Advance, Stopped
from core.inference.placement import FilingRule, copy_out, plan
from core.inference.sort import predict_paths
from core.session.jobs import Job
from core.training import model_io
from core.training.config import Phase, TrainConfig
from core.training.train import train
from tests.helpers.images import draw_image, make_class_folders


def test_stop_during_feature_caching_ends_cleanly(tmp_path):
    ds = load_dataset(make_class_folders(tmp_path / "d", n=40), 0.2)
    seen = []
    jobs = []

    def on_event(e):
        seen.append(e)
        if isinstance(e, Advance) and e.step == "features" and e.done > 0:
            jobs[0].stop()  # the user presses Stop while features are being computed

    jobs.append(Job("t", lambda _e, should_stop: train(ds, TrainConfig(augment="none"), None, on_event, should_stop)))
    job = jobs[0].start()
    assert job.join(120)
    snap = job.snapshot()
    assert snap.state == "stopped" and snap.error is None
    done = [e.done for e in seen if isinstance(e, Advance) and e.step == "features"]
    assert max(done) < len(ds.split_items("train"))  # it did not finish caching first


def test_stop_during_sorting(trained_bundle, tmp_path):
    bundle = trained_bundle[0]
    for k in range(40):
        draw_image("dots", 2000 + k, size=64).save(tmp_path / f"{k}.jpg")
    calls = {"n": 0}

    def should_stop():
        calls["n"] += 1
        return calls["n"] > 1

    with pytest.raises(Stopped):
        list(predict_paths(bundle, list_images(tmp_path), batch_size=8, should_stop=should_stop))


def test_failing_training_thread_is_reported_and_the_next_run_works(tmp_path, monkeypatch):
    ds = load_dataset(make_class_folders(tmp_path / "d", n=4), 0.25)
    import core.training.train as tr

    real = tr.build_network
    monkeypatch.setattr(tr, "build_network", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("out of memory")))
    job = Job("t", lambda e, s: tr.train(ds, TrainConfig(augment="none"), None, e, s)).start()
    job.join(60)
    snap = job.snapshot()
    assert snap.state == "failed" and "out of memory" in snap.error
    monkeypatch.setattr(tr, "build_network", real)
    again = Job(
        "t", lambda e, s: tr.train(ds, TrainConfig(phases=[Phase("head only", 1, 1e-3)], augment="none"), None, e, s)
    ).start()
    again.join(120)
    assert again.snapshot().state == "done"


def test_disk_full_while_copying_is_a_clean_cli_error(trained_bundle, tmp_path, monkeypatch, capsys):
    bundle = trained_bundle[0]
    model_io.save_dir(bundle, tmp_path / "m")
    gallery = tmp_path / "g"
    gallery.mkdir()
    for k in range(3):
        draw_image("stripes", 3000 + k).save(gallery / f"{k}.jpg")

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(shutil, "copy2", full)
    code = cli.main(["-q", "sort", str(tmp_path / "m"), str(gallery), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "No space left on device" in err and "Traceback" not in err
    assert sorted(p.name for p in gallery.iterdir()) == ["0.jpg", "1.jpg", "2.jpg"]


def test_disk_full_while_copying_out_raises_oserror_for_the_page(trained_bundle, tmp_path, monkeypatch):
    bundle = trained_bundle[0]
    draw_image("dots", 1).save(tmp_path / "a.jpg")
    preds = list(predict_paths(bundle, [tmp_path / "a.jpg"]))
    monkeypatch.setattr(shutil, "copy2", lambda *a, **k: (_ for _ in ()).throw(OSError(errno.ENOSPC, "No space")))
    with pytest.raises(OSError):
        copy_out(plan(preds, tmp_path / "out", FilingRule()))
