"""Dataset health: what is wrong with the photos, before a minute is spent training.

:func:`check` decodes every image once at reduced size (in threads: PIL releases
the GIL while decoding), keeps a few cheap facts per image (content hash,
perceptual hash, flatness, size, greyness) and turns them into ``Finding`` s.
Each finding names its files, says what is wrong in plain words and what to do.

No torch here, so the Data page and ``python -m core check`` stay light. The
optional "far from its class" check takes a feature matrix computed elsewhere;
:func:`backbone_features` computes one and imports torch only when called.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from ..data.dataset import Dataset, Item
from ..data.images import FORMAT_WORDS, ImageError, load_rgb
from ..words import plural

Progress = Callable[[int, int], None]

SEVERITIES = ("error", "warning", "info")  # error: blocks training; warning: likely hurts it; info: worth a look
MIN_SIDE = 32  # below this a photo carries too little to learn from
MIN_PER_CLASS = 5  # fewer than this and a class cannot be split into train and val
IMBALANCE_RATIO = 3.0  # largest / smallest class
NEAR_BITS = 12  # dHash (256-bit) Hamming distance that still counts as "the same picture"
NEAR_COLOUR = 24.0  # mean absolute difference of 8x8 colour thumbnails (0..255) for near-duplicates
FLAT_SHARE = 0.90  # share of pixels in the single most common colour ...
FLAT_COLOURS = 64  # ... with at most this many colours: a graphic, not a photo
BLANK_SHARE = 0.98  # this much of one colour is blank whatever else is there
PAGE_LINES = 3  # a flat image with this many text lines is a page (document, screenshot), not a blank
TEXT_SIDE = 512  # decode size for reading a flat image's text
# The detector runs at about this many pixels on a flat image (4x what classifying reads at): a small
# screenshot's body text is a few pixels high, and read at the classifier's size most lines vanish.
# Only flat-looking images are read, ~0.15 s each on one core here.
TEXT_PIXELS = 512 * 512
TEXT_MIN_SIDE = 32  # smaller images hold no lines of text: not read (10,000 icons took 7 minutes)
PHOTO_CLASS_SHARE = 0.6  # a class whose median image has less than this of one colour holds photos
OUTLIER_Z = 3.5  # robust z-score of cosine distance to the class mean
OUTLIER_MIN_CLASS = 8  # too few images and "far from the rest" means nothing
BUCKET_CAP = 300  # a dHash band shared by more images than this is too generic to pair on

# findings about the class structure: cheap, recomputed after every exclusion (see class_findings)
CLASS_KINDS = frozenset(
    {
        "no_images",
        "no_classes",
        "single_class",
        "too_few_images",
        "class_imbalance",
        "no_validation_images",
        "unlabelled_images",
    }
)
# findings whose files cannot be shown as pictures
UNREADABLE_KINDS = frozenset({"zero_byte", "truncated", "too_large", "not_an_image", "unreadable", "skipped_files"})
TITLES = {
    "no_images": "No images",
    "no_classes": "No class folders",
    "single_class": "Only one class",
    "too_few_images": "Classes with too few images",
    "class_imbalance": "Unbalanced classes",
    "no_validation_images": "Classes without validation images",
    "unlabelled_images": "Unlabelled images",
    "zero_byte": "Empty files",
    "truncated": "Truncated files",
    "too_large": "Images over the size limit",
    "not_an_image": "Not images",
    "unreadable": "Unreadable files",
    "too_small": "Images too small",
    "low_information": "Placeholders, blanks and flat graphics",
    "duplicate_conflicting_labels": "Same file in two classes",
    "duplicate_train_val": "Same file in train and validation",
    "duplicate": "Duplicate files",
    "near_duplicate_conflicting_labels": "Near-identical images in two classes",
    "near_duplicate_train_val": "Near-identical images in train and validation",
    "near_duplicate": "Near-identical images",
    "feature_outlier": "Unlike the rest of their class",
    "skipped_files": "Files not taken in",
}


@dataclass(frozen=True)
class Finding:
    """One problem, the files it concerns, and what the user can do about it."""

    kind: str
    severity: str
    files: tuple[Path, ...]
    message: str
    action: str
    exclude: tuple[Path, ...] = ()  # what a one-click "Exclude these files" drops (a subset of files)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["files"] = [str(p) for p in self.files]
        d["exclude"] = [str(p) for p in self.exclude]
        return d


@dataclass
class ImageFacts:
    """What one decode of one file tells us; no pixels are kept beyond a few bytes."""

    path: Path
    error: str | None = None
    error_kind: str = ""
    size: tuple[int, int] | None = None  # full upright size of the file
    sha: str = ""
    dhash: np.ndarray | None = None  # 256 bits packed into 32 bytes
    tiny: np.ndarray | None = None  # 8x8x3 colour thumbnail
    dominant: float = 0.0  # share of pixels in the most common colour (16 levels per channel)
    colours: int = 0  # distinct colours at 16 levels per channel on a 64 px thumbnail
    grayscale: bool = False
    text_lines: int = 0  # text lines found on a flat-looking image (a document or screenshot, not a blank)


@dataclass
class HealthReport:
    root: Path
    layout: str
    classes: list[str]
    counts: dict[str, dict[str, int]]  # {class: {split: n}}
    splits: dict[str, int]  # {split: n labelled images}
    n_images: int
    n_checked: int
    findings: list[Finding]
    sizes: list[tuple[int, int]] = field(default_factory=list)
    orientation: dict[str, int] = field(default_factory=dict)
    grayscale_share: float = 0.0
    seconds: float = 0.0

    def by_severity(self) -> dict[str, list[Finding]]:
        return {s: [f for f in self.findings if f.severity == s] for s in SEVERITIES}

    def to_dict(self) -> dict:
        return {
            "root": str(self.root),
            "layout": self.layout,
            "classes": self.classes,
            "counts": self.counts,
            "splits": self.splits,
            "n_images": self.n_images,
            "n_checked": self.n_checked,
            "findings": [f.to_dict() for f in self.findings],
            "sizes": [list(s) for s in self.sizes],
            "orientation": self.orientation,
            "grayscale_share": self.grayscale_share,
            "seconds": round(self.seconds, 3),
        }


# ---------------------------------------------------------------- per-image facts


def _sha(path: Path) -> tuple[str, bytes]:
    """Content hash and the first bytes (to recognise a web page saved as .jpg)."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        head = f.read(1 << 16)
        h.update(head)
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest(), head[:512]


