"""Suggestions: groups that look like two kinds, and pairs of groups that look like one."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .clustering import cluster
from .editing import move
from .embedding import l2_normalise
from .grouping import Grouping, by_size, single_thread

SPLIT_MIN = 0.12  # a group whose best two-way split has at least this silhouette holds two kinds
MERGE_GAP = 0.15  # two groups whose centres are this much closer (cosine) than a typical pair look like one kind
# A photo whose writing covers 7.5% of it or more (a caption, a chat, a page) is "captioned". A group
# of mostly plain pictures with a captioned minority (between CAPTIONED_MIN and half of it) holds
# two kinds: the picture under a meme's caption put it beside the plain photos of that picture. A
# group mostly of writing whose detector missed some lines is one kind, and is not split this way.
CAPTIONED = 0.75
CAPTIONED_MIN = 0.10
# Two groups are one kind when each one's photos have, on average, at least one nearest neighbour
# in 20 in the other (the boundary between them is no boundary) and about as many captioned photos.
MERGE_NEIGHBOURS = 0.05
NEIGHBOURS = 10
MERGE_WRITING_GAP = 0.25


@dataclass(frozen=True)
class SplitHint:
    group: int
    score: float  # silhouette of the two-way split within the group, or its captioned share
    parts: tuple[list[int], list[int]]  # the two halves, most typical first
    by_writing: bool = False  # the second half is the group's captioned photos


def _most_typical_first(g: Grouping, members: np.ndarray) -> list[int]:
    centre = l2_normalise(g.vectors[members].mean(0, keepdims=True))[0]
    return [int(i) for i in members[np.argsort(-(g.vectors[members] @ centre))]]


def writing_splits(g: Grouping, min_part: int = 3) -> list[SplitHint]:
    """Groups of plain pictures holding a captioned minority (memes among pet photos), largest share first.

    On the generated phone gallery the pictures' own two-way splits were right 2 times in 18: a
    group of one kind still has sub-modes. Writing is what the CNN cannot see, and what tells these kinds apart."""
    if g.writing is None:
        return []
    hints = []
    for gid in g.group_ids:
        idx = np.flatnonzero(g.labels == gid)
        captioned = g.writing[idx] >= CAPTIONED
        share = float(captioned.mean())
        if CAPTIONED_MIN <= share < 0.5 and min(captioned.sum(), (~captioned).sum()) >= min_part:
            parts = (_most_typical_first(g, idx[~captioned]), _most_typical_first(g, idx[captioned]))
            hints.append(SplitHint(gid, share, parts, by_writing=True))
    return sorted(hints, key=lambda h: -h.score)


def split_hints(g: Grouping, seed: int = 0, min_part: int = 3) -> list[SplitHint]:
    """Groups that look like two kinds of photos, best candidate first: writing first, then the pictures.

    By the pictures: a group whose best two-way split has a clear silhouette (animals -> birds, mammals)."""
    from sklearn.metrics import silhouette_score

    hints = writing_splits(g, min_part)
    by_writing = {h.group for h in hints}
    looks = []
    for gid in g.group_ids:
        idx = np.flatnonzero(g.labels == gid)
        if len(idx) < 2 * min_part or gid in by_writing:
            continue
        sub = by_size(cluster(g.vectors[idx], 2, "kmeans", seed))
        if min(np.bincount(sub)) < min_part:
            continue
        with single_thread():
            score = float(silhouette_score(g.vectors[idx], sub, metric="cosine"))
        if score >= SPLIT_MIN:
            looks.append(
                SplitHint(gid, score, (_most_typical_first(g, idx[sub == 0]), _most_typical_first(g, idx[sub == 1])))
            )
    return hints + sorted(looks, key=lambda h: -h.score)


def merge_hints(g: Grouping) -> list[tuple[int, int, float]]:
    """Pairs of groups that look like one kind (group, group, similarity of their centres), likeliest first.

    Three signs, all needed. Their centres are :data:`MERGE_GAP` closer than the median pair
    (relative: how close two kinds' centres sit depends on the backbone and the photos; with only
    two groups there is nothing to compare). Their photos' nearest neighbours cross between them
    (:data:`MERGE_NEIGHBOURS`): documents and receipts have close centres and a clean boundary, two
    halves of one kind do not. And about as many of their photos are captioned: a meme group sits
    beside the plain pictures it is made of. Ordered by how much the neighbours cross.
    On the generated phone gallery, centres alone offered a wrong pair first on all 3 seeds.
    """
    ids = g.group_ids
    cents = {i: l2_normalise(g.vectors[g.labels == i].mean(0, keepdims=True))[0] for i in ids}
    pairs = [(a, b, float(cents[a] @ cents[b])) for x, a in enumerate(ids) for b in ids[x + 1 :]]
    if len(pairs) < 3:
        return []
    typical = float(np.median([p[2] for p in pairs]))
    close = [p for p in pairs if p[2] >= typical + MERGE_GAP]
    if not close:
        return []
    near = _neighbour_groups(g, sorted({x for a, b, _ in close for x in (a, b)}))
    captioned = g.writing >= CAPTIONED if g.writing is not None else np.zeros(len(g.labels), bool)
    scored = []
    for a, b, sim in close:
        cross = ((near[a] == b).mean() + (near[b] == a).mean()) / 2
        in_a, in_b = g.labels == a, g.labels == b
        if cross >= MERGE_NEIGHBOURS and abs(captioned[in_a].mean() - captioned[in_b].mean()) < MERGE_WRITING_GAP:
            scored.append((cross, (a, b, sim)))
    return [p for _, p in sorted(scored, key=lambda x: -x[0])]


QUERIES = 200  # photos per group whose neighbours are looked up (all of a smaller group)
REFERENCE = 5_000  # photos they are looked up among (all of a smaller gallery; else a sample of every group)


def _neighbour_groups(g: Grouping, groups: list[int], seed: int = 0) -> dict[int, np.ndarray]:
    """Per group, the groups of some of its photos' :data:`NEIGHBOURS` nearest photos, (queries, k).

    Sampled past :data:`QUERIES` and :data:`REFERENCE`, so a page render stays well under a second
    at 20,000 photos; a share of neighbours is a ratio, which a proportional sample keeps."""
    rng = np.random.default_rng(seed)
    n = len(g.labels)
    ref = np.arange(n) if n <= REFERENCE else np.sort(rng.choice(n, REFERENCE, replace=False))
    k = min(NEIGHBOURS, len(ref) - 1)
    out = {}
    for gid in groups:
        idx = np.flatnonzero(g.labels == gid)
        q = idx if len(idx) <= QUERIES else np.sort(rng.choice(idx, QUERIES, replace=False))
        sims = g.vectors[q] @ g.vectors[ref].T
        sims[ref[None, :] == q[:, None]] = -np.inf  # not itself
        out[gid] = g.labels[ref[np.argpartition(-sims, k - 1, axis=1)[:, :k]]]
    return out


def split_as(g: Grouping, hint: SplitHint) -> Grouping:
    """Accept a split hint: its second half becomes a new group (the first keeps the name)."""
    return move(g, hint.parts[1], None, propagate=False)
