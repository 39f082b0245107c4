"""One sort of a gallery folder, as the CLI and the Sort page both do it.

scan (what is there, what arrived since the last sort, which files travel together)
-> predict (core.inference.sort) -> plan (core.inference.placement) -> copy, zip or move
-> remember what was sorted (core.inference.manifest).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..data.files import Listing, scan
from .manifest import Manifest
from .placement import FilingRule, MoveReport, Plan, copy_out, move_into_place, plan
from .sort import Prediction


class GalleryError(ValueError):
    """A gallery, destination or option combination that cannot be sorted, in words."""


@dataclass
class GalleryScan:
    """What a sort of ``root`` will look at."""

    root: Path
    listing: Listing
    photos: list[Path]  # to classify
    kept: list[Path]  # videos, RAW files and sidecars to place (with their photo, or in not-classified/)
    companions: dict[Path, list[Path]] = field(default_factory=dict)
    sorted_before: int = 0  # photos left alone because the manifest knows them

    @property
    def empty(self) -> bool:
        return not self.photos and not self.kept


def default_destination(root: Path) -> Path:
    """Where a first sort of ``root`` goes unless the person says otherwise: a new folder beside it.

    A copy, never a move: sorting in place changes the person's folder, so it is only ever chosen.
    The same folder each time, so "only new photos" finds the manifest of the sorts before.
    """
    root = Path(root)
    return root.parent / f"{root.name}-sorted"


def check_destination(root: Path, out_dir: Path, move: bool) -> None:
    """Copies never land inside the gallery (the next sort would find them); a move may sort in place."""
    root, out = Path(root).resolve(), Path(out_dir).resolve()
    if move:
        return
    if out == root or root in out.parents:
        raise GalleryError("copies need a destination outside the gallery folder (to sort in place, move instead)")


def scan_gallery(
    root: Path, out_dir: Path | None = None, new_only: bool = False, with_companions: bool = True
) -> GalleryScan:
    """Photos and kept files under ``root``; with ``new_only``, only those the manifest in ``out_dir`` lacks."""
    listing = scan(root)
    photos, kept = list(listing.images), list(listing.kept)
    before = 0
    if new_only:
        if out_dir is None:
            raise GalleryError("only-new sorting needs the folder the earlier sorts went to")
        manifest = Manifest.load(out_dir)
        fresh = manifest.new_only(photos)
        before = len(photos) - len(fresh)
        photos, kept = fresh, manifest.new_only(kept)
    pairs = listing.companions() if with_companions else {}
    pairs = {p: cs for p, cs in pairs.items() if p in set(photos)}
    if not with_companions:
        kept = []  # nothing travels: videos and sidecars stay where they are
    return GalleryScan(Path(root), listing, photos, kept, pairs, before)


@dataclass
class Outcome:
    plan: Plan
    moved: MoveReport | None = None  # a move's journal and what could not be moved

    @property
    def counts(self) -> dict[str, int]:
        return self.plan.counts()


def place(
    preds: list[Prediction], gs: GalleryScan, out_dir: Path, rule: FilingRule, move: bool = False, dry_run: bool = False
) -> Outcome:
    """Plan where every file goes; unless a dry run, copy or move them and remember what was sorted."""
    check_destination(gs.root, out_dir, move)
    pl = plan(preds, out_dir, rule, gs.companions, gs.kept, root=gs.root)
    if dry_run:
        return Outcome(pl)
    manifest = Manifest.load(out_dir)
    if move:
        report = move_into_place(pl)
        manifest.record(pl, [p for p, _ in report.problems])
        return Outcome(pl, report)
    copy_out(pl)
    manifest.record(pl)
    return Outcome(pl)
