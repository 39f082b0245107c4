"""Real browser: what a first-time user hit, point by point (issue 'What a first-time user hit')."""

from __future__ import annotations

import re
import time
import zipfile

from tests.helpers.browser import nav, open_demo, shot, start_training, use_custom_recipe, wait_trained
from tests.helpers.images import draw_image, make_class_folders


def _upload_folder(page, folder) -> None:
    page.get_by_role("tab", name="Upload a folder").click()
    up = page.locator('[data-testid="stFileUploader"]').filter(has_text="Choose a folder of photos")
    up.locator("input[type=file]").set_input_files(str(folder))


def _splits(root, n=(8, 3, 3)):
    for split, k in zip(("train", "val", "test"), n):
        for c_i, c in enumerate(("stripes", "dots")):
            (root / split / c).mkdir(parents=True, exist_ok=True)
            for j in range(k):
                draw_image(c, 100 * c_i + 10 * len(split) + j, size=96).save(root / split / c / f"{split}{j}.jpg")
    return root


def _set_number(page, label: str, value: int) -> None:
    box = page.get_by_label(label)
    box.fill(str(value))
    box.press("Enter")
    page.wait_for_timeout(500)


def test_test_split_label_check_big_heatmaps_and_a_chart_that_stays_light(page, app_url, tmp_path):
    """Points 1, 3, 4 and 8 (thumbnails): train/val/test folders, a long run, Review, the label check."""
    data = _splits(tmp_path / "phone")
    page.goto(app_url)
    nav(page, "Data")
    _upload_folder(page, data)
    page.get_by_text("train/val/test folders").wait_for(timeout=60_000)
    test_metric = page.locator('[data-testid="stMetric"]').filter(has_text="Test images")
    assert test_metric.inner_text().strip().endswith("6")
    fit = page.locator('[data-testid="stMetric"]').filter(has_text="Images for training")
    assert fit.inner_text().strip().endswith("22")  # 16 train + 6 val; the test images are not training images

    nav(page, "Train")
    use_custom_recipe(page)
    page.get_by_text("Optimiser, schedule and more").click()
    _set_number(page, "Batch size", 2)  # 8 batches an epoch: 90 epochs make 720 batch points
    start_training(page, epochs=90)
    wait_trained(page)
    points = page.evaluate(
        "() => { const p = document.querySelector('.js-plotly-plot'); return p && p.data ? p.data[0].x.length : -1 }"
    )
    assert 0 < points <= 601, points  # the live chart is thinned: redrawing it costs the job nothing much

    nav(page, "Review")
    page.get_by_text("Test split", exact=True).wait_for(timeout=60_000)
    page.get_by_text("Scored once, after training").wait_for()
    page.locator('[data-testid="stRadio"]').filter(has_text="Mistakes").get_by_text("All", exact=True).click()
    page.wait_for_function(  # at least 3 cards, each image loaded and laid out (a width of 0 is one still coming)
        "(() => { const im = [...document.querySelectorAll('[data-testid=\"stImage\"] img')];"
        " return im.length >= 3 && im.every(i => i.complete && i.getBoundingClientRect().width > 0); })()",
        timeout=120_000,
    )
    widths = page.evaluate(
        "() => [...document.querySelectorAll('[data-testid=\"stImage\"] img')]"
        ".map(i => i.getBoundingClientRect().width)"
    )
    assert min(widths) >= 250, widths  # a heatmap at the card's width, not a 95 px thumbnail

    page.get_by_role("button", name="Check labels").click()
    page.get_by_text("Held-out accuracy of the check").wait_for(timeout=180_000)
    page.get_by_text("photos to look at, not errors").wait_for()
    body = page.locator("body").inner_text()
    if "looks like" in body:
        sure = [int(x) for x in re.findall(r"looks like \S+ \((\d+)% sure\)", body)]
        assert sure == sorted(sure, reverse=True), sure  # in the order promised: most confident first
        assert len(sure) <= 6
        assert "test ·" not in body  # a test photo is never put up for review
    shot(page, "21-first-time-test-split")