def dhash(img: Image.Image, size: int = 16) -> np.ndarray:
    """Difference hash: is each pixel brighter than its right neighbour, on a size x size grid.

    Survives resizing, recompression and small colour shifts; 256 bits by default.
    """
    g = np.asarray(img.convert("L").resize((size + 1, size), Image.BILINEAR), dtype=np.int16)
    return np.packbits(g[:, 1:] > g[:, :-1])


def _are(n: int) -> str:
    return "is" if n == 1 else "are"


def _error_kind(message: str, head: bytes) -> tuple[str, str]:
    lowered = message.lower()
    if "empty file" in lowered:
        return "zero_byte", message
    if "truncated" in lowered:
        return "truncated", message
    if "mp limit" in lowered:
        return "too_large", message
    start = head.lstrip()
    if _reads_as_text(head) and (start[:1] == b"<" or start[:5].lower() in (b'{"err', b"error")):
        return "not_an_image", message.split(":")[0] + ": a web page or text saved with an image name"
    return "unreadable", message


def _reads_as_text(head: bytes) -> bool:
    """A web page is text; random or damaged bytes that happen to begin with '<' are not."""
    text = head[:500].decode("utf-8", errors="replace")  # a cut multi-byte character costs one mark
    readable = sum(c.isprintable() or c in "\r\n\t" for c in text) - text.count("\ufffd")
    return readable >= 0.95 * len(text) > 0


