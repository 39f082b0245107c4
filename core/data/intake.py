"""Bring user files into a sanitised local folder the engine can trust.

Uploads arrive as (relative name, bytes) pairs whose names come straight from the
browser; zips can hold ``../`` entries, absolute paths, symlinks or bombs. Every
way in ends in a folder under a workspace's own temp directory, so the user's
originals are only ever read.
"""

from __future__ import annotations

import io
import shutil
import stat
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .files import KEPT, Listing, is_junk, is_kept, raw_parts, safe_relpath, scan, unique_path
from .images import is_image_name

MAX_ZIP_MEMBERS = 50_000
MAX_TOTAL_BYTES = 2 * 1024**3  # refuse archives that expand beyond 2 GiB
MAX_RATIO = 200  # compression ratio above this (on a big member or the whole zip) is a bomb
MAX_DEPTH = 12  # folders deeper than this are not a layout we use; refuse rather than hit PATH_MAX


class IntakeError(ValueError):
    """Input that cannot be taken in, with a message fit for the user."""


@dataclass
class IntakeReport:
    root: Path
    written: int = 0  # images
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (name, reason)
    kept: list[str] = field(default_factory=list)  # videos, RAW, sidecars written beside the photos


NOT_FOR_TRAINING = "a video, RAW file or sidecar: not used for training"


def _not_an_image(rel) -> tuple[str, str]:
    return (str(rel), NOT_FOR_TRAINING if is_kept(rel.name) else "not an image file type")


def _accept(name: str) -> PurePosixPath | None:
    """The cleaned relative path for a member we may write, or None to ignore it silently."""
    if is_junk(raw_parts(name)):
        return None
    rel = safe_relpath(name)
    if rel is None or is_junk(rel.parts):
        return None
    return rel


def save_uploads(
    files: Iterable[tuple[str, bytes]], dest: Path, max_files: int | None = None, keep_companions: bool = False
) -> IntakeReport:
    """Write uploaded (name, data) pairs under ``dest``; zips inside are unpacked.

    With ``keep_companions`` (a gallery to sort), videos, RAW files and sidecars are written
    too, so they can travel with their photo; a training upload lists them as not used.
    """
    dest.mkdir(parents=True, exist_ok=True)
    report = IntakeReport(dest)
    for name, data in files:
        rel = _accept(name)
        if rel is None:
            continue
        if len(rel.parts) > MAX_DEPTH:
            report.skipped.append((str(rel), "folder nesting too deep"))
            continue
        if rel.suffix.lower() == ".zip":
            left = None if max_files is None else max(0, max_files - report.written)
            part = extract_zip(
                io.BytesIO(data), dest / rel.with_suffix(""), max_files=left, keep_companions=keep_companions
            )
            report.written += part.written
            report.skipped += part.skipped
            report.kept += part.kept
            continue
        if keep_companions and is_kept(rel.name):
            target = unique_path(dest / rel)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            report.kept.append(str(rel))
            continue
        if not is_image_name(rel.name):
            report.skipped.append(_not_an_image(rel))
            continue
        if max_files is not None and report.written >= max_files:
            raise IntakeError(f"too many images: the limit is {max_files} per upload")
        target = unique_path(dest / rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        report.written += 1
    return report


def _check_bomb(infos: list[zipfile.ZipInfo]) -> None:
    """Refuse archives whose declared sizes say they would flood the disk."""
    if len(infos) > MAX_ZIP_MEMBERS:
        raise IntakeError(f"zip has {len(infos):,} entries; the limit is {MAX_ZIP_MEMBERS:,}")
    total = sum(i.file_size for i in infos)
    if total > MAX_TOTAL_BYTES:
        raise IntakeError(
            f"zip would expand to {total / 1024**3:.1f} GiB; the limit is {MAX_TOTAL_BYTES / 1024**3:.0f} GiB"
        )
    packed = sum(i.compress_size for i in infos)
    if total > 100 * 1024**2 and total > MAX_RATIO * max(packed, 1):
        raise IntakeError("the zip expands more than 200-fold: it looks like a zip bomb; refused")


def _copy_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path) -> None:
    """Stream one member to disk, never writing more than its header declared."""
    written = 0
    try:
        with zf.open(info) as src, open(target, "wb") as out:
            while chunk := src.read(1 << 20):
                written += len(chunk)
                if written > info.file_size + 1024:  # header lied about the size
                    raise IntakeError(f"{target.name}: larger than its zip header says; refused")
                out.write(chunk)
    except BaseException:
        target.unlink(missing_ok=True)
        raise


