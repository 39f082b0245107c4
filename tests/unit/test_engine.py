"""Training, feature cache, model files, prediction and sorting on a real backbone."""

from __future__ import annotations

import csv
import io
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from core.data.dataset import load_dataset
from core.data.files import list_images
from core.events import Advance, Batch, Epoch
from core.inference.placement import FilingRule, copy_out, plan, write_zip
from core.inference.sort import predict_paths
from core.models.backbones import REGISTRY, UNFREEZE_CHOICES, WeightsChoice, build_network, check_weights
from core.models.features import FeatureCache, content_key
from core.training import model_io
from core.training.config import Phase, TrainConfig
from core.training.lr_find import lr_find
from core.training.train import train
from tests.helpers.images import draw_image, make_class_folders


def test_lite0_weights_are_real_imagenet_weights():
    """A pretrained net separates classes that a random one cannot, on features alone."""
    assert check_weights("efficientnet_lite0") is None
    net = build_network("efficientnet_lite0", 2)
    state = net.stages[0][0][0].weight  # stem conv
    rand = build_network("efficientnet_lite0", 2, WeightsChoice("random"))
    assert not torch.allclose(state, rand.stages[0][0][0].weight)


def test_torchvision_backbones_without_weights_say_how_to_supply_them(tmp_path):
    msg = check_weights("resnet34")
    if msg is None:
        pytest.skip("resnet34 weights are cached on this machine")
    assert "--weights PATH" in msg and ".pth" in msg
    # a user-supplied state dict is accepted and loaded strictly
    import torchvision

    sd = torchvision.models.resnet34(weights=None).state_dict()
    torch.save(sd, tmp_path / "r34.pth")
    assert check_weights("resnet34", WeightsChoice("file", str(tmp_path / "r34.pth"))) is None
    torch.save({"nope": torch.zeros(1)}, tmp_path / "bad.pth")
    assert "does not match" in check_weights("resnet34", WeightsChoice("file", str(tmp_path / "bad.pth")))


@pytest.mark.parametrize("name", list(REGISTRY))
def test_every_registry_entry_has_consistent_stages(name):
    net = build_network(name, 3, WeightsChoice("random"))
    x = torch.randn(2, 3, 224, 224)
    with torch.inference_mode():
        full = net(x)
        for k in UNFREEZE_CHOICES.values():
            b = net.boundary(k)
            torch.testing.assert_close(net.forward_from(net.prefix(x, b), b), full, rtol=1e-4, atol=1e-4)
        feats = net.prefix(x, len(net.stages))
    assert full.shape == (2, 3)
    assert feats.shape == (2, REGISTRY[name].feature_dim)


def test_training_learns_and_reports(trained_bundle):
    bundle, result, root = trained_bundle
    assert result.metrics.val_accuracy >= 0.8
    assert result.classes == ["dots", "stripes"]
    assert len(result.history) == 8
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    assert result.val_probs.shape == (len(result.val_paths), 2)
    np.testing.assert_allclose(result.val_probs.sum(1), 1, rtol=1e-5)


def test_feature_cache_reuses_and_keys_by_content(tmp_path):
    root = make_class_folders(tmp_path / "d", n=3)
    ds = load_dataset(root, 0.34)
    cache = FeatureCache()
    cfg = TrainConfig(phases=[Phase("head only", 2, 1e-3)], augment="none")
    train(ds, cfg, cache=cache)
    n = len(cache)
    assert n == 2 * len(ds.items)  # per image: its pooled vector, and the map Better would start from
    events = []
    train(ds, cfg, cache=cache, on_event=events.append)
    assert len(cache) == n  # nothing recomputed
    assert not [e for e in events if isinstance(e, Advance) and e.step == "features" and e.done > 0]
    # changed content -> new key
    p = ds.items[0].path
    before = content_key(p)
    draw_image("plain", 99).save(p)
    assert content_key(p) != before


