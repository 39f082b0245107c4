"""Let the unsorted photos teach: smooth the head's predictions over the gallery's own neighbourhoods.

A gallery is mostly photos nobody labelled, and they are exactly the photos the model must sort.
Photos that look alike (near neighbours in the trunk's feature space) are usually of one kind, so
a prediction is made better by its neighbours' predictions, and a label the person gave spreads
to the photos like it. This is the "smooth" step of Correct & Smooth (Huang et al., 2020), which is
label spreading (Zhou et al., 2004) started from the classifier's probabilities instead of zeros:

    F <- (1 - alpha) * Y0 + alpha * S F,    S = D^-1/2 W D^-1/2

with W the symmetric k-nearest-neighbour graph (cosine), Y0 the head's probabilities for unlabelled
photos and one-hot rows for labelled ones, which are clamped: a label the person gave is never
overridden. Everything is numpy on cached features: the graph is built once per gallery, and a
re-sort only iterates a sparse product (milliseconds for 10,000 photos).

Whether it helps depends on the gallery (look-alikes are not always of one kind), so
:func:`choose` keeps a way of learning from the gallery (this one, or the teacher's self-training
on its confident photos) only when the validation photos say it is at least as good as the head.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch

NEIGHBOURS = 10
ALPHA = 0.8
ITERATIONS = 20
BLOCK = 1024  # rows of the similarity matrix in memory at once (1,024 x n floats)
SMOOTHED = "smoothed over look-alikes"  # the ways the gallery may teach (the other is the teacher's)
SELF_TRAINED = "self-trained on its confident photos"


@dataclass(frozen=True)
class Graph:
    """Each photo's nearest neighbours, and S (the symmetric, degree-normalised graph) as a sparse matrix."""

    neighbours: np.ndarray  # (n, k) int64
    S: torch.Tensor  # (n, n) sparse CSR: (A + A^T)_ij / sqrt(d_i d_j), A the k-nearest-neighbour weights
    n: int

    def spread(self, F: np.ndarray) -> np.ndarray:
        """S F."""
        return (self.S @ torch.from_numpy(np.ascontiguousarray(F, np.float32))).numpy()


def knn_graph(X: np.ndarray, k: int = NEIGHBOURS) -> Graph:
    """The k-nearest-neighbour graph of the rows of X by cosine similarity (self excluded)."""
    n = len(X)
    k = max(0, min(k, n - 1))
    if k == 0:
        return Graph(np.zeros((n, 0), np.int64), torch.zeros((n, n)).to_sparse(), n)
    Z = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
    Z = Z - Z.mean(0, keepdim=True)  # centred: cosine of what distinguishes photos, not what all share
    Z = Z / Z.norm(dim=1, keepdim=True).clamp_min(1e-12)
    idx = np.empty((n, k), np.int64)
    sim = np.empty((n, k), np.float32)
    for s in range(0, n, BLOCK):
        block = Z[s : s + BLOCK] @ Z.T
        rows = torch.arange(block.shape[0])
        block[rows, rows + s] = -2.0  # never one's own neighbour
        v, i = block.topk(k, dim=1)
        idx[s : s + BLOCK], sim[s : s + BLOCK] = i.numpy(), v.numpy()
    w = np.clip(sim, 0.0, None) ** 3  # sharpen: a near duplicate counts far more than a look-alike
    deg = w.sum(1)
    np.add.at(deg, idx.ravel(), w.ravel())  # the symmetric graph's degree: edges in and out
    norm = (w / np.sqrt(np.maximum(deg[:, None] * deg[idx], 1e-12))).astype(np.float32).ravel()
    src = np.repeat(np.arange(n), k)
    at = torch.from_numpy(np.stack([np.concatenate([src, idx.ravel()]), np.concatenate([idx.ravel(), src])]))
    vals = torch.from_numpy(np.concatenate([norm, norm]))
    S = torch.sparse_coo_tensor(at, vals, (n, n), check_invariants=False).coalesce()
    with warnings.catch_warnings():  # "CSR support is in beta": its product is 3x faster than COO's
        warnings.simplefilter("ignore", UserWarning)
        return Graph(idx, S.to_sparse_csr(), n)


