"""Generated images for tests: visually distinct synthetic classes, photo-like fields, placeholders.

No network and no ../shared needed: every test builds what it looks at.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
SHARED_DATA = ROOT.parent / "shared" / "data"


def draw_image(kind: str, seed: int, size: int = 96) -> Image.Image:
    """Visually distinct synthetic classes: 'stripes', 'dots', 'plain' (random colours, jitter)."""
    rng = np.random.default_rng(seed)
    bg = tuple(int(v) for v in rng.integers(0, 256, 3))
    img = Image.new("RGB", (size, size), bg)
    d = ImageDraw.Draw(img)
    fg = tuple(255 - v for v in bg)
    if kind == "stripes":
        step = int(rng.integers(6, 12))
        for x in range(0, size, step * 2):
            d.rectangle([x, 0, x + step - 1, size], fill=fg)
    elif kind == "dots":
        for _ in range(int(rng.integers(8, 16))):
            x, y = rng.integers(0, size, 2)
            r = int(rng.integers(4, 10))
            d.ellipse([x - r, y - r, x + r, y + r], fill=fg)
    else:
        noise = rng.integers(-12, 12, (size, size, 3))
        arr = np.clip(np.asarray(img, dtype=int) + noise, 0, 255).astype(np.uint8)
        img = Image.fromarray(arr)
    return img


def make_class_folders(root: Path, classes=("stripes", "dots"), n: int = 10, size: int = 96, ext: str = ".jpg") -> Path:
    for c_i, c in enumerate(classes):
        (root / c).mkdir(parents=True, exist_ok=True)
        for k in range(n):
            draw_image(c, seed=1000 * c_i + k, size=size).save(root / c / f"{c}_{k:02d}{ext}")
    return root


def photo_like(seed: int, size: int = 96) -> Image.Image:
    """A smooth random colour field with sensor-like noise: many colours, no flat areas."""
    rng = np.random.default_rng(seed)
    coarse = Image.fromarray(rng.integers(0, 256, (5, 5, 3), dtype=np.uint8))
    arr = np.asarray(coarse.resize((size, size), Image.BICUBIC), dtype=np.float32)
    arr += rng.normal(0, 8, arr.shape)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def placeholder(size: int = 120) -> Image.Image:
    """A web 'image not found' graphic: near-white with a little grey text."""
    img = Image.new("RGB", (size, size), (245, 245, 245))
    d = ImageDraw.Draw(img)
    d.text((size // 6, size // 2 - 8), "WE'RE SORRY,", fill=(70, 70, 70))
    d.text((size // 6, size // 2 + 6), "image not found", fill=(120, 120, 120))
    return img


def photo_folders(root: Path, counts: dict[str, int], split: str | None = None, seed0: int = 0) -> Path:
    for c_i, (cls, n) in enumerate(counts.items()):
        folder = root / split / cls if split else root / cls
        folder.mkdir(parents=True, exist_ok=True)
        for k in range(n):
            photo_like(seed0 + 1000 * c_i + k).save(folder / f"{cls}_{k:02d}.jpg", quality=90)
    return root


def rotated_copy(img: Image.Image, path: Path, orientation: int = 6, fmt: str | None = None) -> Path:
    """Save ``img`` stored sideways with an EXIF orientation tag, as phones do: upright once decoded.

    Orientation 6 means "rotate 90 degrees clockwise to view": the stored pixels are the upright
    picture turned 90 degrees anticlockwise, so a decoder that honours the tag shows ``img`` again.
    HEIC goes through pillow-heif, AVIF through Pillow.
    """
    if path.suffix.lower() in (".heic", ".heif"):
        import pillow_heif

        pillow_heif.register_heif_opener()
    stored = img.transpose(Image.Transpose.ROTATE_90) if orientation == 6 else img
    exif = Image.Exif()
    exif[0x0112] = orientation
    stored.save(path, format=fmt, exif=exif.tobytes(), quality=90)
    return path


def heic_and_avif_folders(root: Path, n: int = 6) -> Path:
    """stripes / dots class folders whose photos are HEIC and AVIF files stored sideways (EXIF orientation 6)."""
    for c_i, c in enumerate(("stripes", "dots")):
        (root / c).mkdir(parents=True, exist_ok=True)
        for k in range(n):
            img = draw_image(c, seed=3000 + 100 * c_i + k, size=96).resize((120, 90))
            ext = ".heic" if k % 2 == 0 else ".avif"
            rotated_copy(img, root / c / f"{c}_{k:02d}{ext}")
    return root


def bold_font(size: int):
    """A bold TrueType font when the machine has one, else Pillow's own scalable font (never fails)."""
    from PIL import ImageFont

    for path in sorted(Path("/usr/share/fonts").glob("**/*Bold.ttf")):
        try:
            return ImageFont.truetype(str(path), size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def meme(
    seed: int, size: tuple[int, int] = (480, 360), top: str = "WHEN THE CODE", bottom: str = "FINALLY WORKS"
) -> Image.Image:
    """A photo-like picture with a classic caption: white bold text, black outline, top and bottom."""
    w, h = size
    img = photo_like(seed, max(w, h)).resize(size)
    d = ImageDraw.Draw(img)
    font = bold_font(h // 9)
    for y, text, anchor in ((h // 30, top, "mt"), (h - h // 30, bottom, "mb")):
        if text:
            d.text(
                (w // 2, y),
                text,
                font=font,
                fill="white",
                stroke_width=max(2, h // 120),
                stroke_fill="black",
                anchor=anchor,
            )
    return img


def text_page(seed: int, size: tuple[int, int] = (420, 560), lines: int = 22) -> Image.Image:
    """A document page: a heading and many evenly spaced, left-aligned lines of dark text on white."""
    rng = np.random.default_rng(seed)
    w, h = size
    img = Image.new("RGB", size, (250, 250, 246))
    d = ImageDraw.Draw(img)
    words = ["invoice", "total", "meeting", "report", "the", "and", "budget", "review", "page", "notes", "summary"]
    d.text((w // 10, h // 20), "Quarterly Report", font=bold_font(h // 22), fill=(20, 20, 20))
    body = bold_font(h // 45)
    step = (h - h // 6) / lines
    for k in range(lines):
        text = " ".join(rng.choice(words, int(rng.integers(6, 10))))
        d.text((w // 10, h // 7 + k * step), text, font=body, fill=(30, 30, 30))
    return img


def sparse_note(lines: int = 4, size: tuple[int, int] = (600, 900)) -> Image.Image:
    """A notes-app screenshot: a few lines of small dark text on white, mostly empty (flat-looking)."""
    img = Image.new("RGB", size, "white")
    d = ImageDraw.Draw(img)
    font = bold_font(16)
    for k in range(lines):
        d.text((40, 60 + k * 34), "Meeting notes for the quarterly budget review", font=font, fill=(40, 40, 40))
    return img


CAPTIONS = [("WHEN IT WORKS", "ON FRIDAY"), ("ME", "ALSO ME"), ("NOBODY:", ""), ("", "THIS IS FINE")]


def memes_and_photos(root: Path, n: int = 12, seed0: int = 0) -> Path:
    """Two classes a CNN finds alike and the text tells apart: photo-like fields with and without captions."""
    for cls in ("memes", "photos"):
        (root / cls).mkdir(parents=True, exist_ok=True)
    for k in range(n):
        top, bottom = CAPTIONS[k % len(CAPTIONS)]
        meme(seed0 + 100 + k, top=top, bottom=bottom).save(root / "memes" / f"meme_{k:02d}.jpg")
        photo_like(seed0 + 200 + k, 480).resize((480, 360)).save(root / "photos" / f"photo_{k:02d}.jpg")
    return root
