"""Grad-CAM: every registry backbone, every method, frozen weights, targets, cache, CLI."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from core.analysis.explain import (
    CLASS_AGNOSTIC,
    METHODS,
    SLOW,
    CamCache,
    Explainer,
    cache_key,
    explain_paths,
    side_by_side,
)
from core.data.preprocess import Preprocess
from core.models.backbones import Network, Pool, WeightsChoice, build_network, get_spec
from tests.helpers.images import draw_image


def assert_useful_map(h: np.ndarray, size: int) -> None:
    assert h.shape == (size, size)
    assert h.dtype == np.float32
    assert h.min() >= 0.0 and h.max() <= 1.0
    assert h.std() > 0.02, "heatmap is (nearly) constant"


@pytest.fixture(scope="module")
def lite0(trained_bundle):
    bundle, _, _ = trained_bundle
    return Explainer.from_bundle(bundle), bundle


def tiny_network(n_classes: int = 2) -> Network:
    """Eight channels at the CAM layer: lets ScoreCAM (one forward per channel) run in a test."""
    torch.manual_seed(0)
    stages = [
        nn.Sequential(nn.Conv2d(3, 8, 3, stride=4, padding=1), nn.ReLU()),
        nn.Sequential(nn.Conv2d(8, 8, 3, stride=2, padding=1), nn.ReLU()),
        Pool(),
    ]
    net = Network(stages, 8, n_classes).eval()
    net.requires_grad_(False)
    return net


def test_lite0_map_on_the_model_crop_with_frozen_weights(lite0):
    ex, bundle = lite0
    net = bundle.network
    assert not any(p.requires_grad for p in net.parameters()), "the fixture's model must be frozen"
    images = [draw_image("stripes", 1, size=200), draw_image("dots", 2, size=300)]
    out = ex.explain(images, "gradcam")
    assert len(out) == 2
    size = bundle.preprocess.size
    for e in out:
        assert_useful_map(e.heatmap, size)
        assert e.image.size == e.overlay.size == (size, size)
        assert e.target == e.pred and abs(e.probs.sum() - 1) < 1e-4
    # the shared network is untouched: still frozen, no hooks left behind
    assert not any(p.requires_grad for p in net.parameters())
    assert not net.cam_layer._forward_hooks and not net.cam_layer._backward_hooks
    # probabilities are those of the normal forward pass
    from core.data.preprocess import eval_array

    x = torch.from_numpy(np.stack([eval_array(im, bundle.preprocess) for im in images]))
    with torch.inference_mode():
        ref = net(x).softmax(1).numpy()
    assert np.allclose(ref, np.stack([e.probs for e in out]), atol=1e-4)


def test_frozen_network_gives_plain_grad_cam_no_gradient(trained_bundle):
    """Why the Explainer exists: pytorch-grad-cam on the frozen network has nothing to read."""
    from pytorch_grad_cam import GradCAM

    net = copy.deepcopy(trained_bundle[0].network)
    with pytest.raises(RuntimeError, match="does not require grad"):
        with GradCAM(model=net, target_layers=[net.cam_layer]) as cam:
            cam(input_tensor=torch.rand(1, 3, 224, 224), targets=None)


@pytest.mark.parametrize("name", ["mobilenet_v2", "resnet18"])
def test_random_weight_backbones(name):
    torch.manual_seed(0)
    net = build_network(name, 3, WeightsChoice("random"))
    net.requires_grad_(False)
    ex = Explainer(net, ["a", "b", "c"], get_spec(name).preprocess)
    (e,) = ex.explain([draw_image("dots", 5, size=240)], "gradcam")
    assert_useful_map(e.heatmap, get_spec(name).preprocess.size)


def test_every_registry_backbone_has_a_cam_layer_that_explains():
    """Cheap structural check for all backbones (random weights, 64 px)."""
    from core.models.backbones import REGISTRY

    for name in REGISTRY:
        net = build_network(name, 2, load_backbone=False)  # the architecture's own random init
        net.requires_grad_(False)
        ex = Explainer(net, ["a", "b"], get_spec(name).preprocess)
        heat, probs, _ = ex.heatmaps(torch.rand(1, 3, 96, 96), "gradcam")
        assert heat.shape == (1, 96, 96) and probs.shape == (1, 2), name


@pytest.mark.parametrize("method", [m for m in METHODS if m not in SLOW])
def test_methods_on_lite0(lite0, method):
    ex, bundle = lite0
    (e,) = ex.explain([draw_image("stripes", 7, size=160)], method)
    assert_useful_map(e.heatmap, bundle.preprocess.size)
    assert e.method == method


@pytest.mark.parametrize("method", list(METHODS))
def test_all_methods_run_on_a_tiny_network(method):
    ex = Explainer(tiny_network(), ["a", "b"], Preprocess(64, (0.5,) * 3, (0.5,) * 3))
    heat, probs, explained = ex.heatmaps(torch.rand(2, 3, 64, 64), method, batch_size=1, score_batch=4)
    assert heat.shape == (2, 64, 64) and heat.min() >= 0 and heat.max() <= 1
    assert probs.shape == (2, 2)


def test_target_class_changes_the_map(lite0):
    ex, _ = lite0
    img = draw_image("stripes", 3, size=200)
    (a,) = ex.explain([img], "gradcam", targets=0)
    (b,) = ex.explain([img], "gradcam", targets=1)
    assert (a.target, b.target) == (0, 1)
    assert np.abs(a.heatmap - b.heatmap).mean() > 0.05
    # one call, per-image targets: "predicted" and a fixed class side by side
    mixed = ex.explain([img, img], "gradcam", targets=[None, 1])
    assert mixed[0].target == mixed[0].pred and mixed[1].target == 1
    assert np.allclose(mixed[1].heatmap, b.heatmap, atol=1e-4)
    assert ex.class_index("dots") == ex.classes.index("dots") and ex.class_index(None) is None
    with pytest.raises(ValueError):
        ex.class_index("cats")


def test_eigencam_is_class_agnostic(lite0):
    ex, _ = lite0
    assert "eigencam" in CLASS_AGNOSTIC
    img = draw_image("dots", 4)
    (a,) = ex.explain([img], "eigencam", targets=0)
    (b,) = ex.explain([img], "eigencam", targets=1)
    assert np.allclose(a.heatmap, b.heatmap)


def test_thin_eigencam_matches_the_library_projection():
    from pytorch_grad_cam.utils.svd_on_activations import get_2d_projection

    from core.analysis.explain import ThinEigenCAM

    a = np.random.default_rng(0).random((2, 64, 7, 7)).astype(np.float32)
    ref = get_2d_projection(a)
    mine = ThinEigenCAM.get_cam_image(None, None, None, None, a, None)
    for r_, m_ in zip(ref, mine):  # equal up to the (arbitrary) sign of the singular vector
        assert np.allclose(r_, m_, atol=1e-3) or np.allclose(r_, -m_, atol=1e-3)


def test_explain_paths_uses_the_cache_and_reports_bad_files(lite0, tmp_path, monkeypatch):
    ex, _ = lite0
    good = [tmp_path / "a.jpg", tmp_path / "b.png"]
    draw_image("stripes", 1).save(good[0])
    draw_image("dots", 2).save(good[1])
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not an image")
    cache = CamCache(maxsize=8)
    out = explain_paths(ex, [good[0], bad, good[1]], "gradcam", None, cache)
    assert not out[1].ok and "broken.jpg" in out[1].problem
    assert all(out[i].ok and out[i].explanation.heatmap is not None for i in (0, 2))
    assert len(cache) == 2 and cache_key(ex, good[0], "gradcam", None) in cache

    def boom(*a, **k):
        raise AssertionError("should have come from the cache")

    monkeypatch.setattr(ex, "explain", boom)
    again = explain_paths(ex, good, "gradcam", None, cache)
    assert again[0].explanation is out[0].explanation and again[1].explanation is out[2].explanation


def test_cam_cache_is_a_bounded_lru():
    c = CamCache(maxsize=2)
    c.put("a", 1)
    c.put("b", 2)
    assert c.get("a") == 1  # a is now the most recent
    c.put("c", 3)
    assert "b" not in c and "a" in c and "c" in c and len(c) == 2


def test_side_by_side():
    a, b = Image.new("RGB", (10, 8)), Image.new("RGB", (10, 8))
    assert side_by_side(a, b, gap=2).size == (22, 8)


def test_cli_cam_writes_a_png(trained_bundle, tmp_path, capsys):
    from core.cli import CAM_METHODS, main
    from core.training import model_io

    assert tuple(METHODS) == CAM_METHODS
    bundle, _, root = trained_bundle
    model_io.save_dir(bundle, tmp_path / "model")
    image = sorted((root / "dots").glob("*.jpg"))[0]
    out = tmp_path / "cams" / "overlay.png"
    rc = main(
        [
            "cam",
            str(tmp_path / "model"),
            str(image),
            "--target-class",
            "stripes",
            "--out",
            str(out),
            "--heatmap",
            str(tmp_path / "heat.png"),
        ]
    )
    assert rc == 0
    with Image.open(out) as im:
        size = bundle.preprocess.size
        assert im.format == "PNG" and im.size == (size, size)
    assert "for class stripes" in capsys.readouterr().out
    assert (tmp_path / "heat.png").is_file()
    assert main(["cam", str(tmp_path / "model"), str(image), "--method", "nope", "--out", str(out)]) == 2
    assert main(["cam", str(tmp_path / "model"), str(image), "--target-class", "cats", "--out", str(out)]) == 2
    assert main(["cam", str(tmp_path / "model"), str(tmp_path / "missing.jpg"), "--out", str(out)]) == 2
