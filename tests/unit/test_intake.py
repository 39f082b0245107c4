"""Intake and decoding under hostile or odd input: every file is generated here."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import struct
import time
import zipfile
from pathlib import Path, PurePosixPath

import numpy as np
import pytest
from PIL import Image

from core.analysis import health
from core.data import intake
from core.data.dataset import load_dataset, scan_folder
from core.data.files import MAX_NAME_BYTES, safe_relpath
from core.data.images import MAX_PIXELS, ImageError, load_rgb
from core.data.intake import IntakeError, copy_local_folder, extract_zip, materialise_report, save_uploads
from tests.helpers.images import draw_image, make_class_folders

# ---------------------------------------------------------------- helpers


def jpeg_bytes(kind: str = "dots", seed: int = 0, size: int = 64, fmt: str = "JPEG") -> bytes:
    buf = io.BytesIO()
    draw_image(kind, seed, size).save(buf, format=fmt)
    return buf.getvalue()


def make_zip(path: Path, members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name), data, compress_type=compression)
    return path


def written_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def tree_hashes(root: Path) -> dict[str, tuple[str, float]]:
    out = {}
    for p in sorted(Path(root).rglob("*")):
        if p.is_file() and not p.is_symlink():
            out[str(p.relative_to(root))] = (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime)
    return out


def patch_central(data: bytes, name: bytes, offset: int, fmt: str, value: int) -> bytes:
    """Overwrite one field of a member's central-directory header (to forge sizes or flags)."""
    buf = bytearray(data)
    pos = 0
    while True:
        pos = buf.index(b"PK\x01\x02", pos)
        name_len = struct.unpack_from("<H", buf, pos + 28)[0]
        if bytes(buf[pos + 46 : pos + 46 + name_len]) == name:
            struct.pack_into(fmt, buf, pos + offset, value)
            return bytes(buf)
        pos += 4


# ---------------------------------------------------------------- zip slip, links, bombs


def test_zip_slip_entries_land_inside_dest(tmp_path: Path):
    img = jpeg_bytes()
    src = make_zip(
        tmp_path / "evil.zip",
        {
            "../escape1.jpg": img,
            "../../escape2.jpg": img,
            "/abs/escape3.jpg": img,
            "C:\\Windows\\escape4.jpg": img,
            "C:/temp/escape5.jpg": img,
            "a/../../b/escape6.jpg": img,
            "..\\..\\escape7.jpg": img,
            "ok/fine.jpg": img,
        },
    )
    dest = tmp_path / "out" / "data"
    report = extract_zip(src, dest)
    assert report.written == 8
    files = written_files(tmp_path / "out")
    root = dest.resolve()
    assert all(root in f.resolve().parents for f in files)
    assert not list(tmp_path.glob("escape*")) and not (Path("/abs") / "escape3.jpg").exists()
    names = {f.relative_to(dest).as_posix() for f in files}
    assert {
        "escape1.jpg",
        "abs/escape3.jpg",
        "Windows/escape4.jpg",
        "temp/escape5.jpg",
        "a/b/escape6.jpg",
        "ok/fine.jpg",
    } <= names


def test_symlink_members_are_not_extracted(tmp_path: Path):
    link = zipfile.ZipInfo("ants/link.jpg")
    link.create_system = 3  # unix
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(tmp_path / "links.zip", "w") as zf:
        zf.writestr(link, "/etc/passwd")
        zf.writestr("ants/real.jpg", jpeg_bytes())
    dest = tmp_path / "out"
    report = extract_zip(tmp_path / "links.zip", dest)
    assert report.written == 1
    assert any("symlink" in why for _, why in report.skipped)
    assert not (dest / "ants" / "link.jpg").exists()
    assert not any(p.is_symlink() for p in dest.rglob("*"))


