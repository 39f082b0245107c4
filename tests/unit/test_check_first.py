""" "Check these first" offers first the doubtful photo whose move would carry the most photos along."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.analysis.discover import l2_normalise, move
from core.analysis.discover.grouping import make_grouping


def group_with_a_lost_kind():
    """Group 0: 30 dogs, a lost kind of 6 alike photos off to one side, and 3 odd ones out further off."""
    rng = np.random.default_rng(0)
    e = np.eye(12)
    rows = [e[0] + 0.05 * rng.standard_normal(12) for _ in range(30)]
    rows += [e[0] + 0.9 * e[5] + 0.03 * rng.standard_normal(12) for _ in range(6)]  # the lost kind
    rows += [e[0] + 1.3 * e[7 + k] for k in range(3)]  # each odd in its own way
    rows += [e[3] + 0.05 * rng.standard_normal(12) for _ in range(20)]  # another group
    n = len(rows)
    return make_grouping(
        [Path(f"g/{i}.jpg") for i in range(n)],
        l2_normalise(np.array(rows, np.float32)),
        np.array([0] * 39 + [1] * 20),
        {0: "dogs", 1: "scenery"},
        coords=np.zeros((n, 2)),
        map_method="PCA",
        method="kmeans",
        k_scores={},
        k_auto=False,
    )


def test_a_lost_kind_is_offered_before_the_less_typical_odd_ones_out():
    g = group_with_a_lost_kind()
    odd, lost = {36, 37, 38}, set(range(30, 36))
    assert odd | lost <= set(np.flatnonzero(g.doubtful))
    assert g.typicality[sorted(odd)].max() < g.typicality[sorted(lost)].min()  # least typical would show them first
    first = g.group(0).check_first
    assert first[0] in lost and set(first[:6]) == lost
    assert set(first[6:9]) == odd  # the odd ones out next, before the typical dogs


def test_a_move_carries_along_what_its_followers_promised():
    g = group_with_a_lost_kind()
    moved = move(g, g.group(0).check_first[0], None)
    new = max(moved.group_ids)
    assert set(np.flatnonzero(moved.labels == new)) == set(range(30, 36))
    assert not set(moved.group(0).check_first) & set(range(30, 36))
