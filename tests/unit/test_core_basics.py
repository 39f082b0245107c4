"""Images, intake basics, dataset layouts and splits."""

from __future__ import annotations

import io
import zipfile

import pytest
from PIL import Image

from core.data.dataset import DatasetError, check_trainable, load_dataset, scan_folder, stratified_split
from core.data.files import safe_relpath
from core.data.images import ImageError, load_rgb
from core.data.intake import IntakeError, extract_zip, save_uploads
from tests.helpers.images import draw_image, make_class_folders


def test_load_rgb_flattens_alpha_onto_white(tmp_path):
    rgba = Image.new("RGBA", (10, 10), (255, 0, 0, 0))  # fully transparent red
    rgba.save(tmp_path / "a.png")
    out = load_rgb(tmp_path / "a.png")
    assert out.mode == "RGB"
    assert out.getpixel((5, 5)) == (255, 255, 255)


def test_load_rgb_reports_broken_files_cleanly(tmp_path):
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "text.jpg").write_text("not an image")
    with pytest.raises(ImageError, match="empty"):
        load_rgb(tmp_path / "empty.jpg")
    with pytest.raises(ImageError, match="not a readable image"):
        load_rgb(tmp_path / "text.jpg")


def test_draft_decode_keeps_enough_resolution(tmp_path):
    draw_image("dots", 1, size=2000).save(tmp_path / "big.jpg")
    small = load_rgb(tmp_path / "big.jpg", min_side=256)
    assert 256 <= min(small.size) < 2000


@pytest.mark.parametrize(
    "size,expected",
    [((4000, 3000), (500, 375)), ((3000, 4000), (375, 500)), ((1000, 750), (500, 375)), ((600, 300), (600, 300))],
)
def test_draft_decode_takes_the_largest_reduction_that_is_big_enough(tmp_path, size, expected):
    """One pixel of slack in the draft request would halve the reduction (4x the decode work)."""
    Image.new("RGB", size, (120, 80, 40)).save(tmp_path / "p.jpg", quality=80)
    img = load_rgb(tmp_path / "p.jpg", min_side=256)
    assert img.size == expected
    assert img.info["source_size"] == size


@pytest.mark.parametrize(
    "name,expected",
    [
        ("../../etc/passwd.jpg", "etc/passwd.jpg"),
        ("/abs/x.jpg", "abs/x.jpg"),
        ("C:\\Users\\me\\cat.jpg", "Users/me/cat.jpg"),
        ("a/./b/../c.jpg", "a/b/c.jpg"),
    ],
)
def test_safe_relpath_never_escapes(name, expected):
    assert str(safe_relpath(name)) == expected


def test_save_uploads_sanitises_and_never_overwrites(tmp_path):
    data = io.BytesIO()
    draw_image("dots", 2).save(data, format="PNG")
    files = [
        ("../cats/a.png", data.getvalue()),
        ("cats/a.png", data.getvalue()),
        (".DS_Store", b"x"),
        ("notes.txt", b"hello"),
    ]
    report = save_uploads(files, tmp_path / "up")
    written = sorted(p.relative_to(tmp_path / "up").as_posix() for p in (tmp_path / "up").rglob("*") if p.is_file())
    assert written == ["cats/a (1).png", "cats/a.png"]
    assert report.written == 2
    assert [s[0] for s in report.skipped] == ["notes.txt"]


def test_zip_slip_entries_stay_inside(tmp_path):
    buf = io.BytesIO()
    img = io.BytesIO()
    draw_image("stripes", 3).save(img, format="JPEG")
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("../../evil.jpg", img.getvalue())
        zf.writestr("/abs/evil2.jpg", img.getvalue())
        zf.writestr("ok/fine.jpg", img.getvalue())
    dest = tmp_path / "out"
    extract_zip(io.BytesIO(buf.getvalue()), dest)
    files = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())
    assert files == ["abs/evil2.jpg", "evil.jpg", "ok/fine.jpg"]
    assert not (tmp_path / "evil.jpg").exists()