def test_zip_bomb_by_ratio_is_refused(tmp_path: Path):
    zeros = b"\0" * (50 * 1024**2)  # 50 MB of zeros deflates to ~50 KB
    src = make_zip(tmp_path / "bomb.zip", {"a/bomb.jpg": zeros})
    assert src.stat().st_size < 1024**2
    with pytest.raises(IntakeError, match="bomb"):
        extract_zip(src, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_zip_with_huge_declared_size_is_refused(tmp_path: Path):
    raw = make_zip(tmp_path / "x.zip", {"a/one.jpg": jpeg_bytes()}).read_bytes()
    forged = patch_central(raw, b"a/one.jpg", 24, "<I", 3_000_000_000)  # uncompressed size field
    (tmp_path / "forged.zip").write_bytes(forged)
    with pytest.raises(IntakeError, match="GiB"):
        extract_zip(tmp_path / "forged.zip", tmp_path / "out")


def test_zip_member_larger_than_its_header_is_not_written_beyond_it(tmp_path: Path):
    data = jpeg_bytes(size=128)
    raw = make_zip(tmp_path / "x.zip", {"a/lie.jpg": data}, zipfile.ZIP_STORED).read_bytes()
    forged = patch_central(raw, b"a/lie.jpg", 24, "<I", 100)  # claims 100 bytes
    (tmp_path / "lie.zip").write_bytes(forged)
    dest = tmp_path / "out"
    report = extract_zip(tmp_path / "lie.zip", dest)
    assert report.written == 0 and "damaged" in dict(report.skipped)["a/lie.jpg"]
    assert written_files(dest) == []  # the partial file is removed


def test_zip_with_too_many_members_is_refused(tmp_path: Path):
    path = tmp_path / "many.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for k in range(intake.MAX_ZIP_MEMBERS + 1):
            zf.writestr(f"{k}.txt", b"")
    with pytest.raises(IntakeError, match="entries"):
        extract_zip(path, tmp_path / "out")


def test_encrypted_and_damaged_members_are_skipped_not_fatal(tmp_path: Path):
    good, bad = jpeg_bytes(seed=1), jpeg_bytes(seed=2)
    raw = make_zip(
        tmp_path / "x.zip", {"c/good.jpg": good, "c/secret.jpg": bad, "c/crc.jpg": bad}, zipfile.ZIP_STORED
    ).read_bytes()
    raw = patch_central(raw, b"c/secret.jpg", 8, "<H", 0x1)  # "encrypted" flag
    buf = bytearray(raw)
    # flip one data byte of c/crc.jpg: its CRC check fails on read
    start = buf.index(b"c/crc.jpg") + len(b"c/crc.jpg") + 200
    buf[start] ^= 0xFF
    (tmp_path / "y.zip").write_bytes(bytes(buf))
    report = extract_zip(tmp_path / "y.zip", tmp_path / "out")
    reasons = dict(report.skipped)
    assert report.written == 1 and (tmp_path / "out" / "c" / "good.jpg").exists()
    assert "encrypted" in reasons["c/secret.jpg"]
    assert "damaged" in reasons["c/crc.jpg"] and not (tmp_path / "out" / "c" / "crc.jpg").exists()


def test_empty_zip_and_junk_only_zip(tmp_path: Path):
    make_zip(tmp_path / "empty.zip", {})
    with pytest.raises(IntakeError, match="empty"):
        extract_zip(tmp_path / "empty.zip", tmp_path / "o1")
    make_zip(tmp_path / "junk.zip", {".DS_Store": b"x", "__MACOSX/._a.jpg": b"x"})
    with pytest.raises(IntakeError, match="empty"):
        extract_zip(tmp_path / "junk.zip", tmp_path / "o2")
    (tmp_path / "notzip.zip").write_bytes(b"this is not a zip")
    with pytest.raises(IntakeError, match="not a valid"):
        extract_zip(tmp_path / "notzip.zip", tmp_path / "o3")


def test_no_images_at_all(tmp_path: Path):
    make_zip(tmp_path / "docs.zip", {"a/readme.txt": b"hi", "a/data.csv": b"1,2"})
    report = extract_zip(tmp_path / "docs.zip", tmp_path / "out")
    assert report.written == 0 and len(report.skipped) == 2
    ds = scan_folder(tmp_path / "out") if (tmp_path / "out").exists() else None
    assert ds is None or ds.layout == "empty"
    up = save_uploads([("notes.txt", b"x"), ("a.pdf", b"%PDF")], tmp_path / "up")
    assert up.written == 0 and {n for n, _ in up.skipped} == {"notes.txt", "a.pdf"}
    rep = health.check(scan_folder(tmp_path / "up"), skipped=up.skipped)
    kinds = {f.kind for f in rep.findings}
    assert "no_images" in kinds and "skipped_files" in kinds


# ---------------------------------------------------------------- decoding odd files


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_decompression_bomb_image_is_refused(tmp_path: Path):
    w, h = 9000, MAX_PIXELS // 9000 + 10  # just over the limit, below PIL's own 2x error
    Image.new("1", (w, h)).save(tmp_path / "bomb.png")
    with pytest.raises(ImageError, match="MP limit"):
        load_rgb(tmp_path / "bomb.png")
    Image.new("1", (12000, 12000)).save(tmp_path / "bigger.png")  # beyond PIL's own 2x limit
    with pytest.raises(ImageError, match="MP limit"):
        load_rgb(tmp_path / "bigger.png")
    facts = health.examine(tmp_path / "bomb.png")
    assert facts.error_kind == "too_large"


@pytest.mark.parametrize("fmt,ext", [("JPEG", ".jpg"), ("PNG", ".png")])
def test_truncated_files(tmp_path: Path, fmt: str, ext: str):
    rng = np.random.default_rng(0)
    data = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (120, 120, 3), dtype=np.uint8)).save(data, format=fmt)
    path = tmp_path / f"cut{ext}"
    path.write_bytes(data.getvalue()[: len(data.getvalue()) // 2])
    with pytest.raises(ImageError, match="truncated"):
        load_rgb(path)
    assert health.examine(path).error_kind == "truncated"


def test_zero_byte_and_fake_jpg(tmp_path: Path):
    (tmp_path / "zero.jpg").write_bytes(b"")
    (tmp_path / "page.jpg").write_bytes(b"<!DOCTYPE html><html><body>404 Not Found</body></html>")
    noise = np.random.default_rng(7).integers(0, 256, 2048, dtype=np.uint8).tobytes()
    (tmp_path / "noise.jpg").write_bytes(noise)
    (tmp_path / "angle.jpg").write_bytes(b"<" + noise)  # damaged bytes that happen to begin like a page
    with pytest.raises(ImageError, match="0 bytes"):
        load_rgb(tmp_path / "zero.jpg")
    for name in ("page.jpg", "noise.jpg", "angle.jpg"):
        with pytest.raises(ImageError, match="not a readable image"):
            load_rgb(tmp_path / name)
    names = ("zero.jpg", "page.jpg", "noise.jpg", "angle.jpg")
    kinds = {p: health.examine(tmp_path / p).error_kind for p in names}
    assert kinds == {
        "zero.jpg": "zero_byte",
        "page.jpg": "not_an_image",
        "noise.jpg": "unreadable",
        "angle.jpg": "unreadable",
    }


def test_animated_gif_uses_first_frame(tmp_path: Path):
    frames = [Image.new("RGB", (32, 32), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=50, loop=0)
    with Image.open(tmp_path / "anim.gif") as probe:
        assert probe.n_frames == 3
    r, g, b = load_rgb(tmp_path / "anim.gif").getpixel((16, 16))
    assert r > 200 and g < 50 and b < 50


def test_16bit_png_scales_by_full_range(tmp_path: Path):
    arr = np.zeros((8, 24), dtype=np.uint16)
    arr[:, :8], arr[:, 8:16], arr[:, 16:] = 65535, 32768, 257
    Image.fromarray(arr).save(tmp_path / "deep.png")
    with Image.open(tmp_path / "deep.png") as probe:
        assert probe.mode.startswith("I")
    img = load_rgb(tmp_path / "deep.png")
    assert img.mode == "RGB"
    assert img.getpixel((2, 2)) == (255, 255, 255)
    assert all(abs(v - 128) <= 1 for v in img.getpixel((10, 2)))
    assert all(v <= 2 for v in img.getpixel((20, 2)))  # a dark 16-bit image stays dark


def test_cmyk_jpeg_loads_with_right_colours(tmp_path: Path):
    Image.new("RGB", (32, 32), (220, 20, 20)).convert("CMYK").save(tmp_path / "cmyk.jpg")
    with Image.open(tmp_path / "cmyk.jpg") as probe:
        assert probe.mode == "CMYK"
    r, g, b = load_rgb(tmp_path / "cmyk.jpg").getpixel((16, 16))
    assert r > 180 and g < 70 and b < 70


def test_transparency_flattens_onto_white(tmp_path: Path):
    # palette + transparency index: index 0 (black) is transparent, index 1 (blue) is opaque
    p = Image.new("P", (20, 10), 0)
    p.putpalette([0, 0, 0, 0, 0, 255] + [0] * 762)
    p.paste(1, (10, 0, 20, 10))
    p.save(tmp_path / "pal.png", transparency=0)
    img = load_rgb(tmp_path / "pal.png")
    assert img.getpixel((2, 5)) == (255, 255, 255)
    assert img.getpixel((15, 5)) == (0, 0, 255)
    # RGBA: fully transparent black must not show as black; half-transparent red blends with white
    rgba = Image.new("RGBA", (20, 10), (0, 0, 0, 0))
    rgba.paste((255, 0, 0, 128), (10, 0, 20, 10))
    rgba.save(tmp_path / "rgba.png")
    img = load_rgb(tmp_path / "rgba.png")
    assert img.getpixel((2, 5)) == (255, 255, 255)
    r, g, b = img.getpixel((15, 5))
    assert r == 255 and 120 <= g <= 135 and 120 <= b <= 135
    # grey + alpha, and a transparent GIF
    Image.new("LA", (8, 8), (0, 0)).save(tmp_path / "la.png")
    assert load_rgb(tmp_path / "la.png").getpixel((4, 4)) == (255, 255, 255)
    p.save(tmp_path / "pal.gif", transparency=0)
    assert load_rgb(tmp_path / "pal.gif").getpixel((2, 5)) == (255, 255, 255)


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
def test_exif_orientation_applied_and_bogus_values_tolerated(tmp_path: Path):
    base = Image.new("RGB", (40, 20), (0, 0, 255))
    base.paste((255, 0, 0), (0, 0, 10, 20))  # red strip on the left edge
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: viewers rotate 90 degrees clockwise
    base.save(tmp_path / "rot.jpg", exif=exif, quality=95)
    img = load_rgb(tmp_path / "rot.jpg")
    assert img.size == (20, 40)
    assert img.info["source_size"] == (20, 40)
    r, g, b = img.getpixel((10, 3))  # the left strip is now at the top
    assert r > 200 and b < 60
    for value in (9, 0, 65535):
        exif = Image.Exif()
        exif[0x0112] = value
        base.save(tmp_path / f"bogus{value}.jpg", exif=exif)
        assert load_rgb(tmp_path / f"bogus{value}.jpg").size == (40, 20)
    base.save(tmp_path / "corrupt.jpg", exif=b"Exif\x00\x00II*\x00\xff\xff\xff\xff")
    assert load_rgb(tmp_path / "corrupt.jpg").size == (40, 20)


def test_reduced_decode_keeps_source_size(tmp_path: Path):
    draw_image("dots", 0, 800).save(tmp_path / "big.jpg")
    img = load_rgb(tmp_path / "big.jpg", min_side=64)
    assert min(img.size) < 800 and img.info["source_size"] == (800, 800)


# ---------------------------------------------------------------- names


def test_unicode_and_very_long_names(tmp_path: Path):
    img = jpeg_bytes()
    long_cjk = "写真" * 150 + ".jpg"  # 300 characters, 900 UTF-8 bytes
    long_ascii = "x" * 400 + ".jpeg"
    members = {
        "Fotos/Ärger 😀/日本語の名前.jpg": img,
        "Fotos/Cafe\u0301/one.jpg": img,  # NFD: normalised to NFC
        f"Fotos/long/{long_cjk}": img,
        f"Fotos/long/{long_ascii}": img,
        "Fotos/ctl/a\x01b?c*.jpg": img,
    }
    dest = tmp_path / "out"
    report = extract_zip(make_zip(tmp_path / "u.zip", members), dest)
    assert report.written == 5
    files = written_files(dest)
    for f in files:
        assert len(f.name.encode()) <= MAX_NAME_BYTES and f.suffix in (".jpg", ".jpeg")
    names = {f.relative_to(dest).as_posix() for f in files}
    assert "Fotos/Ärger 😀/日本語の名前.jpg" in names
    assert "Fotos/Caf\u00e9/one.jpg" in names
    assert "Fotos/ctl/a_b_c_.jpg" in names
    up = save_uploads([(f"d/{long_cjk}", img)], tmp_path / "up")
    assert up.written == 1
    ds = load_dataset(dest)
    assert len(ds.items) == 5


def test_same_name_in_two_folders_and_twice_in_one(tmp_path: Path):
    a, b, c = jpeg_bytes(seed=1), jpeg_bytes(seed=2), jpeg_bytes(seed=3)
    path = tmp_path / "dup.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("ants/x.jpg", a)
        zf.writestr("bees/x.jpg", b)
        with pytest.warns(UserWarning, match="Duplicate name"):
            zf.writestr("bees/x.jpg", c)
    dest = tmp_path / "out"
    report = extract_zip(path, dest)
    assert report.written == 3
    assert (dest / "ants/x.jpg").read_bytes() == a
    assert {(dest / "bees/x.jpg").read_bytes(), (dest / "bees/x (1).jpg").read_bytes()} == {b, c}
    ds = scan_folder(dest)
    assert ds.classes == ["ants", "bees"] and len(ds.items) == 3


def test_os_junk_and_hidden_files_are_ignored(tmp_path: Path):
    img = jpeg_bytes()
    junk = {
        ".DS_Store": b"\0\0\0\1Bud1",
        "ants/.DS_Store": b"x",
        "__MACOSX/ants/._a.jpg": b"\0\5\x16\7",
        "ants/._b.jpg": b"\0\5\x16\7",
        "ants/Thumbs.db": b"x",
        "bees/desktop.ini": b"x",
        "ants/.hidden.jpg": img,
        ".git/x.jpg": img,
        "bees/@eaDir/a.jpg/SYNOPHOTO_THUMB_S.jpg": img,
    }
    real = {"ants/a.jpg": img, "bees/b.jpg": img}
    dest = tmp_path / "out"
    report = extract_zip(make_zip(tmp_path / "j.zip", {**junk, **real}), dest)
    assert report.written == 2 and report.skipped == []
    assert {f.relative_to(dest).as_posix() for f in written_files(dest)} == set(real)
    up = save_uploads(list({**junk, **real}.items()), tmp_path / "up")
    assert up.written == 2 and up.skipped == []
    # the same clutter in a local folder, plus a symlink, a FIFO and a linked folder
    src = tmp_path / "local"
    for name, data in {**junk, **real}.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_bytes(data)
    (src / "ants" / "link.jpg").symlink_to(src / "ants" / "a.jpg")
    (src / "linked").symlink_to(src / "ants", target_is_directory=True)
    os.mkfifo(src / "bees" / "pipe.jpg")
    local = copy_local_folder(src, tmp_path / "copy")
    # clutter is ignored silently; links and the FIFO are reported as skipped, never followed or opened
    assert local.written == 2
    assert sorted(local.skipped) == [
        ("ants/link.jpg", "a symbolic link (not followed)"),
        ("bees/pipe.jpg", "a FIFO, socket or device, not a regular file"),
        ("linked", "a symbolic link (not followed)"),
    ]
    assert {f.relative_to(tmp_path / "copy").as_posix() for f in written_files(tmp_path / "copy")} == set(real)
    ds = scan_folder(src)  # a folder used in place (the CLI) sees the same two images, and never opens the FIFO
    assert sorted(i.path.name for i in ds.items) == ["a.jpg", "b.jpg"]


def test_upload_limits_count_across_zips(tmp_path: Path):
    z = make_zip(tmp_path / "z.zip", {f"c/{k}.jpg": jpeg_bytes(seed=k) for k in range(3)}).read_bytes()
    with pytest.raises(IntakeError, match="limit"):
        save_uploads([("one.zip", z), ("two.zip", z)], tmp_path / "up", max_files=4)


# ---------------------------------------------------------------- originals stay untouched


def test_originals_unchanged_after_intake_and_check(tmp_path: Path):
    src = make_class_folders(tmp_path / "orig", n=6)
    (src / "dots" / "notes.txt").write_text("keep me")
    (src / "stripes" / "zero.jpg").write_bytes(b"")
    with zipfile.ZipFile(tmp_path / "orig.zip", "w") as zf:
        for p in sorted(src.rglob("*")):
            if p.is_file():
                zf.write(p, p.relative_to(src).as_posix())
    before = tree_hashes(src)
    zip_before = hashlib.sha256((tmp_path / "orig.zip").read_bytes()).hexdigest()
    time.sleep(0.01)

    copied = copy_local_folder(src, tmp_path / "ws" / "local")
    extracted = extract_zip(tmp_path / "orig.zip", tmp_path / "ws" / "zip")
    in_place = materialise_report(src, tmp_path / "ws" / "cli")
    for root, skipped in (
        (copied.root, copied.skipped),
        (extracted.root, extracted.skipped),
        (in_place.root, in_place.skipped),
    ):
        report = health.check(load_dataset(root), skipped=skipped)
        assert report.n_images == 13
    assert tree_hashes(src) == before
    assert hashlib.sha256((tmp_path / "orig.zip").read_bytes()).hexdigest() == zip_before


# ---------------------------------------------------------------- many files


@pytest.mark.slow
def test_two_thousand_tiny_files(tmp_path: Path):
    rng = np.random.default_rng(0)
    path = tmp_path / "many.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for k in range(2000):
            buf = io.BytesIO()
            Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(buf, format="PNG")
            zf.writestr(f"c{k % 2}/img_{k:04d}.png", buf.getvalue())
    t0 = time.perf_counter()
    report = extract_zip(path, tmp_path / "out")
    ds = load_dataset(tmp_path / "out")
    rep = health.check(ds)
    assert report.written == 2000 and len(ds.items) == 2000 and rep.n_checked == 2000
    small = [f for f in rep.findings if f.kind == "too_small"]
    assert small and len(small[0].files) == 2000
    assert time.perf_counter() - t0 < 120


# ---------------------------------------------------------------- safe_relpath


def test_safe_relpath_examples():
    assert safe_relpath("../../etc/passwd") == PurePosixPath("etc/passwd")
    assert safe_relpath("/abs/x.jpg") == PurePosixPath("abs/x.jpg")
    assert safe_relpath("C:\\Users\\me\\x.jpg") == PurePosixPath("Users/me/x.jpg")
    assert safe_relpath("..") is None and safe_relpath("/") is None and safe_relpath("") is None
    assert safe_relpath(" . /x.jpg") == PurePosixPath("x.jpg")
    assert safe_relpath("...jpg") == PurePosixPath("jpg")


def test_safe_relpath_property(tmp_path: Path):
    hyp = pytest.importorskip("hypothesis")
    from hypothesis import strategies as st

    alphabet = st.sampled_from(list("ab./\\:_ -é😀\x00\n") + ["..", "C:", "~", "\u0301"])
    names = st.lists(alphabet, max_size=40).map("".join) | st.text(max_size=300)
    dest = (tmp_path / "dest").resolve()

    @hyp.settings(max_examples=300, deadline=None, database=None)
    @hyp.given(names)
    def prop(name: str) -> None:
        rel = safe_relpath(name)
        if rel is None:
            return
        assert not rel.is_absolute()
        assert ".." not in rel.parts and "." not in rel.parts
        assert all(p and "/" not in p and "\\" not in p and "\x00" not in p for p in rel.parts)
        assert all(len(p.encode("utf-8")) <= MAX_NAME_BYTES for p in rel.parts)
        joined = (dest / rel).resolve()
        assert dest in joined.parents

    prop()
