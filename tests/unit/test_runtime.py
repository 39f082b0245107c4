"""The frozen-forward runtime: ONNX Runtime must change speed only, never answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.data.images import load_rgb
from core.data.preprocess import eval_array
from core.inference.sort import predict_paths
from core.models import runtime
from core.models.backbones import build_network
from core.models.features import FeatureCache
from tests.helpers.images import make_class_folders

needs_ort = pytest.mark.skipif(not runtime.available(), reason="onnxruntime not installed")


@pytest.fixture
def exports(monkeypatch) -> list[int]:
    """A cache with nothing exported yet; the list grows by one per ONNX export."""
    calls: list[int] = []
    real = runtime._onnx_session
    monkeypatch.setattr(runtime, "_onnx_session", lambda part, ex: calls.append(1) or real(part, ex))
    monkeypatch.setattr(runtime, "_onnx", type(runtime._onnx)())
    monkeypatch.setattr(runtime, "_warming", set())
    return calls


@needs_ort
@pytest.mark.parametrize("boundary_k", [0, 1])
def test_onnx_prefix_matches_torch(boundary_k):
    net = build_network("efficientnet_lite0", 3).eval()
    b = net.boundary(boundary_k)
    x = torch.randn(runtime.ORT_BATCH + 3, 3, 224, 224, generator=torch.Generator().manual_seed(0))  # 2 runs
    with torch.inference_mode():
        ref = net.prefix(x, b)
    s = runtime.session(net, 0, b, False, x, "onnxruntime")
    assert s.engine == "onnxruntime"
    got = s.run(x)
    assert got.shape == ref.shape
    assert torch.allclose(got, ref, atol=1e-3, rtol=1e-3)


@needs_ort
def test_exports_are_shared_by_content_and_renewed_when_weights_change(exports):
    net = build_network("efficientnet_lite0", 2).eval()
    twin = build_network("efficientnet_lite0", 2).eval()  # same pretrained prefix, another object
    twin.head.load_state_dict(net.head.state_dict())
    x = torch.randn(2, 3, 224, 224)
    runtime.session(net, 0, len(net.stages), True, x, "onnxruntime")
    runtime.session(twin, 0, len(twin.stages), True, x, "onnxruntime")
    assert len(exports) == 1
    with torch.no_grad():
        net.head[1].weight.add_(1.0)  # in place, as an optimizer step would
    s2 = runtime.session(net, 0, len(net.stages), True, x, "onnxruntime")
    assert len(exports) == 2
    with torch.inference_mode():
        ref = net(x)
    assert torch.allclose(s2.run(x), ref, atol=1e-3, rtol=1e-3)


@needs_ort
def test_concurrent_requests_export_once(exports):
    import threading

    net = build_network("efficientnet_lite0", 2).eval()
    x = torch.randn(1, 3, 224, 224)
    threads = [threading.Thread(target=runtime.session, args=(net, 0, len(net.stages), True, x)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(exports) == 1


@needs_ort
def test_an_input_the_graph_cannot_take_falls_back_to_torch(monkeypatch):
    net = build_network("efficientnet_lite0", 2).eval()
    s = runtime.session(net, 0, len(net.stages), True, torch.randn(1, 3, 224, 224), "onnxruntime")
    odd = torch.randn(2, 3, 200, 200)
    with torch.inference_mode():
        ref = net(odd)
    assert torch.allclose(s.run(odd), ref, atol=1e-3, rtol=1e-3)
    bad = torch.randn(2, 4, 224, 224)  # 4 channels: ORT refuses, torch raises too -> the error surfaces
    with pytest.raises(RuntimeError):
        s.run(bad)


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
    with torch.no_grad():
        net.head[1].bias.add_(2.0)  # not exported by an earlier test
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
        X, ok, _ = FeatureCache().features(
            net,
            "t",
            net.boundary(0),
            paths,
            "eval",
            lambda im: eval_array(im, bundle.preprocess),
            bundle.preprocess.resize_to,
        )
        preds = list(predict_paths(bundle, paths))
        got[eng] = (X, [p.label for p in preds], [p.confidence for p in preds])
    assert torch.allclose(got["torch"][0], got["onnxruntime"][0], atol=1e-3, rtol=1e-3)
    assert got["torch"][1] == got["onnxruntime"][1]
    assert got["torch"][2] == pytest.approx(got["onnxruntime"][2], abs=1e-3)


def test_frozen_boundary_follows_the_recipe(trained_bundle):
    bundle = trained_bundle[0]
    net = bundle.network
    assert bundle.frozen_boundary() == net.boundary(0)  # head only: everything before the head is pretrained
    from core.training.config import Phase, TrainConfig

    two_phase = type(bundle)(
        net,
        bundle.backbone,
        bundle.classes,
        config=TrainConfig(phases=[Phase("last block + head"), Phase("head only")]),
    )
    assert two_phase.frozen_boundary() == net.boundary(1)
    assert type(bundle)(net, bundle.backbone, bundle.classes).frozen_boundary() == 0  # unknown: nothing assumed


@needs_ort
def test_sorting_reuses_the_session_training_exported(monkeypatch, tmp_path, exports):
    """Training exports the frozen prefix once; predicting with the trained net must not export again."""
    from core.data.dataset import load_dataset
    from core.training.config import Phase, TrainConfig
    from core.training.model_io import ModelBundle
    from core.training.train import train

    monkeypatch.setenv("GS_ENGINE", "onnxruntime")
    root = make_class_folders(tmp_path / "d", n=6)
    cfg = TrainConfig(phases=[Phase("head only", 3, 3e-3)], augment="none", views=1, text=False)  # pixels: ref below
    res = train(load_dataset(root, val_fraction=0.34, seed=0), cfg)
    assert len(exports) == 1
    bundle = ModelBundle.from_result(res)
    paths = sorted(root.rglob("*.jpg"))
    preds = list(predict_paths(bundle, paths))
    assert len(exports) == 1
    with torch.inference_mode():
        x = torch.from_numpy(
            np.stack([eval_array(load_rgb(p, bundle.preprocess.resize_to), bundle.preprocess) for p in paths])
        )
        ref = res.network(x).softmax(1)
    assert [p.label for p in preds] == [res.classes[i] for i in ref.argmax(1).tolist()]
    assert [p.confidence for p in preds] == pytest.approx(ref.max(1).values.tolist(), abs=1e-3)


@needs_ort
def test_warm_up_exports_before_training_so_training_does_not(monkeypatch, tmp_path, exports):
    from core.data.dataset import load_dataset
    from core.training.config import Phase, TrainConfig
    from core.training.train import train, warm_up

    monkeypatch.setenv("GS_ENGINE", "onnxruntime")
    cfg = TrainConfig(phases=[Phase("head only", 2, 3e-3)], augment="none", views=1)
    t = warm_up(cfg)
    assert t is not None and warm_up(cfg) is None  # once per recipe
    t.join(120)
    assert exports == [1]
    root = make_class_folders(tmp_path / "d", n=5)
    train(load_dataset(root, val_fraction=0.4, seed=0), cfg)
    assert exports == [1]
    assert warm_up(TrainConfig(weights="random")) is None  # random weights: nothing to share


@needs_ort
def test_closing_new_sessions_keeps_the_ones_open_before(exports):
    net = build_network("efficientnet_lite0", 2).eval()
    x = torch.randn(2, 3, 224, 224)
    runtime.session(net, 0, 3, False, x, "onnxruntime")  # the session training and sorting share
    with runtime.closing_new_sessions():
        runtime.session(net, 0, 5, False, x, "onnxruntime")  # another piece, used only inside
        assert len(runtime._onnx) == 2
    assert len(runtime._onnx) == 1
    runtime.session(net, 0, 3, False, x, "onnxruntime")
    assert len(exports) == 2  # the first was kept: using it again exported nothing


def test_a_long_stream_of_photos_hands_the_heap_back_as_it_goes(tmp_path, monkeypatch):
    """Sorting 20,740 photos grew to 4 GB of freed-but-kept heap: the decoder trims every few hundred."""
    from PIL import Image

    from core.models import features

    for i in range(10):
        Image.new("RGB", (40, 30), (i * 20, 0, 0)).save(tmp_path / f"{i}.jpg")
    trims = []
    monkeypatch.setattr(features, "TRIM_EVERY", 4)
    monkeypatch.setattr(runtime, "trim_heap", lambda: trims.append(1))
    paths = sorted(tmp_path.glob("*.jpg"))
    seen = 0
    for idx, _, _ in features.decode_batches(paths, lambda im: np.zeros(1, np.float32), 2, 16):
        seen += len(idx)
    assert seen == 10 and len(trims) == 2  # after the 4th and the 8th photo, not after every batch
