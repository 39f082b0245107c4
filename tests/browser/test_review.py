"""Real browser, Review page: train on the demo, click a confusion-matrix cell, see Grad-CAM
heatmaps, relabel one image, switch pages and find the decision still there."""

from __future__ import annotations

from tests.helpers.browser import nav, open_demo, shot, start_training, wait_trained


def test_review_cell_heatmaps_and_a_decision_that_persists(page, app_url):
    open_demo(page, app_url)
    nav(page, "Train")
    start_training(page, epochs=2)
    wait_trained(page)

    nav(page, "Review")
    page.get_by_text("Click a cell to see the images behind it.").wait_for()
    chart = page.locator('[data-testid="stPlotlyChart"]').first
    chart.scroll_into_view_if_needed()
    caption = page.get_by_text("sorted by loss").first
    before = caption.inner_text()  # "3 images, sorted by loss…": the mistakes
    point = chart.locator("path.point").first  # the (animals, animals) cell
    point.wait_for(state="attached")
    box = point.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_function(
        "b => { const el = [...document.querySelectorAll('p')].find(p => p.innerText.includes('sorted by loss'));"
        " return el && el.innerText !== b; }",
        arg=before,
        timeout=60_000,
    )
    assert page.get_by_text("sorted by loss").first.inner_text() != before  # the grid now shows that cell
    page.wait_for_function("document.querySelectorAll('[data-testid=\"stImage\"] img').length >= 2", timeout=120_000)
    shot(page, "13-review-cell-heatmaps")

    page.get_by_role("button", name="Move to class…").first.click()
    page.get_by_role("button", name="clipart", exact=False).first.click()
    page.get_by_text("Decision:").first.wait_for()
    page.get_by_role("heading", name="Decisions (1)").wait_for()

    nav(page, "Sort")
    nav(page, "Review")
    page.get_by_role("heading", name="Decisions (1)").wait_for(timeout=60_000)
    assert "move" in page.locator("body").inner_text().lower()
    shot(page, "14-review-decision-kept")
