"""Command line: the same engine as the app, without a screen.

python -m core train DATA --out MODEL_DIR [--backbone B] [--epochs N] [--preset P]
python -m core sort MODEL_DIR GALLERY --out OUT_DIR [--min-confidence P] [--engine local|ray]
python -m core predict MODEL_DIR IMAGE...
python -m core evaluate MODEL_DIR DATA [--json]
python -m core export MODEL_DIR --format onnx|torchscript
python -m core discover GALLERY --out OUT_DIR [--k K] [--method kmeans|agglomerative]
python -m core check DATA [--json] [--features]
python -m core cam MODEL_DIR IMAGE [--method gradcam] [--target-class C] --out overlay.png
python -m core label-errors DATA [--model MODEL_DIR | --backbone B] [--folds 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

# names of core.analysis.explain.METHODS, spelled out so that --help does not import pytorch-grad-cam
CAM_METHODS = ("gradcam", "gradcam++", "hirescam", "layercam", "eigencam", "scorecam")


class _Printer:
    """Prints a run as it goes, from the same progress model the pages draw."""

    def __init__(self, quiet: bool) -> None:
        from .session.progress import TrainingProgress

        self.quiet = quiet
        self.model = TrainingProgress()
        self.said = ""
        self.last = 0.0

    def __call__(self, e) -> None:
        from .events import Advance, Epoch, Note, Plan, Status
        from .session.progress import eta_words

        self.model.apply(e)
        if self.quiet:
            return
        if isinstance(e, Epoch):
            print(
                f"epoch {e.epoch:>3}/{e.epochs}  train loss {e.train_loss:.4f} acc {e.train_acc:.3f}"
                f"  val loss {e.val_loss:.4f} acc {e.val_acc:.3f}  ({e.seconds:.2f}s)",
                flush=True,
            )
        elif isinstance(e, Plan) and e.description:
            print(e.description, flush=True)
        elif isinstance(e, (Status, Note)) and e.message != self.said:
            self.said = e.message
            print(e.message, flush=True)
        elif isinstance(e, Advance) and e.step != "batches" and time.time() - self.last > 2:
            self.last = time.time()
            view = self.model.view()
            eta = eta_words(view.eta_seconds)
            print(f"  {view.detail or e.done} ({view.fraction:.0%}{', ' + eta if eta else ''})", flush=True)


def _print_skipped(skipped: list[tuple[str, str]]) -> None:
    """Files of the input that are not used, and why (links and special files are never followed)."""
    for name, why in skipped:
        print(f"skipped {name}: {why}", file=sys.stderr)


def _config_from_args(args):
    from .training.train import PRESETS, Phase

    cfg = PRESETS[args.preset]()
    if args.backbone:
        cfg.backbone = args.backbone
    if args.weights:
        cfg.weights, cfg.weights_path = "file", args.weights
    if args.random_init:
        cfg.weights = "random"
    if args.unfreeze or args.lr:
        cfg.phases = [Phase(args.unfreeze or cfg.phases[0].unfreeze, cfg.phases[0].epochs, args.lr or cfg.phases[0].lr)]
    if args.epochs:
        for p in cfg.phases:
            p.epochs = args.epochs
    for name in ("augment", "views", "batch_size", "optimizer", "schedule", "seed", "val_fraction"):
        v = getattr(args, name)
        if v is not None:
            setattr(cfg, name, v)
    if args.label_smoothing is not None:
        cfg.label_smoothing = args.label_smoothing
    if args.class_weights:
        cfg.class_weights = True
    if args.early_stopping is not None:
        cfg.early_stopping = args.early_stopping
    cfg.validate()
    return cfg


def cmd_train(args) -> int:
    import torch

    from .data.dataset import load_dataset
    from .data.intake import materialise_report
    from .training import model_io
    from .training.train import train

    torch.set_num_threads(max(1, torch.get_num_threads()))
    cfg = _config_from_args(args)
    with tempfile.TemporaryDirectory(prefix="gs-cli-") as tmp:
        intake = materialise_report(Path(args.data), Path(tmp))
        _print_skipped(intake.skipped)
        ds = load_dataset(intake.root, cfg.val_fraction, cfg.seed)
        if not args.quiet:
            n_tr, n_va = len(ds.split_items("train")), len(ds.split_items("val"))
            print(
                f"{len(ds.classes)} classes ({', '.join(ds.classes)}); {n_tr} train / {n_va} val images "
                f"({'given split' if ds.layout == 'splits' else f'stratified split, seed {cfg.seed}'})"
            )
        result = train(ds, cfg, on_event=_Printer(args.quiet))
    bundle = model_io.ModelBundle.from_result(result)
    path = model_io.save_dir(bundle, Path(args.out))
    (Path(args.out) / "history.json").write_text(json.dumps(result.history, indent=1))
    for p, why in result.skipped:
        print(f"skipped {p}: {why}", file=sys.stderr)
    va = result.metrics.val_accuracy
    print(f"val_accuracy {va:.4f}" if va is not None else "val_accuracy n/a (no validation images)")
    print(f"train_seconds {result.metrics.train_seconds:.1f}")
    print(f"saved {path}")
    return 0


def cmd_sort(args) -> int:
    from tqdm import tqdm

    from .data.files import list_images
    from .data.intake import materialise_report
    from .inference.sort import copy_sorted, predict_paths
    from .training import model_io

    bundle = model_io.load(Path(args.model))
    out = Path(args.out)
    with tempfile.TemporaryDirectory(prefix="gs-cli-") as tmp:
        intake = materialise_report(Path(args.gallery), Path(tmp))
        _print_skipped(intake.skipped)
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
            from .inference.ray_engine import RayConfig, predict_paths_ray

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
    from .inference.sort import predict_paths
    from .training import model_io

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


def cmd_evaluate(args) -> int:
    import numpy as np

    from .analysis.evaluate import evaluate_probs
    from .data.dataset import scan_folder
    from .data.intake import materialise
    from .inference.sort import predict_paths
    from .training import model_io

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


LAYOUT_WORDS = {
    "splits": "train/val folders (split as given)",
    "classes": "class folders (stratified {pct}% validation split, seed 0)",
    "flat": "no class folders (unlabelled images)",
    "empty": "no images",
}


def _throttled(label: str, quiet: bool):
    state = {"last": 0.0}

    def progress(done: int, total: int) -> None:
        now = time.time()
        if not quiet and (now - state["last"] > 2 or done == total) and total:
            state["last"] = now
            print(f"  {label}: {done}/{total}", file=sys.stderr, flush=True)

    return progress


def _relative(p, root: Path) -> str:
    """Paths as the user knows them: inside their folder or zip, not our temp dir."""
    try:
        return str(Path(p).relative_to(root))
    except ValueError:
        return str(p)


def _print_report(report, shown_root: Path, limit: int, splits_of: dict | None = None) -> None:
    def rel(p: Path) -> str:
        # a stratified split is invisible in the paths: say which copy is the validation one
        tag = (splits_of or {}).get(p)
        return _relative(p, shown_root) + (f"  [{tag}]" if tag else "")

    layout = LAYOUT_WORDS.get(report.layout, report.layout).format(pct=20)
    print(f"{report.n_images} images, {len(report.classes)} classes; layout: {layout}")
    if report.classes:
        splits = [s for s in ("train", "val", "test") if s in report.splits] or ["train"]
        w = max(5, *(len(c) for c in report.classes))
        print("  " + f"{'class':<{w}}" + "".join(f"{s:>7}" for s in splits) + f"{'total':>7}")
        for c in report.classes:
            row = report.counts.get(c, {})
            print("  " + f"{c:<{w}}" + "".join(f"{row.get(s, 0):>7}" for s in splits) + f"{sum(row.values()):>7}")
        print(
            "  "
            + f"{'total':<{w}}"
            + "".join(f"{report.splits.get(s, 0):>7}" for s in splits)
            + f"{sum(report.splits.values()):>7}"
        )
    if report.sizes:
        ws = sorted(w for w, _ in report.sizes)
        hs = sorted(h for _, h in report.sizes)
        sides = sorted(min(s) for s in report.sizes)
        o = report.orientation
        print(
            f"sizes: median {ws[len(ws) // 2]}x{hs[len(hs) // 2]}, shortest side {sides[0]}..{sides[-1]} px; "
            f"{o.get('landscape', 0)} landscape, {o.get('portrait', 0)} portrait, {o.get('square', 0)} square; "
            f"{report.grayscale_share:.0%} greyscale"
        )
    sev = report.by_severity()
    print(
        f"checked {report.n_checked}/{report.n_images} images in {report.seconds:.1f}s: "
        + ", ".join(f"{len(v)} {k}{'s' if len(v) != 1 and k != 'info' else ''}" for k, v in sev.items())
    )
    if not report.findings:
        print("no problems found")
    for f in report.findings:
        print()
        print(f"{f.severity.upper()} {f.kind}: {f.message}")
        for p in f.files[:limit]:
            print(f"  - {rel(p)}")
        if len(f.files) > limit:
            print(f"  … and {len(f.files) - limit} more (--json lists all)")
        print(f"  action: {f.action}")


def cmd_check(args) -> int:
    from .analysis.health import backbone_features, check
    from .data.dataset import load_dataset
    from .data.intake import materialise_report

    with tempfile.TemporaryDirectory(prefix="gs-cli-") as tmp:
        intake = materialise_report(Path(args.data), Path(tmp))
        ds = load_dataset(intake.root)
        features = None
        if args.features and ds.items:
            from .models.backbones import WeightsMissing

            try:
                features = backbone_features(
                    [i.path for i in ds.items], args.backbone, progress=_throttled("features", args.quiet or args.json)
                )
            except WeightsMissing as exc:
                print(f"warning: --features skipped: {exc}", file=sys.stderr)
        report = check(
            ds, skipped=intake.skipped, features=features, progress=_throttled("checking", args.quiet or args.json)
        )
        if args.json:
            d = report.to_dict()
            d["root"] = str(args.data)
            for f in d["findings"]:
                f["files"] = [_relative(p, intake.root) for p in f["files"]]
                f["exclude"] = [_relative(p, intake.root) for p in f["exclude"]]
            print(json.dumps(d, indent=1, ensure_ascii=False))
        else:
            print(f"{args.data}:", end=" ")
            splits_of = {i.path: i.split for i in ds.items} if ds.layout != "splits" else None
            _print_report(report, intake.root, args.limit, splits_of)
    return 0


def cmd_export(args) -> int:
    from .data.files import list_images
    from .inference.export import export
    from .training import model_io

    bundle = model_io.load(Path(args.model))
    out = Path(args.out) if args.out else (Path(args.model) if Path(args.model).is_dir() else Path(args.model).parent)
    samples = list_images(Path(args.samples))[:16] if args.samples else []
    report = export(bundle, args.format, out, samples)
    status = "OK" if report.ok else "MISMATCH"
    print(
        f"{status}: wrote {report.path}; top-1 agreement with torch {report.top1_agreement:.0%} "
        f"on {report.samples} samples (max |diff| {report.max_abs_diff:.2e})"
    )
    return 0 if report.ok else 1


def cmd_discover(args) -> int:
    from tqdm import tqdm

    from .analysis.discover import discover, write_groups
    from .data.files import list_images
    from .data.intake import materialise_report

    out = Path(args.out)
    with tempfile.TemporaryDirectory(prefix="gs-cli-") as tmp:
        intake = materialise_report(Path(args.gallery), Path(tmp))
        _print_skipped(intake.skipped)
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
        best = g.k_scores[g.k]
        print(f"k = {g.k} (chosen by silhouette over k = {min(g.k_scores)}..{max(g.k_scores)}; best {best:.3f})")
        if not args.quiet:
            print("silhouette by k: " + ", ".join(f"{k}: {s:.3f}" for k, s in g.k_scores.items()))
    else:
        print(f"k = {g.k} (forced)")
    for grp in g.groups:
        print(f"  {grp.name}: {grp.size} images ({len(grp.doubtful)} doubtful)")
    print(f"copied {sum(counts.values())} images into {out}; {csv_path.name} written")
    return 0


def cmd_cam(args) -> int:
    import numpy as np
    from PIL import Image

    from .analysis.explain import LABELS, Explainer, check_method, side_by_side
    from .data.images import load_rgb
    from .training import model_io

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
    from .analysis.evaluate import find_label_errors
    from .data.dataset import scan_folder
    from .data.intake import materialise
    from .models.backbones import WeightsChoice
    from .models.features import FeatureCache
    from .training import model_io
    from .training.train import TrainConfig

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
        rep = find_label_errors(ds, backbone, weights, FeatureCache(), args.folds, args.seed, args.min_confidence)
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
                {"checked": rep.n_checked, "folds": rep.folds, "oof_accuracy": rep.oof_accuracy, "suspects": rows},
                indent=1,
            )
        )
        return 0
    print(f"out-of-fold accuracy {rep.oof_accuracy:.3f} on {rep.n_checked} images; {len(rows)} likely label errors")
    for r in rows:
        print(f"  {r['path']}: labelled {r['given']}, looks like {r['suggested']} ({r['confidence']:.0%})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from .data.augment import PRESETS as AUG
    from .models.backbones import REGISTRY, UNFREEZE_CHOICES
    from .training.train import PRESETS

    p = argparse.ArgumentParser(prog="python -m core", description="Gallery Sorter engine")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the result")
    sub = p.add_subparsers(dest="cmd", required=True)

    t = sub.add_parser("train", help="fine-tune a pretrained backbone on a folder (or .zip) of class folders")
    t.add_argument("data", help="folder or .zip: class/… or train|val/class/…")
    t.add_argument("--out", required=True, help="MODEL_DIR to write model.pt and metrics.json into")
    t.add_argument("--preset", default="recommended", choices=list(PRESETS))
    t.add_argument("--backbone", choices=list(REGISTRY))
    t.add_argument(
        "--weights",
        metavar="PATH",
        help="a .pth state dict for the backbone (when its pretrained weights are not available)",
    )
    t.add_argument("--random-init", action="store_true", help="train from random weights (not pretrained)")
    t.add_argument("--unfreeze", choices=list(UNFREEZE_CHOICES), help="layers to train")
    t.add_argument("--epochs", type=int, help="epochs (per phase for multi-phase presets)")
    t.add_argument("--lr", type=float, help="learning rate")
    t.add_argument("--augment", choices=list(AUG))
    t.add_argument("--views", type=int, help="augmented views cached per training image")
    t.add_argument("--batch-size", type=int)
    t.add_argument("--optimizer", choices=["adam", "adamw", "sgd"])
    t.add_argument("--schedule", choices=["constant", "cosine", "onecycle"])
    t.add_argument("--label-smoothing", type=float)
    t.add_argument("--class-weights", action="store_true", help="weight the loss against class imbalance")
    t.add_argument("--early-stopping", type=int, metavar="PATIENCE")
    t.add_argument("--seed", type=int)
    t.add_argument("--val-fraction", type=float, help="validation share when the folder has no val/ (default 0.2)")
    t.set_defaults(func=cmd_train)

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

    x = sub.add_parser("export", help="export to ONNX or TorchScript, checked against the torch model")
    x.add_argument("model")
    x.add_argument("--format", required=True, choices=["onnx", "torchscript"])
    x.add_argument("--out", help="folder to write into (default: the model's folder)")
    x.add_argument("--samples", help="a folder of images to check top-1 agreement on")
    x.set_defaults(func=cmd_export)

    d = sub.add_parser("discover", help="propose groups in an unlabelled gallery (copies, never moves)")
    d.add_argument("gallery", help="folder or .zip of images (sub-folders are ignored as labels)")
    d.add_argument("--out", required=True, help="OUT_DIR for one folder per group and groups.csv")
    d.add_argument("--k", type=int, help="number of groups (default: chosen by silhouette)")
    d.add_argument("--method", default="kmeans", choices=["kmeans", "agglomerative"])
    d.add_argument("--backbone", choices=list(REGISTRY))
    d.set_defaults(func=cmd_discover)
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
    le.add_argument("--json", action="store_true")
    le.set_defaults(func=cmd_label_errors)
    return p


def main(argv: list[str] | None = None) -> int:
    from .data.dataset import DatasetError
    from .data.images import ImageError
    from .data.intake import IntakeError
    from .models.backbones import WeightsMissing
    from .training.model_io import ModelFileError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (
        IntakeError,
        DatasetError,
        ImageError,
        ModelFileError,
        WeightsMissing,
        ValueError,
        FileNotFoundError,
        NotADirectoryError,
        PermissionError,
    ) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
