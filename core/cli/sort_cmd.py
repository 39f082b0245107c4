"""`python -m core sort` and `predict`: classify a gallery, copy it by class."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from .output import print_skipped


def cmd_sort(args) -> int:
    from tqdm import tqdm

    from ..data.files import list_images
    from ..data.intake import materialise_report
    from ..inference.sort import copy_sorted, predict_paths
    from ..training import model_io

    bundle = model_io.load(Path(args.model))
    out = Path(args.out)
    with tempfile.TemporaryDirectory(prefix="gs-cli-") as tmp:
        intake = materialise_report(Path(args.gallery), Path(tmp))
        print_skipped(intake.skipped)
        gallery = intake.root
        if out.resolve() == gallery.resolve():
            raise ValueError("--out must be a different folder from the gallery")
        paths = list_images(gallery)
        if not paths:
            raise ValueError(f"no images found in {args.gallery}")
        bar = tqdm(total=len(paths), unit="img", disable=args.quiet, file=sys.stderr)
        last = [0]

        def progress(done, total):
            bar.update(done - last[0])
            last[0] = done

        if args.engine == "ray":
            from ..inference.ray_engine import RayConfig, predict_paths_ray

            cfg = RayConfig(address=args.ray_address, actors=args.ray_actors)
            order = {p: k for k, p in enumerate(paths)}
            preds = sorted(
                predict_paths_ray(Path(args.model), paths, args.batch_size, config=cfg, progress=progress),
                key=lambda p: order[p.path],
            )  # same order as the local engine's predictions.csv
        else:
            preds = list(predict_paths(bundle, paths, args.batch_size, progress=progress))
        bar.close()
        counts = copy_sorted(preds, out, args.min_confidence, root=gallery)
    errors = [p for p in preds if p.error]
    for p in errors:
        print(f"skipped {p.path.name}: {p.error}", file=sys.stderr)
    summary = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
    print(f"sorted {sum(counts.values())} images into {out} ({summary}); predictions.csv written")
    return 0


def cmd_predict(args) -> int:
    from ..inference.sort import predict_paths
    from ..training import model_io

    bundle = model_io.load(Path(args.model))
    paths = [Path(p) for p in args.images]
    for p in paths:
        if not p.is_file():
            raise FileNotFoundError(f"{p} does not exist")
    rows = []
    for pr in predict_paths(bundle, paths, top_k=args.top):
        if pr.error:
            print(f"{pr.path}: error: {pr.error}", file=sys.stderr)
            continue
        rows.append({"path": str(pr.path), "class": pr.label, "confidence": pr.confidence, "top": pr.top})
        if not args.json:
            tops = ", ".join(f"{c} {s:.1%}" for c, s in pr.top)
            print(f"{pr.path}: {pr.label} ({pr.confidence:.2%})  [{tops}]")
    if args.json:
        print(json.dumps(rows, indent=1))
    return 0 if rows else 1


def register(sub) -> None:
    s = sub.add_parser("sort", help="copy a gallery into one folder per predicted class")
    s.add_argument("model", help="MODEL_DIR or model.pt")
    s.add_argument("gallery", help="folder or .zip of images")
    s.add_argument("--out", required=True)
    s.add_argument("--min-confidence", type=float, default=0.0, help="below this, images go to unsure/")
    s.add_argument("--batch-size", type=int, default=16)
    s.add_argument(
        "--engine",
        choices=["local", "ray"],
        default="local",
        help="local: this process (default); ray: Ray Data actors (needs pip install 'ray[data]')",
    )
    s.add_argument(
        "--ray-address",
        metavar="ADDR",
        help="with --engine ray: a running cluster ('auto' or ray://host:10001); default: a local Ray instance",
    )
    s.add_argument("--ray-actors", type=int, metavar="N", help="with --engine ray: model copies (default: one per CPU)")
    s.set_defaults(func=cmd_sort)
    pr = sub.add_parser("predict", help="predict the class of single images")
    pr.add_argument("model")
    pr.add_argument("images", nargs="+")
    pr.add_argument("--top", type=int, default=5)
    pr.add_argument("--json", action="store_true")
    pr.set_defaults(func=cmd_predict)
