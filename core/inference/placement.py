"""Where each sorted file goes, and putting it there: copy, zip, or move with a journal and undo.

A :class:`Placement` says which file goes to which new path (a photo, or a companion that
travels with it: a Live Photo's .mov, a RAW beside its JPEG, an .xmp sidecar). Targets are
chosen clash-free when the plan is made, so nothing is ever overwritten. Copies keep the
file's bytes and dates (``shutil.copy2``). A move is written to a journal *before* any file
moves; :func:`undo` reads the journal and puts every file back, checking each one's size and
hash, and says plainly what it could not restore. User files are never modified.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import shutil
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..data.files import unique_path
from .sort import UNSURE, Prediction

NOT_CLASSIFIED = "not-classified"  # videos, RAW files and sidecars no photo claims
STATE_DIR = ".gallery-sorter"  # journals and the manifest, inside the sorted folder (ignored by every scan)
JOURNAL_FIELDS = ["source", "destination", "size", "blake2b", "kind"]


class JournalError(ValueError):
    """A journal that cannot be undone as it is, with a message fit for the user."""


@dataclass(frozen=True)
class FilingRule:
    """Which folder a prediction goes to: the user's correction, its class when sure enough, else unsure.

    With ``chosen`` (a certified rule, core.inference.certify) exactly those photos are filed;
    without it, a photo is filed when its own chance of being right reaches ``threshold``.
    """

    threshold: float = 0.0
    overrides: Mapping[Path, str] = field(default_factory=dict)
    calibrated: bool = True  # compare the calibrated probability (the chance of being right), else the softmax
    chosen: frozenset[Path] | None = None

    def folder(self, p: Prediction) -> str:
        if p.path in self.overrides:
            return self.overrides[p.path]
        if p.label is None:
            return UNSURE
        if self.chosen is not None:
            return p.label if p.path in self.chosen else UNSURE
        sure = p.calibrated if self.calibrated and p.calibrated is not None else p.confidence
        return p.label if sure >= self.threshold else UNSURE


@dataclass(frozen=True)
class Placement:
    source: Path
    folder: str
    target: Path  # where it goes: a new path (never an existing file), or the source itself when it stays
    kind: str = "photo"  # photo | companion | kept
    owner: Path | None = None  # a companion's photo

    @property
    def stays(self) -> bool:
        """Already in its folder (a move in place that was sorted before): nothing to do."""
        return self.target == self.source


@dataclass
class Plan:
    """Every file a sort would place, and the predictions it came from."""

    out_dir: Path
    placements: list[Placement]
    preds: list[Prediction]
    rule: FilingRule
    root: Path | None = None  # the gallery, for relative names in predictions.csv

    def counts(self) -> dict[str, int]:
        """Photos per destination folder (companions are counted with their photo, not on their own)."""
        return dict(Counter(p.folder for p in self.placements if p.kind != "companion"))

    def sample(self, per_folder: int = 3) -> dict[str, list[Placement]]:
        out: dict[str, list[Placement]] = {}
        for p in self.placements:
            if p.kind != "companion" and len(out.setdefault(p.folder, [])) < per_folder:
                out[p.folder].append(p)
        return out


ZIP_ROOT = Path("sorted")  # the root of a plan that only becomes a zip (nothing on disk is checked)


def plan(
    preds: Sequence[Prediction],
    out_dir: Path | None,
    rule: FilingRule,
    companions: Mapping[Path, list[Path]] | None = None,
    kept: Iterable[Path] = (),
    root: Path | None = None,
) -> Plan:
    """Clash-free targets for every readable photo, its companions, and unclaimed kept files.

    ``out_dir=None`` plans a zip: names only need to be unique within the plan."""
    on_disk = out_dir is not None
    out_dir = Path(out_dir) if on_disk else ZIP_ROOT
    taken: set[Path] = set()

    def free(target: Path) -> Path:
        n = 0
        candidate = unique_path(target) if on_disk else target
        while candidate in taken:  # two sources with one name in one folder of this very plan
            n += 1
            candidate = target.with_name(f"{target.stem} ({n}){target.suffix}")
            candidate = unique_path(candidate) if on_disk else candidate
        taken.add(candidate)
        return candidate

    placements: list[Placement] = []
    claimed: set[Path] = set()
    for p in preds:
        if p.error:
            continue
        folder = rule.folder(p)
        if on_disk and p.path.parent.resolve() == (out_dir / folder).resolve():
            target = p.path  # already where it belongs
        else:
            target = free(out_dir / folder / p.path.name)
        placements.append(Placement(p.path, folder, target))
        for c in (companions or {}).get(p.path, []):
            claimed.add(c)
            # a companion keeps its photo's (possibly suffixed) stem, so the pair still reads as one
            ct = c if target == p.path else free(target.with_name(target.stem + c.suffix))
            placements.append(Placement(c, folder, ct, "companion", p.path))
    for k in kept:
        if k not in claimed:
            placements.append(Placement(k, NOT_CLASSIFIED, free(out_dir / NOT_CLASSIFIED / k.name), "kept"))
    return Plan(out_dir, placements, list(preds), rule, root)


def _rel(p: Path, root: Path | None) -> str:
    try:
        return p.relative_to(root).as_posix() if root else p.name
    except ValueError:
        return p.name


def predictions_csv(pl: Plan, files: Mapping[Path, str] | None = None) -> str:
    """One row per photo: its class, confidence, calibrated probability, folder, new file name, and who decided."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(
        ["path", "class", "confidence", "calibrated", "folder", "top3", "file", "companions", "error", "decided_by"]
    )
    together: dict[Path, list[str]] = {}
    for p in pl.placements:
        if p.owner is not None:
            together.setdefault(p.owner, []).append(p.source.name)
    for p in pl.preds:
        top = ";".join(f"{c}:{s:.4f}" for c, s in p.top)
        cal = f"{p.calibrated:.4f}" if p.calibrated is not None else ""
        w.writerow(
            [
                _rel(p.path, pl.root),
                p.label or "",
                f"{p.confidence:.4f}",
                cal,
                pl.rule.folder(p) if not p.error else "",
                top,
                (files or {}).get(p.path, ""),
                ";".join(together.get(p.path, [])),
                p.error or "",
                "" if p.error else ("you" if p.path in pl.rule.overrides else "model"),
            ]
        )
    return buf.getvalue()


