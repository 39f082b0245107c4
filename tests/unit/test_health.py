"""The health report on generated datasets: each check finds what it should and nothing else."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from core.analysis import health
from core.data.dataset import Item, load_dataset, scan_folder
from tests.helpers.images import ROOT, draw_image, photo_folders, photo_like, placeholder, sparse_note


def kinds(report: health.HealthReport) -> dict[str, list[health.Finding]]:
    out: dict[str, list[health.Finding]] = {}
    for f in report.findings:
        out.setdefault(f.kind, []).append(f)
    return out


def test_clean_dataset_has_no_findings(tmp_path: Path):
    root = photo_folders(tmp_path / "d", {"ants": 12, "bees": 12})
    calls: list[tuple[int, int]] = []
    report = health.check(load_dataset(root), progress=lambda d, t: calls.append((d, t)))
    assert report.findings == []
    assert report.classes == ["ants", "bees"] and report.n_images == report.n_checked == 24
    assert sum(report.splits.values()) == 24 and report.splits["val"] > 0
    assert report.counts["ants"]["train"] + report.counts["ants"]["val"] == 12
    assert calls[-1] == (24, 24)
    assert report.orientation == {"landscape": 0, "portrait": 0, "square": 24}
    assert report.sizes[0] == (96, 96) and report.grayscale_share == 0.0
    json.dumps(report.to_dict())


def test_duplicate_across_classes(tmp_path: Path):
    root = photo_folders(tmp_path / "d", {"ants": 8, "bees": 8})
    shutil.copy(root / "ants" / "ants_03.jpg", root / "bees" / "copied.jpg")
    found = kinds(health.check(load_dataset(root)))
    (f,) = found["duplicate_conflicting_labels"]
    assert {p.name for p in f.files} == {"ants_03.jpg", "copied.jpg"}
    assert f.severity == "warning" and set(f.exclude) == set(f.files)
    assert "near_duplicate_conflicting_labels" not in found  # an exact copy is reported once


def test_duplicate_and_near_duplicate_across_train_and_val(tmp_path: Path):
    root = photo_folders(tmp_path / "d", {"ants": 8, "bees": 8}, split="train")
    photo_folders(root, {"ants": 3, "bees": 3}, split="val", seed0=500)
    shutil.copy(root / "train/ants/ants_01.jpg", root / "val/ants/leak.jpg")
    # a resized, re-compressed copy is the same picture to a perceptual hash
    img = Image.open(root / "train/bees/bees_02.jpg")
    img.resize((80, 80), Image.BILINEAR).save(root / "val/bees/smaller.jpg", quality=70)
    ds = load_dataset(root)
    assert ds.layout == "splits"
    found = kinds(health.check(ds))
    (exact,) = found["duplicate_train_val"]
    assert {p.name for p in exact.files} == {"ants_01.jpg", "leak.jpg"}
    assert [p.name for p in exact.exclude] == ["leak.jpg"]  # keep the training copy
    (near,) = found["near_duplicate_train_val"]
    assert {p.name for p in near.files} == {"bees_02.jpg", "smaller.jpg"}
    assert [p.name for p in near.exclude] == ["smaller.jpg"]


def test_plain_duplicates_and_no_false_near_duplicates(tmp_path: Path):
    root = photo_folders(tmp_path / "d", {"ants": 20, "bees": 20})
    shutil.copy(root / "ants/ants_00.jpg", root / "ants/again.jpg")
    ds = load_dataset(root, val_fraction=0.0)  # all in train: a plain duplicate, not leakage
    found = kinds(health.check(ds))
    (dup,) = found["duplicate"]
    assert dup.severity == "info" and len(dup.exclude) == 1
    assert not any(k.startswith("near_duplicate") for k in found)


def test_flat_placeholder_flagged_and_photos_not(tmp_path: Path):
    root = photo_folders(tmp_path / "d", {"ants": 10, "bees": 10})
    placeholder().save(root / "ants" / "imageNotFound.gif")
    photo_like(77, 193).crop((0, 0, 193, 130)).save(root / "ants" / "formica.jpeg")
    report = health.check(load_dataset(root))
    found = kinds(report)
    (flat,) = found["low_information"]
    assert flat.severity == "warning"
    assert [p.name for p in flat.files] == ["imageNotFound.gif"]
    flagged = {p.name for f in report.findings for p in f.files}
    assert "formica.jpeg" not in flagged


def test_a_page_of_text_is_not_a_placeholder(tmp_path: Path):
    """Documents and screenshots are mostly one flat colour too: their text lines tell them from blanks."""
    root = photo_folders(tmp_path / "d", {"ants": 10, "bees": 10})
    placeholder().save(root / "ants" / "imageNotFound.gif")
    sparse_note().save(root / "ants" / "notes_screenshot.png")
    Image.new("RGB", (300, 400), (255, 255, 255)).save(root / "bees" / "blank.png")
    report = health.check(load_dataset(root))
    (flat,) = kinds(report)["low_information"]
    assert sorted(p.name for p in flat.files) == ["blank.png", "imageNotFound.gif"]


def test_generated_screenshots_and_documents_are_never_offered_as_placeholders(tmp_path: Path):
    """The phone-gallery generator's settings screens are flat with small text: pages, not blanks.

    Small mode makes such screens a few hundred pixels wide, their text a few pixels high; read at
    the classifier's detector size most lines vanish and a page looked like a placeholder.
    """
    from bench.phone_gallery import build

    info = build(tmp_path / "g", 90, seed=0, shared=tmp_path / "none", small=True, kinds=("screenshots", "documents"))
    root = info.out_dir
    photo_folders(root, {"photos": 10})
    Image.new("RGB", (300, 400), (255, 255, 255)).save(root / "photos" / "blank.png")
    Image.new("RGB", (200, 320), (246, 246, 248)).save(root / "screenshots" / "blank_screen.png")
    pages = [root / name for name in info.truth]
    flat = [p for p in pages if health._flat(health.examine(p))]
    assert flat, "no flat-looking page among the generated ones: this test would check nothing"
    report = health.check(load_dataset(root))
    offered = {p for f in kinds(report).get("low_information", []) for p in f.exclude}
    wrongly = sorted(p.relative_to(root).as_posix() for p in offered & set(pages))
    assert not wrongly, f"pages of text offered for exclusion as placeholders: {wrongly}"
    assert {root / "photos" / "blank.png", root / "screenshots" / "blank_screen.png"} <= offered


def test_flat_images_in_a_class_of_graphics_are_only_info(tmp_path: Path):
    root = photo_folders(tmp_path / "d", {"photos": 8})
    (root / "icons").mkdir()
    rng = np.random.default_rng(3)
    for k in range(10):  # clipart: one shape of random size, place and colour on white
        img = Image.new("RGB", (96, 96), "white")
        r = int(rng.integers(6, 30))
        x, y = (int(v) for v in rng.integers(r, 96 - r, 2))
        colour = tuple(int(v) for v in rng.integers(0, 200, 3))
        draw = ImageDraw.Draw(img)
        (draw.ellipse if k % 2 else draw.rectangle)([x - r, y - r, x + r, y + r], fill=colour)
        img.save(root / "icons" / f"icon_{k}.png")
    found = kinds(health.check(load_dataset(root)))
    assert found["low_information"] and all(f.severity == "info" for f in found["low_information"])
    assert not any(k.startswith("near_duplicate") for k in found)


def test_images_too_small_to_hold_text_are_not_read(tmp_path: Path, monkeypatch):
    """Reading text upsamples to 512 x 512: 10,000 2 x 2 icons once took 7 minutes of a health check."""
    from core.models import text_detector

    read: list[object] = []
    real = text_detector.detect
    monkeypatch.setattr(text_detector, "detect", lambda *a, **k: read.append(a) or real(*a, **k))
    Image.new("RGB", (2, 2), "white").save(tmp_path / "icon.png")
    Image.new("RGB", (200, 120), "white").save(tmp_path / "blank.png")
    assert health._flat(health.examine(tmp_path / "icon.png")) and not read
    health.examine(tmp_path / "blank.png")
    assert len(read) == 1  # a flat image big enough for text is still read


def test_synthetic_textures_are_not_flat(tmp_path: Path):
    root = tmp_path / "d"
    for kind in ("stripes", "dots"):
        (root / kind).mkdir(parents=True)
        for k in range(8):
            draw_image(kind, k).save(root / kind / f"{k}.jpg")
    assert "low_information" not in kinds(health.check(load_dataset(root)))


def test_unreadable_and_tiny_files_in_the_dataset(tmp_path: Path):
    root = photo_folders(tmp_path / "d", {"ants": 8, "bees": 8})
    (root / "ants" / "zero.jpg").write_bytes(b"")
    good = (root / "bees" / "bees_00.jpg").read_bytes()
    (root / "bees" / "cut.jpg").write_bytes(good[: len(good) // 2])
    (root / "bees" / "page.jpg").write_text("<html>403 Forbidden</html>")
    photo_like(5, 20).save(root / "ants" / "tiny.png")
    report = health.check(load_dataset(root))
    found = kinds(report)
    assert [p.name for p in found["zero_byte"][0].exclude] == ["zero.jpg"]
    assert [p.name for p in found["truncated"][0].files] == ["cut.jpg"]
    assert [p.name for p in found["not_an_image"][0].files] == ["page.jpg"]
    assert [p.name for p in found["too_small"][0].files] == ["tiny.png"]
    assert report.n_checked == report.n_images - 3


def test_imbalance_and_too_few_images(tmp_path: Path):
    root = photo_folders(tmp_path / "d", {"big": 20, "mid": 6, "tiny": 3})
    found = kinds(health.check(load_dataset(root)))
    (imb,) = found["class_imbalance"]
    assert "big" in imb.message and "tiny" in imb.message and imb.files == ()
    (few,) = found["too_few_images"]
    assert "tiny (3)" in few.message and "mid" not in few.message
    assert {p.parent.name for p in few.files} == {"tiny"} and few.exclude == ()
    balanced = photo_folders(tmp_path / "b", {"a": 10, "b": 8})
    assert "class_imbalance" not in kinds(health.check(load_dataset(balanced)))


def test_single_class_and_no_classes(tmp_path: Path):
    one = photo_folders(tmp_path / "one", {"cats": 6, "dogs": 0})
    shutil.rmtree(one / "dogs")
    (one / "notes").mkdir()  # a second folder without images (a lone folder would read as unlabelled)
    (one / "notes" / "todo.txt").write_text("x")
    (single,) = kinds(health.check(load_dataset(one)))["single_class"]
    assert single.severity == "error" and "cats" in single.message
    flat = tmp_path / "flat"
    flat.mkdir()
    for k in range(3):
        photo_like(k).save(flat / f"{k}.jpg")
    assert "no_classes" in kinds(health.check(load_dataset(flat)))
    empty = tmp_path / "empty"
    empty.mkdir()
    (err,) = health.check(scan_folder(empty)).findings
    assert err.kind == "no_images" and err.severity == "error"


def test_class_findings_follow_exclusions(tmp_path: Path):
    root = photo_folders(tmp_path / "d", {"a": 12, "b": 12})
    ds = load_dataset(root)
    assert health.class_findings(ds) == []
    drop = {i.path for i in ds.items if i.label == "b"}
    changed = ds.with_changes(excluded=set(list(drop)[:9]))
    assert {f.kind for f in health.class_findings(changed)} == {"class_imbalance", "too_few_images"}
    report = health.check(changed)  # excluded files are not examined
    assert report.n_images == 15


def test_missing_validation_class_in_given_split(tmp_path: Path):
    root = photo_folders(tmp_path / "d", {"a": 6, "b": 6}, split="train")
    photo_folders(root, {"a": 3}, split="val", seed0=300)
    (f,) = kinds(health.check(load_dataset(root)))["no_validation_images"]
    assert "b" in f.message


def test_feature_outliers_by_robust_z():
    rng = np.random.default_rng(0)
    u, v = np.eye(16)[0], np.eye(16)[1]
    items, rows = [], []
    for k in range(15):
        items.append(Item(Path(f"a/{k}.jpg"), "a"))
        rows.append(u + 0.05 * rng.normal(size=16))
    items.append(Item(Path("a/odd.jpg"), "a"))
    rows.append(v + 0.05 * rng.normal(size=16))
    items.append(Item(Path("a/broken.jpg"), "a"))
    rows.append(np.full(16, np.nan))
    for k in range(4):  # a class too small to judge
        items.append(Item(Path(f"b/{k}.jpg"), "b"))
        rows.append(v if k else u)
    (f,) = health.outlier_findings(items, np.array(rows))
    assert [p.name for p in f.files] == ["odd.jpg"] and f.kind == "feature_outlier"
    with pytest.raises(ValueError, match="one row per item"):
        health.outlier_findings(items, np.array(rows)[:-1])


def test_check_accepts_features_aligned_with_items(tmp_path: Path):
    root = photo_folders(tmp_path / "d", {"a": 10, "b": 10})
    ds = load_dataset(root)
    X = np.array([[1.0, 0.0, 0.0] if i.label == "a" else [0.0, 1.0, 0.0] for i in ds.items])
    X += np.random.default_rng(1).normal(0, 0.01, X.shape)
    odd = next(k for k, i in enumerate(ds.items) if i.label == "a")
    X[odd] = [0.0, 0.0, 1.0]
    found = kinds(health.check(ds, features=X))
    assert list(found["feature_outlier"][0].files) == [ds.items[odd].path]
    with pytest.raises(ValueError):
        health.check(ds, features=X[:3])


def test_backbone_features_rows_follow_paths(tmp_path: Path):
    paths = []
    for k in range(2):
        photo_like(k, 64).save(tmp_path / f"{k}.jpg")
        paths.append(tmp_path / f"{k}.jpg")
    (tmp_path / "bad.jpg").write_bytes(b"")
    paths.insert(1, tmp_path / "bad.jpg")
    X = health.backbone_features(paths)
    assert X.shape == (3, 1280)
    assert np.isfinite(X[[0, 2]]).all() and np.isnan(X[1]).all()


def test_skipped_files_are_reported(tmp_path: Path):
    root = photo_folders(tmp_path / "d", {"a": 6, "b": 6})
    report = health.check(load_dataset(root), skipped=[("a/notes.txt", "not an image file type")])
    (f,) = kinds(report)["skipped_files"]
    assert f.files == (Path("a/notes.txt"),) and f.exclude == () and f.severity == "info"


def test_findings_sorted_by_severity(tmp_path: Path):
    one = photo_folders(tmp_path / "d", {"only": 3})
    (one / "notes").mkdir()  # keeps "only" a class folder (a lone folder of images reads as unlabelled)
    (one / "notes" / "todo.txt").write_text("x")
    (one / "only" / "zero.jpg").write_bytes(b"")
    sev = [f.severity for f in health.check(load_dataset(one)).findings]
    assert sev == sorted(sev, key=health.SEVERITIES.index) and sev[0] == "error"


def test_health_imports_without_torch():
    code = "import sys, core.analysis.health; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


# ---------------------------------------------------------------- the CLI


def test_cli_check_human_and_json(tmp_path: Path, capsys):
    from core.cli import main

    root = photo_folders(tmp_path / "d", {"ants": 8, "bees": 8}, split="train")
    photo_folders(root, {"ants": 3, "bees": 3}, split="val", seed0=400)
    placeholder().save(root / "train/ants/imageNotFound.gif")
    (root / "train/ants/readme.txt").write_text("x")
    assert main(["check", str(root)]) == 0
    out = capsys.readouterr().out
    assert "2 classes" in out and "train/val folders" in out
    assert "ants" in out and "bees" in out
    assert "train/ants/imageNotFound.gif" in out and "action:" in out
    assert "train/ants/readme.txt" in out

    assert main(["check", str(root), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["classes"] == ["ants", "bees"] and data["splits"] == {"train": 17, "val": 6}
    flat = [f for f in data["findings"] if f["kind"] == "low_information"]
    assert flat[0]["files"] == ["train/ants/imageNotFound.gif"]


def test_cli_check_zip_and_bad_input(tmp_path: Path, capsys):
    from core.cli import main

    root = photo_folders(tmp_path / "d", {"ants": 6, "bees": 6})
    archive = shutil.make_archive(str(tmp_path / "data"), "zip", root)
    assert main(["check", archive]) == 0
    out = capsys.readouterr().out
    assert "12 images, 2 classes" in out
    assert main(["check", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:")
    (tmp_path / "bad.zip").write_bytes(b"not a zip")
    assert main(["check", str(tmp_path / "bad.zip")]) == 2
    assert "not a valid .zip" in capsys.readouterr().err
