"""Bring user files into a sanitised local folder the engine can trust.

Uploads arrive as (relative name, bytes) pairs whose names come straight from the
browser; zips can hold ``../`` entries, absolute paths, symlinks or bombs. Every
way in ends in a folder under a workspace's own temp directory, so the user's
originals are only ever read.
"""
from __future__ import annotations

import os
import re
import stat
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Iterable

from .images import is_image_name

JUNK_NAMES = frozenset({".ds_store", "thumbs.db", "desktop.ini", "__macosx"})
MAX_ZIP_MEMBERS = 50_000
MAX_TOTAL_BYTES = 2 * 1024**3  # refuse archives that expand beyond 2 GiB
MAX_RATIO = 200  # per-member compression ratio above this is treated as a bomb
MAX_NAME = 120


class IntakeError(ValueError):
    """Input that cannot be taken in, with a message fit for the user."""


@dataclass
class IntakeReport:
    root: Path
    written: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (name, reason)


def is_junk(parts: Iterable[str]) -> bool:
    """OS clutter and hidden files, ignored silently wherever they appear."""
    return any(p.lower() in JUNK_NAMES or (p.startswith(".") and p not in (".", ".."))
               for p in parts)


def _raw_parts(name: str) -> list[str]:
    return name.replace("\\", "/").split("/")


def _clean_part(part: str) -> str:
    part = unicodedata.normalize("NFC", part)
    part = re.sub(r'[\x00-\x1f<>:"|?*\\]', "_", part).strip().strip(".")
    if len(part) > MAX_NAME:
        stem, dot, ext = part.rpartition(".")
        part = (stem[: MAX_NAME - len(ext) - 1] + dot + ext) if dot and len(ext) < 10 else part[:MAX_NAME]
    return part


def safe_relpath(name: str) -> PurePosixPath | None:
    """A relative path that cannot leave its folder, or None when nothing safe is left.

    Drive letters, absolute paths, backslashes and ``..`` are dropped rather than
    refused, so a Windows zip still lands where its author meant.
    """
    name = name.replace("\\", "/")
    name = re.sub(r"^[A-Za-z]:", "", name)
    parts = []
    for raw in name.split("/"):
        if raw in ("", ".", ".."):
            continue
        part = _clean_part(raw)
        if part:
            parts.append(part)
    if not parts:
        return None
    return PurePosixPath(*parts)


def _unique(target: Path) -> Path:
    """Never overwrite: ``a.jpg`` becomes ``a (1).jpg`` on a clash."""
    if not target.exists():
        return target
    for n in range(1, 100_000):
        candidate = target.with_name(f"{target.stem} ({n}){target.suffix}")
        if not candidate.exists():
            return candidate
    raise IntakeError(f"too many files named {target.name}")


def save_uploads(files: Iterable[tuple[str, bytes]], dest: Path, max_files: int | None = None) -> IntakeReport:
    """Write uploaded (name, data) pairs under ``dest``; zips inside are unpacked."""
    dest.mkdir(parents=True, exist_ok=True)
    report = IntakeReport(dest)
    for name, data in files:
        rel = safe_relpath(name)
        if rel is None or is_junk(_raw_parts(name)):
            continue
        if rel.suffix.lower() == ".zip":
            sub = dest / rel.with_suffix("")
            import io

            part = extract_zip(io.BytesIO(data), sub, max_files=max_files)
            report.written += part.written
            report.skipped += part.skipped
            continue
        if not is_image_name(rel.name):
            report.skipped.append((str(rel), "not an image file type"))
            continue
        if max_files is not None and report.written >= max_files:
            raise IntakeError(f"too many images: the limit is {max_files} per upload")
        target = _unique(dest / rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        report.written += 1
    return report


def extract_zip(source, dest: Path, max_files: int | None = None) -> IntakeReport:
    """Unpack only regular image files, checked for slip, links and bombs first."""
    try:
        zf = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        raise IntakeError(f"not a valid .zip file ({exc})") from None
    report = IntakeReport(dest)
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_ZIP_MEMBERS:
            raise IntakeError(f"zip has {len(infos):,} entries; the limit is {MAX_ZIP_MEMBERS:,}")
        total = sum(i.file_size for i in infos)
        if total > MAX_TOTAL_BYTES:
            raise IntakeError(
                f"zip would expand to {total / 1024**3:.1f} GiB; the limit is {MAX_TOTAL_BYTES / 1024**3:.0f} GiB"
            )
        chosen = []
        for info in infos:
            if info.is_dir():
                continue
            mode = (info.external_attr >> 16) & 0xFFFF
            rel = safe_relpath(info.filename)
            if rel is None or is_junk(_raw_parts(info.filename)):
                continue
            if stat.S_IFMT(mode) not in (0, stat.S_IFREG):
                report.skipped.append((info.filename, "symlink or special file, not extracted"))
                continue
            if not is_image_name(rel.name):
                report.skipped.append((str(rel), "not an image file type"))
                continue
            if info.compress_size and info.file_size / info.compress_size > MAX_RATIO and info.file_size > 10 * 1024**2:
                raise IntakeError(f"{rel.name}: compression ratio looks like a zip bomb; refused")
            chosen.append((info, rel))
        if max_files is not None and len(chosen) > max_files:
            raise IntakeError(f"zip holds {len(chosen):,} images; the limit is {max_files:,}")
        if not chosen and not report.skipped:
            raise IntakeError("the zip is empty")
        dest.mkdir(parents=True, exist_ok=True)
        root = dest.resolve()
        for info, rel in chosen:
            target = _unique(dest / rel)
            if root not in target.resolve().parents:
                report.skipped.append((info.filename, "path outside the archive root"))
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            written = 0
            with zf.open(info) as src, open(target, "wb") as out:
                while chunk := src.read(1 << 20):
                    written += len(chunk)
                    if written > info.file_size + 1024:  # header lied about the size
                        raise IntakeError(f"{rel.name}: larger than its zip header says; refused")
                    out.write(chunk)
            report.written += 1
    return report


def copy_local_folder(src: Path, dest: Path, max_files: int | None = None) -> IntakeReport:
    """Copy images from a local folder (never linked, never moved)."""
    import shutil

    src = Path(src).expanduser()
    if not src.is_dir():
        raise IntakeError(f"{src} is not a folder")
    report = IntakeReport(dest)
    for dirpath, dirnames, filenames in os.walk(src, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not is_junk([d]))
        for fn in sorted(filenames):
            p = Path(dirpath) / fn
            rel = safe_relpath(str(p.relative_to(src)))
            if rel is None or is_junk(rel.parts) or p.is_symlink():
                continue
            if not is_image_name(fn):
                report.skipped.append((str(rel), "not an image file type"))
                continue
            if max_files is not None and report.written >= max_files:
                raise IntakeError(f"too many images: the limit is {max_files}")
            target = _unique(dest / rel)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(p, target)
            report.written += 1
    return report


def materialise(path: Path, work_dir: Path) -> Path:
    """A data folder for a CLI argument: folders are used in place, zips unpacked."""
    path = Path(path)
    if path.is_dir():
        return path
    if path.is_file() and path.suffix.lower() == ".zip":
        dest = work_dir / path.stem
        extract_zip(path, dest)
        return dest
    if not path.exists():
        raise IntakeError(f"{path} does not exist")
    raise IntakeError(f"{path} is neither a folder nor a .zip file")
