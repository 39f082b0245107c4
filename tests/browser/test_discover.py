"""Real browser, labelling-free start: a flat folder -> groups -> a different number of groups
-> the suggested split -> two photos corrected -> named groups -> training -> sorting."""

from __future__ import annotations

import re

from tests.helpers.browser import nav, shot, start_training, wait_trained
from tests.helpers.images import draw_image

NAME_BOXES = """() => [...document.querySelectorAll('input[aria-label="Name"]')]
    .filter(e => !e.closest('[data-stale="true"]')).length"""


def settled_group_count(page) -> int:
    """Name boxes on the page once the rerun is over (Streamlit keeps last run's widgets, marked stale, until then)."""
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000)
    page.wait_for_timeout(700)
    return page.evaluate(NAME_BOXES)


def upload_flat_roll(page, app_url: str, flat, seed: int) -> None:
    """18 photos of three kinds in one folder, no class folders, uploaded on the Data page."""
    flat.mkdir()
    for kind in ("stripes", "dots", "plain"):
        for k in range(6):
            draw_image(kind, seed + 10 * k + len(kind), size=120).save(flat / f"IMG_{kind[0]}{k:02d}.jpg")
    page.goto(app_url)
    nav(page, "Data")
    up = page.locator('[data-testid="stFileUploader"]').filter(has_text="Choose a folder of photos")
    up.locator("input[type=file]").set_input_files(str(flat))
    page.get_by_text("images without class folders").wait_for(timeout=60_000)


def test_flat_folder_to_groups_to_training_and_sorting(page, app_url, tmp_path):
    flat = tmp_path / "camera-roll"
    upload_flat_roll(page, app_url, flat, 5000)

    nav(page, "Discover")
    page.get_by_text("I have about…").click()  # the user knows roughly how many kinds: says 2, one too few
    box = page.get_by_label("kinds of photos", exact=True)
    box.wait_for()
    box.fill("2")
    box.press("Enter")
    page.wait_for_timeout(800)
    page.get_by_role("button", name="Find groups").click()
    page.get_by_text("2 groups among 18 photos").wait_for(timeout=300_000)

    # the number of groups changes at once, from the kept embeddings
    page.get_by_role("button", name="More groups").click()
    page.get_by_text("3 groups among 18 photos").wait_for(timeout=60_000)
    page.get_by_role("button", name="Fewer groups").click()
    page.get_by_text("2 groups among 18 photos").wait_for(timeout=60_000)

    # two kinds in one group: the page offers the split, one click takes it
    split = page.get_by_role("button", name="into 2")
    split.first.wait_for(timeout=60_000)
    split.first.click()
    page.get_by_text("3 groups among 18 photos").wait_for(timeout=60_000)
    n_groups = settled_group_count(page)
    assert n_groups == 3

    # correct two photos from the "check these first" row; each stays where it was put (📌)
    for moved in (1, 2):
        page.get_by_role("button", name="Move to…").first.click()
        page.locator('[data-testid="stPopoverBody"]').get_by_role("button").first.click()
        page.wait_for_function(
            "n => (document.body.innerText.match(/📌/g) || []).length >= n", arg=moved, timeout=60_000
        )
        page.wait_for_timeout(500)
    n_groups = settled_group_count(page)
    assert n_groups >= 2  # a move into another group can at most empty one: still groups to train on

    for i, new in enumerate(("alpha", "beta")):
        box = page.get_by_label("Name", exact=True).nth(i)
        box.fill(new)
        box.press("Enter")
        page.wait_for_function("n => document.body.innerText.includes(n + ' (')", arg=new, timeout=60_000)
        page.wait_for_timeout(500)
    body = page.locator("body").inner_text()
    assert "alpha" in body and "beta" in body
    shot(page, "15-discover-groups")

    page.get_by_role("button", name="Train on these groups").click()
    page.get_by_role("heading", name="Train", exact=True).wait_for()
    start_training(page, epochs=2)
    wait_trained(page)

    nav(page, "Sort")
    new = tmp_path / "new"
    new.mkdir()
    draw_image("dots", 6001, size=120).save(new / "later1.jpg")
    draw_image("stripes", 6002, size=120).save(new / "later2.jpg")
    page.get_by_role("tab", name="Upload images or a .zip").click()
    files_up = page.locator('[data-testid="stFileUploader"]').filter(has_text="Images or a .zip")
    files_up.locator("input[type=file]").set_input_files([str(new / "later1.jpg"), str(new / "later2.jpg")])
    page.get_by_role("button", name="Sort 2 images").click()
    page.get_by_role("button", name="Download sorted .zip").wait_for(timeout=120_000)
    caption = page.get_by_text("Model: efficientnet_lite0, classes:").inner_text()
    classes = caption.split("classes:")[1].split(",")
    assert "alpha" in caption and len(classes) == n_groups  # the named, split and corrected groups are the classes
    body = page.locator("body").inner_text()
    assert "Your classes came from Discover's groups" in body  # agreement with the groups is not a precision
    assert "Not certified: no held-out photos" in body

    # the audit: the person's word is the only evidence, and the claim then says it rests on it
    page.get_by_role("button", name=re.compile(r"^Audit \d+ photos?$")).click()  # at most half of what was sorted
    card = page.locator(".st-key-au-ok-0 button")  # the audit's own Right (the check row above has one too)
    card.wait_for(timeout=60_000)
    answered = 0
    while page.locator(f".st-key-au-ok-{answered} button").count():
        page.locator(f".st-key-au-ok-{answered} button").click()
        page.locator(f".st-key-au-ok-{answered} button").wait_for(state="detached", timeout=60_000)
        answered += 1
    page.get_by_text("photos you audited").wait_for(timeout=60_000)
    body = page.locator("body").inner_text()
    assert f"{answered} audited photo" in body  # what the stated figure rests on, on the page
    shot(page, "16-discover-sorted")


def test_why_this_number_reads_k_as_numbers_in_order(page, app_url, tmp_path):
    """First-time point 5: the automatic choice's chart puts k on a numeric axis, in order (not 10, 11, 2, ...)."""
    upload_flat_roll(page, app_url, tmp_path / "roll", 7000)
    nav(page, "Discover")
    page.get_by_role("button", name="Find groups").click()  # "Find out for me" is the default
    page.get_by_text("Why this number?").click(timeout=300_000)
    chart = "document.querySelector('[data-testid=\"stExpander\"] .js-plotly-plot')"  # the chart in that box
    page.wait_for_function(f"() => {{ const p = {chart}; return p && p.data; }}")
    xs = page.evaluate(f"() => {chart}.data[0].x")
    assert xs and all(isinstance(x, int | float) for x in xs), xs  # numbers, not labels sorted as text
    assert xs == sorted(xs) and xs[0] == 2, xs
