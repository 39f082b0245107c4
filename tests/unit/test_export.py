"""ONNX and TorchScript exports agree with the torch model."""

from __future__ import annotations

import json

import pytest

from core.inference.export import export
from tests.helpers.images import draw_image


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_export_matches_torch_top1(trained_bundle, tmp_path, fmt):
    bundle, _, _ = trained_bundle
    imgs = []
    for k, kind in enumerate(["stripes", "dots", "stripes"]):
        p = tmp_path / f"{k}.jpg"
        draw_image(kind, 300 + k).save(p)
        imgs.append(p)
    report = export(bundle, fmt, tmp_path / "out", imgs)
    assert report.ok and report.samples == 7
    assert report.max_abs_diff < 1e-3
    meta = json.loads((tmp_path / "out" / "classes.json").read_text())
    assert meta["classes"] == bundle.classes


def test_unknown_format_is_refused(trained_bundle, tmp_path):
    with pytest.raises(ValueError, match="format"):
        export(trained_bundle[0], "pickle", tmp_path)
