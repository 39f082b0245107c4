"""Models that read the text on photos: trained, saved, sorted, re-sorted, exported and explained alike."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from core.analysis.explain import Explainer, draw_text_lines, explain_paths
from core.data.dataset import load_dataset
from core.inference.export import export
from core.inference.sort import predict_paths
from core.inference.teach import build_teacher
from core.models import text_layout
from core.models.features import FeatureCache
from core.training import model_io
from core.training.ladder import LadderRequest, climb
from tests.helpers.images import ROOT, make_class_folders, meme, photo_like


@pytest.fixture(scope="module")
def gallery(tmp_path_factory):
    g = tmp_path_factory.mktemp("gallery")
    paths = []
    for k in range(4):
        meme(500 + k, top="WHEN THE TEST", bottom="PASSES FIRST TIME").save(g / f"m{k}.jpg")
        photo_like(600 + k, 480).resize((480, 360)).save(g / f"p{k}.jpg")
        paths += [g / f"m{k}.jpg", g / f"p{k}.jpg"]
    return g, paths


def test_the_model_file_records_the_text_and_old_files_still_load(text_bundle, trained_bundle, tmp_path):
    bundle, result, _ = text_bundle
    assert bundle.reads_text and result.metrics.text.startswith("reads the text")
    again = model_io.from_bytes(model_io.to_bytes(bundle))
    assert again.reads_text and again.network.text_dim == text_layout.DIM
    torch.testing.assert_close(again.network.text_scale, bundle.network.text_scale)
    # the validation predictions travel in the file: a sort from the CLI can certify its precision
    assert again.held_out is not None and len(again.held_out) == len(result.val_true)
    np.testing.assert_allclose(again.held_out.probs, result.val_probs, atol=1e-6)
    # a file written before text layouts existed: no "text" entry, a pixels-only head
    obj = torch.load(__import__("io").BytesIO(model_io.to_bytes(trained_bundle[0])), weights_only=True)
    meta = json.loads(obj["meta_json"])
    meta.pop("text")
    meta["config"].pop("text")
    path = tmp_path / "old.pt"
    torch.save({"meta_json": json.dumps(meta), "state_dict": obj["state_dict"]}, path)
    old = model_io.load(path)
    assert not old.reads_text and old.config.text is False
    assert old.held_out is None  # nothing to certify with: its sorts say so


def test_a_file_with_another_descriptor_version_is_refused_clearly(text_bundle, tmp_path):
    obj = torch.load(__import__("io").BytesIO(model_io.to_bytes(text_bundle[0])), weights_only=True)
    meta = json.loads(obj["meta_json"])
    meta["text"]["version"] = text_layout.VERSION + 1
    with pytest.raises(model_io.ModelFileError, match="retrain"):
        model_io.from_bytes(_bytes({"meta_json": json.dumps(meta), "state_dict": obj["state_dict"]}))


def _bytes(obj) -> bytes:
    import io

    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def test_sort_page_cli_and_onnx_export_agree_on_every_photo(text_bundle, gallery, tmp_path):
    bundle, _, _ = text_bundle
    g, paths = gallery
    model_dir = tmp_path / "m"
    model_io.save_dir(bundle, model_dir)
    # the Sort page: the teacher's first scores, from the kept features and layouts
    teacher, failures = build_teacher(bundle, paths, FeatureCache())
    page = {p.path.name: p.label for p in teacher.predictions()}
    assert not failures and len(page) == len(paths)
    # the engine's streaming sort (what the CLI runs)
    stream = {p.path.name: p.label for p in predict_paths(bundle, paths)}
    assert stream == page
    # the CLI itself
    out = tmp_path / "sorted"
    subprocess.run(
        [sys.executable, "-m", "core", "sort", str(model_dir), str(g), "--out", str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=300,
    )
    with open(out / "predictions.csv") as f:
        cli = {r["path"]: r["class"] for r in csv.DictReader(f)}
    assert cli == page
    # an ONNX export, fed the same layouts the engine computes
    report = export(bundle, "onnx", tmp_path / "onnx", paths[:3])
    assert report.ok and "text detector is not part of this file" in report.note
    import onnxruntime as ort

    from core.data.images import load_rgb
    from core.data.preprocess import eval_array

    sess = ort.InferenceSession(str(tmp_path / "onnx" / "model.onnx"), providers=["CPUExecutionProvider"])
    pre = bundle.preprocess
    imgs = [load_rgb(p, min_side=pre.resize_to) for p in paths]
    x = np.stack([eval_array(im, pre) for im in imgs])
    t = np.stack([text_layout.detect_layout(im).vector for im in imgs])
    logits = sess.run(["logits"], {"input": x, "text_layout": t})[0]
    onnx_labels = {p.name: bundle.classes[k] for p, k in zip(paths, logits.argmax(1))}
    assert onnx_labels == page
    meta = json.loads((tmp_path / "onnx" / "classes.json").read_text())
    assert meta["text_layout"]["names"] == list(text_layout.NAMES)


def test_a_re_sort_with_corrections_keeps_reading_text(text_bundle, gallery):
    bundle, result, root = text_bundle
    _, paths = gallery
    train = [(p, p.parent.name) for p in sorted(root.rglob("*.jpg"))]
    teacher, _ = build_teacher(bundle, paths, FeatureCache(), train=train)
    assert teacher.X.shape[1] == bundle.network.head[-1].in_features  # CNN features + scaled layout
    wrong = next(p for p in teacher.predictions() if p.label is not None)
    other = next(c for c in bundle.classes if c != wrong.label)
    preds = teacher.resort({wrong.path: other})
    assert {p.path for p in preds} == set(teacher.paths)


def test_grad_cam_explains_a_text_model_and_shows_the_lines_it_read(text_bundle, gallery):
    bundle, _, _ = text_bundle
    _, paths = gallery
    ex = Explainer.from_bundle(bundle)
    (res,) = explain_paths(ex, [paths[0]])
    assert res.ok and res.explanation.text is not None
    assert len(res.explanation.text.boxes) >= 2 and "caption bands" in res.explanation.text.summary()
    assert res.explanation.heatmap.shape == (bundle.preprocess.size, bundle.preprocess.size)
    pic = draw_text_lines(paths[0], res.explanation.text, 200)
    assert max(pic.size) == 200
    # Score-CAM runs masked copies of one image: they share its layout (64 px keeps this quick)
    heat, probs, _ = ex.heatmaps(
        torch.rand(1, 3, 64, 64), "scorecam", score_batch=8, text=torch.rand(1, text_layout.DIM)
    )
    assert heat.shape == (1, 64, 64) and probs.shape == (1, 2)


def test_automatic_drops_text_that_does_not_help_and_says_so(tmp_path):
    root = make_class_folders(tmp_path / "plain", n=10)  # stripes vs dots: no writing anywhere
    ds = load_dataset(root, val_fraction=0.3, seed=0)
    ladder = climb(ds, LadderRequest("quick"), FeatureCache())
    kept = ladder.best
    assert kept.network.text_dim == 0 and kept.config.text is False
    assert "did not improve" in kept.metrics.text


def test_the_text_switch_off_trains_pixels_only(tmp_path):
    ds = load_dataset(make_class_folders(tmp_path / "d", n=8), val_fraction=0.25, seed=0)
    ladder = climb(ds, LadderRequest("quick", text=False), FeatureCache())
    assert ladder.best.network.text_dim == 0 and ladder.best.metrics.text == "pixels only"
