"""The text detector and the text-layout descriptor: offline, sensible on generated photos, cached."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from core.models import text_detector, text_layout
from core.models.features import FeatureCache
from tests.helpers.images import meme, photo_like, text_page


def _layout(img):
    return text_layout.describe(text_detector.detect(img))


def test_the_detector_loads_from_the_repository_offline():
    assert text_detector.available() is None
    assert text_detector.MODEL_FILE.is_relative_to(Path(__file__).resolve().parents[2])


def test_a_damaged_model_file_gives_a_clean_message(tmp_path, monkeypatch):
    bad = tmp_path / "det.onnx"
    shutil.copy(text_detector.MODEL_FILE, bad)
    with open(bad, "r+b") as f:
        f.seek(1000)
        f.write(b"\0" * 64)
    monkeypatch.setattr(text_detector, "MODEL_FILE", bad)
    text_detector._session.cache_clear()
    try:
        with pytest.raises(text_detector.TextDetectorMissing, match="damaged"):
            text_detector._session()
        assert "damaged" in text_detector.available()
    finally:
        text_detector._session.cache_clear()


def test_a_meme_has_caption_bands_and_a_plain_photo_has_none():
    plain = _layout(photo_like(3, 400))
    assert plain["has_text"] == 0 and plain["text_area"] == 0
    assert "no text" in plain.summary()
    m = _layout(meme(3))
    assert m["top_band"] > 0.05 and m["bottom_band"] > 0.05
    assert m["band_captions"] >= 0.5 and m["middle_band"] < m["top_band"]
    assert "caption bands (top and bottom)" in m.summary()


def test_one_caption_band_is_told_from_two():
    m = _layout(meme(5, top="", bottom="NOBODY EXPECTS THIS"))
    assert m["bottom_band"] > 0.05 and m["top_band"] < 0.01
    short = _layout(meme(5, top="", bottom="CAT BE LIKE"))  # one centred line fits "left" and "right" at once
    assert short["two_sided"] > 0.3 and "chat" not in short.summary()  # yet it is not a conversation


def test_a_page_of_text_is_many_regular_left_aligned_lines():
    page = _layout(text_page(1))
    m = _layout(meme(1))
    assert page["lines"] > m["lines"] and page["lines"] > 0.6  # 60 lines = 1, log-scaled
    assert page["left_aligned"] > 0.7 and page["spacing_regularity"] > 0.7
    assert page["band_captions"] < 0.2
    assert "lines" in page.summary()


def test_layouts_are_cached_by_content_and_reused(tmp_path, monkeypatch):
    paths = []
    for k in range(3):
        p = tmp_path / f"m{k}.jpg"
        meme(k).save(p)
        paths.append(p)
    twin = tmp_path / "copy_of_m0.jpg"
    shutil.copy(paths[0], twin)
    calls = []
    real = text_detector.detect
    monkeypatch.setattr(text_detector, "detect", lambda img, *a: calls.append(img.size) or real(img, *a))
    cache = FeatureCache()
    assert cache.ensure_text(paths + [twin], min_side=64) == []
    assert len(calls) == 3  # the copy has the same content: its layout is the first one's
    again = cache.text_vectors(paths + [twin])
    cache.ensure_text(paths + [twin], min_side=64)
    assert len(calls) == 3
    assert again.shape == (4, text_layout.DIM)
    np.testing.assert_array_equal(again[0], again[3])
    assert cache.nbytes() > 0


def test_unreadable_and_huge_images_are_reported_not_raised(tmp_path):
    good = tmp_path / "good.jpg"
    meme(0).save(good)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not really a jpeg")
    huge = tmp_path / "huge.png"
    from PIL import Image

    Image.new("1", (9000, 8000)).save(huge)  # 72 MP: over the decompression-bomb limit, tiny on disk
    fails = dict(FeatureCache().ensure_text([good, broken, huge], min_side=64))
    assert set(fails) == {1, 2}
    assert all("Traceback" not in why for why in fails.values())
