"""`python -m core train`: fine-tune on a folder or .zip of class folders."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from .output import Printer, print_skipped


def _config_from_args(args):
    from ..training.config import PRESETS, Phase

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
    cfg.text = args.text
    cfg.validate()
    return cfg


# options that spell out a recipe of their own: with any of them, the command trains that recipe
RECIPE_OPTIONS = (
    "unfreeze",
    "epochs",
    "lr",
    "augment",
    "views",
    "batch_size",
    "optimizer",
    "schedule",
    "label_smoothing",
    "early_stopping",
    "weights",
)


def quality_of(args) -> str | None:
    """The ladder mode to run: --quality, else the automatic climb unless a recipe was spelled out."""
    if args.quality:
        return args.quality
    custom = (
        args.preset != "recommended"
        or args.random_init
        or args.class_weights
        or any(getattr(args, name) is not None for name in RECIPE_OPTIONS)
    )
    return None if custom else "auto"


def _climb(ds, args, cfg):
    """`--quality`: the Train page's quality ladder; prints what each rung reached and which is kept."""
    import time

    from ..training.ladder import LABELS, LadderRequest, climb, forecasts

    t0 = time.perf_counter()
    mode = quality_of(args)
    req = LadderRequest(mode, cfg.backbone, cfg.seed, args.budget, text=args.text)
    for f in forecasts(ds, req):  # what the Train page would show before starting
        print(f"forecast {f.rung} seconds {f.seconds:.1f}")
    ladder = climb(ds, req, on_event=Printer(args.quiet))
    ws = ladder.working_set
    if ws is not None and any(r.metrics.rung == "better" for r in ladder.results):
        print(f"working_set {ws.photos} of {ws.of} per view, {ws.views} views, {ws.steps} steps")
    for r in ladder.results:
        m = r.metrics
        te = f" test_accuracy {m.test_accuracy:.4f}" if m.test_accuracy is not None else ""
        va = f"{m.val_accuracy:.4f}" if m.val_accuracy is not None else "n/a"
        print(f"rung {m.rung} val_accuracy {va}{te} seconds {m.train_seconds:.1f}")
    for why in ladder.reasons:
        print(why, file=sys.stderr)
    chosen = ladder.results[ladder.chosen]
    print(f"quality {LABELS[mode]}: kept {LABELS[chosen.metrics.rung]}")
    print(f"ladder_seconds {time.perf_counter() - t0:.1f}")
    return chosen


def cmd_train(args) -> int:
    import torch

    from ..data.dataset import load_dataset
    from ..data.intake import materialise_report
    from ..training import model_io
    from ..training.train import train

    torch.set_num_threads(max(1, torch.get_num_threads()))
    cfg = _config_from_args(args)
    with tempfile.TemporaryDirectory(prefix="gs-cli-") as tmp:
        intake = materialise_report(Path(args.data), Path(tmp))
        print_skipped(intake.skipped)
        ds = load_dataset(intake.root, cfg.val_fraction, cfg.seed)
        if args.extra_labels:
            from ..data.dataset import with_extra_labels
            from ..data.decisions import read_labels_csv

            extra = read_labels_csv(Path(args.extra_labels))
            missing = [p for p in extra if not p.is_file()]
            if missing:
                raise ValueError(f"{len(missing)} photos in {args.extra_labels} do not exist (first: {missing[0]})")
            ds = with_extra_labels(ds, extra)
            print(f"{len(extra)} labelled photos added from {args.extra_labels}", file=sys.stderr)
        if not args.quiet:
            n_tr, n_va = len(ds.split_items("train")), len(ds.split_items("val"))
            print(
                f"{len(ds.classes)} classes ({', '.join(ds.classes)}); {n_tr} train / {n_va} val images "
                f"({'given split' if ds.layout == 'splits' else f'stratified split, seed {cfg.seed}'})"
            )
        if quality_of(args):
            result = _climb(ds, args, cfg)
        else:
            result = train(ds, cfg, on_event=Printer(args.quiet))
    bundle = model_io.ModelBundle.from_result(result)
    path = model_io.save_dir(bundle, Path(args.out))
    (Path(args.out) / "history.json").write_text(json.dumps(result.history, indent=1))
    for p, why in result.skipped:
        print(f"skipped {p}: {why}", file=sys.stderr)
    va = result.metrics.val_accuracy
    print(f"val_accuracy {va:.4f}" if va is not None else "val_accuracy n/a (no validation images)")
    print(f"train_seconds {result.metrics.train_seconds:.1f}")
    print(f"text {result.metrics.text or ('reads the text on photos' if bundle.reads_text else 'pixels only')}")
    print(f"saved {path}")
    return 0


def register(sub) -> None:
    from ..data.augment import PRESETS as AUG
    from ..models.backbones import REGISTRY, UNFREEZE_CHOICES
    from ..training.config import OPTIMIZERS, PRESETS, SCHEDULES
    from ..training.ladder import DEFAULT_BUDGET_S, MODES

    t = sub.add_parser("train", help="fine-tune a pretrained backbone on a folder (or .zip) of class folders")
    t.add_argument("data", help="folder or .zip: class/… or train|val/class/…")
    t.add_argument("--out", required=True, help="MODEL_DIR to write model.pt and metrics.json into")
    t.add_argument("--preset", default="recommended", choices=list(PRESETS))
    t.add_argument(
        "--quality",
        choices=list(MODES),
        help="the Train page's quality ladder: auto (the default when no recipe option is given) climbs "
        "from quick while validation gains",
    )
    t.add_argument("--budget", type=float, default=DEFAULT_BUDGET_S, help="auto: seconds the climb may take")
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
    t.add_argument("--optimizer", choices=OPTIMIZERS)
    t.add_argument("--schedule", choices=SCHEDULES)
    t.add_argument("--label-smoothing", type=float)
    t.add_argument("--class-weights", action="store_true", help="weight the loss against class imbalance")
    t.add_argument("--early-stopping", type=int, metavar="PATIENCE")
    t.add_argument("--seed", type=int)
    t.add_argument("--val-fraction", type=float, help="validation share when the folder has no val/ (default 0.2)")
    t.add_argument(
        "--text",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also read where the writing sits on each photo (memes, screenshots, documents); on by "
        "default, and Quick drops it when validation does not improve with it",
    )
    t.add_argument(
        "--extra-labels",
        metavar="CSV",
        help="more labelled photos: the corrections CSV the Sort (or Review) page exports",
    )
    t.set_defaults(func=cmd_train)