def test_progress_says_what_runs_and_the_eta_does_not_climb(page, app_url):
    """Point 2: a run with cached augmented views, sampled while it runs."""
    open_demo(page, app_url)
    nav(page, "Train")
    use_custom_recipe(page)
    page.get_by_label("Layers to train").click()
    page.get_by_role("option", name="last block + head").click()
    page.get_by_label("Augmentation").click()
    page.get_by_role("option", name="light").click()
    page.wait_for_timeout(800)
    _set_number(page, "Augmented views cached per image", 3)
    start_training(page, epochs=8)
    bar = page.locator('[data-testid="stProgress"]').first
    samples: list[str] = []
    finished = page.get_by_text("Finished", exact=True)
    deadline = time.time() + 600
    while time.time() < deadline and not finished.count():
        if bar.count():
            text = bar.inner_text()
            if not finished.count():  # an ended run's bar shows only its last batch: not a sample of the run
                samples.append(text)
        page.wait_for_timeout(300)
    finished.wait_for()
    late = [t for t in samples if (m := re.search(r"Epoch (\d+)/8, batch", t)) and int(m.group(1)) >= 4]
    assert late, samples  # every view is cached by epoch 4: what runs now is training
    training = [t for t in late if "Training, epoch" in t]
    assert training, late
    # nothing after epoch 4 computes a view again; the other things said late are the last epoch's summary
    # while the run finishes, and the test split scored once
    other = [t for t in late if t not in training and not t.startswith(("Epoch 8/8:", "Scoring the", "Early stopping"))]
    assert not other, other
    etas = [
        int(m.group(1)) * (60 if m.group(2) == "min" else 1)
        for t in samples
        if (m := re.search(r"about (\d+) (s|min) left", t))
    ]
    rest = etas[len(etas) // 3 :]
    if len(rest) >= 3:
        assert max(rest) <= 2 * max(5, rest[0]), etas  # the estimate comes down; it does not climb for minutes


def test_new_data_unreadable_uploads_and_the_small_things(page, app_url, tmp_path):
    """Points 6, 7 and 8: another dataset, an unreadable upload, Check again, the single-image answer,
    the Sort gallery after a page switch."""
    open_demo(page, app_url)
    nav(page, "Train")
    start_training(page, epochs=2)
    wait_trained(page)

    nav(page, "Data")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "only.jpg").write_bytes(b"this is not a photo")
    _upload_folder(page, bad)
    page.get_by_text("could be read as an image").wait_for(timeout=60_000)
    page.get_by_text("your current data is unchanged").wait_for()
    assert "demo dataset (gallery_mix, 4 classes)" in page.locator("body").inner_text()

    page.get_by_role("button", name="Check again").click()
    page.get_by_text("Checked again just now").wait_for(timeout=120_000)  # one click

    other = make_class_folders(tmp_path / "pets", classes=("cats", "dogs"), n=6)
    with zipfile.ZipFile(tmp_path / "pets.zip", "w") as zf:
        for p in other.rglob("*.jpg"):
            zf.write(p, p.relative_to(other).as_posix())
    page.get_by_role("tab", name="Upload a .zip or files").click()
    up = page.locator('[data-testid="stFileUploader"]').filter(has_text="A .zip of class folders")
    up.locator("input[type=file]").set_input_files(str(tmp_path / "pets.zip"))
    page.get_by_text("zip/files upload: 12 images").wait_for(timeout=60_000)

    nav(page, "Review")
    page.get_by_text("trained on other data than the dataset loaded now").first.wait_for()
    assert "review decisions, exclusions" not in page.locator("body").inner_text()
    assert not page.get_by_text("Confusion matrix").count()  # not the old model's matrix

    nav(page, "Sort")
    page.get_by_text("trained on other data than the dataset loaded now").first.wait_for()
    page.get_by_text("Test a single image").click()
    draw_image("dots", 5, size=120).save(tmp_path / "one.jpg")
    one = page.locator('[data-testid="stFileUploader"]').filter(has_text="One image")
    one.locator("input[type=file]").set_input_files(str(tmp_path / "one.jpg"))
    answer = page.get_by_text("This image belongs to")
    answer.wait_for(timeout=120_000)
    assert ">>>" not in answer.inner_text() and "<<<" not in answer.inner_text()

    gallery = [tmp_path / f"g{k}.jpg" for k in range(3)]
    for k, p in enumerate(gallery):
        draw_image("stripes", 40 + k).save(p)
    page.get_by_role("tab", name="Upload images or a .zip").click()
    files = page.locator('[data-testid="stFileUploader"]').filter(has_text="Images or a .zip")
    files.locator("input[type=file]").set_input_files([str(p) for p in gallery])
    page.get_by_text("Gallery: uploaded files: 3 images").wait_for(timeout=60_000)
    nav(page, "Data")
    nav(page, "Sort")
    page.get_by_text("Gallery: uploaded files: 3 images").wait_for()  # said, although the uploader forgot
    page.get_by_role("button", name="Sort 3 images").wait_for()
    shot(page, "22-first-time-small-things")
