"""Captions name a photo by its path under the gallery's root, so two IMG_0054s are told apart."""

from __future__ import annotations

from pathlib import Path

import pytest

from pages.ui.common import photo_name

ROOT = Path("/data/gallery")


def test_two_photos_with_one_file_name_get_two_captions():
    a, b = photo_name(ROOT / "cats" / "IMG_0054.jpg", ROOT), photo_name(ROOT / "dogs" / "IMG_0054.jpg", ROOT)
    assert (a, b) == ("cats/IMG_0054.jpg", "dogs/IMG_0054.jpg")
    assert photo_name(ROOT / "IMG_0054.jpg", ROOT) == "IMG_0054.jpg"  # at the top: its name is its path


def test_without_a_root_or_outside_it_the_parent_folder_stays():
    assert photo_name(Path("/elsewhere/dogs/IMG_0054.jpg"), ROOT) == "dogs/IMG_0054.jpg"
    assert photo_name("/tmp/x/cats/IMG_0054.jpg") == "cats/IMG_0054.jpg"
    assert photo_name("/IMG_0054.jpg") == "IMG_0054.jpg"


@pytest.mark.parametrize(
    "rel, want",
    [
        (
            "2019/holidays in spain/beach days/morning/IMG_20190704_083012_HDR.jpg",
            "…/morning/IMG_20190704_083012_HDR.jpg",
        ),
        ("train/cats/2019/06/holidays/spain/beach/IMG_1.jpg", "train/…/holidays/spain/beach/IMG_1.jpg"),
        ("a_really_long_folder_name_for_photos_of_cats/IMG_0054.jpg", "a_really_long…hotos_of_cats/IMG_0054.jpg"),
    ],
)
def test_a_long_path_keeps_the_name_and_the_folders_nearest_it(rel, want):
    got = photo_name(ROOT / rel, ROOT, width=40)
    assert got == want and len(got) <= 40


def test_a_long_file_name_is_cut_in_the_middle_keeping_its_extension():
    got = photo_name(ROOT / "x" / ("y" * 80 + ".jpeg"), ROOT, width=40)
    assert len(got) <= 40 and got.endswith("y.jpeg") and "…" in got
    wide = photo_name(ROOT / "2019" / "holidays" / "IMG_0054.jpg", ROOT, width=200)
    assert wide == "2019/holidays/IMG_0054.jpg"  # short enough: never shortened
