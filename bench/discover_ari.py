"""How well does Discover recover hidden classes? Prints a markdown table.

Each labelled dataset is mixed into one unlabelled list (folder names hidden),
embedded once with the default backbone, grouped, and the groups are compared
with the hidden folder names by adjusted Rand index (1 = identical partition,
0 = chance). "Doubt caught" counts how many misgrouped images (not of their
group's majority class) the page would flag with ⚠.

    python bench/discover_ari.py [--data DIR]     (DIR holds gallery_mix/ and hymenoptera/)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

DATASETS = {  # name -> folder of class folders, relative to --data
    "gallery_mix": "gallery_mix",
    "hymenoptera train": "hymenoptera/train",
}


def default_data() -> Path:
    for base in (ROOT.parent, ROOT.parent.parent):  # main checkout or a worktree under wt/
        if (base / "shared" / "data").is_dir():
            return base / "shared" / "data"
    return ROOT.parent / "shared" / "data"


def misgrouped(labels, truth) -> list[bool]:
    majority = {g: Counter(t for lab, t in zip(labels, truth) if lab == g).most_common(1)[0][0] for g in set(labels)}
    return [t != majority[lab] for lab, t in zip(labels, truth)]


def measure(name: str, folder: Path) -> dict:
    from sklearn.metrics import adjusted_rand_score as ari

    from core.analysis.discover import embed, propose
    from core.data.files import list_images
    from core.models.features import FeatureCache

    paths = list_images(folder)
    t0 = time.perf_counter()
    emb = embed(paths, cache=FeatureCache())
    t_embed = time.perf_counter() - t0
    truth = [p.parent.name for p in emb.paths]
    n_classes = len(set(truth))
    t0 = time.perf_counter()
    g = propose(emb)
    t_group = time.perf_counter() - t0
    coords = (g.coords, g.map_method)
    wrong = misgrouped(list(g.labels), truth)
    return {
        "dataset": name,
        "images": len(emb.paths),
        "classes": n_classes,
        "k chosen": g.k,
        "ARI (auto k)": ari(truth, g.labels),
        "ARI (k = classes)": ari(truth, propose(emb, k=n_classes, coords=coords).labels),
        "ARI agglomerative (auto k)": ari(truth, propose(emb, method="agglomerative", coords=coords).labels),
        "misgrouped": sum(wrong),
        "flagged ⚠": int(g.doubtful.sum()),
        "doubt caught": sum(w and d for w, d in zip(wrong, g.doubtful)),
        "embed s": t_embed,
        "ms/image": 1000 * t_embed / max(1, len(emb.paths)),
        "group + map s": t_group,
    }


def table(rows: list[dict]) -> str:
    cols = list(rows[0])
    fmt = lambda v: (
        f"{v:.3f}" if isinstance(v, float) and abs(v) < 10 else (f"{v:.0f}" if isinstance(v, float) else str(v))
    )  # noqa: E731
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    lines += ["| " + " | ".join(fmt(r[c]) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=default_data())
    args = ap.parse_args()
    rows = []
    for name, rel in DATASETS.items():
        folder = args.data / rel
        if not folder.is_dir():
            print(f"skipping {name}: {folder} not found", file=sys.stderr)
            continue
        rows.append(measure(name, folder))
    if not rows:
        print("no datasets found; pass --data DIR", file=sys.stderr)
        return 1
    print(table(rows))
    return 0


def run(runs: int = 1) -> None:
    """`python -m bench discover`: grouping is deterministic (seeded), so one run per dataset."""
    from bench.common import save

    rows = [measure(name, default_data() / rel) for name, rel in DATASETS.items()]
    md = table(rows)
    print(md)
    save(
        "discover",
        {
            "title": "Discover: proposed groups vs hidden folder names (adjusted Rand index)",
            "markdown": md + "\n\nTarget: ARI >= 0.9 on gallery_mix.\n",
            "rows": rows,
            "command": "python -m bench discover",
        },
    )


if __name__ == "__main__":
    sys.exit(main())