def examine(path: Path, min_side: int = 64) -> ImageFacts:
    """Decode once at reduced size and measure; never raises for a bad file."""
    facts = ImageFacts(Path(path))
    try:
        facts.sha, head = _sha(facts.path)
    except OSError as exc:
        facts.error, facts.error_kind = f"{facts.path.name}: could not be read ({exc.strerror or exc})", "unreadable"
        return facts
    try:
        img = load_rgb(facts.path, min_side=min_side)
    except ImageError as exc:
        facts.error_kind, facts.error = _error_kind(str(exc), head)
        return facts
    facts.size = tuple(img.info.get("source_size", img.size))  # type: ignore[assignment]
    img.thumbnail((64, 64), Image.BILINEAR)
    arr = np.asarray(img)
    q = (arr >> 4).astype(np.int32)
    counts = np.bincount(((q[..., 0] << 8) | (q[..., 1] << 4) | q[..., 2]).ravel(), minlength=4096)
    facts.dominant = float(counts.max() / max(1, counts.sum()))
    facts.colours = int((counts > 0).sum())
    a = arr.astype(np.int16)
    spread = np.abs(a[..., 0] - a[..., 1]) + np.abs(a[..., 1] - a[..., 2])
    facts.grayscale = bool(np.percentile(spread, 99) <= 8)
    facts.dhash = dhash(img)
    facts.tiny = np.asarray(img.resize((8, 8), Image.BOX), dtype=np.int16)
    if _flat(facts) and min(facts.size) >= TEXT_MIN_SIDE:  # only these could be blanks with text: read it
        facts.text_lines = _text_lines(facts.path)
    return facts


def _flat(f: ImageFacts) -> bool:
    return (f.dominant >= FLAT_SHARE and f.colours <= FLAT_COLOURS) or f.dominant >= BLANK_SHARE


def _text_lines(path: Path) -> int:
    """Lines of text on an image, 0 when the detector is unavailable (then flatness alone decides)."""
    from ..models.text_detector import detect

    try:
        found = detect(load_rgb(path, min_side=TEXT_SIDE), pixels=TEXT_PIXELS)
    except Exception:  # an image that decoded once may still fail here (a race with a move): no text
        return 0
    return len(found.boxes)


def examine_all(
    paths: Sequence[Path], progress: Progress | None = None, workers: int | None = None
) -> list[ImageFacts]:
    """``examine`` over many files in a thread pool, reporting progress as (done, total)."""
    workers = workers or min(4, (os.cpu_count() or 2))
    total = len(paths)
    out: list[ImageFacts] = []
    if progress:
        progress(0, total)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for k, facts in enumerate(pool.map(examine, paths), 1):
            out.append(facts)
            if progress and (k == total or k % 16 == 0):
                progress(k, total)
    return out


# ---------------------------------------------------------------- findings from facts


def _file_findings(items: list[Item], facts: list[ImageFacts]) -> list[Finding]:
    out: list[Finding] = []
    bad: dict[str, list[ImageFacts]] = defaultdict(list)
    for f in facts:
        if f.error:
            bad[f.error_kind].append(f)
    words = {
        "zero_byte": ("empty (0 bytes)", "The copy or download failed; bring the file again or leave it out."),
        "truncated": ("cut short (truncated)", "An incomplete copy or download; bring the file again or leave it out."),
        "too_large": ("too large to open safely", "Resize them below the pixel limit, or leave them out."),
        "not_an_image": (
            "web pages or text saved with an image name",
            "These are not photos (a failed download?); leave them out.",
        ),
        "unreadable": ("not readable as images", "Open them in an image viewer; re-save or leave them out."),
    }
    for kind, group in bad.items():
        what, action = words[kind]
        files = tuple(g.path for g in group)
        detail = "; ".join(g.error or "" for g in group[:3])
        out.append(
            Finding(
                kind,
                "warning",
                files,
                f"{plural(len(files), 'file')} {what}; training skips them. {detail}",
                action,
                files,
            )
        )

    small = [f for f in facts if f.size and min(f.size) < MIN_SIDE]
    if small:
        sizes = ", ".join(f"{f.path.name} {f.size[0]}x{f.size[1]}" for f in small[:5])
        out.append(
            Finding(
                "too_small",
                "warning",
                tuple(f.path for f in small),
                f"{plural(len(small), 'image')} smaller than {MIN_SIDE} px on a side ({sizes}): "
                "too little detail to learn from, and upscaled to the model's input (224-288 px) they are mostly blur.",
                "Use larger originals, or leave them out.",
                tuple(f.path for f in small),
            )
        )
    out += _flat_findings(items, facts)
    return out


