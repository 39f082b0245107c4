"""Photos to vectors: pooled pretrained features, L2-normalised, through the training cache."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...events import StopCheck
from ...models.features import Progress

# Grouping compares photos by what they show; Lite2's ImageNet features separate everyday subjects
# better than Lite0's (hymenoptera ARI 0.90 against 0.81, gallery_mix 0.96 both; `bench discover`)
# for 1.7x the embedding time (38 against 22 ms per photo). Training keeps Lite0 as its default.
DISCOVER_BACKBONE = "efficientnet_lite2"


def discover_backbone() -> str:
    """Lite2, except on the hosted demo: there Discover then training on Lite0 in one process
    peaked at 1.63 GB (Lite0 for both: 1.51-1.57 GB; trashnet), past the 1.5 GB it must fit in."""
    from ...models.backbones import DEFAULT_BACKBONE
    from ...settings import load_settings

    return DEFAULT_BACKBONE if load_settings().hosted else DISCOVER_BACKBONE


@dataclass(frozen=True, eq=False)
class Embedding:
    paths: list[Path]  # images that decoded, in input order
    vectors: np.ndarray  # (n, d) float32, L2-normalised
    failures: list[tuple[Path, str]] = field(default_factory=list)


def l2_normalise(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32)


def embed(
    paths: Sequence[Path],
    backbone: str | None = None,
    cache=None,
    weights=None,
    progress: Progress | None = None,
    should_stop: StopCheck | None = None,
) -> Embedding:
    """Pooled pretrained features, cached under the same key head-only training uses."""
    from ...models.backbones import DEFAULT_BACKBONE
    from ...models.features import pretrained_features
    from ...models.runtime import closing_new_sessions

    paths = [Path(p) for p in paths]
    backbone = backbone or discover_backbone()
    # training will not use another backbone's session: do not keep it beside Lite0's
    with closing_new_sessions() if backbone != DEFAULT_BACKBONE else nullcontext():
        f = pretrained_features(paths, backbone, weights, cache, progress, should_stop)
    return Embedding(
        [paths[i] for i in f.ok], l2_normalise(f.X) if len(f.ok) else f.X, [(paths[i], e) for i, e in f.failures]
    )
