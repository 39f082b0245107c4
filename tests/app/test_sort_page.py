"""The Sort page driven headlessly (Streamlit AppTest)."""

from __future__ import annotations

import os

from streamlit.testing.v1 import AppTest

from tests.helpers.images import ROOT, draw_image


def _sort_page(ws_id: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["ws_id"] = ws_id
    at.switch_page("pages/sort.py")
    return at


def test_local_folder_with_a_fifo_and_an_outside_link_sorts_the_rest_and_says_so(trained_bundle, tmp_path):
    from core.session.workspace import REGISTRY

    bundle = trained_bundle[0]
    ws = REGISTRY.get(None)
    ws.model.use_file(bundle, "model.pt")
    gallery = tmp_path / "phone"
    gallery.mkdir()
    for k in range(3):
        draw_image("dots", 300 + k).save(gallery / f"p{k}.jpg")
    outside = tmp_path / "secret.jpg"
    draw_image("stripes", 399).save(outside)
    (gallery / "link.jpg").symlink_to(outside)
    os.mkfifo(gallery / "pipe.jpg")
    try:
        at = _sort_page(ws.id).run()
        assert not at.exception, at.exception
        at.text_input(key="sort_local").set_value(str(gallery)).run()
        next(b for b in at.button if b.key == "sort_local_btn").click().run()
        assert not at.exception, at.exception
        assert any("2 files not sorted" in e.label for e in at.expander)
        md = " ".join(m.value for m in at.markdown)
        assert "link.jpg" in md and "symbolic link" in md and "pipe.jpg" in md and "FIFO" in md
        sort = next(b for b in at.button if b.label.startswith("Sort "))
        assert sort.label == "Sort 3 images"  # the link and the FIFO are not counted, never opened
        sort.click().run()
        assert ws.sort.slot.job.join(120)
        at.run()
        assert not at.exception, at.exception
        assert sorted(p.path.name for p in ws.sort.preds) == ["p0.jpg", "p1.jpg", "p2.jpg"]
    finally:
        REGISTRY.release(ws.id)