def _flat_findings(items: list[Item], facts: list[ImageFacts]) -> list[Finding]:
    """Placeholders, blanks and icons: one colour covers nearly everything.

    Judged against the image's class: in a class of photos a flat graphic is
    almost certainly junk (a warning); in a class of clipart it may be normal (info).
    """
    by_class: dict[str | None, list[float]] = defaultdict(list)
    for it, f in zip(items, facts):
        if not f.error:
            by_class[it.label].append(f.dominant)
    median = {c: float(np.median(v)) for c, v in by_class.items()}
    odd, maybe = [], []
    for it, f in zip(items, facts):
        if f.error:
            continue
        if _flat(f) and f.text_lines < PAGE_LINES:  # pages of text are photos of a kind, not blanks
            (odd if median[it.label] < PHOTO_CLASS_SHARE else maybe).append(f)
    out = []
    if odd:
        files = tuple(f.path for f in odd)
        out.append(
            Finding(
                "low_information",
                "warning",
                files,
                f"{plural(len(files), 'image')} {_are(len(files))} mostly one flat colour with few colours, unlike the photos in their class: "
                "a web 'image not found' placeholder, a blank or an icon?",
                "Look at them and leave them out unless they really show the class.",
                files,
            )
        )
    if maybe:
        files = tuple(f.path for f in maybe)
        out.append(
            Finding(
                "low_information",
                "info",
                files,
                f"{plural(len(files), 'image')} {_are(len(files))} almost entirely one flat colour; their class holds many graphics, "
                "so this may be fine.",
                "Check they are not blank or placeholder images.",
                files,
            )
        )
    return out


def _near_pairs(facts: list[ImageFacts]) -> list[tuple[int, int]]:
    """Index pairs whose dHashes differ in at most NEAR_BITS bits and whose colours agree.

    Bands: split the 256 bits into 16 chunks of 16; two hashes within 15 bits
    agree exactly on at least one chunk, so only images sharing a chunk are compared.
    """
    idx = [k for k, f in enumerate(facts) if f.dhash is not None]
    if len(idx) < 2:
        return []
    H = np.stack([facts[k].dhash for k in idx])  # (n, 32) uint8
    bands = H.view(np.uint16)  # (n, 16)
    cand: set[tuple[int, int]] = set()
    for b in range(bands.shape[1]):
        groups: dict[int, list[int]] = defaultdict(list)
        for row, v in enumerate(bands[:, b].tolist()):
            groups[v].append(row)
        for members in groups.values():
            if 1 < len(members) <= BUCKET_CAP:
                cand.update((members[i], members[j]) for i in range(len(members)) for j in range(i + 1, len(members)))
    if not cand:
        return []
    pairs = np.array(sorted(cand))
    dist = np.unpackbits(H[pairs[:, 0]] ^ H[pairs[:, 1]], axis=1).sum(axis=1)
    T = np.stack([facts[k].tiny for k in idx]).astype(np.float32)
    colour = np.abs(T[pairs[:, 0]] - T[pairs[:, 1]]).mean(axis=(1, 2, 3))
    keep = (dist <= NEAR_BITS) & (colour <= NEAR_COLOUR)
    return [(idx[a], idx[b]) for a, b in pairs[keep].tolist()]


def _groups(n: int, pairs: Iterable[tuple[int, int]]) -> list[list[int]]:
    """Connected components (union-find) with more than one member."""
    parent = list(range(n))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    comps: dict[int, list[int]] = defaultdict(list)
    for k in range(n):
        comps[find(k)].append(k)
    return [sorted(c) for c in comps.values() if len(c) > 1]


