"""bench/phone_gallery.py: the small generated gallery, built without ../shared (stand-in photos)."""

from __future__ import annotations

import csv
import hashlib
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from bench import phone_gallery as pg

N = 6


@pytest.fixture(scope="module")
def no_shared(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("no_shared")  # empty: the generator must fall back to stand-in photos


@pytest.fixture(scope="module")
def gallery(tmp_path_factory, no_shared) -> pg.GalleryInfo:
    return pg.build(tmp_path_factory.mktemp("g") / "gallery", per_kind=N, seed=0, shared=no_shared, small=True)


def digests(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_every_kind_gets_its_folder_and_count(gallery):
    assert gallery.kinds == pg.KINDS and gallery.synthetic_sources
    for kind in pg.KINDS:
        files = sorted((gallery.out_dir / kind).iterdir())
        assert len(files) == N == gallery.counts[kind]
    assert len(gallery.truth) == N * len(pg.KINDS)
    assert all(kind == name.split("/")[0] for name, kind in gallery.truth.items())
    assert sorted(p.name for p in gallery.out_dir.iterdir()) == sorted(pg.KINDS)  # nothing else inside


def test_images_open_are_small_and_vary_in_size_and_format(gallery):
    sizes: dict[str, set] = {}
    for name, kind in gallery.truth.items():
        with Image.open(gallery.out_dir / name) as im:
            im.load()
            assert im.mode == "RGB" and max(im.size) <= pg.SMALL_MAX
            sizes.setdefault(kind, set()).add(im.size)
    for kind, seen in sizes.items():
        assert len(seen) >= N // 2, (kind, seen)  # no kind has a signature size
    exts = Counter(Path(n).suffix for n in gallery.truth)
    assert exts[".png"] and exts[".jpg"] + exts[".jpeg"]


def test_same_seed_same_bytes_other_seed_other_images(gallery, no_shared, tmp_path):
    again = pg.build(tmp_path / "again", N, seed=0, shared=no_shared, small=True)
    assert digests(again.out_dir) == digests(gallery.out_dir)
    other = pg.build(tmp_path / "other", N, seed=1, shared=no_shared, small=True)
    assert not set(digests(other.out_dir).values()) & set(digests(gallery.out_dir).values())


def test_flat_gallery_has_neutral_names_and_a_truth_csv_beside_it(gallery, no_shared, tmp_path):
    out = tmp_path / "flat"
    info = pg.build(out, N, seed=0, shared=no_shared, small=True, flat=True)
    names = sorted(p.name for p in out.iterdir())
    assert all(re.fullmatch(r"IMG_\d{4}\.(jpg|jpeg|png)", n) for n in names)
    assert sorted(int(n[4:8]) for n in names) == list(range(1, N * len(pg.KINDS) + 1))
    assert info.truth_csv == pg.truth_csv_path(out) and info.truth_csv.parent == out.parent
    with open(info.truth_csv, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["file"]: r["kind"] for r in rows} == info.truth and set(info.truth) == set(names)
    assert Counter(info.truth.values()) == dict.fromkeys(pg.KINDS, N)
    in_name_order = [info.truth[n] for n in names]
    assert in_name_order != sorted(in_name_order, key=pg.KINDS.index)  # shuffled, not kind by kind
    # the same pictures as the foldered gallery, only renamed
    assert sorted(digests(out).values()) == sorted(digests(gallery.out_dir).values())


def test_no_source_photo_is_both_in_a_meme_and_in_a_plain_kind(gallery):
    by_kind: dict[str, set] = {}
    for name, kind in gallery.truth.items():
        by_kind.setdefault(kind, set()).update(gallery.sources[name])
    memes = by_kind["memes"]
    plain = set().union(*(by_kind[k] for k in pg.PHOTO_KINDS))
    misc = set().union(*(by_kind[k] for k in ("screenshots", "documents", "receipts")))
    assert memes and plain and not memes & plain
    assert not misc & (memes | plain)  # thumbnails and backgrounds come from their own share


def _reference(gallery: pg.GalleryInfo, name: str, shared: Path, src_id: str) -> np.ndarray:
    """The meme's source photo cut and scaled as the meme recipe says, without the caption."""
    meta = gallery.meta[name]
    src = pg.load_source(src_id, shared, True)
    w, h = src.size
    left, top, right, bottom = meta["crop"]
    ref = src.crop((round(left * w), round(top * h), round(right * w), round(bottom * h)))
    if meta["flip"]:
        ref = ImageOps.mirror(ref)
    x0, y0, x1, y1 = meta["photo_box"]
    return np.asarray(ref.resize((x1 - x0, y1 - y0), Image.Resampling.LANCZOS), np.float32)


def test_memes_show_their_photo_with_caption_pixels_in_the_bands(gallery, no_shared):
    memes = [n for n, k in gallery.truth.items() if k == "memes"]
    all_sources = sorted({s for n in memes for s in gallery.sources[n]})
    for name in memes:
        meta = gallery.meta[name]
        img = Image.open(gallery.out_dir / name).convert("RGB")
        x0, y0, x1, y1 = meta["photo_box"]
        photo = np.asarray(img.crop((x0, y0, x1, y1)), np.float32)
        rows = np.ones(y1 - y0, bool)
        for _bx0, by0, _bx1, by1 in meta["bands"]:
            rows[max(0, by0 - y0) : max(0, by1 - y0)] = False
        assert rows.sum() > (y1 - y0) // 4, name
        [src_id] = gallery.sources[name]
        own = np.abs(photo - _reference(gallery, name, no_shared, src_id))[rows].mean()
        assert own < 14, (name, own)
        for other in all_sources:
            if other != src_id:  # another photo is clearly further away
                assert np.abs(photo - _reference(gallery, name, no_shared, other))[rows].mean() > own + 5
        for bx0, by0, bx1, by1 in meta["bands"]:
            band = np.asarray(img.crop((bx0, by0, bx1, by1)), np.int16)
            white = (band.min(axis=2) > 200).mean()
            black = (band.max(axis=2) < 60).mean()
            if meta["style"] in ("classic", "top", "bottom"):  # white letters, black outline (tiny here)
                assert white > 0.003 and black > 0.03, (name, white, black)
            else:  # text on a plain white or dark band: mostly background, some ink
                grey = band.mean(axis=2)
                ink = (np.abs(grey - np.median(grey)) > 60).mean()
                assert max(white, black) > 0.5 and ink > 0.01, (name, white, black, ink)


def test_meme_styles_vary(no_shared, tmp_path):
    info = pg.build(tmp_path / "m", 24, seed=0, shared=no_shared, small=True, kinds=("memes",))
    styles = Counter(m["style"] for m in info.meta.values())
    assert {"classic", "twitter"} <= set(styles) and len(styles) >= 4, styles
    assert len(Counter(m["origin"] for m in info.meta.values())) == 3  # animals, objects and scenery photos


def test_no_fonts_installed_falls_back_to_pillow_default(no_shared, tmp_path, monkeypatch):
    monkeypatch.setattr(pg, "FONT_DIRS", (tmp_path / "no_fonts",))
    pg.font_families.cache_clear()
    pg.font.cache_clear()
    try:
        assert pg.pick_fonts(__import__("random").Random(0), "mono") == (None, None)
        info = pg.build(tmp_path / "g", 2, seed=0, shared=no_shared, small=True)
        assert sum(info.counts.values()) == 2 * len(pg.KINDS)
    finally:
        pg.font_families.cache_clear()
        pg.font.cache_clear()


def test_refuses_a_non_empty_folder(no_shared, tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        pg.build(tmp_path, 1, shared=no_shared, small=True)
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_cli_runs_as_a_script(no_shared, tmp_path):
    out = tmp_path / "cli"
    script = Path(pg.__file__)
    r = subprocess.run(
        [sys.executable, str(script), str(out), "--per-kind", "1", "--small", "--flat", "--shared", str(no_shared)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert len(list(out.iterdir())) == len(pg.KINDS)
    assert pg.truth_csv_path(out).exists() and (tmp_path / "cli.manifest.json").exists()
