"""Review decisions: what the user decided about single images, kept on the Workspace.

Plain data and pure functions (no torch, no streamlit), so the page, the CLI
and the tests share them. Per image the latest decision wins: *move* to another
class, *exclude* from training, or *keep* as is. Every change can be undone.
``apply_decisions`` turns them into the workspace's ``excluded`` / ``relabel``,
which ``Dataset.with_changes`` reads, so the Train page retrains with them.

Why a baseline: applying, then undoing, then applying again must put an image
back exactly as it was before the review touched it (it may have been excluded
on the Data page already). The first apply that touches an image records its
state; "keep" or a withdrawn decision restores that state.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

MOVE, EXCLUDE, KEEP = "move", "exclude", "keep"
ACTIONS = (MOVE, EXCLUDE, KEEP)
CSV_FIELDS = ["path", "label", "action", "to_class", "source", "decided_at", "applied"]

State = tuple[bool, str | None]  # (excluded, relabelled-to) of one image


@dataclass(frozen=True)
class Decision:
    path: Path
    action: str  # move | exclude | keep
    label: str | None = None  # the image's label when it was reviewed
    to_class: str | None = None  # for move
    source: str = ""  # where it was decided: "mistakes", "label errors", ...
    at: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"unknown action {self.action!r}; choose from {', '.join(ACTIONS)}")
        if (self.action == MOVE) != bool(self.to_class):
            raise ValueError("a move needs a target class, and only a move has one")

    @property
    def effect(self) -> tuple[str, str | None]:
        return self.action, self.to_class

    def describe(self) -> str:
        if self.action == MOVE:
            return f"move {self.label or '?'} → {self.to_class}"
        return "exclude from training" if self.action == EXCLUDE else "keep as is"


@dataclass
class Decisions:
    """The latest decision per image, an undo stack, and what was last applied."""

    current: dict[Path, Decision] = field(default_factory=dict)
    undo_stack: list[tuple[Path, Decision | None]] = field(default_factory=list)
    applied: dict[Path, Decision] = field(default_factory=dict)
    baseline: dict[Path, State] = field(default_factory=dict)

    def decide(
        self, path: Path | str, action: str, label: str | None = None, to_class: str | None = None, source: str = ""
    ) -> Decision:
        path = Path(path)
        if action == MOVE and to_class == label:
            action, to_class = KEEP, None  # moving to its own class is keeping it
        d = Decision(path, action, label, to_class if action == MOVE else None, source)
        self.undo_stack.append((path, self.current.get(path)))
        self.current[path] = d
        return d

    def withdraw(self, path: Path | str) -> Decision | None:
        """Forget the decision for one image (undoable)."""
        path = Path(path)
        old = self.current.pop(path, None)
        if old is not None:
            self.undo_stack.append((path, old))
        return old

    def undo(self) -> Path | None:
        """Revert the last decide/withdraw; returns the image it touched."""
        if not self.undo_stack:
            return None
        path, previous = self.undo_stack.pop()
        if previous is None:
            self.current.pop(path, None)
        else:
            self.current[path] = previous
        return path

    def get(self, path: Path | str) -> Decision | None:
        return self.current.get(Path(path))

    def __len__(self) -> int:
        return len(self.current)

    def __iter__(self) -> Iterator[Decision]:
        return iter(sorted(self.current.values(), key=lambda d: d.at))

    def pending(self) -> list[Path]:
        """Images whose decision differs from what the last apply wrote."""
        paths = set(self.current) | set(self.applied)
        return sorted(
            p
            for p in paths
            if (self.current[p].effect if p in self.current else None)
            != (self.applied[p].effect if p in self.applied else None)
        )

    def is_applied(self, path: Path | str) -> bool:
        path = Path(path)
        d, a = self.current.get(path), self.applied.get(path)
        return d is not None and a is not None and d.effect == a.effect

    def retain(self, paths: Iterable[Path]) -> int:
        """Drop decisions about images that are no longer in the dataset; returns how many."""
        keep = {Path(p) for p in paths}
        gone = [p for p in self.current if p not in keep]
        for p in gone:
            del self.current[p]
        self.undo_stack = [(p, d) for p, d in self.undo_stack if p in keep]
        self.applied = {p: d for p, d in self.applied.items() if p in keep}
        self.baseline = {p: s for p, s in self.baseline.items() if p in keep}
        return len(gone)

    def clear(self) -> None:
        self.current.clear()
        self.undo_stack.clear()
        self.applied.clear()
        self.baseline.clear()


def apply_decisions(
    current: dict[Path, Decision], baseline: dict[Path, State], excluded: set[Path], relabel: dict[Path, str]
) -> tuple[set[Path], dict[Path, str], dict[Path, State]]:
    """Pure: (decisions, baseline, excluded, relabel) -> new (excluded, relabel, baseline).

    move: relabel to the class and include; exclude: exclude (label as in the
    baseline); keep, or no decision any more: the baseline state.
    """
    excluded, relabel, baseline = set(excluded), dict(relabel), dict(baseline)
    for p in current:
        baseline.setdefault(p, (p in excluded, relabel.get(p)))
    for p, (was_excluded, was_relabel) in baseline.items():
        d = current.get(p)
        if d is None or d.action == KEEP:
            is_excluded, label = was_excluded, was_relabel
        elif d.action == EXCLUDE:
            is_excluded, label = True, was_relabel
        else:  # MOVE
            is_excluded, label = False, d.to_class
        (excluded.add if is_excluded else excluded.discard)(p)
        if label is None:
            relabel.pop(p, None)
        else:
            relabel[p] = label
    return excluded, relabel, baseline


def apply_to(decisions: Decisions, excluded: set[Path], relabel: dict[Path, str]) -> tuple[set[Path], dict[Path, str]]:
    """Apply and remember what was applied (so ``pending`` is empty afterwards)."""
    excluded, relabel, decisions.baseline = apply_decisions(decisions.current, decisions.baseline, excluded, relabel)
    decisions.applied = dict(decisions.current)
    return excluded, relabel


def labels_from(decisions: Decisions) -> dict[Path, str]:
    """The class each decided photo belongs to: a move's target, a kept photo's own label (exclusions: none)."""
    out: dict[Path, str] = {}
    for d in decisions:
        if d.action == MOVE and d.to_class:
            out[d.path] = d.to_class
        elif d.action == KEEP and d.label:
            out[d.path] = d.label
    return out


def read_labels_csv(path: Path) -> dict[Path, str]:
    """Labels from a decisions CSV (what the Review and Sort pages export): absolute photo paths only."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no labels file at {path}")
    try:
        rows = list(csv.DictReader(io.StringIO(path.read_text())))
    except (UnicodeDecodeError, csv.Error):
        raise ValueError(f"{path.name} is not a readable CSV file") from None
    if rows and not {"path", "label", "action", "to_class"} <= set(rows[0]):
        raise ValueError(f"{path.name} has no path, label, action and to_class columns (export it from the app)")
    out: dict[Path, str] = {}
    for n, r in enumerate(rows, 2):
        p = Path(r["path"])
        if not p.is_absolute():
            raise ValueError(f"{path.name}, line {n}: {r['path']} is not an absolute path")
        if r["action"] == MOVE and r["to_class"]:
            out[p] = r["to_class"]
        elif r["action"] == KEEP and r["label"]:
            out[p] = r["label"]
    return out


def to_csv(decisions: Decisions) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS)
    w.writeheader()
    for d in decisions:
        w.writerow(
            {
                "path": str(d.path),
                "label": d.label or "",
                "action": d.action,
                "to_class": d.to_class or "",
                "source": d.source,
                "decided_at": datetime.fromtimestamp(d.at, UTC).isoformat(timespec="seconds"),
                "applied": "yes" if decisions.is_applied(d.path) else "no",
            }
        )
    return buf.getvalue()