def test_a_runs_cached_maps_are_held_once(tmp_path):
    """The maps a fine-tuning run stacks are the cache's own entries, not a second copy."""
    from core.data.preprocess import eval_array
    from core.models.backbones import get_spec

    paths = list_images(make_class_folders(tmp_path / "d", n=3))
    cfg = TrainConfig()
    net = build_network(cfg.backbone, 2, cfg.weights_choice)
    boundary, pre = net.boundary(2), get_spec(cfg.backbone).preprocess
    cache = FeatureCache()
    args = (net, cfg.feature_tag, boundary, paths, "eval", lambda im: eval_array(im, pre), pre.resize_to)
    X, ok, _ = cache.features(*args, dtype=None)
    assert X.dim() == 4 and len(ok) == len(paths)
    base = X.untyped_storage().data_ptr()
    assert {cache._store[k].untyped_storage().data_ptr() for k in list(cache._store)} == {base}
    again, _, _ = cache.features(*args, dtype=None)  # read back from the cache: the same values
    assert torch.equal(again, X)
    as_float, _, _ = cache.features(*args)  # a float32 copy for callers that may write into it
    assert as_float.untyped_storage().data_ptr() != again.untyped_storage().data_ptr()
    pooled = (net, cfg.feature_tag, net.boundary(0), paths, "eval", lambda im: eval_array(im, pre), pre.resize_to)
    P, _, _ = cache.features(*pooled, dtype=None)  # Quick's pooled features: held once as well
    assert (
        P.dim() == 2
        and cache._store[(cfg.feature_tag, net.boundary(0), "eval", content_key(paths[0]))].untyped_storage().data_ptr()
        == P.untyped_storage().data_ptr()
    )
    copy, _, _ = cache.features(*pooled)
    copy += 1  # a caller given a float32 copy may write into it: the cache is untouched
    assert torch.equal(cache.features(*pooled, dtype=None)[0], P)


def test_partial_unfreeze_and_two_phase_recipe_train(tmp_path):
    ds = load_dataset(make_class_folders(tmp_path / "d", n=6), 0.34)
    cfg = TrainConfig(
        phases=[Phase("last block + head", 2, 1e-3), Phase("head only", 1, 1e-3)], augment="light", views=2
    )
    events = []
    r = train(ds, cfg, on_event=events.append)
    assert [h["phase"] for h in r.history] == [1, 1, 2]
    assert "frozen part" in r.path_in_use
    assert any(isinstance(e, Batch) for e in events)


def test_stop_keeps_best_epoch_so_far(tmp_path):
    ds = load_dataset(make_class_folders(tmp_path / "d", n=4), 0.25)
    seen = []

    def on_event(e):
        seen.append(e)

    stop = lambda: sum(1 for e in seen if isinstance(e, Epoch)) >= 2  # noqa: E731
    r = train(
        ds, TrainConfig(phases=[Phase("head only", 50, 1e-3)], augment="none"), on_event=on_event, should_stop=stop
    )
    assert r.metrics.stopped_early and r.metrics.epochs <= 3


def test_lr_finder_suggests_a_learning_rate(tmp_path):
    ds = load_dataset(make_class_folders(tmp_path / "d", n=6), 0.2)
    out = lr_find(ds, TrainConfig(augment="none"), steps=40)
    assert len(out.lrs) == len(out.losses) > 10
    assert out.lrs[0] <= out.suggestion <= out.lrs[-1]


def test_bundle_round_trip_preserves_predictions(trained_bundle, tmp_path):
    bundle, result, root = trained_bundle
    model_io.save_dir(bundle, tmp_path / "m")
    again = model_io.load(tmp_path / "m")
    assert again.classes == bundle.classes and again.backbone == bundle.backbone
    x = torch.randn(2, 3, 224, 224)
    with torch.inference_mode():
        torch.testing.assert_close(again.network(x), bundle.network(x))


class _Evil:
    def __reduce__(self):
        import os

        return (os.system, ("touch /tmp/gs_pwned",))