def extract_zip(source, dest: Path, max_files: int | None = None, keep_companions: bool = False) -> IntakeReport:
    """Unpack only regular image files, checked for slip, links and bombs first."""
    try:
        zf = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise IntakeError(f"not a valid .zip file ({exc})") from None
    report = IntakeReport(dest)
    with zf:
        infos = zf.infolist()
        _check_bomb(infos)
        chosen = []
        for info in infos:
            if info.is_dir():
                continue
            rel = _accept(info.filename)
            if rel is None:
                continue
            # unix mode in the high bits; many writers (Python's writestr) store permission
            # bits only, so only a file *type* that is not "regular" is refused
            ftype = stat.S_IFMT((info.external_attr >> 16) & 0xFFFF)
            if ftype and ftype != stat.S_IFREG:
                report.skipped.append((info.filename, "symlink or special file, not extracted"))
                continue
            companion = keep_companions and is_kept(rel.name)
            if not is_image_name(rel.name) and not companion:
                report.skipped.append(_not_an_image(rel))
                continue
            if len(rel.parts) > MAX_DEPTH:
                report.skipped.append((str(rel), "folder nesting too deep"))
                continue
            if info.flag_bits & 0x1:
                report.skipped.append((str(rel), "encrypted (password-protected) entry"))
                continue
            if info.compress_size and info.file_size / info.compress_size > MAX_RATIO and info.file_size > 10 * 1024**2:
                raise IntakeError(f"{rel.name}: compression ratio looks like a zip bomb; refused")
            chosen.append((info, rel))
        n_images = sum(1 for _, rel in chosen if is_image_name(rel.name))
        if max_files is not None and n_images > max_files:
            raise IntakeError(f"zip holds {n_images:,} images; the limit is {max_files:,}")
        if not chosen and not report.skipped:
            raise IntakeError("the zip is empty")
        dest.mkdir(parents=True, exist_ok=True)
        root = dest.resolve()
        for info, rel in chosen:
            target = unique_path(dest / rel)
            if root not in target.resolve().parents:
                report.skipped.append((info.filename, "path outside the archive root"))
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                _copy_member(zf, info, target)
            except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError):
                report.skipped.append((str(rel), "a damaged zip entry (it could not be unpacked)"))
                continue
            if is_image_name(rel.name):
                report.written += 1
            else:
                report.kept.append(str(rel))
    return report


def copy_local_folder(src: Path, dest: Path, max_files: int | None = None) -> IntakeReport:
    """Copy images from a local folder (never linked, never moved, never followed through links)."""
    src = Path(src).expanduser()
    if not src.is_dir():
        raise IntakeError(f"{src} is not a folder")
    report = IntakeReport(dest)
    listing = scan(src)
    report.skipped = skipped_in(listing)
    for p in listing.images:
        rel = safe_relpath(listing.relative(p))
        if rel is None:
            continue
        if len(rel.parts) > MAX_DEPTH:
            report.skipped.append((str(rel), "folder nesting too deep"))
            continue
        if max_files is not None and report.written >= max_files:
            raise IntakeError(f"too many images: the limit is {max_files}")
        target = unique_path(dest / rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copyfile(p, target)
        except OSError as exc:
            target.unlink(missing_ok=True)
            report.skipped.append((str(rel), f"could not be read ({exc.strerror or exc.__class__.__name__})"))
            continue
        report.written += 1
    return report


def skipped_in(listing: Listing, companions_kept: bool = False) -> list[tuple[str, str]]:
    """(relative name, reason) for everything in a folder that is not taken in as an image.

    ``companions_kept``: the folder is a gallery to sort, whose videos, RAW files and
    sidecars stay with their photos (listed as kept, not as unused)."""
    kept_why = KEPT if companions_kept else NOT_FOR_TRAINING
    return (
        [(listing.relative(p), kept_why) for p in listing.kept]
        + [(listing.relative(p), "not an image file type") for p in listing.others]
        + [(listing.relative(p), why) for p, why in listing.skipped]
    )


def materialise(path: Path, work_dir: Path) -> Path:
    """A data folder for a CLI argument: folders are used in place, zips unpacked."""
    return materialise_report(path, work_dir).root


def materialise_report(path: Path, work_dir: Path, keep_companions: bool = False) -> IntakeReport:
    """Like :func:`materialise`, with the files that were left out and why.

    ``keep_companions``: a gallery to sort, whose videos, RAW files and sidecars are kept."""
    path = Path(path)
    if path.is_dir():
        listing = scan(path)
        report = IntakeReport(path)
        report.skipped = [s for s in skipped_in(listing, keep_companions) if not (keep_companions and s[1] == KEPT)]
        report.kept = [listing.relative(p) for p in listing.kept] if keep_companions else []
        return report
    if path.is_file() and path.suffix.lower() == ".zip":
        return extract_zip(
            path, work_dir / (safe_relpath(path.stem) or PurePosixPath("data")).name, keep_companions=keep_companions
        )
    if not path.exists():
        raise IntakeError(f"{path} does not exist")
    raise IntakeError(f"{path} is neither a folder nor a .zip file")
