"""The journey bench's simulated person does what the Discover page lets a person do, nothing more."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.journey import make_moves, name_groups
from core.analysis.discover import Embedding, l2_normalise, propose


def embedding() -> tuple[Embedding, dict[Path, str]]:
    """Three tight clusters: two of kind a, one of kind c holding five photos of a lost kind d off its centre."""
    rng = np.random.default_rng(0)
    centres = np.eye(8)[:3]
    rows, truth = [], {}
    for c, kind in enumerate(("a", "a", "c")):
        for k in range(20):
            rows.append(centres[c] + 0.05 * rng.standard_normal(8))
            truth[Path(f"g/{c}-{k}.jpg")] = kind
    for k in range(5):
        rows.append(centres[2] + 0.6 * np.eye(8)[5] + 0.05 * rng.standard_normal(8))
        truth[Path(f"g/d-{k}.jpg")] = "d"
    return Embedding(list(truth), l2_normalise(np.array(rows, np.float32))), truth


def test_groups_are_named_by_their_majority_and_two_of_one_kind_merged():
    emb, truth = embedding()
    g = name_groups(propose(emb, k=3), truth)
    assert sorted(g.names.values()) == ["a", "c"]
    assert sum(g.labels == g.group_ids[0]) + sum(g.labels == g.group_ids[1]) == len(truth)


def test_a_lost_kind_gets_its_own_group_from_the_photos_shown_first_within_the_cap():
    emb, truth = embedding()
    g = name_groups(propose(emb, k=3), truth)
    moved, n = make_moves(g, truth, cap=20)
    assert "d" in moved.names.values() and 1 <= n <= 20
    d = next(gid for gid in moved.group_ids if moved.name_of(gid) == "d")
    assert sum(truth[moved.paths[i]] == "d" for i in moved.group(d).members) >= 4  # the others followed
    assert make_moves(g, truth, cap=0)[1] == 0


def test_hints_are_scored_against_the_kinds():
    """A split is right only when its halves are different kinds: a+a split apart is wrong, c+d right."""
    from bench.journey import hints_right
    from core.analysis.discover.grouping import make_grouping

    emb, truth = embedding()
    kinds = [truth[p] for p in emb.paths]
    labels = np.array([0 if k == "a" else 1 for k in kinds])  # both a clusters in one group, c and d in another
    g = make_grouping(
        emb.paths,
        emb.vectors,
        labels,
        {0: "g0", 1: "g1"},
        coords=np.zeros((len(labels), 2)),
        map_method="PCA",
        method="kmeans",
        k_scores={},
        k_auto=False,
    )
    assert hints_right(g, truth) == (1, 2, 0, 0)  # two splits offered, one right; two groups: no merge offered
