"""Sorting a local gallery: companions travel together, moves are journalled and undone, only new photos next time."""

from __future__ import annotations

import csv
import hashlib
import os
from pathlib import Path

import pytest

from core.cli import main
from core.inference.placement import latest_journal, read_journal
from core.training import model_io
from tests.helpers.images import draw_image, rotated_copy

MOV = b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00qt  " + os.urandom(256)


@pytest.fixture
def model_dir(trained_bundle, tmp_path):
    return model_io.save_dir(trained_bundle[0], tmp_path / "model").parent


def camera_roll(root: Path, n: int = 6, start: int = 0) -> Path:
    """n photos (stripes and dots), one a Live Photo (HEIC + MOV), one a RAW + JPEG pair with a sidecar."""
    root.mkdir(parents=True, exist_ok=True)
    for k in range(start, start + n):
        kind = "stripes" if k % 2 else "dots"
        draw_image(kind, 4000 + k, size=96).save(root / f"IMG_{k:04d}.jpg", quality=90)
    if start == 0:
        rotated_copy(draw_image("dots", 4999, size=96), root / "IMG_LIVE.heic")
        (root / "IMG_LIVE.mov").write_bytes(MOV)
        (root / "IMG_0001.dng").write_bytes(os.urandom(512))
        (root / "IMG_0001.xmp").write_bytes(b"<x:xmpmeta/>")
        (root / "holiday.mp4").write_bytes(MOV)  # a video no photo claims
    return root


def tree(root: Path) -> dict[str, tuple[str, int]]:
    """Every file under root (outside our state folder): content hash and mtime, by relative path."""
    return {
        p.relative_to(root).as_posix(): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".gallery-sorter" not in p.parts
    }


def by_name(root: Path) -> dict[str, str]:
    """file name -> the folder it sits in (relative)."""
    return {
        p.name: p.parent.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and ".gallery-sorter" not in p.parts and p.name != "predictions.csv"
    }


def test_copies_keep_bytes_and_dates_and_companions_go_with_their_photo(model_dir, tmp_path, capsys):
    gallery = camera_roll(tmp_path / "roll")
    before = tree(gallery)
    assert main(["sort", str(model_dir), str(gallery), "--out", str(tmp_path / "out")]) == 0
    assert tree(gallery) == before  # originals untouched
    where = by_name(tmp_path / "out")
    assert where["IMG_LIVE.mov"] == where["IMG_LIVE.heic"]  # the Live Photo pair
    assert where["IMG_0001.dng"] == where["IMG_0001.xmp"] == where["IMG_0001.jpg"]  # RAW + JPEG + sidecar
    assert where["holiday.mp4"] == "not-classified"
    out = tree(tmp_path / "out")
    for rel, (digest, mtime) in out.items():
        if rel != "predictions.csv":
            assert (digest, mtime) == before[Path(rel).name]  # byte-identical copies with their dates
    rows = list(csv.DictReader(open(tmp_path / "out" / "predictions.csv")))
    live = next(r for r in rows if r["path"] == "IMG_LIVE.heic")
    assert live["companions"] == "IMG_LIVE.mov"
    assert "companion files with their photos" in capsys.readouterr().out


def test_companions_can_be_left_where_they_are(model_dir, tmp_path):
    gallery = camera_roll(tmp_path / "roll")
    assert main(["sort", str(model_dir), str(gallery), "--out", str(tmp_path / "out"), "--no-companions"]) == 0
    names = by_name(tmp_path / "out")
    assert "IMG_LIVE.mov" not in names and "holiday.mp4" not in names and "IMG_LIVE.heic" in names


def test_dry_run_changes_nothing_then_move_in_place_and_undo_puts_every_file_back(model_dir, tmp_path, capsys):
    gallery = camera_roll(tmp_path / "roll")
    before = tree(gallery)
    assert main(["sort", str(model_dir), str(gallery), "--out", str(gallery), "--move", "--dry-run"]) == 0
    said = capsys.readouterr().out
    assert "dry run" in said and "nothing was changed" in said and " -> " in said
    assert tree(gallery) == before
    assert main(["sort", str(model_dir), str(gallery), "--out", str(gallery), "--move"]) == 0
    journal = latest_journal(gallery)
    assert journal is not None and len(read_journal(journal)) == len(before)  # written for every file moved
    after = by_name(gallery)
    assert after["IMG_LIVE.mov"] == after["IMG_LIVE.heic"] != "."
    assert {rel.split("/")[-1]: v for rel, v in tree(gallery).items()}.keys() >= {Path(r).name for r in before}
    assert main(["undo", str(gallery)]) == 0
    assert tree(gallery) == before  # every file back where it was, byte for byte, dates kept
    assert f"put back {len(before)} files" in capsys.readouterr().out
    assert latest_journal(gallery) is None  # undone: nothing left to undo


