"""Real browser, Train page: every quality rung with its expected time (the one its run planned with),
the runs table, and a stopped run that never replaces a better model on Review and Sort."""

from __future__ import annotations

import re

from tests.helpers.browser import nav, shot, wait_trained
from tests.helpers.images import make_class_folders

RUNGS = ("Quick", "Better", "Best")


def _quality(page, rung: str) -> None:
    group = page.locator('[data-testid="stRadio"]').filter(has_text="Quality")
    group.get_by_text(re.compile(rf"^{rung}( ·|$)")).click()
    page.get_by_text(re.compile(rf"^{rung}: ")).first.wait_for()  # the plan box for this rung


def _runs_at_least(page, n: int, timeout: int = 900_000) -> None:
    """Wait until the runs table lists n runs (the page's "Finished" may still be the last run's)."""
    page.wait_for_function(
        "n => { const t = document.querySelector('[data-testid=stTable] tbody'); return t && t.rows.length >= n }",
        arg=n,
        timeout=timeout,
    )


def test_each_rung_says_its_time_trains_and_a_stopped_run_stays_a_candidate(page, app_url, tmp_path):
    data = make_class_folders(tmp_path / "small", classes=("stripes", "dots"), n=5, size=80)  # Best stays short
    page.goto(app_url)
    nav(page, "Data")
    page.get_by_role("tab", name="Upload a folder").click()
    up = page.locator('[data-testid="stFileUploader"]').filter(has_text="Choose a folder of photos")
    up.locator("input[type=file]").set_input_files(str(data))
    page.get_by_text("folder upload: 10 images").wait_for(timeout=60_000)
    nav(page, "Train")
    quality = page.locator('[data-testid="stRadio"]').filter(has_text="Quality")
    # before anything starts, every rung says what it will cost for this dataset on this machine
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=stRadio]')].some(r => "
        "(r.innerText.match(/about \\d/g) || []).length >= 4)",
        timeout=180_000,
    )
    for rung in RUNGS:
        assert re.search(rf"{rung}\s+about \d+ (s|min)", quality.inner_text()), quality.inner_text()
    accs = {}
    for k, rung in enumerate(RUNGS, 1):
        _quality(page, rung)
        said = re.search(rf"{rung}\s+about (.+?) ·", quality.inner_text()).group(1)  # as cached by earlier runs
        page.get_by_role("button", name="Train", exact=True).click()
        _runs_at_least(page, k)
        wait_trained(page, 900_000)
        # the finished run repeats the forecast its own plan made: the page showed the planner's figure
        held = page.get_by_text(re.compile(r"^Expected before the run: ")).first.inner_text()
        assert held.startswith(f"Expected before the run: about {said}. It took "), (rung, said, held)
        table = page.locator('[data-testid="stTable"]').first
        table.wait_for()
        assert rung in table.inner_text()
        shown = page.get_by_text("In use on Review and Sort:").first.inner_text()
        assert re.search(r"run \d+ \((quick|better|best)\), \d+\.\d% on validation", shown), shown
        accs[rung] = page.locator('[data-testid="stMetric"]').filter(has_text="Validation accuracy").inner_text()
    shot(page, "17-train-ladder")
    in_use = page.get_by_text("In use on Review and Sort:").first.inner_text()
    best_run = re.search(r"run (\d+)", in_use).group(1)

    # a fourth run, stopped at once: kept in the table as stopped, never the model in use
    _quality(page, "Better")
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_role("button", name="Stop").click()
    page.get_by_text(re.compile("^Stopped")).first.wait_for(timeout=300_000)
    page.wait_for_timeout(1500)
    if page.locator('[data-testid="stTable"] tbody tr').count() == 4:  # stopped after its first epoch: a candidate
        assert "stopped early" in page.locator('[data-testid="stTable"]').first.inner_text()
    assert page.get_by_text("In use on Review and Sort:").first.inner_text() == in_use
    nav(page, "Review")
    page.get_by_text(f"Model in use: run {best_run} ").wait_for()
    nav(page, "Sort")
    page.get_by_text(f"Model in use: run {best_run} ").wait_for()
