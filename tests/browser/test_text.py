"""Real browser: a gallery with memes goes through Train, Review (the text lines shown) and Sort."""

from __future__ import annotations

import csv
import io
import re
import shutil
import zipfile

from bench.phone_gallery import build
from tests.helpers.browser import nav, shot


def test_memes_get_their_own_folder_and_review_shows_the_text_lines(page, app_url, tmp_path):
    # small generated photos, no ../shared needed: memes over the same kind of pictures as "animals"
    info = build(
        tmp_path / "gallery", 24, seed=3, shared=tmp_path / "none", small=True, kinds=("animals", "memes", "documents")
    )
    held = tmp_path / "unsorted"
    held.mkdir()
    truth = {}
    for kind in info.kinds:  # the last three of each kind are left out of training, to be sorted
        for p in sorted((info.out_dir / kind).iterdir())[-3:]:
            shutil.move(p, held / f"{kind}_{p.name}")
            truth[f"{kind}_{p.name}"] = kind

    page.goto(app_url)
    nav(page, "Data")
    page.get_by_role("tab", name="Upload a folder").click()
    up = page.locator('[data-testid="stFileUploader"]').filter(has_text="Choose a folder of photos")
    up.locator("input[type=file]").set_input_files(str(info.out_dir))
    page.get_by_text("Images per class").wait_for(timeout=90_000)

    nav(page, "Train")
    page.locator('[data-testid="stRadio"]').filter(has_text="Quality").get_by_text(re.compile(r"^Quick( ·|$)")).click()
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text("Finished", exact=True).wait_for(timeout=600_000)
    page.get_by_text("This model reads the text on photos").wait_for(timeout=30_000)
    shot(page, "20-text-train")

    nav(page, "Review")
    page.locator('[data-testid="stRadio"]').filter(has_text="Show").get_by_text("All", exact=True).click()
    page.get_by_text("Show the text lines it read").wait_for(timeout=60_000)
    caption = page.get_by_text("caption bands").first
    caption.wait_for(timeout=120_000)  # a meme's caption, in words
    caption.scroll_into_view_if_needed()
    page.screenshot(path=str(shot(page, "21-text-review").with_name("21-text-review-cards.png")))

    nav(page, "Sort")
    folder_up = page.locator('[data-testid="stFileUploader"]').filter(has_text="Folder of photos to sort")
    folder_up.locator("input[type=file]").set_input_files(str(held))
    page.get_by_role("button", name=f"Sort {len(truth)} images").click()
    download = page.get_by_role("button", name="Download sorted .zip")
    download.wait_for(timeout=180_000)
    page.wait_for_function(
        "() => [...document.querySelectorAll('button')].some(b => b.innerText.includes('Download sorted .zip') && !b.disabled)",
        timeout=60_000,
    )
    shot(page, "22-text-sort")
    with page.expect_download() as dl:
        download.click()
    zf = zipfile.ZipFile(io.BytesIO(open(dl.value.path(), "rb").read()))
    rows = list(csv.DictReader(io.StringIO(zf.read("predictions.csv").decode())))
    predicted = {r["path"].split("/")[-1]: r["class"] for r in rows}
    memes = [name for name, kind in truth.items() if kind == "memes"]
    wrong = {name: c for name, c in predicted.items() if (c == "memes") != (truth[name] == "memes")}
    assert not wrong and len(memes) == 3, wrong  # the meme folder holds the memes, and only them