def _split_rank(split: str) -> int:
    return {"train": 0, "val": 1, "test": 2}.get(split, 3)


def _duplicate_finding(members: list[Item], near: bool) -> Finding:
    """One group of copies: conflicting labels beat train/val leakage beat plain copies."""
    members = sorted(members, key=lambda i: (_split_rank(i.split), str(i.path)))
    files = tuple(i.path for i in members)
    what = "nearly identical images (resized, re-saved or burst shots)" if near else "identical files"
    prefix = "near_duplicate" if near else "duplicate"
    labels = sorted({i.label for i in members if i.label is not None})
    splits = sorted({i.split for i in members if i.label is not None}, key=_split_rank)
    if len(labels) > 1:
        return Finding(
            f"{prefix}_conflicting_labels",
            "warning",
            files,
            f"{len(files)} {what} are filed under different classes ({', '.join(labels)}): "
            "the model is told the same picture is two different things.",
            "Keep the copy in the right class and leave out the others (excluding all copies is the safe choice).",
            files,
        )
    if len(splits) > 1:
        held_out = tuple(i.path for i in members if i.split != "train")
        return Finding(
            f"{prefix}_train_val",
            "warning",
            files,
            f"{len(files)} {what} sit in both {' and '.join(splits)} ({labels[0] if labels else 'unlabelled'}): "
            "validation then scores pictures the model has already seen, so accuracy looks better than it is.",
            "Leave out the validation copies.",
            held_out,
        )
    return Finding(
        prefix,
        "info",
        files,
        f"{len(files)} {what} in {labels[0] if labels else 'the unlabelled images'}: "
        "they count the same picture several times.",
        "Keep one copy and leave out the rest.",
        files[1:],
    )


def _duplicate_findings(items: list[Item], facts: list[ImageFacts]) -> list[Finding]:
    by_sha: dict[str, list[int]] = defaultdict(list)
    for k, f in enumerate(facts):
        if f.sha and not f.error:
            by_sha[f.sha].append(k)
    out = [_duplicate_finding([items[k] for k in ks], near=False) for ks in by_sha.values() if len(ks) > 1]
    # near duplicates among one representative per content hash
    reps = [ks[0] for ks in by_sha.values()]
    members = {ks[0]: ks for ks in by_sha.values()}
    rep_facts = [facts[k] for k in reps]
    for comp in _groups(len(reps), _near_pairs(rep_facts)):
        ks = [k for r in comp for k in members[reps[r]]]
        out.append(_duplicate_finding([items[k] for k in ks], near=True))
    return out


def class_findings(dataset: Dataset) -> list[Finding]:
    """Findings about the class structure alone: cheap, so re-run after every exclusion."""
    if not [i for i in dataset.items if not i.excluded]:
        return [
            Finding(
                "no_images",
                "error",
                (),
                "No images were found.",
                f"Bring a folder or .zip of {FORMAT_WORDS} photos.",
            )
        ]
    if not dataset.labelled:
        return [
            Finding(
                "no_classes",
                "warning",
                (),
                f"{len(dataset.unlabelled)} images and no class folders: nothing to learn labels from "
                "(a single folder of photos is read as unlabelled, not as one class).",
                "A classifier needs at least two classes: put the photos in one sub-folder per class "
                "(the folder names become the labels), or group them on the Discover page. "
                "You can still sort them with an existing model.",
            )
        ]
    return _count_findings(dataset) + _split_findings(dataset)


