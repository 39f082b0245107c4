"""Real browser, labelling-free start: upload a flat folder, let Discover group it, name two
groups, merge two, train on the groups and sort."""

from __future__ import annotations

from tests.helpers.browser import nav, shot, start_training, wait_trained
from tests.helpers.images import draw_image


def test_flat_folder_to_groups_to_training_and_sorting(page, app_url, tmp_path):
    flat = tmp_path / "camera-roll"
    flat.mkdir()
    for kind in ("stripes", "dots", "plain"):
        for k in range(6):
            draw_image(kind, 5000 + 10 * k + len(kind), size=120).save(flat / f"IMG_{kind[0]}{k:02d}.jpg")
    page.goto(app_url)
    nav(page, "Data")
    up = page.locator('[data-testid="stFileUploader"]').filter(has_text="Choose a folder of photos")
    up.locator("input[type=file]").set_input_files(str(flat))
    page.get_by_text("images without class folders").wait_for(timeout=60_000)

    nav(page, "Discover")
    page.get_by_text("Let me choose k").click()  # k = 4 (the slider's default)
    page.get_by_text("k (number of groups)").wait_for()  # the toggle's rerun has landed
    page.get_by_role("button", name="Find groups").click()
    page.get_by_text("4 groups among").wait_for(timeout=300_000)
    names = page.get_by_label("Name")
    names.nth(3).wait_for()  # the page streams its groups in: count them once all are drawn
    n_groups = names.count()
    assert n_groups == 4
    for i, new in enumerate(("alpha", "beta")):
        box = page.get_by_label("Name").nth(i)
        box.fill(new)
        box.press("Enter")
        page.wait_for_function("n => document.body.innerText.includes(n + ' (')", arg=new, timeout=60_000)
        page.wait_for_timeout(500)
    body = page.locator("body").inner_text()
    assert "alpha" in body and "beta" in body
    page.get_by_role("tab", name="Merge · split · move").click()
    page.get_by_role("button", name="Merge", exact=True).click()
    page.wait_for_function(
        "n => document.querySelectorAll('input[aria-label=\"Name\"]').length === n - 1", arg=n_groups, timeout=60_000
    )
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
    assert "alpha" in caption and len(classes) == n_groups - 1  # the named groups, two merged, are the classes
    shot(page, "16-discover-sorted")
