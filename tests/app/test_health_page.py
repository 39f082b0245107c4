"""The Data page's health report, driven headlessly (Streamlit AppTest, no browser)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.helpers.images import ROOT, photo_folders, placeholder

AppTest = pytest.importorskip("streamlit.testing.v1").AppTest


def test_health_report_exclude_and_include(tmp_path: Path):
    from core.data.dataset import load_dataset
    from core.session.workspace import REGISTRY

    root = photo_folders(tmp_path / "d", {"ants": 8, "bees": 8})
    placeholder().save(root / "ants" / "imageNotFound.gif")
    shutil.copy(root / "ants" / "ants_01.jpg", root / "bees" / "copy.jpg")
    (root / "bees" / "empty.jpg").write_bytes(b"")
    for k in (2, 3):  # two groups of copies whose explanation is the same sentence
        shutil.copy(root / "bees" / f"bees_0{k}.jpg", root / "bees" / f"again_{k}.jpg")
    ws = REGISTRY.get(None)
    ws.data.set_dataset(load_dataset(root, val_fraction=0.0), "test")  # all in train: copies read alike

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.switch_page("pages/data.py")
    at.session_state["ws_id"] = ws.id
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]  # a section that failed says so with st.error
    assert at.get("plotly_chart")  # the size histogram (and class counts) were drawn
    labels = [e.label for e in at.expander]
    assert any(lbl.startswith("Placeholders") for lbl in labels)
    assert any(lbl.startswith("Same file in two classes") for lbl in labels)
    assert any(lbl.startswith("Empty files") for lbl in labels)
    assert ws.data.health.report.n_images == 21
    said = [m.value for m in at.markdown if "identical files" in m.value]
    assert said and len(said) == len(set(said)), said  # each explanation once, however many groups share it

    # one click excludes the placeholder; the report is not recomputed
    report = ws.data.health.report
    hx = next(b for b in at.button if b.key and b.key.startswith("hx-low_information"))
    hx.click().run()
    assert not at.exception
    assert root / "ants" / "imageNotFound.gif" in ws.data.excluded
    assert ws.data.health.report is report
    assert any("excluded files" in e.label for e in at.expander)

    hi = next(b for b in at.button if b.key and b.key.startswith("hi-low_information"))
    hi.click().run()
    assert not at.exception and ws.data.excluded == set()

    at.selectbox(key="aug-preset").set_value("seed").run()
    assert not at.exception and len(at.session_state["aug-preview"][1]) == 8
    REGISTRY.release(ws.id)


def test_captions_tell_two_photos_with_one_file_name_apart(tmp_path: Path):
    """Two folders each hold an IMG_0054 (a copy, so the report shows both): captions name the folder."""
    from core.data.dataset import load_dataset
    from core.session.workspace import REGISTRY

    root = photo_folders(tmp_path / "d", {"ants": 8, "bees": 8}, split="train")
    photo_folders(root, {"ants": 3, "bees": 3}, split="val", seed0=500)
    shutil.copy(root / "train" / "ants" / "ants_01.jpg", root / "train" / "ants" / "IMG_0054.jpg")
    shutil.copy(root / "train" / "ants" / "ants_01.jpg", root / "val" / "ants" / "IMG_0054.jpg")
    ws = REGISTRY.get(None)
    ws.data.set_dataset(load_dataset(root), "test")
    try:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        at.switch_page("pages/data.py")
        at.session_state["ws_id"] = ws.id
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        captions = [i.proto.imgs[0].caption for i in at.get("image")]
        leak = [c for c in captions if c.endswith("IMG_0054.jpg")]  # the train/val leak finding shows both
        assert "ants · train · train/ants/IMG_0054.jpg" in leak and "ants · val · val/ants/IMG_0054.jpg" in leak
        assert "train/ants/ants_02.jpg" in captions  # the samples, too
    finally:
        REGISTRY.release(ws.id)
