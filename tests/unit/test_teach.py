"""Teach by fixing: corrections retrain the head on kept features and re-sort the gallery without decoding it."""

from __future__ import annotations

import numpy as np

from core.data.dataset import load_dataset
from core.inference.placement import FilingRule
from core.inference.teach import build_teacher, next_to_check, trunk_tag
from core.models.features import FeatureCache
from core.training.config import Phase, TrainConfig
from core.training.model_io import ModelBundle
from core.training.train import train
from tests.helpers.images import draw_image, make_class_folders


def test_corrections_re_sort_the_whole_gallery_without_decoding_it(tmp_path, monkeypatch):
    cache = FeatureCache()
    root = make_class_folders(tmp_path / "d", classes=("stripes", "dots", "plain"), n=4)
    ds = load_dataset(root, val_fraction=0.25, seed=0)
    result = train(ds, TrainConfig(phases=[Phase("head only", 2, 1e-4)], augment="none"), cache)  # barely trained
    bundle = ModelBundle.from_result(result)
    assert trunk_tag(bundle) == result.config.feature_tag  # head only: the gallery shares the training cache
    gallery = tmp_path / "g"
    gallery.mkdir()
    truth = {}
    for k in range(30):
        kind = ("stripes", "dots", "plain")[k % 3]
        p = gallery / f"{kind}_{k:02d}.jpg"
        draw_image(kind, 9000 + k).save(p)
        truth[p] = kind
    train_items = [(i.path, i.label) for i in ds.split_items("train")]
    val_items = [(i.path, i.label) for i in ds.split_items("val")]
    teacher, failures = build_teacher(bundle, sorted(truth), cache, train_items, val_items)
    assert not failures and len(teacher.paths) == 30
    before = teacher.predictions()
    acc0 = np.mean([p.label == truth[p.path] for p in before])

    import core.data.images as images

    def no_decoding(*a, **k):
        raise AssertionError("a re-sort must not decode any image")

    monkeypatch.setattr(images, "load_rgb", no_decoding)
    monkeypatch.setattr("core.models.features.load_rgb", no_decoding)
    labels = {}
    for _ in range(3):
        batch = next_to_check(before, teacher.X, labels, k=4)
        assert len(batch) == len(set(batch)) == 4 and not any(before[i].path in labels for i in batch)
        for i in batch:
            labels[before[i].path] = truth[before[i].path]  # the user says what each one is
        before = teacher.resort(labels)
    acc1 = np.mean([p.label == truth[p.path] for p in before])
    assert acc1 >= acc0 and acc1 >= 0.9, (acc0, acc1)
    assert all(p.calibrated is not None and 0 <= p.calibrated <= 1 for p in before)
    est = teacher.estimate(before, labels, FilingRule(0.9, labels))
    assert est.checked == 12 and est.filed + est.unsure == 18


def test_what_to_check_next_skips_bursts_and_spreads_over_classes():
    from core.inference.sort import Prediction

    rng = np.random.default_rng(0)
    burst = rng.normal(0, 1, 64)
    X = np.stack([burst + rng.normal(0, 0.01, 64) for _ in range(10)] + [rng.normal(0, 1, 64) for _ in range(10)])
    preds = []
    for i in range(20):  # the burst is the least certain of all; the others a little more certain
        m = 0.01 if i < 10 else 0.05 + 0.01 * i
        cls = "a" if i < 10 else ("b", "c")[i % 2]
        other = "b" if cls == "a" else "a"
        preds.append(Prediction(f"p{i}.jpg", cls, 0.5 + m / 2, [(cls, 0.5 + m / 2), (other, 0.5 - m / 2)]))
    picked = next_to_check(preds, X, {}, k=5)
    assert sum(1 for i in picked if i < 10) == 1  # one shot of the burst, not five
    assert {preds[i].label for i in picked} == {"a", "b", "c"}


def test_cli_precision_target_and_extra_labels(trained_bundle, tmp_path, capsys):
    import csv
    import json

    from core.cli import main
    from core.data.decisions import KEEP, MOVE, Decisions, to_csv
    from core.training import model_io

    model = model_io.save_dir(trained_bundle[0], tmp_path / "m").parent
    gallery = tmp_path / "gallery"
    gallery.mkdir()
    for k in range(8):
        draw_image("stripes" if k % 2 else "dots", 7700 + k).save(gallery / f"g{k}.jpg")
    assert main(["sort", str(model), str(gallery), "--out", str(tmp_path / "out"), "--precision", "0.97"]) == 0
    rows = list(csv.DictReader(open(tmp_path / "out" / "predictions.csv")))
    assert len(rows) == 8 and all(r["calibrated"] for r in rows)
    for r in rows:
        assert (r["folder"] == "unsure") == (float(r["calibrated"]) < 0.97)
    assert main(["sort", str(model), str(gallery), "--out", str(tmp_path / "o2"), "--precision", "1.5"]) == 2
    assert "between 0.5 and 1" in capsys.readouterr().err

    d = Decisions()  # what the Sort page exports: two corrections and a confirmation
    d.decide(gallery / "g0.jpg", MOVE, "stripes", "dots")
    d.decide(gallery / "g1.jpg", MOVE, "dots", "stripes")
    d.decide(gallery / "g2.jpg", KEEP, "dots")
    (tmp_path / "corrections.csv").write_text(to_csv(d))
    data = make_class_folders(tmp_path / "data", n=5)
    assert (
        main(
            [
                "train",
                str(data),
                "--out",
                str(tmp_path / "m2"),
                "--epochs",
                "2",
                "--extra-labels",
                str(tmp_path / "corrections.csv"),
            ]
        )
        == 0
    )
    metrics = json.loads((tmp_path / "m2" / "metrics.json").read_text())
    assert metrics["n_train"] == 8 + 3  # 10 images at an 80/20 split, plus the three labelled photos
    assert "3 labelled photos added" in capsys.readouterr().err