# ---------------------------------------------------------------- copy and zip (originals untouched)


def copy_out(pl: Plan) -> dict[str, int]:
    """Copy every placement (bytes and dates kept) and write predictions.csv; returns photos per folder."""
    files: dict[Path, str] = {}
    for p in pl.placements:
        if p.stays:
            continue
        p.target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(p.source, p.target)
        files[p.source] = p.target.relative_to(pl.out_dir).as_posix()
    _write_csv(pl.out_dir / "predictions.csv", predictions_csv(pl, files))
    return pl.counts()


def _write_csv(path: Path, text: str) -> None:
    """A new predictions.csv, or the new rows added to the one an earlier sort into this folder wrote."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header, _, rows = text.partition("\n")
    if path.exists():
        old = path.read_text()
        if old.partition("\n")[0].strip() == header.strip():
            with open(path, "a") as f:
                f.write(rows)
            return
        path = unique_path(path)  # someone else's predictions.csv: leave it as it is
    path.write_text(text)


def write_zip(pl: Plan, target) -> dict[str, int]:
    """A zip (path or file object) laid out like the plan's folders, with predictions.csv."""
    files: dict[Path, str] = {}
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED) as zf:  # photos do not compress
        for p in pl.placements:
            name = p.target.relative_to(pl.out_dir).as_posix()
            info = zipfile.ZipInfo.from_file(p.source, name)  # keeps the file's date
            with open(p.source, "rb") as src, zf.open(info, "w") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            files[p.source] = name
        zf.writestr("predictions.csv", predictions_csv(pl, files))
    return pl.counts()


def zip_bytes(pl: Plan) -> bytes:
    buf = io.BytesIO()
    write_zip(pl, buf)
    return buf.getvalue()


# ---------------------------------------------------------------- move, with a journal


def file_digest(path: Path) -> str:
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class MoveReport:
    journal: Path
    moved: int = 0
    problems: list[tuple[Path, str]] = field(default_factory=list)  # (file, what went wrong)
    counts: dict[str, int] = field(default_factory=dict)


