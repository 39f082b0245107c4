"""Shared fixtures: small generated images (no network, no ../shared needed)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GS_OFFLINE", "1")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

ARTIFACTS = ROOT / "tests" / "artifacts"
SHARED_DATA = ROOT.parent / "shared" / "data"


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "slow: a longer test that still runs by default (deselect with -m 'not slow')")


def draw_image(kind: str, seed: int, size: int = 96) -> Image.Image:
    """Visually distinct synthetic classes: 'stripes', 'dots', 'plain' (random colours, jitter)."""
    rng = np.random.default_rng(seed)
    bg = tuple(int(v) for v in rng.integers(0, 256, 3))
    img = Image.new("RGB", (size, size), bg)
    d = ImageDraw.Draw(img)
    fg = tuple(255 - v for v in bg)
    if kind == "stripes":
        step = int(rng.integers(6, 12))
        for x in range(0, size, step * 2):
            d.rectangle([x, 0, x + step - 1, size], fill=fg)
    elif kind == "dots":
        for _ in range(int(rng.integers(8, 16))):
            x, y = rng.integers(0, size, 2)
            r = int(rng.integers(4, 10))
            d.ellipse([x - r, y - r, x + r, y + r], fill=fg)
    else:
        noise = rng.integers(-12, 12, (size, size, 3))
        arr = np.clip(np.asarray(img, dtype=int) + noise, 0, 255).astype(np.uint8)
        img = Image.fromarray(arr)
    return img


def make_class_folders(root: Path, classes=("stripes", "dots"), n: int = 10, size: int = 96,
                       ext: str = ".jpg") -> Path:
    for c_i, c in enumerate(classes):
        (root / c).mkdir(parents=True, exist_ok=True)
        for k in range(n):
            draw_image(c, seed=1000 * c_i + k, size=size).save(root / c / f"{c}_{k:02d}{ext}")
    return root


@pytest.fixture
def class_folders(tmp_path: Path) -> Path:
    return make_class_folders(tmp_path / "data")


@pytest.fixture(scope="session")
def trained_bundle(tmp_path_factory):
    """A real EfficientNet-Lite0 model trained briefly on generated stripes vs dots."""
    from core.dataset import load_dataset
    from core.model_io import ModelBundle
    from core.train import Phase, TrainConfig, train

    root = make_class_folders(tmp_path_factory.mktemp("bundle") / "data", n=12)
    ds = load_dataset(root, val_fraction=0.25, seed=0)
    cfg = TrainConfig(phases=[Phase("head only", 8, 3e-3)], augment="none", views=1)
    result = train(ds, cfg)
    bundle = ModelBundle(result.network, cfg.backbone, result.classes, result.metrics, cfg.to_dict())
    return bundle, result, root
