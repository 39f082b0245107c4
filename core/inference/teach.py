"""Teach by fixing: score a gallery once, then let every correction re-sort all of it in seconds.

The sort pass keeps each photo's pooled trunk features (everything but the head) in the
session's feature cache, keyed like the training cache. A correction (or a confirmation) is a
labelled example: the head is retrained on the training images plus the corrected photos, the
temperature is fitted again on the validation images, and the whole gallery is re-scored from
the kept features: no photo is decoded again. :func:`next_to_check` picks what a correction
would teach most: the least certain photos, spread over classes and over different-looking
photos (not ten shots of one burst).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..data.preprocess import eval_array
from ..events import StopCheck
from ..models import runtime
from ..models.backbones import WeightsChoice
from ..models.features import FeatureCache, Progress, feature_tag
from ..training.calibration import HeldOut, calibrate, fit_temperature
from ..training.model_io import ModelBundle
from .placement import FilingRule
from .propagate import SELF_TRAINED, SMOOTHED, Graph, Learned, choose, knn_graph, smooth
from .sort import UNSURE, Prediction, make_prediction


def trunk_tag(bundle: ModelBundle) -> str:
    """Names the model's trunk in cache keys: the pretrained backbone's own tag when only the head trained."""
    cfg = bundle.config
    base = feature_tag(bundle.backbone, cfg.weights_choice if cfg is not None else WeightsChoice())
    if cfg is not None and bundle.frozen_boundary() >= len(bundle.network.stages):
        return base  # head only: the trunk is the pretrained backbone, features shared with training
    part = runtime._Part(bundle.network, 0, len(bundle.network.stages), head=False)
    return f"{base}|trunk:{runtime.fingerprint(part)}"


def trunk_features(
    bundle: ModelBundle,
    paths: Sequence[Path],
    cache: FeatureCache,
    progress: Progress | None = None,
    should_stop: StopCheck | None = None,
):
    """(features (n_ok, d) float32, ok indices, failures) of everything before the head's matrix.

    That is the trunk's pooled features and, for a model that reads text, each photo's text layout
    scaled as the head reads it: a re-sort retrains one linear map on these rows.
    """
    net, pre = bundle.network, bundle.preprocess
    n = len(net.stages)
    forward = runtime.trunk_fn(net, bundle.frozen_boundary(), n_images=len(paths))
    X, ok, fails = cache.features(
        net,
        trunk_tag(bundle),
        n,
        list(paths),
        "eval",
        lambda im: eval_array(im, pre),
        pre.resize_to,
        progress=progress,
        should_stop=should_stop,
        forward=forward,
        text=bundle.reads_text,
    )
    X = X.float()
    if X.dim() == 4:
        X = X.mean(dim=(2, 3))
    if not len(ok):
        return np.zeros((0, 0), np.float32), ok, fails
    if bundle.reads_text:
        T = torch.from_numpy(cache.text_vectors([paths[i] for i in ok]))
        X = torch.cat([X, (T - net.text_mean) * net.text_scale], 1)
    return X.numpy(), ok, fails


def head_weights(bundle: ModelBundle) -> tuple[np.ndarray, np.ndarray]:
    lin = [m for m in bundle.network.head.modules() if isinstance(m, nn.Linear)][-1]
    return lin.weight.detach().numpy().copy(), lin.bias.detach().numpy().copy()


def softmax_scores(W: np.ndarray, b: np.ndarray, X: np.ndarray) -> np.ndarray:
    z = X @ W.T + b
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def retrain_head(
    X: np.ndarray,
    y: np.ndarray,
    W0: np.ndarray,
    b0: np.ndarray,
    epochs: int = 60,
    lr: float = 3e-3,
    anchor: float = 1e-3,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """A linear head on fixed features, started from (and gently held to) the current one.

    Full-batch AdamW with label smoothing: ~1,000 rows x 1,280 features train in well under a
    second. The pull towards the old head keeps a handful of corrections from swinging it.
    """
    torch.manual_seed(seed)
    Xt, yt = torch.from_numpy(np.asarray(X, np.float32)), torch.from_numpy(np.asarray(y, np.int64))
    W = nn.Parameter(torch.from_numpy(W0.astype(np.float32)).clone())
    b = nn.Parameter(torch.from_numpy(b0.astype(np.float32)).clone())
    W_ref, b_ref = W.detach().clone(), b.detach().clone()
    opt = torch.optim.AdamW([W, b], lr=lr, weight_decay=0.0)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
    with torch.enable_grad():
        for _ in range(epochs):
            opt.zero_grad()
            loss = loss_fn(Xt @ W.T + b, yt) + anchor * ((W - W_ref).pow(2).sum() + (b - b_ref).pow(2).sum())
            loss.backward()
            opt.step()
    return W.detach().numpy(), b.detach().numpy()


PSEUDO_SURE = 0.9  # a gallery photo this likely right (calibrated) teaches as if labelled
PSEUDO_MAX = 3000  # at most this many pseudo-labelled photos: a re-sort of 10,000 stays in seconds


@dataclass
class Estimate:
    """How the gallery stands after a sort or re-sort (no labels needed: from calibrated probabilities)."""

    checked: int
    filed: int  # auto-filed by the rule
    unsure: int
    expected_correct: float  # share of the gallery expected to be in the right folder


@dataclass
class Teacher:
    """Everything a re-sort needs, kept from the first sort pass.

    The rows of one graph are the training photos, the validation photos and the gallery, in that
    order: with ``learn`` on, the gallery's unlabelled photos teach through it (core.inference.propagate)
    whenever validation says they help.
    """

    classes: list[str]
    paths: list[Path]  # gallery photos that decoded
    X: np.ndarray  # their trunk features
    W: np.ndarray
    b: np.ndarray
    temperature: float
    base_X: np.ndarray  # the training images' trunk features (empty for a model loaded from a file)
    base_y: np.ndarray
    val_X: np.ndarray
    val_y: np.ndarray
    W0: np.ndarray = field(default=None, repr=False)  # the model's own head, the anchor of every retrain
    b0: np.ndarray = field(default=None, repr=False)
    history: list[Estimate] = field(default_factory=list)
    learn: bool = True
    learned: Learned | None = None  # what validation said the last time the gallery was let to teach
    labels: dict[Path, str] = field(default_factory=dict)  # the person's answers the scores were made with
    graph: Graph | None = field(default=None, repr=False)
    _probs: np.ndarray | None = field(default=None, repr=False)  # gallery rows, then validation rows
    _val: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.W0 is None:
            self.W0, self.b0 = self.W.copy(), self.b.copy()

    def _nodes(self) -> np.ndarray:
        parts = [a for a in (self.base_X, self.val_X, self.X) if len(a)]
        return np.concatenate(parts).astype(np.float32) if parts else np.zeros((0, self.W.shape[1]), np.float32)

    def build_graph(self) -> Graph:
        """The neighbourhoods of every photo the teacher holds (built once: the features never change)."""
        n = len(self.base_y) + len(self.val_y) + len(self.X)
        if self.graph is None or self.graph.n != n:
            self.graph = knn_graph(self._nodes())
        return self.graph

    def score(self) -> None:
        """Gallery and validation probabilities for the current head and answers, and a fitted temperature."""
        nb, nv = len(self.base_y), len(self.val_y)
        nodes = self._nodes()
        prior = softmax_scores(self.W, self.b, nodes) if len(nodes) else np.zeros((0, len(self.classes)))
        if self.learn and len(self.X) and nv:
            index = {p: nb + nv + i for i, p in enumerate(self.paths)}
            cidx = {c: k for k, c in enumerate(self.classes)}
            known = {i: int(c) for i, c in enumerate(self.base_y)}
            known |= {index[p]: cidx[c] for p, c in self.labels.items() if p in index and c in cidx}
            gallery = np.arange(nb + nv, len(nodes))
            candidates = {
                SMOOTHED: smooth(self.build_graph(), prior, known),
                SELF_TRAINED: self._self_trained(nodes, prior, known, gallery),
            }
            F, self.learned = choose(prior, candidates, np.arange(nb, nb + nv), self.val_y)
        else:
            F = prior
        self._val, self._probs = F[nb : nb + nv], F[nb + nv :]
        if nv >= 10:
            self.temperature = fit_temperature(self._val, self.val_y)

    def _self_trained(self, nodes: np.ndarray, prior: np.ndarray, known: dict[int, int], gallery: np.ndarray):
        """Probabilities of a head retrained with the gallery photos it is already sure of as extra examples.

        Pseudo-labels on cached features (self-training): the photos whose calibrated chance is at
        least PSEUDO_SURE, at most PSEUDO_MAX of them (the surest), beside the labelled rows.
        """
        nb, nv = len(self.base_y), len(self.val_y)
        t = fit_temperature(prior[nb : nb + nv], self.val_y)
        sure = calibrate(prior[gallery], t).max(1)
        free = np.array([i not in known for i in gallery], bool)
        pick = gallery[free & (sure >= PSEUDO_SURE)]
        pick = pick[np.argsort(-sure[pick - nb - nv], kind="stable")][:PSEUDO_MAX]
        if not len(pick):
            return prior
        rows = list(known) + pick.tolist()
        y = list(known.values()) + prior[pick].argmax(1).tolist()
        W, b = retrain_head(nodes[rows], np.array(y), self.W, self.b, epochs=40, anchor=1e-3)
        return softmax_scores(W, b, nodes)

    @property
    def probs(self) -> np.ndarray:
        if self._probs is None:
            self.score()
        return self._probs

    def val_probs(self) -> np.ndarray:
        if self._val is None:
            self.score()
        return self._val

    def held_out(self) -> HeldOut | None:
        """The validation photos, scored as the gallery is: what a filing certificate rests on."""
        return HeldOut(self.val_probs(), self.val_y) if len(self.val_y) else None

    def features_for(self, paths: Sequence[Path]) -> np.ndarray:
        """Rows of the kept features for ``paths`` (zeros for photos that could not be read)."""
        index = {p: i for i, p in enumerate(self.paths)}
        out = np.zeros((len(paths), self.X.shape[1]), np.float32)
        for k, p in enumerate(paths):
            if p in index:
                out[k] = self.X[index[p]]
        return out

    def predictions(self, top_k: int = 3) -> list[Prediction]:
        p = self.probs
        cal = calibrate(p, self.temperature).max(axis=1)
        return [make_prediction(path, p[i], self.classes, top_k, float(cal[i])) for i, path in enumerate(self.paths)]

    def reset(self) -> None:
        """Back to the model as trained: no answers, its own head."""
        self.W, self.b, self.labels = self.W0.copy(), self.b0.copy(), {}
        self.score()

    def resort(self, labels: Mapping[Path, str]) -> list[Prediction]:
        """Retrain the head with the user's labels (corrections and confirmations), re-score everything."""
        index = {p: i for i, p in enumerate(self.paths)}
        cidx = {c: k for k, c in enumerate(self.classes)}
        rows = [(index[p], cidx[c]) for p, c in labels.items() if p in index and c in cidx]
        extra_X = self.X[[r for r, _ in rows]] if rows else np.zeros((0, self.X.shape[1]), np.float32)
        extra_y = np.array([c for _, c in rows], dtype=int)
        X = np.concatenate([self.base_X, extra_X]) if len(self.base_X) else extra_X
        y = np.concatenate([self.base_y, extra_y]) if len(self.base_y) else extra_y
        if len(y):
            self.W, self.b = retrain_head(X, y, self.W0, self.b0, anchor=1e-3 if len(self.base_y) else 3e-2)
        self.labels = dict(labels)
        self.score()
        return self.predictions()

    def estimate(self, preds: Sequence[Prediction], labels: Mapping[Path, str], rule: FilingRule) -> Estimate:
        checked = sum(1 for p in preds if p.path in labels)
        rest = [p for p in preds if p.path not in labels and p.label is not None]
        filed = sum(1 for p in rest if rule.folder(p) != UNSURE)
        expected = (checked + sum(p.calibrated or 0 for p in rest)) / max(1, len(preds))
        return Estimate(checked, filed, len(rest) - filed, float(expected))