def _move_one(source: Path, target: Path) -> None:
    """Rename where possible; across file systems copy (bytes and dates), check, then remove the source."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() or target.is_symlink():
        raise FileExistsError(f"{target} appeared while sorting; left {source.name} where it was")
    try:
        os.rename(source, target)
    except OSError as exc:
        if exc.errno != 18:  # EXDEV: another file system
            raise
        shutil.copy2(source, target)
        if target.stat().st_size != source.stat().st_size:
            target.unlink()
            raise OSError(f"copying {source.name} to another drive came out short; left it where it was") from None
        source.unlink()


def new_journal_path(out_dir: Path) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return unique_path(Path(out_dir) / STATE_DIR / f"journal-{stamp}.csv")


def move_into_place(pl: Plan, progress: Callable[[int, int], None] | None = None) -> MoveReport:
    """Move every placement. The journal (source, destination, size, hash) is on disk before the first move."""
    journal = new_journal_path(pl.out_dir)
    journal.parent.mkdir(parents=True, exist_ok=True)
    todo = [p for p in pl.placements if not p.stays]
    rows = []
    for p in todo:
        rows.append(
            {
                "source": str(p.source.resolve()),
                "destination": str(p.target.resolve()),
                "size": p.source.stat().st_size,
                "blake2b": file_digest(p.source),
                "kind": p.kind,
            }
        )
    with open(journal, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=JOURNAL_FIELDS)
        w.writeheader()
        w.writerows(rows)
        f.flush()
        os.fsync(f.fileno())
    report = MoveReport(journal)
    for k, p in enumerate(todo, 1):
        try:
            _move_one(p.source, p.target)
            report.moved += 1
        except OSError as exc:
            report.problems.append(
                (p.source, str(exc.strerror or exc) if not isinstance(exc, FileExistsError) else str(exc))
            )
        if progress:
            progress(k, len(todo))
    # beside the journal, not among the user's photos: an undo leaves the folder exactly as it was
    files = {p.source: p.target.relative_to(pl.out_dir).as_posix() for p in pl.placements}
    journal.with_name(journal.name.replace("journal-", "predictions-")).write_text(predictions_csv(pl, files))
    report.counts = pl.counts()
    return report


@dataclass
class UndoReport:
    restored: int = 0
    already_back: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)  # (file, why it was not put back)

    @property
    def complete(self) -> bool:
        return not self.problems


def read_journal(path: Path) -> list[dict]:
    """The rows of a journal, checked: a hand-edited or damaged journal is refused with the reason."""
    path = Path(path)
    if not path.is_file():
        raise JournalError(f"no journal at {path}")
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            if reader.fieldnames != JOURNAL_FIELDS:
                raise JournalError(
                    f"{path.name} is not a Gallery Sorter journal (its columns are not {', '.join(JOURNAL_FIELDS)})"
                )
            rows = list(reader)
    except (UnicodeDecodeError, csv.Error):
        raise JournalError(f"{path.name} is not a readable journal (damaged or not text)") from None
    for n, r in enumerate(rows, 2):
        if not r["source"] or not r["destination"] or not Path(r["source"]).is_absolute():
            raise JournalError(f"{path.name}, line {n}: a row without absolute source and destination paths")
        if not (r["size"] or "").isdigit() or len(r["blake2b"] or "") != 32:
            raise JournalError(f"{path.name}, line {n}: the size or hash is not what this journal wrote")
    return rows


def undo(journal: Path) -> UndoReport:
    """Put every file of a move back where it was, newest first; never overwrite, say what stayed."""
    rows = read_journal(journal)
    report = UndoReport()
    for r in reversed(rows):
        src, dst = Path(r["source"]), Path(r["destination"])
        name = src.name
        if not dst.exists():
            if src.exists() and src.stat().st_size == int(r["size"]):
                report.already_back += 1  # never moved (a problem at sort time), or put back before
            else:
                report.problems.append((name, f"not found at {dst} any more"))
            continue
        if src.exists() or src.is_symlink():
            report.problems.append((name, f"another file now sits at {src}; left it at {dst}"))
            continue
        if dst.stat().st_size != int(r["size"]) or file_digest(dst) != r["blake2b"]:
            report.problems.append((name, f"changed since it was sorted; left it at {dst}"))
            continue
        try:
            _move_one(dst, src)
            report.restored += 1
        except OSError as exc:
            report.problems.append((name, str(exc.strerror or exc)))
    for folder in {Path(r["destination"]).parent for r in rows}:
        try:
            folder.rmdir()  # only class folders the sort made and left empty
        except OSError:
            pass
    if report.complete:  # done: "Undo last sort" now means the sort before this one
        Path(journal).rename(Path(journal).with_suffix(".undone"))
    return report


def latest_journal(out_dir: Path) -> Path | None:
    found = sorted((Path(out_dir) / STATE_DIR).glob("journal-*.csv"), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None
