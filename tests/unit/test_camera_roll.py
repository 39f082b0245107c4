"""Real camera rolls: HEIC and AVIF photos, Live Photo and RAW+JPEG companions, videos and sidecars."""

from __future__ import annotations

import io
import zipfile

import pytest
from PIL import Image

from core.analysis import health
from core.data.dataset import load_dataset
from core.data.files import companions, kind_of, scan
from core.data.images import ImageError, load_rgb
from core.data.intake import extract_zip, save_uploads
from tests.helpers.images import draw_image, heic_and_avif_folders, rotated_copy


@pytest.mark.parametrize("ext", [".heic", ".avif"])
def test_heic_and_avif_decode_upright_like_a_jpeg(tmp_path, ext):
    img = draw_image("stripes", 1, size=96).resize((120, 90))  # landscape
    path = rotated_copy(img, tmp_path / f"photo{ext}")
    assert Image.open(path).size in ((90, 120), (120, 90))  # however the container stores it
    out = load_rgb(path)
    assert out.size == (120, 90) and out.info["source_size"] == (120, 90)
    jpg = rotated_copy(img, tmp_path / "photo.jpg")
    ref = load_rgb(jpg)
    diff = sum(abs(a - b) for a, b in zip(out.resize((12, 9)).tobytes(), ref.resize((12, 9)).tobytes()))
    assert diff / (12 * 9 * 3) < 30  # the same picture, the same way up (lossy codecs differ a little)


def test_a_truncated_heic_and_a_video_named_jpg_say_what_they_are(tmp_path):
    path = rotated_copy(draw_image("dots", 2, size=96), tmp_path / "cut.heic")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match="HEIC/AVIF photo that is damaged or cut short"):
        load_rgb(path)
    fake = tmp_path / "clip.jpg"
    fake.write_bytes(b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00qt  " + b"\x00" * 200)
    with pytest.raises(ImageError, match="a video .MOV/MP4., not a photo"):
        load_rgb(fake)
    facts = health.examine(fake)  # the health report says the same, as a warning, not a crash
    assert facts.error and "video" in facts.error


def test_kinds_and_companions_pair_by_folder_and_stem(tmp_path):
    names = [
        "IMG_1.HEIC",
        "IMG_1.MOV",
        "IMG_1.aae",
        "IMG_2.jpg",
        "IMG_2.CR2",
        "IMG_2.jpg.xmp",
        "IMG_3.jpg",
        "IMG_3.heic",
        "IMG_3.mov",
        "clip.mp4",
        "notes.txt",
    ]
    for n in names:
        (tmp_path / n).write_bytes(b"x")
    assert [kind_of(n) for n in ("a.HEIC", "a.MOV", "a.dng", "a.xmp", "a.txt")] == [
        "image",
        "video",
        "raw",
        "sidecar",
        "other",
    ]
    listing = scan(tmp_path)
    pairs = {k.name: sorted(p.name for p in v) for k, v in companions(listing.images, listing.kept).items()}
    assert pairs == {"IMG_1.HEIC": ["IMG_1.MOV", "IMG_1.aae"], "IMG_2.jpg": ["IMG_2.CR2", "IMG_2.jpg.xmp"]}
    # IMG_3.mov has two photos named IMG_3: which one it belongs to would be a guess, so it stays on its own
    assert [p.name for p in listing.others] == ["notes.txt"]


def test_uploads_keep_companions_for_sorting_and_list_them_for_training(tmp_path):
    files = [
        ("roll/IMG_1.heic", rotated_copy(draw_image("dots", 3), tmp_path / "a.heic").read_bytes()),
        ("roll/IMG_1.mov", b"\x00\x00\x00\x14ftypqt  " + b"\x00" * 64),
        ("roll/notes.txt", b"hi"),
    ]
    train = save_uploads(files, tmp_path / "train")
    assert train.written == 1 and train.kept == []
    assert sorted(train.skipped) == [
        ("roll/IMG_1.mov", "a video, RAW file or sidecar: not used for training"),
        ("roll/notes.txt", "not an image file type"),
    ]
    gallery = save_uploads(files, tmp_path / "gallery", keep_companions=True)
    assert gallery.written == 1 and gallery.kept == ["roll/IMG_1.mov"]
    assert (tmp_path / "gallery" / "roll" / "IMG_1.mov").read_bytes() == files[1][1]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files:
            zf.writestr(name, data)
    z = extract_zip(io.BytesIO(buf.getvalue()), tmp_path / "z", keep_companions=True)
    assert z.written == 1 and z.kept == ["roll/IMG_1.mov"]


def test_heic_and_avif_through_the_health_check_and_training(tmp_path):
    from core.training.config import Phase, TrainConfig
    from core.training.train import train

    root = heic_and_avif_folders(tmp_path / "d")
    ds = load_dataset(root, val_fraction=0.34, seed=0)
    report = health.check(ds)
    assert report.n_checked == report.n_images == 12
    assert not [f for f in report.findings if f.kind in health.UNREADABLE_KINDS]
    assert all(s == (120, 90) for s in report.sizes)  # upright: EXIF orientation applied
    r = train(ds, TrainConfig(phases=[Phase("head only", 3, 3e-3)], augment="none"))
    assert r.metrics.n_train + r.metrics.n_val == 12 and not r.skipped
