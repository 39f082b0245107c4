"""The frozen-forward runtime: ONNX Runtime must change speed only, never answers."""
from __future__ import annotations

import pytest
import torch

from core import augment, runtime
from core.backbones import build_network
from core.features import FeatureCache
from core.sort import predict_paths
from tests.conftest import make_class_folders

needs_ort = pytest.mark.skipif(not runtime.available(), reason="onnxruntime not installed")


@needs_ort
@pytest.mark.parametrize("boundary_k", [0, 1])
def test_onnx_prefix_matches_torch(boundary_k):
    net = build_network("efficientnet_lite0", 3).eval()
    b = net.boundary(boundary_k)
    x = torch.randn(5, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        ref = net.prefix(x, b)
    s = runtime.session(net, 0, b, False, x, "onnxruntime")
    assert s.engine == "onnxruntime"
    got = s.run(x)
    assert got.shape == ref.shape
    assert torch.allclose(got, ref, atol=1e-3, rtol=1e-3)


@needs_ort
def test_session_is_reused_until_weights_change():
    net = build_network("efficientnet_lite0", 2).eval()
    x = torch.randn(2, 3, 224, 224)
    s1 = runtime.session(net, 0, len(net.stages), True, x, "onnxruntime")
    assert runtime.session(net, 0, len(net.stages), True, x, "onnxruntime") is s1
    with torch.no_grad():
        net.head[1].weight.add_(1.0)  # in place, as an optimizer step would
    s2 = runtime.session(net, 0, len(net.stages), True, x, "onnxruntime")
    assert s2 is not s1
    with torch.inference_mode():
        ref = net(x)
    assert torch.allclose(s2.run(x), ref, atol=1e-3, rtol=1e-3)


def test_engine_choice_follows_size_and_setting(monkeypatch):
    monkeypatch.setenv("GS_ENGINE", "torch")
    assert not runtime.wants_onnx(10_000)
    monkeypatch.setenv("GS_ENGINE", "auto")
    assert not runtime.wants_onnx(runtime.MIN_IMAGES - 1)
    assert runtime.wants_onnx(runtime.MIN_IMAGES) == runtime.available()
    monkeypatch.setenv("GS_ENGINE", "onnxruntime")
    assert runtime.wants_onnx(1) == runtime.available()


def test_export_failure_falls_back_to_torch(monkeypatch):
    def broken(*a, **k):
        raise RuntimeError("exporter gap")

    monkeypatch.setattr(runtime, "_onnx_session", broken)
    net = build_network("efficientnet_lite0", 2).eval()
    x = torch.randn(2, 3, 224, 224)
    s = runtime.session(net, 0, len(net.stages), True, x, "onnxruntime")
    assert s.engine == "torch"
    with torch.inference_mode():
        assert torch.allclose(s.run(x), net(x))


@needs_ort
def test_features_and_predictions_agree_across_engines(tmp_path, monkeypatch, trained_bundle):
    root = make_class_folders(tmp_path / "g", n=4)
    paths = sorted(root.rglob("*.jpg"))
    bundle = trained_bundle[0]
    got = {}
    for eng in ("torch", "onnxruntime"):
        monkeypatch.setenv("GS_ENGINE", eng)
        net = build_network("efficientnet_lite0", 2)
        X, ok, _ = FeatureCache().features(net, "t", net.boundary(0), paths, "eval",
                                           lambda im: augment.eval_array(im, bundle.preprocess),
                                           bundle.preprocess.resize_to)
        preds = list(predict_paths(bundle, paths))
        got[eng] = (X, [p.label for p in preds], [p.confidence for p in preds])
    assert torch.allclose(got["torch"][0], got["onnxruntime"][0], atol=1e-3, rtol=1e-3)
    assert got["torch"][1] == got["onnxruntime"][1]
    assert got["torch"][2] == pytest.approx(got["onnxruntime"][2], abs=1e-3)
