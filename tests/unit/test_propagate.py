"""Learning from the gallery: labels spread to look-alikes, a person's answer is never overridden,
and validation turns it off where it would hurt."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.inference.propagate import SMOOTHED, choose, knn_graph, smooth
from core.inference.teach import Teacher


def blobs(rng, n_per: int, centres: np.ndarray, spread: float = 0.6):
    X = np.concatenate([c + spread * rng.normal(size=(n_per, centres.shape[1])) for c in centres])
    y = np.repeat(np.arange(len(centres)), n_per)
    return X.astype(np.float32), y


def test_the_graph_is_symmetric_and_never_links_a_photo_to_itself():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 8)).astype(np.float32)
    g = knn_graph(X, 5)
    S = g.S.to_dense().numpy()
    assert np.allclose(S, S.T) and np.all(np.diag(S) == 0)
    assert np.abs(np.linalg.eigvalsh(S)).max() <= 1 + 1e-5  # the iteration converges
    assert not (g.neighbours == np.arange(200)[:, None]).any()


def test_a_label_spreads_to_look_alikes_and_known_rows_stay_exactly_as_given():
    rng = np.random.default_rng(1)
    X, y = blobs(rng, 60, rng.normal(size=(3, 16)) * 4)
    g = knn_graph(X)
    prior = np.full((len(y), 3), 1 / 3, np.float32)  # the head knows nothing
    known = {0: 0, 1: 0, 60: 1, 61: 1, 120: 2, 121: 2}
    F = smooth(g, prior, known)
    rest = np.setdiff1d(np.arange(len(y)), list(known))
    assert (F[rest].argmax(1) == y[rest]).mean() > 0.95
    F = smooth(g, prior, known | {2: 2})  # one photo of class 0 was told it is class 2: that stays
    assert F[2, 2] == 1.0 and F[0, 0] == 1.0 and F[2].sum() == 1.0


def test_learning_from_the_gallery_is_refused_when_validation_says_it_hurts():
    rng = np.random.default_rng(2)
    n = 120
    X = rng.normal(size=(n, 8)).astype(np.float32)
    g = knn_graph(X)
    val_rows, val_y = np.arange(60), rng.integers(0, 2, 60)
    prior = np.full((n, 2), 0.1, np.float32)
    prior[np.arange(n), np.r_[val_y, rng.integers(0, 2, n - 60)]] = 0.9  # the head is right on validation
    wrong = {i: 1 - int(val_y[i % 60]) for i in range(60, n)}  # the neighbours all say otherwise: noise
    out, learned = choose(prior, {SMOOTHED: smooth(g, prior, wrong)}, val_rows, val_y)
    assert not learned.used and out is prior
    assert "did not help" in learned.words()
    out, learned = choose(prior, {SMOOTHED: smooth(g, prior, wrong)}, val_rows[:5], val_y[:5])
    assert not learned.used and "too few" in learned.words()


def _teacher(rng, learn: bool) -> tuple[Teacher, np.ndarray]:
    centres = rng.normal(size=(3, 32)) * 2.5
    Xb, yb = blobs(rng, 4, centres, 1.2)  # 4 labelled photos a class: the head is weak
    Xv, yv = blobs(rng, 20, centres, 1.2)
    Xg, yg = blobs(rng, 150, centres, 1.2)
    W = np.stack([Xb[yb == k].mean(0) for k in range(3)]) * 0.02 + rng.normal(size=(3, 32)) * 0.3
    t = Teacher(
        ["a", "b", "c"],
        [Path(f"g/{i}.jpg") for i in range(len(yg))],
        Xg,
        W,
        np.zeros(3),
        1.0,
        Xb,
        yb,
        Xv,
        yv,
        learn=learn,
    )
    return t, yg


def test_the_gallery_teaches_a_weak_head_and_a_persons_answer_is_never_overridden():
    acc = {}
    for learn in (False, True):
        t, yg = _teacher(np.random.default_rng(3), learn)
        acc[learn] = float((t.probs.argmax(1) == yg).mean())
        if learn:
            assert t.learned is not None and t.learned.used
            labels = {t.paths[0]: "c", t.paths[1]: "c"}  # the person says these two are c, whatever they look like
            preds = t.resort(labels)
            assert preds[0].label == "c" and preds[1].label == "c"
            assert t.held_out() is not None and len(t.held_out()) == 60
    assert acc[False] < 0.9 and acc[True] > acc[False] + 0.05, acc


def test_of_the_ways_that_help_the_one_validating_best_is_kept_and_named():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 40)
    head = np.full((40, 2), 0.4)
    head[np.arange(40), y] = 0.6  # right, unsure
    sharp = np.full((40, 2), 0.1)
    sharp[np.arange(40), y] = 0.9  # right, sure: lower log-loss
    worse = head[:, ::-1].copy()  # wrong everywhere
    out, learned = choose(head, {"a": head.copy(), "b": sharp, "c": worse}, np.arange(40), y)
    assert learned.used and learned.how == "b" and out is sharp
    assert "b (100.0% on 40 validation photos with them, 100.0% without)" in learned.words()