def build_teacher(
    bundle: ModelBundle,
    gallery: Sequence[Path],
    cache: FeatureCache,
    train: Sequence[tuple[Path, str]] = (),
    val: Sequence[tuple[Path, str]] = (),
    progress: Progress | None = None,
    should_stop: StopCheck | None = None,
):
    """Score a gallery once (features kept) and gather what re-sorting needs. Returns (teacher, failures)."""
    X, ok, fails = trunk_features(bundle, gallery, cache, progress, should_stop)
    W, b = head_weights(bundle)
    cidx = {c: k for k, c in enumerate(bundle.classes)}

    def labelled(items):
        items = [(p, c) for p, c in items if c in cidx]
        if not items:
            return np.zeros((0, W.shape[1]), np.float32), np.zeros(0, int)
        F, got, _ = trunk_features(bundle, [p for p, _ in items], cache, should_stop=should_stop)
        return F, np.array([cidx[items[i][1]] for i in got], dtype=int)

    base_X, base_y = labelled(train)
    val_X, val_y = labelled(val)
    if not len(ok):
        X = np.zeros((0, W.shape[1]), np.float32)
    teacher = Teacher(
        list(bundle.classes), [Path(gallery[i]) for i in ok], X, W, b, bundle.temperature, base_X, base_y, val_X, val_y
    )
    teacher.score()  # the neighbourhood graph too, here in the sort's own job rather than at the first re-sort
    return teacher, [(Path(gallery[i]), e) for i, e in fails]


