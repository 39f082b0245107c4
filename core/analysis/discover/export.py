"""The hand-off: accepted groups as a dataset, a CSV, or copied class folders (never moves)."""

from __future__ import annotations

import csv
import io
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from ...data.dataset import Dataset, DatasetError, Item, check_trainable, stratified_split
from ...data.files import unique_path
from .grouping import DISCARDED, Grouping, clean_name


def _class_names(g: Grouping, names: dict[int, str] | None) -> dict[int, str]:
    chosen = {gid: clean_name((names or {}).get(gid) or g.names[gid]) for gid in g.group_ids}
    seen: dict[str, int] = {}
    for gid, n in chosen.items():
        if n in seen:
            raise DatasetError(f"two groups are both called {n!r}: merge them or rename one")
        seen[n] = gid
    return chosen


def common_root(paths: Sequence[Path]) -> Path:
    """The deepest folder holding every photo: the root of the dataset the groups become."""
    try:
        return Path(os.path.commonpath([str(p.parent) for p in paths]))
    except ValueError:
        return Path(".")


def to_dataset(g: Grouping, names: dict[int, str] | None = None, val_fraction: float = 0.2, seed: int = 0) -> Dataset:
    """Named groups as classes, like class folders, pointing at the original files.

    Discarded images stay in as unlabelled items (not trained on). Raises
    ``DatasetError`` when the result could not be trained (fewer than 2 groups).
    """
    chosen = _class_names(g, names)
    items = [Item(p, None if gid == DISCARDED else chosen[int(gid)], "train") for p, gid in zip(g.paths, g.labels)]
    ds = Dataset(common_root(g.paths), items, "classes", sorted(chosen.values()))
    ds = stratified_split(ds, val_fraction, seed)
    check_trainable(ds)
    return ds


def placed_labels(g: Grouping) -> dict[Path, str]:
    """The class of each photo the person placed by hand (pinned), named as ``to_dataset`` names it.

    A placed photo's label is the person's word, not a guess from clustering: Check labels
    never flags it. Photos placed in "not a class" have no label.
    """
    if g.pinned is None:
        return {}
    return {
        p: clean_name(g.names[int(gid)])
        for p, gid, pin in zip(g.paths, g.labels, g.pinned)
        if pin and int(gid) != DISCARDED
    }


def _rel(p: Path, root: Path | None) -> str:
    try:
        return p.relative_to(root).as_posix() if root else p.name
    except ValueError:
        return p.name


def groups_csv(g: Grouping, root: Path | None = None, files: dict[Path, str] | None = None) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["path", "group", "group_id", "typicality", "silhouette", "doubtful", "file"])
    for i, p in enumerate(g.paths):
        gid = int(g.labels[i])
        w.writerow(
            [
                _rel(p, root),
                "" if gid == DISCARDED else g.names[gid],
                gid,
                f"{g.typicality[i]:.4f}",
                f"{g.silhouette[i]:.4f}",
                int(g.doubtful[i]),
                (files or {}).get(p, ""),
            ]
        )
    return buf.getvalue()


def write_groups(g: Grouping, out_dir: Path, root: Path | None = None) -> tuple[dict[str, int], Path]:
    """COPY each grouped image into out_dir/<group name>/ and write groups.csv.

    Never moves or overwrites: clashing names get a suffix. Discarded images are
    listed in the CSV but not copied. Returns ({folder: count}, csv path).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    chosen = _class_names(g, None)
    counts: dict[str, int] = {}
    files: dict[Path, str] = {}
    for gid in g.group_ids:
        folder = chosen[gid]
        for i in g.group(gid).members:
            src = g.paths[i]
            target = unique_path(out_dir / folder / src.name)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
            files[src] = target.relative_to(out_dir).as_posix()
            counts[folder] = counts.get(folder, 0) + 1
    csv_path = unique_path(out_dir / "groups.csv")
    csv_path.write_text(groups_csv(g, root or common_root(g.paths), files))
    return counts, csv_path
