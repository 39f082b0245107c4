"""Real browser, Train page: the Quality the person chose still shows as chosen once a run ends.

Each option says its expected time, and a run changes that time (the photos' features are then
cached). The browser keeps a radio's choice by the option's words: when those words changed,
no option showed as chosen after a run.
"""

from __future__ import annotations

import re

from tests.helpers.browser import nav, wait_trained
from tests.helpers.images import make_class_folders


def _chosen(quality) -> list[str]:
    """The name of the checked option(s) of the Quality radio (its words before any time or caption)."""
    return [
        re.split(r" · |\n", t)[0] for t in quality.locator("label:has(input[type=radio]:checked)").all_inner_texts()
    ]


def test_the_chosen_quality_shows_as_chosen_after_a_run(page, app_url, tmp_path):
    data = make_class_folders(tmp_path / "photos", classes=("stripes", "dots"), n=30, size=160)
    page.goto(app_url)
    nav(page, "Data")
    page.get_by_role("tab", name="Upload a folder").click()
    up = page.locator('[data-testid="stFileUploader"]').filter(has_text="Choose a folder of photos")
    up.locator("input[type=file]").set_input_files(str(data))
    page.get_by_text("folder upload: 60 images").wait_for(timeout=90_000)
    nav(page, "Train")
    quality = page.locator('[data-testid="stRadio"]').filter(has_text="Quality")
    page.wait_for_function(  # every rung says its time once this machine's costs are measured
        "() => [...document.querySelectorAll('[data-testid=stRadio]')].some(r => "
        "(r.innerText.match(/about \\d/g) || []).length >= 4)",
        timeout=180_000,
    )
    before = quality.inner_text()
    quality.get_by_text(re.compile(r"^Quick( ·|$)")).click()
    page.get_by_text(re.compile(r"^Quick: ")).first.wait_for()  # the plan box for the choice
    assert _chosen(quality) == ["Quick"]
    page.get_by_role("button", name="Train", exact=True).click()
    wait_trained(page, 600_000)
    page.locator('[data-testid="stTable"]').first.wait_for()
    page.wait_for_timeout(1500)  # the redraw after the run has landed
    after = quality.inner_text()
    assert after != before, "the expected times did not change: this test would check nothing"
    assert _chosen(quality) == ["Quick"], after
