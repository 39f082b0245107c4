"""The hosted demo as visitors meet it: `streamlit run deploy/streamlit_app.py` with GS_HOSTED=1,
clicking every page link and switch on the way (demo data -> Data -> Train -> Review -> Sort)."""

from __future__ import annotations

from tests.helpers.browser import nav, shot, sort_three_uploads


def _no_error(page) -> None:
    errors = page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]')
    assert errors.count() == 0, [errors.nth(k).inner_text() for k in range(errors.count())]


def test_hosted_entry_walks_every_link(page, hosted_url, tmp_path):
    page.goto(hosted_url)
    page.get_by_role("button", name="Try the demo dataset").click()  # st.switch_page to Data
    page.get_by_text("Images per class").wait_for()
    page.get_by_text("This is the hosted demo", exact=False).first.wait_for()
    _no_error(page)

    page.get_by_role("link", name="Next: Train").click()  # st.page_link to Train
    page.get_by_role("heading", name="Train", exact=True).first.wait_for()
    page.get_by_text("at most 30 epochs", exact=False).first.wait_for()
    page.get_by_role("button", name="Train", exact=True).click()  # the default quality (Automatic)
    page.get_by_text("Finished", exact=True).wait_for(timeout=600_000)
    _no_error(page)
    shot(page, "hosted-train-done")

    page.get_by_role("link", name="Next: Review the mistakes").click()  # st.page_link to Review
    page.get_by_text("Confusion matrix").wait_for()
    _no_error(page)

    nav(page, "Sort")
    page.get_by_text("This is the hosted demo", exact=False).first.wait_for()
    sort_three_uploads(page, tmp_path, timeout_ms=120_000)
    _no_error(page)

    page.get_by_role("link", name="Home", exact=True).first.click()  # back: Home finds the workspace again
    page.get_by_text("Current data: demo dataset", exact=False).first.wait_for()
    shot(page, "hosted-sorted")
