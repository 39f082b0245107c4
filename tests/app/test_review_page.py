"""The Review page driven headlessly (Streamlit AppTest): decisions persist, Apply and retrain trains."""

from __future__ import annotations

import pytest

from core.data import decisions as rv
from tests.helpers.images import ROOT


@pytest.fixture
def review_ws(trained_bundle, tmp_path):
    from core.data.dataset import load_dataset as load
    from core.session.workspace import REGISTRY

    bundle, result, root = trained_bundle
    ws = REGISTRY.get(None)
    ws.data.set_dataset(load(root, val_fraction=0.25, seed=0), "test")
    ws.add_run(result)  # as if trained here on this data
    yield ws
    REGISTRY.release(ws.id)


def _page(ws):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "pages" / "review.py"), default_timeout=240)
    at.session_state["ws_id"] = ws.id
    return at


def test_review_page_renders_and_decisions_persist(review_ws):
    ws = review_ws
    at = _page(ws).run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert any(m.label == "Validation accuracy" for m in at.metric)
    # show every validation image, so there are cards with buttons whatever the accuracy
    at.radio(key="rv_show").set_value("All").run()
    assert not at.exception
    assert len(ws.cams) > 0, [w.value for w in at.warning]  # heatmaps were computed for what is on screen
    exclude = [b for b in at.button if b.label == "Exclude"]
    assert exclude
    exclude[0].click().run()
    assert not at.exception
    assert len(ws.review.decisions) == 1 and next(iter(ws.review.decisions)).action == rv.EXCLUDE
    # a fresh session on the same workspace (page switch / refresh) still has it, and the filter
    at2 = _page(ws).run()
    assert not at2.exception
    assert at2.radio(key="rv_show").value == "All"
    assert any("1 review decision not applied" in i.value for i in at2.info)
    at2.button[[b.label for b in at2.button].index("Apply")].click().run()
    assert not at2.exception
    path = next(iter(ws.review.decisions)).path
    assert path in ws.data.excluded and ws.review.decisions.pending() == []


def test_apply_and_retrain_trains_on_the_corrected_data(review_ws):
    """The button applies the decisions and starts training; until the new model is in, pages say the model is stale."""
    from streamlit.testing.v1 import AppTest

    ws = review_ws
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=240)
    at.session_state["ws_id"] = ws.id
    at.switch_page("pages/review.py").run()
    assert not at.exception, at.exception
    assert not [w for w in at.warning if "data changed" in w.value]
    at.radio(key="rv_show").set_value("All").run()
    [b for b in at.button if b.label == "Exclude"][0].click().run()
    path = next(iter(ws.review.decisions)).path
    old_job = ws.train.slot.job
    at.button[[b.label for b in at.button].index("Apply and retrain")].click().run()
    assert not at.exception, at.exception
    assert path in ws.data.excluded
    job = ws.train.slot.job
    assert job is not None and job is not old_job, "Apply and retrain did not start training"
    assert ws.model_staleness == "changed data"  # the old model is still the one in use while the new one trains
    job.join(timeout=240)
    at.switch_page("pages/train.py").run()
    assert not at.exception, at.exception
    assert any("Training again with your review decisions applied (1 image changed)" in i.value for i in at.info), [
        i.value for i in at.info
    ]
    trained = getattr(job.result, "best", job.result)  # the automatic climb's chosen model, or the one run
    assert ws.model.result is trained and ws.model_staleness is None
    assert path not in ws.model.result.val_paths  # it was a validation image; now excluded
    # excluding another image by hand makes the new model stale again, and the pages say so
    ws.data.exclude([next(i.path for i in ws.data.dataset.items if i.path != path)])
    at.switch_page("pages/review.py").run()
    assert [w for w in at.warning if "data changed" in w.value]
    at.switch_page("pages/sort.py").run()  # the page that uses the model says it too
    assert not at.exception, at.exception
    assert [w for w in at.warning if "data changed" in w.value and "Sorting still works" in w.value]


def test_review_page_without_validation_results(review_ws):
    ws = review_ws
    ws.model.use_file(ws.model.bundle, "model.pt")
    at = _page(ws).run()
    assert not at.exception
    assert any("no validation results" in i.value for i in at.info)


def test_check_labels_never_lists_a_label_the_person_kept(review_ws):
    """A dots photo filed under stripes is flagged; once the person says "Keep", the next check never lists it.

    Another one, which the person's audit on the Sort page put under stripes, is never listed at all.
    """
    from pages.ui.review_ui import _key

    ws = review_ws
    odd, audited = [i.path for i in ws.data.dataset.items if i.label == "dots" and i.split == "train"][:2]
    ws.data.relabel[odd] = "stripes"
    ws.data.relabel[audited] = "stripes"
    ws.sort.audit[audited] = "stripes"
    at = _page(ws).run()

    def check():
        next(b for b in at.button if b.label == "Check labels").click().run()
        assert ws.review.label_slot.job.join(240)
        at.run()
        assert not at.exception, at.exception
        return {s.path for s in ws.review.label_report.suspects}

    first = check()
    assert odd in first and audited not in first
    at.button(key=f"kp-{_key('label errors', odd)}").click().run()  # "the label is right; keep it as is"
    assert ws.review.decisions.get(odd).action == rv.KEEP
    assert not {odd, audited} & check()
    assert ws.review.label_report.confirmed == 2
    assert any("2 labels you confirmed" in c.value for c in at.caption)
