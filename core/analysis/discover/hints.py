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


@dataclass(frozen=True)
class SplitHint:
    group: int
    score: float  # silhouette of the two-way split within the group
    parts: tuple[list[int], list[int]]  # the two halves, most typical first


def split_hints(g: Grouping, seed: int = 0, min_part: int = 3) -> list[SplitHint]:
    """Groups that look like two kinds of photos (animals -> birds, mammals), best candidate first."""
    from sklearn.metrics import silhouette_score

    hints = []
    for gid in g.group_ids:
        idx = np.flatnonzero(g.labels == gid)
        if len(idx) < 2 * min_part:
            continue
        sub = by_size(cluster(g.vectors[idx], 2, "kmeans", seed))
        if min(np.bincount(sub)) < min_part:
            continue
        with single_thread():
            score = float(silhouette_score(g.vectors[idx], sub, metric="cosine"))
        if score >= SPLIT_MIN:
            halves = []
            for part in (0, 1):
                members = idx[sub == part]
                centre = l2_normalise(g.vectors[members].mean(0, keepdims=True))[0]
                halves.append([int(i) for i in members[np.argsort(-(g.vectors[members] @ centre))]])
            hints.append(SplitHint(gid, score, (halves[0], halves[1])))
    return sorted(hints, key=lambda h: -h.score)


def merge_hints(g: Grouping) -> list[tuple[int, int, float]]:
    """Pairs of groups whose photos look alike (group, group, similarity of their centres), closest first.

    Relative, not absolute: how similar two kinds' centres are depends on the backbone and the
    photos, so a pair is suggested when it is :data:`MERGE_GAP` closer than the median pair
    (two halves of one kind stand out that way; with only two groups there is nothing to compare).
    """
    ids = g.group_ids
    cents = {i: l2_normalise(g.vectors[g.labels == i].mean(0, keepdims=True))[0] for i in ids}
    pairs = [(a, b, float(cents[a] @ cents[b])) for x, a in enumerate(ids) for b in ids[x + 1 :]]
    if len(pairs) < 3:
        return []
    typical = float(np.median([p[2] for p in pairs]))
    return sorted([p for p in pairs if p[2] >= typical + MERGE_GAP], key=lambda p: -p[2])


def split_as(g: Grouping, hint: SplitHint) -> Grouping:
    """Accept a split hint: its second half becomes a new group (the first keeps the name)."""
    return move(g, hint.parts[1], None, propagate=False)