def next_to_check(
    preds: Sequence[Prediction], X: np.ndarray, labels: Mapping[Path, str], k: int = 12, pool: int = 120
) -> list[int]:
    """Indices of the k photos whose correction would teach most.

    Least certain first (smallest margin between the two most likely classes, on calibrated
    probabilities), then spread out: each next pick is the uncertain photo farthest from those
    already picked in feature space, so a burst of near-identical shots yields one photo, and
    several classes' doubts are covered in one batch.
    """
    cand = [i for i, p in enumerate(preds) if p.path not in labels and p.label is not None]
    if not cand:
        return []
    margin = np.array([preds[i].top[0][1] - (preds[i].top[1][1] if len(preds[i].top) > 1 else 0.0) for i in cand])
    order = np.argsort(margin, kind="stable")[: max(pool, k)]
    cand = [cand[i] for i in order]
    doubt = 1.0 - margin[order]
    F = X[cand]
    F = F / np.maximum(np.linalg.norm(F, axis=1, keepdims=True), 1e-12)
    picked = [0]
    dist = 1.0 - F @ F[0]
    while len(picked) < min(k, len(cand)):
        score = doubt * np.maximum(dist, 0.0)
        score[picked] = -1.0
        nxt = int(np.argmax(score))
        if score[nxt] <= 0:
            break
        picked.append(nxt)
        dist = np.minimum(dist, 1.0 - F @ F[nxt])
    return [cand[i] for i in picked]
