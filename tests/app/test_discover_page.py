"""The Discover page driven headlessly (Streamlit AppTest): find groups, edit them, train on them."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.analysis import discover as D
from core.models.features import FeatureCache
from tests.helpers.images import draw_image

KINDS = ("stripes", "dots", "plain")
PER_KIND = 8


@pytest.fixture(scope="module")
def gallery(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("discover") / "gallery"
    root.mkdir()
    for c_i, kind in enumerate(KINDS):
        for k in range(PER_KIND):
            draw_image(kind, seed=1000 * c_i + k).save(root / f"img_{c_i}{k:02d}.jpg")
    (root / "broken.jpg").write_bytes(b"not really a jpeg")
    return root


@pytest.fixture(scope="module")
def cache() -> FeatureCache:
    return FeatureCache()


@pytest.fixture(scope="module")
def embedding(gallery, cache) -> D.Embedding:
    return D.embed(sorted(gallery.iterdir()), cache=cache)


def _app(ws_id: str):
    from streamlit.testing.v1 import AppTest

    from tests.helpers.images import ROOT

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.query_params["ws"] = ws_id
    return at


def _button(at, label: str):
    return next(b for b in at.button if b.label == label)


def test_page_find_groups_edit_and_train(gallery, cache, embedding):
    from core.data.dataset import scan_folder
    from core.session.workspace import REGISTRY

    ws = REGISTRY.get(None)
    ws.data.set_dataset(scan_folder(gallery), "test")
    ws._cache = cache  # embeddings already computed by the fixtures: the job only clusters
    at = _app(ws.id)
    at.switch_page("pages/data.py").run()
    assert not at.exception
    assert any("Discover" in w.value for w in at.warning)

    at.switch_page("pages/discover.py").run()
    assert not at.exception
    _button(at, "Find groups").click().run()
    assert ws.discover.slot.job is not None and ws.discover.slot.job.join(120)
    at.run()
    assert not at.exception and not at.error
    g = ws.discover.grouping
    assert g.k == 3 and [t.value for t in at.text_input] == ["group_1", "group_2", "group_3"]
    assert any("Unreadable images left out: 1" in e.label for e in at.expander)

    at.text_input[0].set_value("first").run()
    assert ws.discover.grouping.names[g.group_ids[0]] == "first"
    at.text_input[1].set_value("first").run()  # a clash is explained, not raised
    assert not at.exception and any("already called" in e.value for e in at.error)
    at.text_input[1].set_value("second").run()

    merge_btn = _button(at, "Merge")
    merge_btn.click().run()
    assert not at.exception and ws.discover.grouping.k == 2
    _button(at, "Split").click().run()
    assert not at.exception and ws.discover.grouping.k == 3

    _button(at, "More groups").click().run()  # re-split from the kept embeddings: no job, no embedding
    assert not at.exception and ws.discover.grouping.k == 4
    _button(at, "Fewer groups").click().run()
    assert not at.exception and ws.discover.grouping.k == 3
    g = ws.discover.grouping
    odd = g.group(g.group_ids[0]).check_first[0]  # the page's "check these first" photo
    other = g.group_ids[1]
    menu = [b for b in at.button if b.key and b.key.startswith(f"mv-{ws.discover.revision}-{g.group_ids[0]}-0-")]
    next(b for b in menu if b.key.endswith(f"-{other}")).click().run()
    assert not at.exception and int(ws.discover.grouping.labels[odd]) == other
    assert ws.discover.grouping.pinned[odd]  # where the user put it, it stays

    at.text_input[0].set_value("first").run()  # a new number of groups starts from fresh names
    _button(at, "Train on these groups").click().run()
    assert not at.exception
    assert ws.data.dataset.layout == "classes" and "first" in ws.data.dataset.classes
    assert ws.data.source.startswith("Discover: 3 groups")
    ws._cache = None  # the module's cache is shared; releasing must not clear it
    REGISTRY.release(ws.id)
