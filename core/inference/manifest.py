"""What a sorted folder already holds: the manifest behind "only the new photos next time".

Kept in ``OUT/.gallery-sorter/manifest.csv``. A file counts as sorted before when its path,
size and modification time match a row's source (a copy: the original is still in the
gallery) or its destination (a move: it now sits in its class folder). Size and mtime are
what a copy or a move keeps, so nothing has to be read again to recognise a file; a file
that was edited since (new mtime) is sorted again, which is what a user expects.
"""

from __future__ import annotations

import csv
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .placement import STATE_DIR, Plan

FIELDS = ["source", "destination", "size", "mtime_ns", "folder", "kind", "sorted_at"]


class ManifestError(ValueError):
    """A manifest that cannot be read, with a message fit for the user."""


def _key(path: Path, st: os.stat_result) -> tuple[str, int, int]:
    return (str(path), st.st_size, st.st_mtime_ns)


@dataclass
class Manifest:
    path: Path
    rows: list[dict] = field(default_factory=list)
    _known: set[tuple[str, int, int]] = field(default_factory=set)

    @classmethod
    def load(cls, out_dir: Path) -> Manifest:
        path = Path(out_dir) / STATE_DIR / "manifest.csv"
        m = cls(path)
        if not path.exists():
            return m
        try:
            with open(path, newline="") as f:
                reader = csv.DictReader(f)
                if reader.fieldnames != FIELDS:
                    raise ManifestError(f"{path} is not a Gallery Sorter manifest; move it away to start afresh")
                m.rows = list(reader)
            for r in m.rows:
                size, mtime = int(r["size"]), int(r["mtime_ns"])
                m._known.add((r["source"], size, mtime))
                m._known.add((r["destination"], size, mtime))
        except (ValueError, KeyError, csv.Error, UnicodeDecodeError) as exc:
            if isinstance(exc, ManifestError):
                raise
            raise ManifestError(f"{path} is damaged ({exc}); move it away to start afresh") from None
        return m

    def __len__(self) -> int:
        return len(self.rows)

    def is_known(self, p: Path) -> bool:
        """Sorted before, and unchanged since."""
        try:
            return _key(Path(p).resolve(), Path(p).stat()) in self._known
        except OSError:
            return False

    def new_only(self, paths: Iterable[Path]) -> list[Path]:
        return [p for p in paths if not self.is_known(p)]

    def record(self, pl: Plan, problems: Iterable[Path] = ()) -> None:
        """Add every placed file of a finished sort (not the ones that failed) and save."""
        failed = {Path(p) for p in problems}
        now = time.strftime("%Y-%m-%dT%H:%M:%S")
        for p in pl.placements:
            if p.source in failed:
                continue
            where = p.target if p.target.exists() else p.source
            try:
                st = where.stat()
            except OSError:
                continue
            row = {
                "source": str(p.source.resolve()),
                "destination": str(p.target.resolve()),
                "size": st.st_size,
                "mtime_ns": st.st_mtime_ns,
                "folder": p.folder,
                "kind": p.kind,
                "sorted_at": now,
            }
            self.rows.append(row)
            self._known.add((row["source"], st.st_size, st.st_mtime_ns))
            self._known.add((row["destination"], st.st_size, st.st_mtime_ns))
        self.save()

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=FIELDS)
            w.writeheader()
            w.writerows(self.rows)
        os.replace(tmp, self.path)  # a crash mid-write leaves the old manifest, never half a one
