"""Real browser (Debian chromium via Playwright) against `streamlit run app.py`:
demo data -> train -> review -> sort -> download, with screenshots in tests/artifacts/."""

from __future__ import annotations

import csv
import io
import re
import time
import zipfile

from tests.helpers.browser import nav, shot, sort_three_uploads, start_training
from tests.helpers.images import ARTIFACTS


def test_demo_walkthrough(page, app_url, tmp_path):
    page.goto(app_url)
    page.get_by_role("button", name="Try the demo dataset").wait_for()
    shot(page, "01-home")
    assert "ws=" not in page.url  # a first visit has no workspace yet (Home paints without the engine)

    page.get_by_role("button", name="Try the demo dataset").click()
    page.get_by_text("Images per class").wait_for()
    page.get_by_text("demo dataset (gallery_mix, 4 classes)").wait_for()
    page.wait_for_url(re.compile(r"ws="))  # once there is data, its workspace id is in the URL for refreshes
    shot(page, "02-data")

    nav(page, "Train")
    start_training(page, epochs=30)
    # the page follows the job while it runs: sample the progress bar until the job finishes
    bar = page.locator('[data-testid="stProgress"]').first
    seen: list[str] = []
    live_shot = False
    deadline = time.time() + 400
    finished = page.get_by_text("Finished", exact=True)
    while time.time() < deadline:
        if finished.count():
            break
        text = bar.inner_text() if bar.count() else ""
        if text and (not seen or seen[-1] != text):
            seen.append(text)
        if not live_shot and page.locator(".js-plotly-plot").count():
            shot(page, "03-train-live")  # the chart drawn while the job still runs
            live_shot = True
        page.wait_for_timeout(150)
    page.get_by_text("Finished", exact=True).wait_for()
    final = bar.inner_text()  # once ended the bar shows only where it stopped
    running = [t for t in seen if t != final]
    assert len(running) >= 2, seen  # the bar moved while the job ran, not only once at the end
    page.get_by_text("Validation accuracy", exact=True).wait_for()  # the metric (the runs table says it in lower case)
    if not live_shot:
        shot(page, "03-train-live")
    shot(page, "04-train-done")

    nav(page, "Review")
    page.get_by_text("Confusion matrix").wait_for()
    metric = page.locator('[data-testid="stMetricValue"]').first.inner_text()
    assert re.fullmatch(r"\d+(\.\d)?%", metric.strip()), metric
    shot(page, "05-review")

    nav(page, "Sort")
    sort_three_uploads(page, tmp_path, timeout_ms=60_000)
    shot(page, "06-sort")
    with page.expect_download() as dl:
        page.get_by_role("button", name="Download sorted .zip").click()
    data = open(dl.value.path(), "rb").read()
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert "predictions.csv" in names
    images = [n for n in names if n.endswith(".jpg")]
    assert sorted(n.split("/")[-1] for n in images) == ["photo0.jpg", "photo1.jpg", "photo2.jpg"]
    classes = {"animals", "clipart", "scenery", "screenshots", "unsure"}
    assert all(n.split("/")[0] in classes for n in images)
    rows = list(csv.DictReader(io.StringIO(zipfile.ZipFile(io.BytesIO(data)).read("predictions.csv").decode())))
    assert len(rows) == 3
    (ARTIFACTS / "sorted-demo.zip").write_bytes(data)