def test_empty_and_invalid_zip_are_clean_errors(tmp_path):
    buf = io.BytesIO()
    zipfile.ZipFile(buf, "w").close()
    with pytest.raises(IntakeError, match="empty"):
        extract_zip(io.BytesIO(buf.getvalue()), tmp_path / "x")
    with pytest.raises(IntakeError, match="not a valid .zip"):
        extract_zip(io.BytesIO(b"PK junk"), tmp_path / "y")


def test_layouts_detected(tmp_path):
    make_class_folders(tmp_path / "classes", n=3)
    assert scan_folder(tmp_path / "classes").layout == "classes"
    make_class_folders(tmp_path / "splits" / "train", n=3)
    make_class_folders(tmp_path / "splits" / "val", n=2)
    ds = scan_folder(tmp_path / "splits")
    assert ds.layout == "splits" and ds.classes == ["dots", "stripes"]
    assert len(ds.split_items("val")) == 4
    flat = tmp_path / "flat"
    flat.mkdir()
    draw_image("dots", 1).save(flat / "a.jpg")
    assert scan_folder(flat).layout == "flat"
    # a zip's (or a folder upload's) single wrapper folder is skipped
    make_class_folders(tmp_path / "wrap" / "mydata", n=2)
    assert scan_folder(tmp_path / "wrap").classes == ["dots", "stripes"]
    (tmp_path / "upload" / "camera-roll").mkdir(parents=True)
    draw_image("dots", 2).save(tmp_path / "upload" / "camera-roll" / "a.jpg")
    assert scan_folder(tmp_path / "upload").layout == "flat"  # a lone folder of images is unlabelled
    # uploading just the train/ (or val/) folder of a split dataset: its class folders are the classes
    for name in ("train", "val"):
        make_class_folders(tmp_path / f"only-{name}" / name, n=2)
        ds = scan_folder(tmp_path / f"only-{name}")
        assert ds.layout == "classes" and ds.classes == ["dots", "stripes"], (name, ds.layout, ds.classes)


def test_stratified_split_is_seeded_and_per_class(tmp_path):
    make_class_folders(tmp_path / "d", n=10)
    a = stratified_split(scan_folder(tmp_path / "d"), 0.2, seed=1)
    b = stratified_split(scan_folder(tmp_path / "d"), 0.2, seed=1)
    c = stratified_split(scan_folder(tmp_path / "d"), 0.2, seed=2)
    val = lambda ds: sorted(str(i.path) for i in ds.split_items("val"))  # noqa: E731
    assert val(a) == val(b) and val(a) != val(c)
    assert {c: v["val"] for c, v in a.counts().items()} == {"dots": 2, "stripes": 2}


def test_untrainable_datasets_are_explained(tmp_path):
    make_class_folders(tmp_path / "one", classes=("dots",), n=4)
    (tmp_path / "one" / "notes").mkdir()  # a second folder without images: still one class
    (tmp_path / "one" / "notes" / "readme.txt").write_text("x")
    with pytest.raises(DatasetError, match="only one class"):
        check_trainable(load_dataset(tmp_path / "one"))
    (tmp_path / "none").mkdir()
    with pytest.raises(DatasetError, match="no images found"):
        check_trainable(load_dataset(tmp_path / "none"))
    (tmp_path / "lone" / "ants").mkdir(parents=True)  # one folder of photos: unlabelled, and the error says so
    draw_image("dots", 1).save(tmp_path / "lone" / "ants" / "a.jpg")
    with pytest.raises(DatasetError, match="no labelled images .a single folder of photos is read as unlabelled"):
        check_trainable(load_dataset(tmp_path / "lone"))


def test_exclusions_and_relabels_apply(tmp_path):
    ds = load_dataset(make_class_folders(tmp_path / "d", n=4))
    first = ds.items[0].path
    second = ds.items[1].path
    eff = ds.with_changes(excluded={first}, relabel={second: "new"})
    assert first not in [i.path for i in eff.labelled]
    assert [i.label for i in eff.labelled if i.path == second] == ["new"]
    assert "new" in eff.classes
    assert ds.items[1].label != "new"  # the original dataset is untouched
