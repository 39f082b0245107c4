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
    writing: np.ndarray | None = None  # (n,) how much of each photo is writing, 0..1 (None: text not read)


# How much of the distance between two photos their text layouts may make up. Photos without text
# all share a zero text block, so among them distances are the CNN's alone (scaled); a photo whose
# kind is its writing (a meme over a dog photo) moves away from the plain photos by up to this share.
TEXT_WEIGHT = 0.3
TEXT_FULL_AREA = 0.10  # text covering this share of a photo counts fully; less counts in proportion
# Where the text sits, not how sure the detector was or the photo's shape (portrait and landscape
# photos are one kind). On the generated phone gallery (bench discover) these grouped best.
LAYOUT = (
    "top_band",
    "middle_band",
    "bottom_band",
    "status_bar",
    "centred_block",
    "band_captions",
    "two_sided",
    "centred",
    "full_width",
    "left_aligned",
    "right_aligned",
    "lines",
    "line_height",
    "largest_line",
)


def writing(layouts: np.ndarray) -> np.ndarray:
    """Per photo, 0..1: how much of it is writing.

    Gated so a sign in a street scene or a label on a bottle (a few % of the photo) stays close
    to the plain photos, while captions, chats and pages (10% and more) count fully.
    """
    from ...models.text_layout import NAMES

    area = layouts[:, NAMES.index("text_area")]
    return (np.clip(area / TEXT_FULL_AREA, 0.0, 1.0) * (layouts[:, NAMES.index("has_text")] > 0.5)).astype(np.float32)


def text_block(layouts: np.ndarray) -> np.ndarray:
    """Per photo: the unit layout vector, scaled by how much of the photo is writing."""
    from ...models.text_layout import NAMES

    return l2_normalise(layouts[:, [NAMES.index(n) for n in LAYOUT]]) * writing(layouts)[:, None]


def fuse(cnn: np.ndarray, layouts: np.ndarray | None, weight: float = TEXT_WEIGHT) -> np.ndarray:
    """Unit vectors [sqrt(1-w) x CNN unit vector, sqrt(w) x text block].

    A photo without text keeps exactly its CNN vector; the cosine between a text-heavy photo and
    a plain one is the CNN's scaled by sqrt(1-w), so a meme over a dog photo sits apart from the
    dog photos, and two memes are as close as their pictures and their layouts together say.
    """
    if layouts is None or not len(cnn):
        return cnn
    return l2_normalise(np.concatenate([np.sqrt(1 - weight) * cnn, np.sqrt(weight) * text_block(layouts)], axis=1))


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
    text: bool = True,
) -> Embedding:
    """Pooled pretrained features (cached under the key head-only training uses), fused with each
    photo's text layout unless ``text`` is off."""
    from ...models.backbones import DEFAULT_BACKBONE
    from ...models.features import pretrained_features
    from ...models.runtime import closing_new_sessions

    paths = [Path(p) for p in paths]
    backbone = backbone or discover_backbone()
    # training will not use another backbone's session: do not keep it beside Lite0's
    with closing_new_sessions() if backbone != DEFAULT_BACKBONE else nullcontext():
        f = pretrained_features(paths, backbone, weights, cache, progress, should_stop, text=text)
    vectors = fuse(l2_normalise(f.X), f.T) if len(f.ok) else f.X
    share = writing(np.asarray(f.T)) if f.T is not None and len(f.ok) else None
    return Embedding([paths[i] for i in f.ok], vectors, [(paths[i], e) for i, e in f.failures], share)
