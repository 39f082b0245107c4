"""`evaluate`, `check`, `cam` and `label-errors`: what a model or a dataset looks like."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from .output import print_report, relative, throttled

# names of core.analysis.explain.METHODS, spelled out so that --help does not import pytorch-grad-cam
CAM_METHODS = ("gradcam", "gradcam++", "hirescam", "layercam", "eigencam", "scorecam")


def cmd_evaluate(args) -> int:
    import numpy as np

    from ..analysis.evaluate import evaluate_probs
    from ..data.dataset import scan_folder
    from ..data.intake import materialise
    from ..inference.sort import predict_paths
    from ..training import model_io

    bundle = model_io.load(Path(args.model))
    with tempfile.TemporaryDirectory(prefix="gs-cli-") as tmp:
        ds = scan_folder(materialise(Path(args.data), Path(tmp)))
        items = ds.split_items("val") if ds.layout == "splits" and ds.split_items("val") else ds.labelled
        known = [i for i in items if i.label in bundle.classes]
        if not known:
            raise ValueError(
                f"no images whose folder name matches one of the model's classes ({', '.join(bundle.classes)})"
            )
        cidx = {c: k for k, c in enumerate(bundle.classes)}
        paths, y, probs = [], [], []
        for pr in predict_paths(bundle, [i.path for i in known], top_k=len(bundle.classes)):
            if pr.error:
                continue
            row = np.zeros(len(bundle.classes))
            for c, s in pr.top:
                row[cidx[c]] = s
            paths.append(pr.path)
            probs.append(row)
        label_of = {i.path: i.label for i in known}
        y = [cidx[label_of[p]] for p in paths]
        ev = evaluate_probs(paths, y, np.array(probs), bundle.classes)
    if args.json:
        print(json.dumps(ev.to_dict(), indent=1))
        return 0
    print(f"accuracy {ev.accuracy:.4f} on {len(y)} images")
    w = max(len(c) for c in ev.classes)
    for r in ev.per_class:
        print(
            f"  {r['class']:<{w}}  precision {r['precision']:.3f}  recall {r['recall']:.3f}  f1 {r['f1']:.3f}  n={r['support']}"
        )
    print("confusion (rows true, cols predicted):")
    for c, row in zip(ev.classes, ev.confusion):
        print(f"  {c:<{w}}  " + " ".join(f"{v:>5d}" for v in row))
    wrong = [r for r in ev.rows if not r["correct"]]
    print(f"misclassified: {len(wrong)}")
    for r in wrong:
        print(f"  {r['path']}: true {r['true']}, predicted {r['pred']} ({r['confidence']:.1%})")
    return 0


def cmd_check(args) -> int:
    from ..analysis.health import backbone_features, check
    from ..data.dataset import load_dataset
    from ..data.intake import materialise_report

    with tempfile.TemporaryDirectory(prefix="gs-cli-") as tmp:
        intake = materialise_report(Path(args.data), Path(tmp))
        ds = load_dataset(intake.root)
        features = None
        if args.features and ds.items:
            from ..models.backbones import WeightsMissing

            try:
                features = backbone_features(
                    [i.path for i in ds.items], args.backbone, progress=throttled("features", args.quiet or args.json)
                )
            except WeightsMissing as exc:
                print(f"warning: --features skipped: {exc}", file=sys.stderr)
        report = check(
            ds, skipped=intake.skipped, features=features, progress=throttled("checking", args.quiet or args.json)
        )
        if args.json:
            d = report.to_dict()
            d["root"] = str(args.data)
            for f in d["findings"]:
                f["files"] = [relative(p, intake.root) for p in f["files"]]
                f["exclude"] = [relative(p, intake.root) for p in f["exclude"]]
            print(json.dumps(d, indent=1, ensure_ascii=False))
        else:
            print(f"{args.data}:", end=" ")
            splits_of = {i.path: i.split for i in ds.items} if ds.layout != "splits" else None
            print_report(report, intake.root, args.limit, splits_of)
    return 0


def cmd_cam(args) -> int:
    import numpy as np
    from PIL import Image

    from ..analysis.explain import LABELS, Explainer, check_method, side_by_side
    from ..data.images import load_rgb
    from ..training import model_io

    check_method(args.method)
    bundle = model_io.load(Path(args.model))
    ex = Explainer.from_bundle(bundle)
    target = ex.class_index(args.target_class)
    img = load_rgb(args.image, min_side=bundle.preprocess.resize_to)
    e = ex.explain([img], args.method, target)[0]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    (side_by_side(e.image, e.overlay) if args.side_by_side else e.overlay).save(out)
    if args.heatmap:
        Image.fromarray((e.heatmap * 255).astype(np.uint8)).save(args.heatmap)
    pred = bundle.classes[e.pred]
    print(
        f"{args.image}: predicted {pred} ({e.probs[e.pred]:.1%}); {LABELS[args.method]} "
        f"for class {bundle.classes[e.target]} -> {out}"
    )
    return 0


def cmd_label_errors(args) -> int:
    from ..analysis.evaluate import find_label_errors
    from ..data.dataset import scan_folder
    from ..data.intake import materialise
    from ..models.backbones import WeightsChoice
    from ..models.features import FeatureCache
    from ..training import model_io
    from ..training.config import TrainConfig

    if args.model:
        bundle = model_io.load(Path(args.model))
        cfg = bundle.config or TrainConfig(backbone=bundle.backbone)
        backbone, weights = bundle.backbone, cfg.weights_choice
    else:
        backbone, weights = args.backbone, WeightsChoice()
    with tempfile.TemporaryDirectory(prefix="gs-cli-") as tmp:
        root = materialise(Path(args.data), Path(tmp))
        ds = scan_folder(root)
        if not args.quiet and not args.json:
            print(
                f"checking {len(ds.labelled)} labelled images in {len(ds.classes)} classes "
                f"({backbone}, {args.folds}-fold logistic regression on pooled features)",
                file=sys.stderr,
            )
        confirmed = ()
        if args.confirmed:
            from ..data.decisions import read_labels_csv

            confirmed = read_labels_csv(Path(args.confirmed)).items()
        rep = find_label_errors(
            ds, backbone, weights, FeatureCache(), args.folds, args.seed, args.min_confidence, confirmed=confirmed
        )
        rel = lambda p: str(Path(p).relative_to(root)) if Path(p).is_relative_to(root) else str(p)  # noqa: E731
        rows = [
            {
                "path": rel(s.path),
                "split": s.split,
                "given": s.given,
                "suggested": s.suggested,
                "confidence": round(s.confidence, 4),
                "given_prob": round(s.given_prob, 4),
            }
            for s in rep.suspects
        ]
    if args.json:
        print(
            json.dumps(
                {
                    "checked": rep.n_checked,
                    "folds": rep.folds,
                    "oof_accuracy": rep.oof_accuracy,
                    "confirmed": rep.confirmed,
                    "suspects": rows,
                },
                indent=1,
            )
        )
        return 0
    print(f"out-of-fold accuracy {rep.oof_accuracy:.3f} on {rep.n_checked} images; {len(rows)} likely label errors")
    for r in rows:
        print(f"  {r['path']}: labelled {r['given']}, looks like {r['suggested']} ({r['confidence']:.0%})")
    return 0


def register(sub) -> None:
    from ..models.backbones import REGISTRY

    e = sub.add_parser("evaluate", help="metrics, confusion matrix and mistakes on labelled images")
    e.add_argument("model")
    e.add_argument("data")
    e.add_argument("--json", action="store_true")
    e.set_defaults(func=cmd_evaluate)
    c = sub.add_parser(
        "check", help="dataset health report: unreadable files, duplicates, leakage, placeholders, imbalance"
    )
    c.add_argument("data", help="folder or .zip: class/… or train|val/class/…")
    c.add_argument("--json", action="store_true", help="machine-readable report on stdout")
    c.add_argument(
        "--features",
        action="store_true",
        help="also flag images far from their class in a pretrained backbone's feature space (slower)",
    )
    c.add_argument("--backbone", default="efficientnet_lite0", choices=list(REGISTRY), help="for --features")
    c.add_argument("--limit", type=int, default=20, help="files listed per finding (default 20)")
    c.set_defaults(func=cmd_check)
    c = sub.add_parser("cam", help="Grad-CAM overlay: where the model looks in one image")
    c.add_argument("model", help="MODEL_DIR or model.pt")
    c.add_argument("image")
    c.add_argument("--method", default="gradcam", help=f"one of {', '.join(CAM_METHODS)} (default gradcam)")
    c.add_argument("--target-class", help="class name (or index) to explain; default: the predicted class")
    c.add_argument("--out", required=True, help="overlay image to write (.png or .jpg)")
    c.add_argument("--side-by-side", action="store_true", help="write the model's crop and the overlay side by side")
    c.add_argument("--heatmap", metavar="PNG", help="also write the raw heatmap as a greyscale image")
    c.set_defaults(func=cmd_cam)
    le = sub.add_parser("label-errors", help="images whose folder label disagrees with a cross-validated model")
    le.add_argument("data", help="folder or .zip of class folders")
    le.add_argument("--model", help="use this model's backbone and weights (default: --backbone, pretrained)")
    le.add_argument("--backbone", default="efficientnet_lite0", choices=list(REGISTRY))
    le.add_argument("--folds", type=int, default=5)
    le.add_argument("--seed", type=int, default=0)
    le.add_argument("--min-confidence", type=float, default=0.0, help="only report disagreements at least this sure")
    le.add_argument(
        "--confirmed",
        metavar="CSV",
        help="labels you confirmed, never flagged: the decisions CSV the Review or Sort page exports",
    )
    le.add_argument("--json", action="store_true")
    le.set_defaults(func=cmd_label_errors)