def _count_findings(dataset: Dataset) -> list[Finding]:
    """One class, classes too small to split, unbalanced classes."""
    labelled = dataset.labelled
    counts = Counter(i.label for i in labelled)
    out: list[Finding] = []
    if len(counts) == 1:
        ((only, n),) = counts.items()
        out.append(
            Finding(
                "single_class",
                "error",
                (),
                f"Only one class ({only}, {n} images): a classifier needs at least two.",
                "Add a second class folder (for example 'other').",
            )
        )
    few = sorted(c for c, n in counts.items() if n < MIN_PER_CLASS)
    if few:
        files = tuple(i.path for i in labelled if i.label in few)
        names = ", ".join(f"{c} ({counts[c]})" for c in few)
        out.append(
            Finding(
                "too_few_images",
                "warning",
                files,
                f"Too few images to split into train and validation: {names}. "
                f"At least {MIN_PER_CLASS} per class are needed, 20 or more work much better.",
                "Add more photos to these classes, or merge them into another class.",
            )
        )
    if len(counts) > 1:
        (big, nb), (small, ns) = counts.most_common()[0], counts.most_common()[-1]
        if nb / ns >= IMBALANCE_RATIO:
            out.append(
                Finding(
                    "class_imbalance",
                    "warning",
                    (),
                    f"Classes are unbalanced: {big} has {nb} images, {small} only {ns} "
                    f"({nb / ns:.1f}x). The model will lean towards the big classes.",
                    "Add photos to the small classes, or train with class weights "
                    "(--class-weights / 'Weight classes' on the Train page).",
                )
            )
    return out


def _split_findings(dataset: Dataset) -> list[Finding]:
    """Classes missing from a given validation split, and images outside any class folder."""
    labelled, unlabelled = dataset.labelled, dataset.unlabelled
    out: list[Finding] = []
    if dataset.layout == "splits":
        val_classes = {i.label for i in labelled if i.split == "val"}
        missing = sorted({i.label for i in labelled} - val_classes)
        if val_classes and missing:
            files = tuple(i.path for i in labelled if i.label in missing)
            out.append(
                Finding(
                    "no_validation_images",
                    "warning",
                    files,
                    f"No validation images for {', '.join(missing)}: their accuracy cannot be measured.",
                    "Move a few of their photos into val/<class>/.",
                )
            )
    if unlabelled:
        files = tuple(i.path for i in unlabelled)
        out.append(
            Finding(
                "unlabelled_images",
                "info",
                files,
                f"{len(files)} images sit outside any class folder; training does not use them.",
                "Move them into a class folder if they belong to one.",
            )
        )
    return out


def outlier_findings(items: list[Item], features: np.ndarray) -> list[Finding]:
    """Images far from their class mean in a backbone's feature space (mislabelled or off-topic?).

    Cosine distance to the class mean, scored with a robust z (median and MAD),
    so a few strays cannot hide themselves by dragging the spread up.
    """
    X = np.asarray(features, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] != len(items):
        raise ValueError(f"features must have one row per item ({len(items)}), got shape {X.shape}")
    ok = np.isfinite(X).all(axis=1)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    Xn = np.divide(X, norms, out=np.zeros_like(X), where=norms > 0)
    flagged: list[tuple[Path, str, float]] = []
    by_class: dict[str, list[int]] = defaultdict(list)
    for k, it in enumerate(items):
        if it.label is not None and ok[k] and not it.excluded:
            by_class[it.label].append(k)
    for label, ks in by_class.items():
        if len(ks) < OUTLIER_MIN_CLASS:
            continue
        V = Xn[ks]
        mean = V.mean(axis=0)
        mean /= np.linalg.norm(mean) or 1.0
        d = 1.0 - V @ mean
        med = float(np.median(d))
        mad = float(np.median(np.abs(d - med))) or 1e-9
        z = 0.6745 * (d - med) / mad
        for k, zk in zip(ks, z):
            if zk > OUTLIER_Z:
                flagged.append((items[k].path, label, float(zk)))
    if not flagged:
        return []
    flagged.sort(key=lambda t: -t[2])
    files = tuple(p for p, _, _ in flagged)
    names = ", ".join(f"{p.name} ({c})" for p, c, _ in flagged[:5])
    return [
        Finding(
            "feature_outlier",
            "info",
            files,
            f"{plural(len(files), 'image')} {'looks' if len(files) == 1 else 'look'} unlike the rest of their class to the pretrained backbone "
            f"({names}{', …' if len(flagged) > 5 else ''}): mislabelled, off-topic or unusual shots?",
            "Look at them; move mislabelled ones to the right class and leave out the ones that belong nowhere.",
            files,
        )
    ]


