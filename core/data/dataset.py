"""A dataset is a list of items (path, class, split) and no pixels.

Layouts are detected from folder names: ``class/…``, ``train|val|test/class/…``,
or images at the top level (unlabelled). Exclusions and relabels from the
health report and the Review page are applied here, in one place.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

from .files import images_in, list_images, subfolders
from .images import FORMAT_WORDS

SPLIT_NAMES = {
    "train": "train",
    "training": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "test": "test",
    "testing": "test",
}


class DatasetError(ValueError):
    """A folder that cannot be trained on, with a message fit for the user."""


@dataclass(frozen=True)
class Item:
    path: Path
    label: str | None  # None: unlabelled
    split: str = "train"  # train | val | test
    excluded: bool = False


@dataclass
class Dataset:
    root: Path
    items: list[Item]
    layout: str  # "classes" | "splits" | "flat" | "empty"
    classes: list[str] = field(default_factory=list)

    @property
    def labelled(self) -> list[Item]:
        return [i for i in self.items if i.label is not None and not i.excluded]

    @property
    def unlabelled(self) -> list[Item]:
        return [i for i in self.items if i.label is None and not i.excluded]

    def split_items(self, split: str) -> list[Item]:
        return [i for i in self.labelled if i.split == split]

    def counts(self) -> dict[str, dict[str, int]]:
        """{class: {split: n}} over included labelled items."""
        out: dict[str, dict[str, int]] = {c: {} for c in self.classes}
        for i in self.labelled:
            out.setdefault(i.label, {})
            out[i.label][i.split] = out[i.label].get(i.split, 0) + 1
        return out

    def with_changes(self, excluded: set[Path] = frozenset(), relabel: dict[Path, str] | None = None) -> Dataset:
        """A copy with exclusions and relabels applied; classes follow the labels."""
        relabel = relabel or {}
        items = [
            replace(i, excluded=i.excluded or i.path in excluded, label=relabel.get(i.path, i.label))
            for i in self.items
        ]
        classes = sorted({i.label for i in items if i.label is not None and not i.excluded})
        return Dataset(self.root, items, self.layout, classes)


def scan_folder(root: Path) -> Dataset:
    """Detect the layout and list items. A lone wrapper folder (as zips often have) is skipped."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root} is not a folder")
    while True:
        subs = subfolders(root)
        if len(subs) == 1 and not images_in(root):
            # one wrapper folder (a folder upload always has one): look inside it. A lone folder of
            # images is an unlabelled gallery, not a one-class dataset nobody could train on. A lone
            # train/ or val/ folder is a wrapper too: with no sibling split, its class folders are the classes.
            lone_split = subs[0].name.lower() in SPLIT_NAMES
            if subfolders(subs[0]) or (images_in(subs[0]) and not lone_split):
                root = subs[0]
                continue
        break
    subs = subfolders(root)
    items: list[Item] = []
    split_dirs = {s: SPLIT_NAMES[s.name.lower()] for s in subs if s.name.lower() in SPLIT_NAMES}
    if split_dirs and any(v == "train" for v in split_dirs.values()):
        layout = "splits"
        for folder, split in split_dirs.items():
            for cls in subfolders(folder):
                items += [Item(p, cls.name, split) for p in list_images(cls)]
            items += [Item(p, None, split) for p in images_in(folder)]
        others = [s for s in subs if s not in split_dirs]
        for cls in others:  # stray class folders next to train/val: train
            items += [Item(p, cls.name, "train") for p in list_images(cls)]
    else:
        layout = "classes" if subs else "flat"
        for cls in subs:
            items += [Item(p, cls.name, "train") for p in list_images(cls)]
    items += [Item(p, None, "train") for p in images_in(root)]
    if not items:
        layout = "empty"
    elif not any(i.label for i in items):
        layout = "flat"
    classes = sorted({i.label for i in items if i.label is not None})
    return Dataset(root, items, layout, classes)


def with_extra_labels(dataset: Dataset, labels: dict[Path, str]) -> Dataset:
    """The dataset plus labelled photos from elsewhere (corrections made while sorting), for training.

    A photo already in the dataset takes the new label; others join the training split. The
    validation split is left as it was, so accuracy stays measured on the same images.
    """
    known = {i.path for i in dataset.items}
    items = [replace(i, label=labels[i.path], excluded=False) if i.path in labels else i for i in dataset.items]
    items += [Item(Path(p), c, "train") for p, c in labels.items() if Path(p) not in known]
    classes = sorted({i.label for i in items if i.label is not None and not i.excluded})
    return Dataset(dataset.root, items, dataset.layout, classes)


def stratified_split(dataset: Dataset, val_fraction: float = 0.2, seed: int = 0) -> Dataset:
    """Assign a seeded, per-class val split when the folder did not give one.

    A class keeps at least one training image; classes with a single image stay in train.
    """
    if dataset.layout == "splits" and any(i.split == "val" for i in dataset.labelled):
        return dataset
    if not 0.0 <= val_fraction < 1.0:
        raise DatasetError("val fraction must be in [0, 1)")
    rng = random.Random(seed)
    by_class: dict[str, list[Item]] = {}
    for it in dataset.items:
        if it.label is not None and it.split != "test":  # a test split is held out as given
            by_class.setdefault(it.label, []).append(it)
    assigned: dict[Path, str] = {}
    for cls in sorted(by_class):
        members = sorted(by_class[cls], key=lambda i: str(i.path))
        rng.shuffle(members)
        n_val = int(round(len(members) * val_fraction))
        if val_fraction > 0 and len(members) >= 2:
            n_val = max(1, min(n_val, len(members) - 1))
        else:
            n_val = 0
        for k, it in enumerate(members):
            assigned[it.path] = "val" if k < n_val else "train"
    items = [replace(i, split=assigned.get(i.path, i.split)) for i in dataset.items]
    return Dataset(dataset.root, items, dataset.layout, dataset.classes)


def check_trainable(dataset: Dataset) -> None:
    """Raise a user-facing error when training cannot start on this dataset."""
    counts = Counter(i.label for i in dataset.labelled)
    if not [i for i in dataset.items if not i.excluded]:
        raise DatasetError(f"no images found: bring {FORMAT_WORDS} photos, one sub-folder per class")
    if not counts:
        raise DatasetError(
            "no labelled images (a single folder of photos is read as unlabelled): put them in one sub-folder "
            "per class, at least two classes (or use Discover to group them)"
        )
    if len(counts) < 2:
        raise DatasetError(f"only one class ({next(iter(counts))}): at least two classes are needed")
    if not dataset.split_items("train"):
        raise DatasetError("no training images")


def load_dataset(root: Path, val_fraction: float = 0.2, seed: int = 0) -> Dataset:
    return stratified_split(scan_folder(root), val_fraction, seed)
