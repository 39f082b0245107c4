"""Shared fixtures: small generated datasets and one briefly trained model (no network, no ../shared)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers.images import make_class_folders, memes_and_photos

os.environ.setdefault("GS_OFFLINE", "1")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")


@pytest.fixture
def class_folders(tmp_path: Path) -> Path:
    return make_class_folders(tmp_path / "data")


@pytest.fixture(scope="session")
def trained_bundle(tmp_path_factory):
    """A real EfficientNet-Lite0 model trained briefly on generated stripes vs dots."""
    from core.data.dataset import load_dataset
    from core.training.config import Phase, TrainConfig
    from core.training.model_io import ModelBundle
    from core.training.train import train

    root = make_class_folders(tmp_path_factory.mktemp("bundle") / "data", n=12)
    ds = load_dataset(root, val_fraction=0.25, seed=0)
    # pixels only, as every model file from before text layouts (text_model tests cover the other kind)
    cfg = TrainConfig(phases=[Phase("head only", 8, 3e-3)], augment="none", views=1, text=False)
    result = train(ds, cfg)
    bundle = ModelBundle.from_result(result)
    return bundle, result, root


@pytest.fixture(scope="session")
def text_bundle(tmp_path_factory):
    """A model whose head reads text layouts, trained briefly on captioned vs plain photo-like fields."""
    from core.data.dataset import load_dataset
    from core.training.config import Phase, TrainConfig
    from core.training.model_io import ModelBundle
    from core.training.train import train

    root = memes_and_photos(tmp_path_factory.mktemp("text") / "data", n=12)
    ds = load_dataset(root, val_fraction=0.25, seed=0)
    result = train(ds, TrainConfig(phases=[Phase("head only", 10, 3e-3)], text=True))
    return ModelBundle.from_result(result), result, root
