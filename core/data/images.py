"""The only place that opens an image file.

Every path into the engine (training, health checks, Grad-CAM, sorting) decodes
through :func:`load_rgb`, so size limits, EXIF orientation and odd modes are
handled once and the same way everywhere. HEIC/HEIF (iPhones' default) decode
through pillow-heif, registered here once; AVIF through Pillow itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps

try:  # pillow-heif applies a HEIC's rotation while decoding (and resets its EXIF orientation to 1)
    import pillow_heif

    pillow_heif.register_heif_opener()
    HEIF_READY = True
except ImportError:  # pragma: no cover - a requirement; without it HEIC files say what is missing
    HEIF_READY = False

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff", ".heic", ".heif", ".avif"}
)
FORMAT_WORDS = "JPEG, PNG, HEIC, AVIF, WebP, BMP, GIF or TIFF"
UPLOAD_TYPES = sorted(e.lstrip(".") for e in IMAGE_EXTENSIONS)  # what an image uploader accepts

# 64 MP: a 12 MP phone photo passes, a decompression bomb does not.
MAX_PIXELS = 64_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
ImageFile.LOAD_TRUNCATED_IMAGES = False


class ImageError(ValueError):
    """An image file that cannot be used, with a message fit for the user."""


def is_image_name(name: str) -> bool:
    return Path(name).suffix.lower() in IMAGE_EXTENSIONS


def _flatten(img: Image.Image) -> Image.Image:
    """Convert any mode to RGB; transparent pixels become white, not hidden RGB."""
    if img.mode == "RGB" and "transparency" not in img.info:
        return img
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(img, dtype=np.float64)
        # 16-bit files use the full 0..65535 range; a plain "I" image may not.
        full = 65535.0 if img.mode.startswith("I;16") else max(255.0, float(arr.max()) if arr.size else 0.0)
        img = Image.fromarray(np.clip(arr * (255.0 / full), 0, 255).round().astype(np.uint8), "L")
    if img.mode in ("P", "L", "RGB") and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("LA", "La", "PA"):
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "RGBa"):
        background = Image.new("RGB", img.size, (255, 255, 255))
        background.paste(img, mask=img.getchannel("A"))
        return background
    return img.convert("RGB")


def draft_request(w: int, h: int, min_side: int) -> tuple[int, int]:
    """The size to ask PIL's JPEG draft mode for so the short side stays >= min_side.

    Draft picks the largest 1/2, 1/4, 1/8 reduction with ``size // request >= scale``,
    so the request must be exact integers: one pixel too many halves the reduction
    (a 4000x3000 photo then decodes at 1000x750 instead of 500x375).
    """
    short = min(w, h)
    target = max(min_side, -(-short // 8))
    return -(-w * target // short), -(-h * target // short)


def load_rgb(path: str | Path, min_side: int | None = None) -> Image.Image:
    """Decode an image as upright RGB.

    ``min_side`` lets JPEGs decode at a reduced scale (PIL draft mode) as long as
    the shorter side stays at least that large: a 12 MP photo that will be resized
    to 224 px decodes several times faster this way. The full upright size of the
    file is kept in ``img.info["source_size"]`` (health checks need it).
    """
    path = Path(path)
    try:
        with Image.open(path) as img:
            w, h = img.size
            # checked here rather than via a warnings filter: warnings filters are
            # process-global and not safe to flip from decoder threads.
            if w * h > MAX_PIXELS:
                raise Image.DecompressionBombError(f"{w}x{h}")
            if min_side and img.format == "JPEG" and min(w, h) > min_side:
                img.draft("RGB", draft_request(w, h, min_side))
            img.seek(0)  # first frame of GIF / animated WebP
            img.load()
            decoded = img.size
            try:
                img = ImageOps.exif_transpose(img)
            except Exception:  # bogus EXIF orientation: keep pixels as stored
                pass
            out = _flatten(img)
            if out is img:
                out = img.copy()
            turned = out.size != decoded and out.size == decoded[::-1]
            out.info["source_size"] = (h, w) if turned else (w, h)
            return out
    except Image.DecompressionBombError:
        raise ImageError(f"{path.name}: image is larger than the {MAX_PIXELS // 1_000_000} MP limit") from None
    except FileNotFoundError:
        raise ImageError(f"{path.name}: file not found") from None
    except (OSError, SyntaxError, ValueError, EOFError, Image.UnidentifiedImageError) as exc:
        if path.exists() and path.stat().st_size == 0:
            raise ImageError(f"{path.name}: empty file (0 bytes)") from None
        container = _iso_container(path)
        if container == "video":
            raise ImageError(f"{path.name}: a video (MOV/MP4), not a photo, saved with an image name") from None
        if container == "image":
            if not HEIF_READY and path.suffix.lower() in (".heic", ".heif"):
                raise ImageError(f"{path.name}: HEIC needs the pillow-heif package (pip install pillow-heif)") from None
            raise ImageError(
                f"{path.name}: a HEIC/AVIF photo that is damaged or cut short (an incomplete copy or download?)"
            ) from None
        if "truncated" in str(exc).lower() or isinstance(exc, EOFError):
            raise ImageError(
                f"{path.name}: the file is cut short (truncated; an incomplete copy or download?)"
            ) from None
        raise ImageError(f"{path.name}: not a readable image (an unknown format, or damaged data)") from None


# ISO base media files (HEIC, AVIF, MOV, MP4) name their kind in the 'ftyp' box's brand
_PHOTO_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis"}
_VIDEO_BRANDS = {b"qt  ", b"isom", b"iso2", b"mp41", b"mp42", b"m4v ", b"M4V ", b"3gp4", b"3gp5", b"3g2a", b"avc1"}


def _iso_container(path: Path) -> str | None:
    """'image' (HEIC/AVIF), 'video' (MOV/MP4) or None, from the first bytes of the file."""
    try:
        with open(path, "rb") as f:
            head = f.read(32)
    except OSError:
        return None
    if head[4:8] != b"ftyp":
        return None
    brands = {head[8:12]} | {head[k : k + 4] for k in range(16, len(head) - 3, 4)}
    if brands & _PHOTO_BRANDS:
        return "image"
    if brands & _VIDEO_BRANDS:
        return "video"
    return None


def first_readable(paths: Iterable[Path], limit: int = 200) -> Path | None:
    """The first of ``paths`` that decodes (at most ``limit`` tried): is there any usable image at all?"""
    for k, p in enumerate(paths):
        if k >= limit:
            return p  # this many unreadable in a row is for the health report to list, not for us to judge
        try:
            load_rgb(p, min_side=32)
            return p
        except ImageError:
            continue
    return None


def thumbnail(path: str | Path, size: int = 160) -> Image.Image:
    img = load_rgb(path, min_side=size)
    img.thumbnail((size, size))
    return img
