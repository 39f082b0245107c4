"""The ``Grouping``: proposed groups plus what the page draws, rebuilt after any change of labels."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...data.files import clean_part
from .embedding import l2_normalise

DISCARDED = -1  # label of images in a group the user said is "not a class"
FULL_SILHOUETTE_MAX = 3000  # above this, per-image silhouette uses centroids (O(n k) not O(n^2))


class DiscoverError(ValueError):
    """A gallery or an edit that cannot be grouped, with a message fit for the user."""


@dataclass(frozen=True)
class Group:
    id: int
    name: str
    members: list[int]  # indices into Grouping.paths, most typical first
    doubtful: list[int]  # members that sit badly in this group
    # unplaced members, where mistakes hide first: the doubtful ones by how many photos would follow
    # each if it moved, then the rest least typical first
    check_first: list[int] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.members)


@dataclass(frozen=True, eq=False)
class Grouping:
    """Proposed groups plus everything the page needs to draw and edit them."""

    paths: list[Path]
    vectors: np.ndarray  # (n, d) L2-normalised
    labels: np.ndarray  # (n,) group id per image, DISCARDED for "not a class"
    names: dict[int, str]  # every live group id -> its name
    coords: np.ndarray  # (n, 2) the 2-D map
    map_method: str  # "t-SNE" | "PCA"
    method: str  # "kmeans" | "agglomerative"
    k_scores: dict[int, float]  # silhouette for each k tried (empty when k was forced)
    k_auto: bool
    typicality: np.ndarray  # (n,) cosine similarity to own group centroid
    silhouette: np.ndarray  # (n,) per-image silhouette (0 for discarded)
    doubtful: np.ndarray  # (n,) bool
    failures: list[tuple[Path, str]] = field(default_factory=list)
    pinned: np.ndarray | None = None  # (n,) bool: images the user placed (re-assignment never moves them)
    k_note: str = ""  # how sure the automatic number of groups is, in words
    followed: int = 0  # images the last edit moved along with the user's (similar ones re-assigned)
    writing: np.ndarray | None = None  # (n,) how much of each image is writing, 0..1 (None: text not read)
    followers: np.ndarray | None = None  # (n,) per doubtful image: unplaced group-mates nearer to it than their centre

    @property
    def group_ids(self) -> list[int]:
        """Live groups, largest first (ties by id)."""
        ids, counts = np.unique(self.labels[self.labels != DISCARDED], return_counts=True)
        return [int(i) for _, i in sorted(zip(-counts, ids))]

    @property
    def k(self) -> int:
        return len(self.group_ids)

    @property
    def groups(self) -> list[Group]:
        return [self.group(g) for g in self.group_ids]

    @property
    def discarded(self) -> list[int]:
        return [int(i) for i in np.flatnonzero(self.labels == DISCARDED)]

    def group(self, gid: int) -> Group:
        idx = np.flatnonzero(self.labels == gid)
        if not len(idx):
            raise DiscoverError(f"there is no group {gid}")
        order = [int(i) for i in idx[np.argsort(-self.typicality[idx], kind="stable")]]
        placed = self.pinned if self.pinned is not None else np.zeros(len(self.labels), bool)
        free = [i for i in order[::-1] if not placed[i]]  # a photo the person placed is never offered again
        follow = self.followers if self.followers is not None else np.zeros(len(self.labels), np.int32)
        check = sorted(free, key=lambda i: (not self.doubtful[i], -int(follow[i])))  # stable: least typical first
        return Group(gid, self.names[gid], order, [i for i in order if self.doubtful[i]], check)

    def name_of(self, gid: int) -> str:
        return "not a class" if gid == DISCARDED else self.names[gid]

    def index_of(self, path: Path | str) -> int:
        try:
            return self.paths.index(Path(path))
        except ValueError:
            raise DiscoverError(f"{Path(path).name} is not in this grouping") from None


def default_name(gid: int) -> str:
    return f"group_{gid + 1}"


def clean_name(name: str) -> str:
    """A group name that is also a safe folder name (it becomes the class folder)."""
    cleaned = clean_part(str(name).replace("/", "_").replace("\\", "_"))
    if not cleaned:
        raise DiscoverError("a group name cannot be empty")
    return cleaned


def single_thread():
    """Nested OpenMP/BLAS pools thrash on a small, busy CPU; these matrices are small."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1)


