"""Suggestions read the writing on photos: captioned minorities split off, look-alike kinds not merged."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.analysis.discover import l2_normalise, merge_hints, split_as, split_hints
from core.analysis.discover.grouping import make_grouping


def grouping(rows: list[np.ndarray], labels: list[int], writing: list[float] | None):
    n = len(rows)
    return make_grouping(
        [Path(f"g/{i}.jpg") for i in range(n)],
        l2_normalise(np.array(rows, np.float32)),
        np.array(labels),
        {},
        coords=np.zeros((n, 2)),
        map_method="PCA",
        method="kmeans",
        k_scores={},
        k_auto=False,
        writing=None if writing is None else np.array(writing, np.float32),
    )


def blob(rng, centre: int, n: int, spread: float = 0.05) -> list[np.ndarray]:
    return [np.eye(8)[centre] + spread * rng.standard_normal(8) for _ in range(n)]


def memes_among_dogs(memes_written: float = 1.0):
    """Group 0: 20 dog photos and 6 memes over dog photos (the same picture, a caption); group 1: scenery."""
    rng = np.random.default_rng(0)
    rows = blob(rng, 0, 26) + blob(rng, 4, 20)
    writing = [0.0] * 20 + [memes_written] * 6 + [0.0] * 20
    return grouping(rows, [0] * 26 + [1] * 20, writing)


def test_a_captioned_minority_is_offered_first_as_a_kind_of_its_own():
    g = memes_among_dogs()
    hint = split_hints(g)[0]
    assert hint.by_writing and hint.group == 0
    assert sorted(hint.parts[1]) == list(range(20, 26)) and sorted(hint.parts[0]) == list(range(20))
    done = split_as(g, hint)
    assert done.k == 3 and len({int(done.labels[i]) for i in range(20, 26)}) == 1
    assert int(done.labels[20]) not in {int(done.labels[0]), int(done.labels[30])}


def test_writing_a_detector_barely_saw_or_no_text_reading_offers_no_writing_split():
    assert not any(h.by_writing for h in split_hints(memes_among_dogs(memes_written=0.3)))
    g = memes_among_dogs()
    unread = make_grouping(
        g.paths,
        g.vectors,
        g.labels,
        g.names,
        coords=g.coords,
        map_method="PCA",
        method="kmeans",
        k_scores={},
        k_auto=False,
    )
    assert not any(h.by_writing for h in split_hints(unread))


def test_a_group_mostly_of_writing_is_not_split_by_it():
    """Receipts whose detector missed some lines are one kind: only a captioned minority is split off."""
    rng = np.random.default_rng(1)
    rows = blob(rng, 0, 26) + blob(rng, 4, 20)
    g = grouping(rows, [0] * 26 + [1] * 20, [1.0] * 18 + [0.2] * 8 + [0.0] * 20)
    assert not any(h.by_writing for h in split_hints(g))


def five_groups(rng, second_half_written: float = 0.0):
    """Groups 0 and 1: two halves of one kind (a spread blob cut across); 2 and 3: two tight kinds with
    close centres and a clean boundary (documents, receipts); 4: a kind of its own."""
    spread = [np.eye(8)[0] + np.eye(8)[1] * x + 0.05 * rng.standard_normal(8) for x in np.linspace(-0.4, 0.4, 30)]
    docs = [np.eye(8)[2] + 0.3 * np.eye(8)[3] + 0.02 * rng.standard_normal(8) for _ in range(15)]
    receipts = [np.eye(8)[2] - 0.3 * np.eye(8)[3] + 0.02 * rng.standard_normal(8) for _ in range(15)]
    rows = spread + docs + receipts + blob(rng, 6, 15)
    labels = [0] * 15 + [1] * 15 + [2] * 15 + [3] * 15 + [4] * 15
    writing = [0.0] * 15 + [second_half_written] * 15 + [1.0] * 30 + [0.0] * 15
    return grouping(rows, labels, writing)


def test_merge_needs_neighbours_across_not_only_close_centres():
    g = five_groups(np.random.default_rng(2))
    cents = {i: l2_normalise(g.vectors[g.labels == i].mean(0, keepdims=True))[0] for i in g.group_ids}
    assert cents[2] @ cents[3] > cents[0] @ cents[1] - 0.1  # documents and receipts' centres are as close
    pairs = merge_hints(g)
    assert [{a, b} for a, b, _ in pairs] == [{0, 1}]


def test_merge_is_not_offered_between_captioned_and_plain_photos_of_one_picture():
    assert merge_hints(five_groups(np.random.default_rng(2), second_half_written=1.0)) == []
