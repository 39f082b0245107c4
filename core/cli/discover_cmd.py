"""`python -m core discover`: propose groups in an unlabelled gallery."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from .output import print_skipped


def cmd_discover(args) -> int:
    from tqdm import tqdm

    from ..analysis.discover import discover, write_groups
    from ..data.files import list_images
    from ..data.intake import materialise_report

    out = Path(args.out)
    with tempfile.TemporaryDirectory(prefix="gs-cli-") as tmp:
        intake = materialise_report(Path(args.gallery), Path(tmp))
        print_skipped(intake.skipped)
        gallery = intake.root
        if out.resolve() == gallery.resolve() or gallery.resolve() in out.resolve().parents:
            raise ValueError("--out must be outside the gallery folder")
        paths = list_images(gallery)
        if not paths:
            raise ValueError(f"no images found in {args.gallery}")
        bar = tqdm(total=len(paths), unit="img", disable=args.quiet, file=sys.stderr)

        def progress(done, total):
            bar.update(done - bar.n)

        g = discover(paths, k=args.k, method=args.method, backbone=args.backbone, progress=progress)
        bar.close()
        counts, csv_path = write_groups(g, out, root=gallery)
    for p, why in g.failures:
        print(f"skipped {p.name}: {why}", file=sys.stderr)
    if g.k_auto:
        print(f"k = {g.k} (automatic, from the silhouette of k = {min(g.k_scores)}..{max(g.k_scores)})")
        print(f"confidence: {g.k_note}")
        print("silhouette by k: " + ", ".join(f"{k}: {s:.3f}" for k, s in sorted(g.k_scores.items())))
    else:
        print(f"k = {g.k} (forced)")
    for grp in g.groups:
        print(f"  {grp.name}: {grp.size} images ({len(grp.doubtful)} doubtful)")
    print(f"copied {sum(counts.values())} images into {out}; {csv_path.name} written")
    return 0


def k_arg(text: str) -> int | None:
    """`--k auto` (or no --k) lets Discover choose; otherwise a number of groups of at least 2."""
    if text.strip().lower() == "auto":
        return None
    try:
        k = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--k takes a number of groups or 'auto', not {text!r}") from None
    if k < 2:
        raise argparse.ArgumentTypeError("--k must be at least 2")
    return k


def register(sub) -> None:
    from ..models.backbones import REGISTRY

    d = sub.add_parser("discover", help="propose groups in an unlabelled gallery (copies, never moves)")
    d.add_argument("gallery", help="folder or .zip of images (sub-folders are ignored as labels)")
    d.add_argument("--out", required=True, help="OUT_DIR for one folder per group and groups.csv")
    d.add_argument(
        "--k", type=k_arg, default=None, help="number of groups, or 'auto' (default): chosen and its scores printed"
    )
    d.add_argument("--method", default="kmeans", choices=["kmeans", "agglomerative"])
    d.add_argument(
        "--backbone", choices=list(REGISTRY), help="model that compares the photos (default: EfficientNet-Lite2)"
    )
    d.set_defaults(func=cmd_discover)
