"""Real browser, Sort page: load a model file, sort a folder, move the threshold, override one
prediction, download the zip and check its layout."""

from __future__ import annotations

import csv
import io
import zipfile

from core.training import model_io
from tests.helpers.browser import choose, load_model_file, nav, shot
from tests.helpers.images import draw_image


def test_sort_folder_threshold_override_and_zip(page, app_url, tmp_path, trained_bundle):
    bundle = trained_bundle[0]
    (tmp_path / "model.pt").write_bytes(model_io.to_bytes(bundle))
    gallery = tmp_path / "holiday"
    (gallery / "day2").mkdir(parents=True)
    for k in range(3):
        draw_image("stripes", 7000 + k).save(gallery / f"s{k}.jpg")
        draw_image("dots", 7100 + k).save(gallery / "day2" / f"d{k}.jpg")

    page.goto(app_url)
    nav(page, "Sort")
    load_model_file(page, tmp_path / "model.pt", "dots, stripes")

    folder_up = page.locator('[data-testid="stFileUploader"]').filter(has_text="Folder of photos to sort")
    folder_up.locator("input[type=file]").set_input_files(str(gallery))
    page.get_by_role("button", name="Sort 6 images").click()
    page.get_by_role("button", name="Download sorted .zip").wait_for(timeout=120_000)
    body = page.locator("body").inner_text()
    assert "stripes" in body and "dots" in body

    page.get_by_text("Minimum confidence").wait_for()
    slider = page.locator('[data-testid="stSlider"] input[type="range"]').first
    slider.focus()
    slider.press("End")  # threshold 1.0: nothing is that sure -> everything goes to unsure
    page.get_by_text("unsure: 6").wait_for()

    page.get_by_text("Override a prediction").click()
    page.get_by_text("Put it in").wait_for()
    choose(page, "Put it in", "stripes")
    page.get_by_role("button", name="Apply override").click()
    page.get_by_text("unsure: 5").wait_for()
    shot(page, "11-sort-threshold-override")

    with page.expect_download() as dl:
        page.get_by_role("button", name="Download sorted .zip").click()
    zf = zipfile.ZipFile(io.BytesIO(open(dl.value.path(), "rb").read()))
    names = zf.namelist()
    images = sorted(n for n in names if n.endswith(".jpg"))
    assert len(images) == 6
    assert sum(n.startswith("unsure/") for n in images) == 5
    assert sum(n.startswith("stripes/") for n in images) == 1
    rows = list(csv.DictReader(io.StringIO(zf.read("predictions.csv").decode())))
    assert sorted(r["path"] for r in rows) == [
        f"holiday/{n}" for n in ("day2/d0.jpg", "day2/d1.jpg", "day2/d2.jpg", "s0.jpg", "s1.jpg", "s2.jpg")
    ]
    assert sum(r["folder"] == "stripes" for r in rows) == 1


def test_single_image_answer_with_top5_and_gradcam(page, app_url, tmp_path, trained_bundle):
    (tmp_path / "model.pt").write_bytes(model_io.to_bytes(trained_bundle[0]))
    draw_image("stripes", 9001, size=160).save(tmp_path / "one.jpg")
    page.goto(app_url)
    nav(page, "Sort")
    load_model_file(page, tmp_path / "model.pt", "dots, stripes")
    page.get_by_text("Test a single image").click()
    one = page.locator('[data-testid="stFileUploader"]').filter(has_text="One image")
    one.locator("input[type=file]").set_input_files(str(tmp_path / "one.jpg"))
    answer = page.get_by_text("This image belongs to")
    answer.wait_for(timeout=120_000)
    text = answer.inner_text()
    assert ("stripes" in text or "dots" in text) and "%" in text
    page.get_by_text("Grad-CAM for").wait_for(timeout=120_000)
    shot(page, "12-single-image")