def test_malicious_pickle_is_refused_without_running(tmp_path):
    marker = Path("/tmp/gs_pwned")
    marker.unlink(missing_ok=True)
    payload = pickle.dumps({"meta_json": "{}", "state_dict": _Evil()})
    with pytest.raises(model_io.ModelFileError, match="not a Gallery Sorter model file"):
        model_io.from_bytes(payload)
    buf = io.BytesIO()
    torch.save({"meta_json": "{}", "state_dict": _Evil()}, buf)
    with pytest.raises(model_io.ModelFileError, match="refused for safety"):
        model_io.from_bytes(buf.getvalue())
    assert not marker.exists()
    with pytest.raises(model_io.ModelFileError, match="unreadable or damaged"):
        model_io.from_bytes(b"garbage")


def test_sorting_copies_never_moves_and_writes_csv(trained_bundle, tmp_path):
    bundle, _, _ = trained_bundle
    gallery = tmp_path / "gallery"
    (gallery / "sub").mkdir(parents=True)
    for k in range(3):
        draw_image("stripes", 500 + k).save(gallery / f"s{k}.jpg")
        draw_image("dots", 600 + k).save(gallery / f"d{k}.jpg")
    draw_image("dots", 700).save(gallery / "sub" / "d0.jpg")  # same name, other folder
    (gallery / "broken.jpg").write_bytes(b"\xff\xd8 truncated")
    before = {p: p.read_bytes() for p in gallery.rglob("*") if p.is_file()}
    preds = list(predict_paths(bundle, list_images(gallery), batch_size=4))
    assert len(preds) == 8 and sum(p.error is not None for p in preds) == 1
    counts = copy_out(plan(preds, tmp_path / "out", FilingRule(0.0), root=gallery))
    assert sum(counts.values()) == 7
    assert {p: p.read_bytes() for p in gallery.rglob("*") if p.is_file()} == before
    out_files = list((tmp_path / "out").rglob("*.jpg"))
    assert len(out_files) == 7
    rows = list(csv.DictReader(open(tmp_path / "out" / "predictions.csv")))
    assert len(rows) == 8
    good = [r for r in rows if not r["error"]]
    acc = np.mean([r["class"] == ("stripes" if Path(r["path"]).name.startswith("s") else "dots") for r in good])
    assert acc >= 0.8
    assert all(0 <= float(r["confidence"]) <= 1 for r in good)


def test_zip_export_layout_with_threshold_and_override(trained_bundle, tmp_path):
    bundle, _, _ = trained_bundle
    for k in range(4):
        draw_image("stripes", 800 + k).save(tmp_path / f"s{k}.jpg")
    paths = sorted(tmp_path.glob("*.jpg"))
    preds = list(predict_paths(bundle, paths))
    buf = io.BytesIO()
    counts = write_zip(plan(preds, None, FilingRule(1.01, {paths[0]: "dots"})), buf)
    zf = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    names = zf.namelist()
    assert "predictions.csv" in names
    assert "dots/s0.jpg" in names
    assert sum(n.startswith("unsure/") for n in names) == 3  # nothing reaches 101 % confidence
    assert counts == {"dots": 1, "unsure": 3}
    rows = {r["path"]: r for r in csv.DictReader(io.StringIO(zf.read("predictions.csv").decode()))}
    assert {p: r["decided_by"] for p, r in rows.items()} == {
        "s0.jpg": "you",
        "s1.jpg": "model",
        "s2.jpg": "model",
        "s3.jpg": "model",
    }


def test_augmented_training_repeats_exactly_with_the_same_seed(tmp_path):
    """Views are decoded on several threads in any order; the same seed must still give the same run."""
    root = make_class_folders(tmp_path / "d", n=8)
    ds = load_dataset(root, val_fraction=0.25, seed=0)
    runs = []
    for seed in (3, 3, 4):
        cfg = TrainConfig(phases=[Phase("head only", 3, 3e-3)], augment="light", views=2, seed=seed)
        r = train(ds, cfg, FeatureCache())
        runs.append([h["train_loss"] for h in r.history])
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]