def test_undo_refuses_a_hand_edited_journal_and_never_overwrites(model_dir, tmp_path, capsys):
    gallery = camera_roll(tmp_path / "roll")
    assert main(["sort", str(model_dir), str(gallery), "--out", str(tmp_path / "sorted"), "--move"]) == 0
    journal = latest_journal(tmp_path / "sorted")
    text = journal.read_text()
    journal.write_text(text.replace("blake2b", "md5"))  # columns edited by hand
    assert main(["undo", str(journal)]) == 2
    assert "not a Gallery Sorter journal" in capsys.readouterr().err
    lines = text.splitlines()
    journal.write_text("\n".join([lines[0], lines[1].replace(",", ",,", 1), *lines[2:]]) + "\n")
    assert main(["undo", str(journal)]) == 2
    assert "line 2" in capsys.readouterr().err
    journal.write_text(text)
    first = read_journal(journal)[0]
    Path(first["source"]).write_bytes(b"a new file where the old one was")  # the user made a new file there
    changed = read_journal(journal)[1]
    Path(changed["destination"]).write_bytes(b"edited after sorting")
    assert main(["undo", str(journal)]) == 1
    err = capsys.readouterr().err
    assert "another file now sits at" in err and "changed since it was sorted" in err
    assert Path(first["source"]).read_bytes() == b"a new file where the old one was"  # not overwritten
    assert Path(first["destination"]).exists() and Path(changed["destination"]).exists()  # nothing lost


def test_new_only_adds_exactly_the_photos_that_arrived_since(model_dir, tmp_path, capsys):
    gallery = camera_roll(tmp_path / "roll", n=20)
    out = tmp_path / "sorted"
    assert main(["sort", str(model_dir), str(gallery), "--out", str(out), "--new-only"]) == 0
    first = by_name(out)
    first_files = tree(out)
    capsys.readouterr()
    camera_roll(gallery, n=50, start=100)  # 50 new photos this week
    assert main(["sort", str(model_dir), str(gallery), "--out", str(out), "--new-only"]) == 0
    said = capsys.readouterr()
    assert "21 photos were sorted before; looking at the 50 new ones" in said.err
    second = by_name(out)
    assert set(second) - set(first) == {f"IMG_{k:04d}.jpg" for k in range(100, 150)}
    kept = {rel: v for rel, v in tree(out).items() if rel in first_files and rel != "predictions.csv"}
    assert kept == {rel: v for rel, v in first_files.items() if rel != "predictions.csv"}  # earlier ones left alone
    assert main(["sort", str(model_dir), str(gallery), "--out", str(out), "--new-only"]) == 0
    assert "nothing new to sort" in capsys.readouterr().out


def test_new_only_after_a_move_in_place(model_dir, tmp_path, capsys):
    gallery = camera_roll(tmp_path / "roll", n=10)
    assert main(["sort", str(model_dir), str(gallery), "--out", str(gallery), "--move", "--new-only"]) == 0
    camera_roll(gallery, n=5, start=200)
    capsys.readouterr()
    assert main(["sort", str(model_dir), str(gallery), "--out", str(gallery), "--move", "--new-only"]) == 0
    said = capsys.readouterr()
    assert "looking at the 5 new ones" in said.err and "moved 5 images" in said.out
    assert not [p for p in gallery.iterdir() if p.is_file() and p.suffix == ".jpg"]  # the top level is sorted


def test_copies_may_not_land_inside_the_gallery_and_a_zip_cannot_be_moved(model_dir, tmp_path, capsys):
    gallery = camera_roll(tmp_path / "roll", n=4)
    assert main(["sort", str(model_dir), str(gallery), "--out", str(gallery / "sorted")]) == 2
    assert "outside the gallery" in capsys.readouterr().err
    import zipfile

    with zipfile.ZipFile(tmp_path / "g.zip", "w") as zf:
        zf.write(gallery / "IMG_0000.jpg", "IMG_0000.jpg")
    assert main(["sort", str(model_dir), str(tmp_path / "g.zip"), "--out", str(tmp_path / "o"), "--move"]) == 2
    assert "give a folder, not a .zip" in capsys.readouterr().err
