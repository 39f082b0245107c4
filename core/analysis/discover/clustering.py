"""Groups from embeddings: k-means or Ward, the number of groups, the 2-D map, and ``discover`` itself."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from ...events import StopCheck
from ...models.features import Progress
from .embedding import Embedding, embed
from .grouping import DiscoverError, Grouping, by_size, make_grouping, single_thread

MAX_K = 12
TSNE_MAX = 1000  # above this the 2-D map uses PCA: t-SNE gets slow on 2 CPU cores
METHODS = ("kmeans", "agglomerative")


def k_range(n: int) -> range:
    """Candidate k for automatic choice: 2..min(12, n/3), at least {2}."""
    return range(2, max(2, min(MAX_K, n // 3)) + 1)


def cluster(vectors: np.ndarray, k: int, method: str = "kmeans", seed: int = 0) -> np.ndarray:
    if method not in METHODS:
        raise DiscoverError(f"unknown grouping method {method!r}; choose from {', '.join(METHODS)}")
    if not 1 <= k <= len(vectors):
        raise DiscoverError(f"cannot make {k} groups from {len(vectors)} images")
    with single_thread():
        if method == "agglomerative":
            from sklearn.cluster import AgglomerativeClustering

            return AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict(vectors)
        from sklearn.cluster import KMeans

        n_init = 10 if len(vectors) <= 2000 else 3
        return KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit_predict(vectors)


K_TOLERANCE = 0.02  # silhouettes this close are a tie: prefer more groups (merging two is one click)
CLEAR_LEAD = 0.05  # "clear" needs this lead over the next number of groups ...
CLEAR_SILHOUETTE = 0.25  # ... and a silhouette showing structure (Kaufman & Rousseeuw: below 0.25, none substantial)


def choose_k(
    vectors: np.ndarray, method: str = "kmeans", seed: int = 0, ks: Iterable[int] | None = None
) -> tuple[np.ndarray, dict[int, float]]:
    """Labels for the chosen k, and every k's silhouette.

    Why not simply the best silhouette: two broad kinds (animals, plants) often score a hair
    above the four a person sees (birds, mammals, flowers, fruit), so the best score collapses
    to 2. Every k within :data:`K_TOLERANCE` of the best is as good as far as the data can tell,
    and the largest of them is kept: two groups of one kind are merged with one click, while one
    group of two kinds hides the difference.
    """
    from sklearn.metrics import silhouette_score

    n = len(vectors)
    distinct = len(np.unique(vectors.round(5), axis=0))
    ks = [k for k in (ks or k_range(n)) if 2 <= k < distinct]
    if not ks:
        raise DiscoverError(f"need at least 3 different images to find groups (found {distinct})")
    labels_of: dict[int, np.ndarray] = {}
    scores: dict[int, float] = {}
    sample = 3000 if n > 3000 else None
    for k in ks:
        labels_of[k] = cluster(vectors, k, method, seed)
        with single_thread():
            scores[k] = float(
                silhouette_score(vectors, labels_of[k], metric="cosine", sample_size=sample, random_state=seed)
            )
    return labels_of[pick_k(scores)], scores


def _flat(scores: dict[int, float]) -> bool:
    """Every number of groups scores about the same: the photos have no clear group structure."""
    values = sorted(scores.values())
    return max(values) - values[len(values) // 2] < K_TOLERANCE


def pick_k(scores: dict[int, float]) -> int:
    """The best silhouette, except that a best of 2 does not win ties against more groups.

    Two broad kinds often edge out the four a person sees by a hair; when 2 is best and a
    larger k scores within :data:`K_TOLERANCE`, the largest such k is kept. When every k
    scores about the same (no clear structure), the best k of 3 or more is kept.
    """
    best_k = max(scores, key=scores.get)
    if best_k != 2 or len(scores) < 2:
        return best_k
    if _flat(scores):
        return max((k for k in scores if k >= 3), key=scores.get)
    best = scores[best_k]
    return max(k for k, v in scores.items() if v >= best - K_TOLERANCE)


def k_confidence(scores: dict[int, float]) -> str:
    """How sure the automatic choice is, in words a person can act on."""
    if len(scores) < 2:
        return ""
    chosen, best = pick_k(scores), max(scores.values())
    values = sorted(scores.values())
    if best - values[len(values) // 2] < K_TOLERANCE:
        return (
            "unsure: the photos do not fall into clearly separate groups (every number scores about the same); "
            "set the number of kinds you have"
        )
    close = sorted(k for k, v in scores.items() if v >= best - K_TOLERANCE and k != chosen)
    if close:
        return f"a close call with {' or '.join(map(str, close))} groups; try them with More / Fewer groups"
    runner = max((v for k, v in scores.items() if k != chosen), default=best)
    lead = scores[chosen] - runner
    if lead < CLEAR_LEAD or scores[chosen] < CLEAR_SILHOUETTE:
        return (
            f"a best guess: {chosen} groups score highest, {lead:.2f} above any other number, but the groups "
            f"overlap (silhouette {scores[chosen]:.2f}; below {CLEAR_SILHOUETTE:.2f} there is no clear structure): "
            "if you know how many kinds you have, say so"
        )
    return f"clear: {chosen} groups score {lead:.2f} above any other number (silhouette {scores[chosen]:.2f})"


def map_2d(vectors: np.ndarray, seed: int = 0) -> tuple[np.ndarray, str]:
    """t-SNE (on a 50-d PCA) for galleries up to TSNE_MAX images, PCA beyond or when tiny."""
    n = len(vectors)
    if n < 3:
        return np.zeros((n, 2), np.float32), "PCA"
    from sklearn.decomposition import PCA

    with single_thread():
        reduced = PCA(n_components=min(50, n - 1, vectors.shape[1]), random_state=seed).fit_transform(vectors)
        if n <= 5 or n > TSNE_MAX:
            xy = reduced[:, :2] if reduced.shape[1] >= 2 else np.pad(reduced, ((0, 0), (0, 1)))
            return xy.astype(np.float32), "PCA"
        from sklearn.manifold import TSNE

        xy = TSNE(
            n_components=2, perplexity=min(30.0, (n - 1) / 3), init="pca", random_state=seed, max_iter=500
        ).fit_transform(reduced)
    return xy.astype(np.float32), "t-SNE"


def propose(
    emb: Embedding,
    k: int | None = None,
    method: str = "kmeans",
    seed: int = 0,
    coords: tuple[np.ndarray, str] | None = None,
    known_scores: dict[int, float] | None = None,
) -> Grouping:
    """Groups for an embedded gallery; k forced by the user or chosen from the silhouettes.

    ``known_scores``: the silhouettes of an earlier automatic choice, kept when the user forces k
    (the page still shows why the automatic number was what it was)."""
    n = len(emb.paths)
    if n < 3:
        raise DiscoverError(f"need at least 3 readable images to find groups (found {n})")
    if k is None:
        labels, scores = choose_k(emb.vectors, method, seed)
    else:
        if not 2 <= k <= n - 1:
            raise DiscoverError(f"k must be between 2 and {n - 1} for {n} images")
        labels, scores = cluster(emb.vectors, k, method, seed), dict(known_scores or {})
    xy, how = coords if coords is not None else map_2d(emb.vectors, seed)
    return make_grouping(
        list(emb.paths),
        emb.vectors,
        by_size(labels),
        {},
        coords=xy,
        map_method=how,
        method=method,
        k_scores=scores,
        k_auto=k is None,
        failures=list(emb.failures),
        k_note=k_confidence(scores) if k is None else "",
        writing=emb.writing,
    )


def discover(
    paths: Sequence[Path],
    k: int | None = None,
    method: str = "kmeans",
    backbone: str | None = None,
    cache=None,
    progress: Progress | None = None,
    should_stop: StopCheck | None = None,
    on_status: Callable[[str], None] | None = None,
    seed: int = 0,
) -> Grouping:
    """Embed (cached) then propose groups: the whole 'Find groups' action."""
    from ...models.runtime import give_back_memory

    emb = embed(paths, backbone, cache, progress=progress, should_stop=should_stop)
    if on_status:
        on_status(f"Finding groups among {len(emb.paths)} images")
    grouping = propose(emb, k, method, seed)
    give_back_memory()  # t-SNE and the silhouettes' scratch: training is usually next, and needs the room
    return grouping


def regroup(g: Grouping, k: int | None = None, method: str | None = None, seed: int = 0) -> Grouping:
    """Cluster again (new k or method) without embedding again; the map stays put."""
    emb = Embedding(g.paths, g.vectors, g.failures, g.writing)
    return propose(emb, k, method or g.method, seed, coords=(g.coords, g.map_method), known_scores=g.k_scores)


def more_groups(g: Grouping, step: int = 1) -> Grouping:
    """One more (or, with step=-1, one fewer) group, re-split from the kept embeddings."""
    k = min(max(2, g.k + step), len(g.paths) - 1)
    return regroup(g, k)
