"""The one place that walks a folder, and the naming rules every copy follows.

Every way the engine looks at a user's folder (intake, dataset scanning, health,
sorting, discovery) goes through :func:`scan` or :func:`entries`, so they all
agree: regular files only, never through a symbolic link (it could point
anywhere), never a FIFO, socket or device (opening one blocks or reads
forever), and OS clutter and hidden files ignored silently. Links and special
files are *reported* as skipped, never silently dropped.
"""

from __future__ import annotations

import os
import re
import stat
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .images import is_image_name

# camera-roll files that are not photos we classify, but belong with one (or are kept as they are)
VIDEO_EXTENSIONS = frozenset({".mov", ".mp4", ".m4v", ".3gp", ".avi", ".mkv", ".webm", ".mts"})
RAW_EXTENSIONS = frozenset(
    {".dng", ".cr2", ".cr3", ".nef", ".nrw", ".arw", ".srf", ".sr2", ".raf", ".orf", ".rw2", ".pef", ".srw", ".x3f"}
)
SIDECAR_EXTENSIONS = frozenset({".xmp", ".aae"})
KEPT_EXTENSIONS = VIDEO_EXTENSIONS | RAW_EXTENSIONS | SIDECAR_EXTENSIONS
KEPT_TYPES = sorted(e.lstrip(".") for e in KEPT_EXTENSIONS)
KEPT = "kept, not classified (a video, RAW file or sidecar)"

JUNK_NAMES = frozenset(
    {
        ".ds_store",
        "thumbs.db",
        "ehthumbs.db",
        "desktop.ini",
        "__macosx",
        "@eadir",  # Synology thumbnails
        "$recycle.bin",
        "system volume information",
        ".trashes",
        ".spotlight-v100",
        ".fseventsd",
        ".gallery-sorter",  # our own journals and manifests inside a sorted folder
    }
)
MAX_NAME = 120  # characters per path part
MAX_NAME_BYTES = 200  # UTF-8 bytes per path part: ext4 and most file systems stop at 255

LINK = "a symbolic link (not followed)"
SPECIAL = "a FIFO, socket or device, not a regular file"


def kind_of(name: str) -> str:
    """'image' (we classify it), 'video', 'raw', 'sidecar' (kept, not classified) or 'other'."""
    ext = Path(name).suffix.lower()
    if is_image_name(name):
        return "image"
    if ext in VIDEO_EXTENSIONS:
        return "video"
    if ext in RAW_EXTENSIONS:
        return "raw"
    if ext in SIDECAR_EXTENSIONS:
        return "sidecar"
    return "other"


def is_kept(name: str) -> bool:
    """A camera-roll file that is not a photo we classify but is never dropped (videos, RAW, sidecars)."""
    return Path(name).suffix.lower() in KEPT_EXTENSIONS


def companions(images: Iterable[Path], kept: Iterable[Path]) -> dict[Path, list[Path]]:
    """The kept files that belong to each photo: same folder and same name stem (a Live Photo's .mov,
    a RAW beside its JPEG, an .xmp or .aae sidecar), or a sidecar named after the whole file
    (``IMG_1.HEIC.xmp``). A photo whose stem is shared by another photo (IMG_1.jpg and IMG_1.heic)
    shares nothing: which one a .mov belongs to would be a guess."""
    by_stem: dict[tuple[Path, str], list[Path]] = {}
    for p in images:
        by_stem.setdefault((p.parent, p.stem.lower()), []).append(p)
    out: dict[Path, list[Path]] = {}
    for k in kept:
        key = (k.parent, k.stem.lower())
        owners = by_stem.get(key)
        if owners is None and "." in k.stem:  # IMG_1.HEIC.xmp
            whole = k.parent / k.stem
            owners = [
                p
                for p in by_stem.get((k.parent, Path(k.stem).stem.lower()), [])
                if p.name.lower() == whole.name.lower()
            ]
        if owners and len(owners) == 1:
            out.setdefault(owners[0], []).append(k)
    return out


def is_junk(parts: Iterable[str]) -> bool:
    """OS clutter and hidden files, ignored silently wherever they appear."""
    return any(p.lower() in JUNK_NAMES or (p.startswith(".") and p not in (".", "..")) for p in parts)


@dataclass
class Listing:
    """What a folder holds, as the engine sees it."""

    root: Path
    images: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)  # videos, RAW files, sidecars: kept, not classified
    others: list[Path] = field(default_factory=list)  # other regular files (documents, ...): not used
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # links and special files, with why

    def companions(self) -> dict[Path, list[Path]]:
        return companions(self.images, self.kept)

    def relative(self, p: Path) -> str:
        try:
            return p.relative_to(self.root).as_posix()
        except ValueError:
            return p.name


def _kind(entry: os.DirEntry) -> str:
    """'dir', 'file', 'link' or 'special', never following a link and never opening the entry."""
    try:
        st = entry.stat(follow_symlinks=False)
    except OSError:
        return "special"
    if stat.S_ISLNK(st.st_mode):
        return "link"
    if stat.S_ISDIR(st.st_mode):
        return "dir"
    if stat.S_ISREG(st.st_mode):
        return "file"
    return "special"


