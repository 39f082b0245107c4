"""Real browser: folder and zip uploads, and several sessions training at once without
seeing each other's data."""

from __future__ import annotations

import zipfile

from tests.helpers.browser import nav, open_demo, shot, start_training, wait_trained
from tests.helpers.images import make_class_folders


def upload_folder(page, folder):
    page.get_by_role("tab", name="Upload a folder").click()
    up = page.locator('[data-testid="stFileUploader"]').filter(has_text="Choose a folder of photos")
    up.locator("input[type=file]").set_input_files(str(folder))


def test_folder_and_zip_uploads_become_datasets(page, app_url, tmp_path):
    folder = make_class_folders(tmp_path / "mine", classes=("sunsets", "receipts"), n=6)
    (folder / "sunsets" / "broken.jpg").write_bytes(b"")  # a zero-byte file the report must list
    page.goto(app_url)
    nav(page, "Data")
    upload_folder(page, folder)
    page.get_by_text("folder upload: 13 images").wait_for(timeout=60_000)
    page.locator('[data-testid="stDataFrame"]').first.wait_for()
    page.get_by_role("heading", name="Health report").wait_for(timeout=120_000)
    page.get_by_text("Readable images").wait_for(timeout=120_000)
    assert "broken.jpg" in page.locator("body").inner_text()
    shot(page, "07-data-folder-upload")
    zpath = tmp_path / "pets.zip"
    pets = make_class_folders(tmp_path / "pets", classes=("cats", "dogs"), n=5, ext=".png")
    with zipfile.ZipFile(zpath, "w") as zf:
        for p in pets.rglob("*.png"):
            zf.write(p, "pets/" + p.relative_to(pets).as_posix())
        zf.writestr("__MACOSX/._junk", b"junk")
    page.get_by_role("tab", name="Upload a .zip or files").click()
    up = page.locator('[data-testid="stFileUploader"]').filter(has_text="A .zip of class folders")
    up.locator("input[type=file]").set_input_files(str(zpath))
    page.get_by_text("zip/files upload: 10 images").wait_for(timeout=60_000)
    page.get_by_role("tab", name="cats").wait_for()
    page.get_by_role("heading", name="Health report").wait_for(timeout=120_000)
    shot(page, "08-data-zip-upload")


def test_four_sessions_train_at_once_and_stay_separate(browser, app_url, tmp_path):
    sessions = []
    try:
        _four_sessions(browser, app_url, tmp_path, sessions)
    finally:
        for ctx, _, _ in sessions:
            ctx.close()


def _four_sessions(browser, app_url, tmp_path, sessions):
    for k in range(4):
        ctx = browser.new_context(viewport={"width": 1300, "height": 900})
        pg = ctx.new_page()
        pg.set_default_timeout(180_000)
        classes = (f"alpha{k}", f"beta{k}")
        make_class_folders(tmp_path / f"s{k}", classes=classes, n=5)
        pg.goto(app_url)
        nav(pg, "Data")
        upload_folder(pg, tmp_path / f"s{k}")
        pg.get_by_text("folder upload: 10 images").wait_for()
        sessions.append((ctx, pg, classes))
    for _ctx, pg, _classes in sessions:
        nav(pg, "Train")
        start_training(pg, epochs=1)
    for _ctx, pg, _classes in sessions:
        wait_trained(pg)
    for k, (_ctx, pg, classes) in enumerate(sessions):
        nav(pg, "Review")
        pg.get_by_text("Per class").wait_for()
        text = pg.locator("body").inner_text()
        others = [c for j, (_, _, cs) in enumerate(sessions) if j != k for c in cs]
        assert any(c in text for c in classes) or pg.locator('[data-testid="stDataFrame"]').count()
        nav(pg, "Data")
        pg.get_by_role("tab", name=classes[0]).wait_for()
        text = pg.locator("body").inner_text()
        assert all(c in text for c in classes)
        assert not [c for c in others if c in text], f"session {k} sees another session's classes"
        if k == 0:
            shot(pg, "09-session-isolation")


def test_refresh_mid_training_finds_the_running_job(page, app_url):
    open_demo(page, app_url)
    nav(page, "Train")
    start_training(page, epochs=3)
    page.locator('[data-testid="stProgress"]').first.wait_for(timeout=60_000)
    url = page.url
    assert "ws=" in url
    page.reload()  # a new Streamlit session: the workspace id in the URL finds the job again
    page.get_by_role("heading", name="Train", exact=True).wait_for()
    page.locator('[data-testid="stProgress"]').first.wait_for(timeout=60_000)
    assert page.get_by_role("button", name="Train", exact=True).is_disabled()  # no duplicate job
    wait_trained(page)
    shot(page, "10-refresh-mid-training")