def smooth(
    graph: Graph,
    prior: np.ndarray,
    known: Mapping[int, int],
    alpha: float = ALPHA,
    iterations: int = ITERATIONS,
) -> np.ndarray:
    """Class probabilities after spreading over the graph; rows in ``known`` stay their class exactly.

    ``prior`` (n, K) is what the head says of each photo; ``known`` maps a row to the class a person
    (or the training folder) gave it.
    """
    Y0 = np.asarray(prior, np.float32).copy()
    rows = np.fromiter(known.keys(), np.int64, len(known))
    cols = np.fromiter(known.values(), np.int64, len(known))
    if len(rows):
        Y0[rows] = 0.0
        Y0[rows, cols] = 1.0
    if graph.neighbours.shape[1] == 0:
        return Y0
    F = Y0.copy()
    for _ in range(iterations):
        F = (1.0 - alpha) * Y0 + alpha * graph.spread(F)
        if len(rows):
            F[rows] = Y0[rows]
    F = np.clip(F, 1e-9, None)
    return F / F.sum(1, keepdims=True)


MIN_VALIDATION = 10  # fewer validation photos cannot tell whether the gallery helped


@dataclass(frozen=True)
class Learned:
    """Whether the gallery's own photos were let to teach this time, how, and the validation figures that decided."""

    used: bool
    n_val: int
    head_accuracy: float = float("nan")
    learned_accuracy: float = float("nan")  # of the way kept (or of the best refused)
    how: str = ""  # "smoothed over look-alikes" | "self-trained on its confident photos"

    def words(self) -> str:
        if self.n_val < MIN_VALIDATION:
            return "the unlabelled photos were not used: too few validation photos to tell whether they help"
        figures = (
            f"{self.learned_accuracy:.1%} on {self.n_val} validation photos with them, {self.head_accuracy:.1%} without"
        )
        if self.used:
            return f"the unlabelled photos of this gallery teach the model, {self.how} ({figures})"
        return f"the unlabelled photos were not used: they did not help on validation ({figures})"


def _calibrated_nll(probs: np.ndarray, y: np.ndarray) -> float:
    from ..training.calibration import calibrate, fit_temperature

    p = calibrate(probs, fit_temperature(probs, y))
    return float(-np.log(np.clip(p[np.arange(len(y)), y], 1e-12, 1.0)).mean())


def choose(
    head: np.ndarray, candidates: Mapping[str, np.ndarray], val_rows: np.ndarray, val_y: np.ndarray
) -> tuple[np.ndarray, Learned]:
    """The candidate that validates best, if it is at least as good as the head's, else the head's.

    "At least as good": accuracy on the validation rows not lower, and log-loss after temperature
    scaling not higher; of those that are, the lowest log-loss. Validation rows are never labels of
    any candidate: their labels only judge.
    """
    val_y = np.asarray(val_y, int)
    if len(val_y) < MIN_VALIDATION or not candidates:
        return head, Learned(False, len(val_y))
    acc_h, nll_h = float((head[val_rows].argmax(1) == val_y).mean()), _calibrated_nll(head[val_rows], val_y)
    kept, refused = [], []
    for how, F in candidates.items():
        acc, nll = float((F[val_rows].argmax(1) == val_y).mean()), _calibrated_nll(F[val_rows], val_y)
        (kept if acc >= acc_h and nll <= nll_h else refused).append((nll, acc, how, F))
    if kept:
        _, acc, how, F = min(kept, key=lambda x: x[0])
        return F, Learned(True, len(val_y), acc_h, acc, how)
    _, acc, how, _ = max(refused, key=lambda x: x[1])
    return head, Learned(False, len(val_y), acc_h, acc, how)