def entries(folder: Path) -> tuple[list[Path], list[Path], list[tuple[Path, str]]]:
    """(sub-folders, regular files, skipped) directly in ``folder``, sorted by name, junk left out."""
    dirs: list[Path] = []
    files: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    try:
        with os.scandir(folder) as it:
            found = sorted(it, key=lambda e: e.name)
    except OSError:
        return dirs, files, skipped
    for e in found:
        if is_junk([e.name]):
            continue
        kind = _kind(e)
        path = Path(folder) / e.name
        if kind == "dir":
            dirs.append(path)
        elif kind == "file":
            files.append(path)
        else:
            skipped.append((path, LINK if kind == "link" else SPECIAL))
    return dirs, files, skipped


def walk(root: Path) -> Iterator[tuple[Path, str | None]]:
    """(path, None) for every regular file under ``root``, (path, reason) for what is skipped."""
    root = Path(root)
    stack = [root]
    while stack:
        folder = stack.pop()
        dirs, files, skipped = entries(folder)
        for p in files:
            yield p, None
        for p, why in skipped:
            yield p, why
        stack.extend(reversed(dirs))


def scan(root: Path) -> Listing:
    """Every image, other file and skipped entry under ``root`` (a file on its own counts too)."""
    root = Path(root)
    listing = Listing(root)
    if root.is_file() and not root.is_symlink():
        _file_into(listing, root)
        return listing
    for p, why in walk(root):
        if why is not None:
            listing.skipped.append((p, why))
        else:
            _file_into(listing, p)
    return listing


def _file_into(listing: Listing, p: Path) -> None:
    if is_image_name(p.name):
        listing.images.append(p)
    elif is_kept(p.name):
        listing.kept.append(p)
    else:
        listing.others.append(p)


def list_images(root: Path) -> list[Path]:
    """The images under ``root`` in a stable order (folder by folder, names sorted)."""
    return scan(root).images


def subfolders(folder: Path) -> list[Path]:
    return entries(folder)[0]


def images_in(folder: Path) -> list[Path]:
    """Images directly in ``folder`` (not in its sub-folders)."""
    return [p for p in entries(folder)[1] if is_image_name(p.name)]


# ---------------------------------------------------------------- names of what we write


def raw_parts(name: str) -> list[str]:
    """Path parts of a name as given (``/`` or ``\\``), before any cleaning.

    Junk is judged on these: cleaning strips leading dots, so ``._photo.jpg``
    (a macOS resource fork) would otherwise pass as ``_photo.jpg``.
    """
    return [p for p in name.replace("\\", "/").split("/") if p not in ("", ".", "..")]


def _truncate(part: str, limit: int, measure) -> str:
    """Shorten a name to ``limit`` (by ``measure``), keeping a short extension."""
    if measure(part) <= limit:
        return part
    stem, dot, ext = part.rpartition(".")
    if not dot or len(ext) >= 10 or not stem:
        stem, dot, ext = part, "", ""
    tail = dot + ext
    while stem and measure(stem + tail) > limit:
        stem = stem[:-1]
    return (stem + tail) if stem else part[:limit]


def clean_part(part: str) -> str:
    """One path part made safe for any file system: no control or reserved characters, not too long."""
    part = unicodedata.normalize("NFC", part)
    part = re.sub(r'[\x00-\x1f\x7f<>:"|?*\\/]', "_", part).strip(" .\t")
    part = _truncate(part, MAX_NAME, len)
    part = _truncate(part, MAX_NAME_BYTES, lambda x: len(x.encode("utf-8", "surrogatepass")))
    part = part.encode("utf-8", "replace").decode("utf-8")  # lone surrogates from odd zips
    return part.strip(" .\t")


def safe_relpath(name: str) -> PurePosixPath | None:
    """A relative path that cannot leave its folder, or None when nothing safe is left.

    Drive letters, absolute paths, backslashes and ``..`` are dropped rather than
    refused, so a Windows zip still lands where its author meant. Each part is
    cleaned of control and reserved characters and shortened to fit a file system.
    """
    name = name.replace("\\", "/")
    name = re.sub(r"^[A-Za-z]:", "", name)
    parts = []
    for raw in name.split("/"):
        if raw in ("", ".", ".."):
            continue
        part = clean_part(raw)
        if part and part not in (".", ".."):
            parts.append(part)
    if not parts:
        return None
    return PurePosixPath(*parts)


class NameClash(ValueError):
    """No free name left for a file (100,000 of the same name)."""


def unique_path(target: Path) -> Path:
    """Never overwrite: ``a.jpg`` becomes ``a (1).jpg`` on a clash."""
    if not target.exists() and not target.is_symlink():
        return target
    for n in range(1, 100_000):
        candidate = target.with_name(f"{target.stem} ({n}){target.suffix}")
        if not candidate.exists() and not candidate.is_symlink():
            return candidate
    raise NameClash(f"too many files named {target.name}")