def _silhouette(vectors: np.ndarray, labels: np.ndarray, centroids: dict[int, np.ndarray]) -> np.ndarray:
    """Per-image silhouette on live images; centroid-based for large galleries."""
    out = np.zeros(len(labels), np.float32)
    live = np.flatnonzero(labels != DISCARDED)
    n_groups = len(centroids)
    if n_groups < 2 or n_groups >= len(live):
        return out
    if len(live) <= FULL_SILHOUETTE_MAX:
        from sklearn.metrics import silhouette_samples

        out[live] = silhouette_samples(vectors[live], labels[live], metric="cosine")
        return out
    ids = list(centroids)
    dist = 1.0 - vectors[live] @ np.stack([centroids[g] for g in ids]).T  # (n_live, k)
    own = np.array([ids.index(int(g)) for g in labels[live]])
    a = dist[np.arange(len(live)), own]
    dist[np.arange(len(live)), own] = np.inf
    b = dist.min(axis=1)
    out[live] = (b - a) / np.maximum(np.maximum(a, b), 1e-12)
    return out


def make_grouping(
    paths: list[Path],
    vectors: np.ndarray,
    labels: np.ndarray,
    names: dict[int, str],
    pinned=None,
    followed: int = 0,
    **meta,
) -> Grouping:
    """Recompute centroids, typicality and doubt after any change of labels."""
    labels = np.asarray(labels, dtype=int).copy()
    live_ids = sorted({int(g) for g in labels if g != DISCARDED})
    centroids = {g: l2_normalise(vectors[labels == g].mean(axis=0, keepdims=True))[0] for g in live_ids}
    typicality = np.zeros(len(labels), np.float32)
    doubtful = np.zeros(len(labels), bool)
    for g in live_ids:
        idx = np.flatnonzero(labels == g)
        typicality[idx] = vectors[idx] @ centroids[g]
        if len(idx) >= 5:  # far from the centroid: beyond the group's own upper whisker
            d = 1.0 - typicality[idx]
            q1, q3 = np.percentile(d, [25, 75])
            doubtful[idx] = d > q3 + 1.5 * (q3 - q1)
    with single_thread():
        sil = _silhouette(vectors, labels, centroids)
    doubtful |= sil < 0
    names = {g: names.get(g) or default_name(g) for g in live_ids}
    pinned = np.zeros(len(labels), bool) if pinned is None else np.asarray(pinned, bool).copy()
    followers = _followers(vectors, labels, live_ids, typicality, doubtful, pinned)
    return Grouping(
        paths,
        vectors,
        labels,
        names,
        typicality=typicality,
        silhouette=sil,
        doubtful=doubtful,
        pinned=pinned,
        followed=followed,
        followers=followers,
        **meta,
    )


def _followers(vectors, labels, live_ids, typicality, doubtful, pinned, chunk: int = 256) -> np.ndarray:
    """Per doubtful image, how many unplaced group-mates sit nearer to it than to their own centre.

    What a move of it would carry along (the re-assignment after a move follows likeness): a lost
    kind's photos cluster, so one of them has many followers, while an odd one out has none. On
    the journey's groupings (phone gallery, 3 seeds, 20 moves) ordering "Check these first" so
    took the photos grouped right from 93.0/88.6/92.0% to 96.0/94.7/92.4% (trashnet 45.5 -> 46.8%).
    """
    out = np.zeros(len(labels), np.int32)
    for g in live_ids:
        idx = np.flatnonzero(labels == g)
        mates = idx[~pinned[idx]]
        rows = idx[doubtful[idx]]
        for s in range(0, len(rows), chunk):  # memory stays chunk x group size, whatever the gallery
            r = rows[s : s + chunk]
            near = (vectors[r] @ vectors[mates].T) >= typicality[mates][None, :]
            out[r] = near.sum(1) - (~pinned[r]).astype(np.int32)  # not counting itself
    return out


def meta_of(g: Grouping) -> dict:
    return dict(
        coords=g.coords,
        map_method=g.map_method,
        method=g.method,
        k_scores=g.k_scores,
        k_auto=g.k_auto,
        failures=g.failures,
        k_note=g.k_note,
        writing=g.writing,
    )


def by_size(labels: np.ndarray) -> np.ndarray:
    """Renumber so group 0 is the largest: 'group_1' is what the user sees first."""
    ids, counts = np.unique(labels, return_counts=True)
    order = [int(i) for _, i in sorted(zip(-counts, ids))]
    remap = {old: new for new, old in enumerate(order)}
    return np.array([remap[int(g)] for g in labels])
