"""Real browser, a large local camera roll: 2,000 photos from a folder path, a copy by default,
sorting in place chosen, a dry run that changes nothing, sorted in place, then undone, every
file back byte for byte. The page never holds a thumbnail per photo."""

from __future__ import annotations

import hashlib

from core.training import model_io
from tests.helpers.browser import load_model_file, nav, shot
from tests.helpers.images import draw_image

N = 2000


def _hashes(root) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file() and ".gallery-sorter" not in p.parts
    }


def test_two_thousand_photos_dry_run_move_in_place_and_undo(page, app_url, tmp_path, trained_bundle):
    (tmp_path / "model.pt").write_bytes(model_io.to_bytes(trained_bundle[0]))
    roll = tmp_path / "DCIM"
    roll.mkdir()
    for k in range(N):
        draw_image("dots" if k % 2 else "stripes", 20_000 + k, size=64).save(roll / f"IMG_{k:04d}.jpg", quality=80)
    (roll / "IMG_0001.xmp").write_text("<x:xmpmeta/>")  # a sidecar travels with its photo
    before = _hashes(roll)

    page.goto(app_url)
    nav(page, "Sort")
    load_model_file(page, tmp_path / "model.pt", "dots, stripes")
    page.get_by_role("tab", name="Local folder").click()
    box = page.get_by_label("Folder on this machine", exact=True)
    box.fill(str(roll))
    box.press("Enter")
    page.wait_for_timeout(800)
    page.get_by_role("button", name="Use this folder").last.click()
    sort = page.get_by_role("button", name=f"Sort {N} images")
    sort.wait_for(timeout=60_000)
    sort.click()
    page.get_by_role("button", name=f"Copy {N} photos").wait_for(timeout=600_000)  # a copy unless asked
    where = page.locator('[data-testid="stRadio"]').filter(has_text="Where the class folders go")
    where.get_by_text("inside the gallery folder").click()  # sorting in place is chosen, never the default
    move = page.get_by_role("button", name=f"Move {N} photos")  # its count is of photos sorted so far
    move.wait_for()
    # thousands of photos, a bounded page: thumbnails are paged, not one per photo
    assert page.locator("img").count() < 300

    page.get_by_role("button", name="Preview (dry run)").click()
    page.get_by_text("Dry run").wait_for()
    assert _hashes(roll) == before  # a preview changes nothing

    move.click()
    page.get_by_text(f"Moved {N} images").first.wait_for(timeout=600_000)
    moved = _hashes(roll)
    assert sorted(moved.values()) == sorted(before.values())  # every byte kept, only places changed
    assert not [k for k in moved if "/" not in k]  # nothing left at the top level
    xmp = next(k for k in moved if k.endswith("IMG_0001.xmp"))
    assert xmp.rsplit("/", 1)[0] == next(k for k in moved if k.endswith("IMG_0001.jpg")).rsplit("/", 1)[0]
    shot(page, "17-camera-roll-moved")

    page.get_by_role("button", name="Undo last sort").first.click()
    page.get_by_text(f"Put back {N + 1} files").first.wait_for(timeout=300_000)  # the photos and the sidecar
    assert _hashes(roll) == before  # the folder is as it was, byte for byte
