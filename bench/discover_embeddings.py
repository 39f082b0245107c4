"""Which embedding groups real photos best? The variants issue #15 names, measured, not assumed.

Each labelled set is embedded with the backbone's own pretrained network (the package's model,
ImageNet classifier included), folder names hidden, and k-means at k = number of classes is
compared with them by adjusted Rand index. Variants: the pooled features Discover ships, the
same averaged with a mirrored copy, PCA-whitened (64 dimensions), concatenated with two pooled
mid-network stages, the ImageNet class probabilities (square-rooted, so cosine is the
Hellinger affinity), and pooled + probabilities; plus spectral clustering of the pooled features.

    python -m bench discover-embeddings
"""

from __future__ import annotations

import time

import numpy as np

from .common import SHARED, save
from .discover_ari import BACKBONES, DATASETS

BATCH = 16


def _l2(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _taps(backbone: str, paths) -> dict[str, np.ndarray]:
    """Pooled features (plain and mirrored), two pooled mid-network stages, ImageNet probabilities."""
    import torch

    from core.data.images import load_rgb
    from core.data.preprocess import eval_array
    from core.models.backbones import _symmetric_padding, get_spec

    spec = get_spec(backbone)
    model = spec.build()
    spec.load_pretrained(model)
    model = _symmetric_padding(model).eval()
    pre = spec.preprocess
    blocks = list(model._blocks)
    taps_at = {len(blocks) - 8: "mid", len(blocks) - 4: "late"}
    out: dict[str, list] = {k: [] for k in ("pool", "flip", "mid", "late", "prob")}
    with torch.inference_mode():
        for k in range(0, len(paths), BATCH):
            x = torch.from_numpy(
                np.stack([eval_array(load_rgb(p, min_side=pre.resize_to), pre) for p in paths[k : k + BATCH]])
            )
            for name, inp in (("pool", x), ("flip", x.flip(-1))):
                z = model._bn0(model._conv_stem(inp)).clamp(0, 6)
                for i, block in enumerate(blocks):
                    z = block(z)
                    if name == "pool" and i in taps_at:
                        out[taps_at[i]].append(z.mean((2, 3)))
                z = model._bn1(model._conv_head(z)).clamp(0, 6).mean((2, 3))
                out[name].append(z)
                if name == "pool":
                    out["prob"].append(torch.softmax(model._fc(z), 1))
    return {k: torch.cat(v).numpy() for k, v in out.items()}


def variants(f: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    from sklearn.decomposition import PCA

    pool = _l2(f["pool"])
    white = PCA(n_components=min(64, len(pool) - 1), whiten=True, random_state=0).fit_transform(pool)
    return {
        "pooled (ships)": pool,
        "pooled + mirror average": _l2(f["pool"] + f["flip"]),
        "PCA-whitened 64": _l2(white),
        "pooled + 2 mid stages": _l2(np.hstack([_l2(f["mid"]), _l2(f["late"]), pool])),
        "ImageNet probabilities": _l2(np.sqrt(f["prob"])),
        "pooled + probabilities": _l2(np.hstack([pool, _l2(np.sqrt(f["prob"]))])),
    }


def _supervised_ari(x: np.ndarray, truth: list[str]) -> float:
    """ARI of a logistic regression that saw every label (5-fold, each photo predicted unseen).

    A reference for what the features separate: a clustering sees no label, so it is not
    expected to partition the photos much better than this."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import adjusted_rand_score as ari
    from sklearn.model_selection import cross_val_predict

    pred = cross_val_predict(LogisticRegression(C=10, max_iter=2000), x, truth, cv=5)
    return float(ari(truth, pred))


def measure(name: str, rel: str, backbone: str) -> dict:
    from sklearn.cluster import SpectralClustering
    from sklearn.metrics import adjusted_rand_score as ari

    from core.analysis.discover import cluster
    from core.data.files import list_images

    paths = list_images(SHARED / rel)
    truth = [p.parent.name for p in paths]
    k = len(set(truth))
    t = time.perf_counter()
    f = _taps(backbone, paths)
    row: dict = {"dataset": name, "backbone": backbone, "images": len(paths), "taps s": time.perf_counter() - t}
    for label, x in variants(f).items():
        row[label] = float(ari(truth, cluster(x, k, "kmeans")))
    spectral = SpectralClustering(n_clusters=k, affinity="nearest_neighbors", n_neighbors=10, random_state=0)
    row["pooled, spectral"] = float(ari(truth, spectral.fit_predict(_l2(f["pool"]))))
    row["with every label"] = _supervised_ari(_l2(f["pool"]), truth)
    print(row, flush=True)
    return row


def markdown(rows: list[dict]) -> str:
    from .discover_ari import table

    labelled = max(r["with every label"] for r in rows if r["dataset"] == "trashnet")
    return (
        "Adjusted Rand index of k-means at k = number of classes, folder names hidden; pooled features are "
        "what Discover ships. 'with every label' is not a clustering: a logistic regression that saw every "
        "label (5-fold, each photo predicted unseen), a reference for what these features separate. Kept: "
        "pooled features, on EfficientNet-Lite2 by default. Whitening and mid-stage features follow texture "
        "and lighting instead of subject; ImageNet probabilities help where the classes are ImageNet's own "
        "and hurt elsewhere. No variant lifts trashnet: its classes are materials, and even a classifier "
        f"that saw every label partitions it at ARI {labelled:.2f} at best, below the 0.75 the issue asks "
        "of a clustering that sees none.\n\n" + table(rows)
    )


def run(runs: int = 1) -> None:
    """Seeded clustering, one run per data set and backbone."""
    rows = [measure(name, rel, bb) for bb in BACKBONES for name, rel in DATASETS.items()]
    md = markdown(rows)
    print(md)
    save(
        "discover-embeddings",
        {
            "command": "python -m bench discover-embeddings",
            "title": "Discover: embeddings tried (k-means at k = classes, ARI)",
            "markdown": md,
            "rows": rows,
        },
    )