def skipped_finding(skipped: Sequence[tuple[str, str]]) -> list[Finding]:
    """Files intake left out (not images, links, encrypted zip entries...), so nothing vanishes silently."""
    if not skipped:
        return []
    reasons = Counter(why for _, why in skipped)
    summary = "; ".join(f"{n} {why}" for why, n in reasons.most_common(4))
    return [
        Finding(
            "skipped_files",
            "info",
            tuple(Path(n) for n, _ in skipped),
            f"{plural(len(skipped), 'file')} {'was' if len(skipped) == 1 else 'were'} not taken in: {summary}.",
            "Nothing to do unless some of them are photos in a format we do not read (convert those to JPEG or PNG).",
        )
    ]


# ---------------------------------------------------------------- the report


def summary_stats(facts: list[ImageFacts]) -> tuple[list[tuple[int, int]], dict[str, int], float]:
    sizes = [f.size for f in facts if f.size]
    orient = Counter(
        "square" if abs(w - h) <= 0.02 * max(w, h) else ("landscape" if w > h else "portrait") for w, h in sizes
    )
    readable = [f for f in facts if not f.error]
    grey = sum(f.grayscale for f in readable) / len(readable) if readable else 0.0
    return sizes, {k: orient.get(k, 0) for k in ("landscape", "portrait", "square")}, grey


def check(
    dataset: Dataset,
    skipped: Sequence[tuple[str, str]] = (),
    features: np.ndarray | None = None,
    progress: Progress | None = None,
    workers: int | None = None,
) -> HealthReport:
    """Every check on every included item; ``features`` (one row per ``dataset.items``) adds outliers.

    Findings come sorted: errors first, then warnings, then info.
    """
    t0 = time.perf_counter()
    items = [i for i in dataset.items if not i.excluded]
    facts = examine_all([i.path for i in items], progress=progress, workers=workers)
    findings = class_findings(dataset) + _file_findings(items, facts) + _duplicate_findings(items, facts)
    if features is not None:
        keep = [k for k, i in enumerate(dataset.items) if not i.excluded]
        feats = np.asarray(features)
        if feats.ndim != 2 or feats.shape[0] != len(dataset.items):
            raise ValueError(f"features must have one row per item ({len(dataset.items)}), got shape {feats.shape}")
        # an unreadable file has no meaningful features even if a row was passed
        bad = np.array([bool(f.error) for f in facts])
        sub = feats[keep].astype(np.float64)
        if bad.any():
            sub[bad] = np.nan
        findings += outlier_findings(items, sub)
    findings += skipped_finding(skipped)
    findings.sort(key=lambda f: SEVERITIES.index(f.severity))
    sizes, orient, grey = summary_stats(facts)
    splits = Counter(i.split for i in dataset.labelled)
    return HealthReport(
        root=dataset.root,
        layout=dataset.layout,
        classes=list(dataset.classes),
        counts=dataset.counts(),
        splits={s: splits[s] for s in ("train", "val", "test") if splits.get(s)},
        n_images=len(items),
        n_checked=sum(1 for f in facts if not f.error),
        findings=findings,
        sizes=sizes,
        orientation=orient,
        grayscale_share=grey,
        seconds=time.perf_counter() - t0,
    )


def backbone_features(
    paths: Sequence[Path],
    backbone: str = "efficientnet_lite0",
    cache=None,
    progress: Progress | None = None,
) -> np.ndarray:
    """Pooled pretrained-backbone features, one row per path (NaN rows for unreadable files).

    Imports torch lazily: only the optional outlier check pays for it. Pass the
    workspace's FeatureCache so a later training run or re-check reuses the work.
    """
    from ..models.backbones import get_spec
    from ..models.features import pretrained_features

    f = pretrained_features(list(paths), backbone, cache=cache, progress=progress)
    out = np.full((len(paths), get_spec(backbone).feature_dim), np.nan, dtype=np.float32)
    if f.ok:
        out[f.ok] = f.X
    return out
