"""`python -m core sort` and `predict`: classify a gallery, copy it by class."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from ..inference.placement import NOT_CLASSIFIED
from .output import print_skipped


def _predict(args, bundle, paths: list[Path]) -> list:
    from tqdm import tqdm

    from ..inference.sort import predict_paths

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
    return preds


def _say_outcome(args, out: Path, gs, outcome) -> None:
    pl = outcome.plan
    photos = sum(1 for p in pl.placements if p.kind == "photo")
    kept = sum(1 for p in pl.placements if p.kind == "kept")
    summary = ", ".join(f"{k}: {v}" for k, v in sorted(pl.counts().items()) if k != NOT_CLASSIFIED)
    together = sum(1 for p in pl.placements if p.kind == "companion")
    extra = f" (+{together} companion files with their photos)" if together else ""
    extra += f"; {kept} videos, RAW files or sidecars kept in {NOT_CLASSIFIED}/" if kept else ""
    if args.dry_run:
        print(f"dry run: {photos} images would go into {out} ({summary}){extra}; nothing was changed")
        for items in pl.sample().values():
            for p in items:
                print(f"  {p.source.name} -> {p.target.relative_to(pl.out_dir)}")
        return
    if outcome.moved is None:
        print(f"sorted {photos} images into {out} ({summary}){extra}; predictions.csv written")
        return
    csv_at = outcome.moved.journal.name.replace("journal-", "predictions-")
    print(f"moved {photos} images into {out} ({summary}){extra}; {csv_at} written beside the journal")
    for p, why in outcome.moved.problems:
        print(f"not moved {p.name}: {why}", file=sys.stderr)
    print(f"journal: {outcome.moved.journal} (undo: python -m core undo {outcome.moved.journal})")


def _check_options(args) -> None:
    if args.precision is not None:
        if not 0.5 <= args.precision < 1.0:
            raise ValueError("--precision is a probability between 0.5 and 1 (for example 0.98)")
        if args.min_confidence:
            raise ValueError("give --precision or --min-confidence, not both")
    if args.learn_from_gallery and not args.data:
        raise ValueError("--learn-from-gallery needs --data: the labelled folder the model was trained on")
    if args.learn_from_gallery and args.engine != "local":
        raise ValueError("--learn-from-gallery runs on the local engine")


def _rule(args, bundle, preds: list, held):
    """The filing rule, and the certificate that says what a --precision sort's claim rests on."""
    from ..inference.certify import certified_rule
    from ..inference.placement import FilingRule

    if args.precision is not None:
        return certified_rule(preds, bundle.classes, held, args.precision)
    return FilingRule(args.min_confidence, calibrated=False), None


def _learned_predictions(args, bundle, paths: list[Path]):
    """Predictions from the gallery's own neighbourhoods too (core.inference.propagate), and their held-out set."""
    from ..data.dataset import load_dataset
    from ..inference.sort import Prediction
    from ..inference.teach import build_teacher
    from ..models.features import FeatureCache

    cfg = bundle.config
    ds = load_dataset(Path(args.data), cfg.val_fraction if cfg else 0.2, cfg.seed if cfg else 0)

    def items(split: str) -> list:
        return [(i.path, i.label) for i in ds.split_items(split) if i.label in bundle.classes]

    teacher, fails = build_teacher(bundle, paths, FeatureCache(), items("train"), items("val"))
    if teacher.learned is not None:
        print(f"learning from the gallery: {teacher.learned.words()}", file=sys.stderr)
    preds = teacher.predictions() + [Prediction(p, None, error=e) for p, e in fails]
    order = {p: k for k, p in enumerate(paths)}
    return sorted(preds, key=lambda p: order[p.path]), teacher.held_out()


def _say_filing(cert) -> None:
    if cert is None:
        return
    print(
        f"filed {cert.filed:,} of {cert.considered:,} ({cert.share:.0%}) at {cert.target:.1%}; "
        f"unsure {cert.considered - cert.filed:,}"
    )
    if cert.is_certified and cert.filed:
        print(f"certified precision >= {cert.certified:.1%} (expected {cert.expected:.1%})")
    print(cert.basis())


def _sort_once(args, bundle, gallery: Path, out: Path) -> int:
    from ..inference.gallery import place, scan_gallery

    gs = scan_gallery(gallery, out, args.new_only, not args.no_companions)
    if gs.sorted_before:
        print(
            f"{gs.sorted_before} photos were sorted before; looking at the {len(gs.photos)} new ones", file=sys.stderr
        )
    if gs.empty:
        if args.new_only:
            print("nothing new to sort")
            return 0
        raise ValueError(f"no images found in {args.gallery}")
    held = bundle.held_out
    if args.learn_from_gallery and gs.photos:
        preds, held = _learned_predictions(args, bundle, gs.photos)
    else:
        preds = _predict(args, bundle, gs.photos) if gs.photos else []
    for p in preds:
        if p.error:
            print(f"skipped {p.path.name}: {p.error}", file=sys.stderr)
    rule, cert = _rule(args, bundle, preds, held)
    outcome = place(preds, gs, out, rule, args.move, args.dry_run)
    _say_outcome(args, out, gs, outcome)
    _say_filing(cert)
    return 0


def cmd_sort(args) -> int:
    import time

    from ..data.intake import materialise_report
    from ..training import model_io

    _check_options(args)
    bundle = model_io.load(Path(args.model))
    out = Path(args.out)
    if args.move and not Path(args.gallery).is_dir():
        raise ValueError("--move sorts a folder in place: give a folder, not a .zip")
    with tempfile.TemporaryDirectory(prefix="gs-cli-") as tmp:
        intake = materialise_report(Path(args.gallery), Path(tmp), keep_companions=True)
        print_skipped(intake.skipped)
        if not args.watch:
            return _sort_once(args, bundle, intake.root, out)
        args.new_only = True
        print(f"watching {args.gallery} every {args.watch:g} s for new photos (Ctrl-C to stop)", file=sys.stderr)
        while True:
            _sort_once(args, bundle, intake.root, out)
            time.sleep(args.watch)


def cmd_undo(args) -> int:
    from ..inference.placement import latest_journal, undo

    target = Path(args.journal)
    journal = latest_journal(target) if target.is_dir() else target
    if journal is None:
        raise ValueError(f"no sort to undo in {target} (no journal in {target}/.gallery-sorter)")
    report = undo(journal)
    print(
        f"put back {report.restored} files"
        + (f" ({report.already_back} were already in place)" if report.already_back else "")
    )
    for name, why in report.problems:
        print(f"not put back {name}: {why}", file=sys.stderr)
    return 0 if report.complete else 1


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
    s = sub.add_parser("sort", help="copy (or move) a gallery into one folder per predicted class")
    s.add_argument("model", help="MODEL_DIR or model.pt")
    s.add_argument("gallery", help="folder or .zip of images")
    s.add_argument("--out", required=True, help="where the class folders go (with --move, may be the gallery itself)")
    s.add_argument(
        "--min-confidence", type=float, default=0.0, help="below this (softmax) confidence, images go to unsure/"
    )
    s.add_argument(
        "--precision",
        type=float,
        metavar="P",
        help="file as many photos as keep the share right of what is filed at P or more (e.g. 0.98), "
        "bounded with the model's validation photos; the rest go to unsure/",
    )
    s.add_argument(
        "--learn-from-gallery",
        action="store_true",
        help="let the gallery's unlabelled photos teach the model (label spreading over look-alikes; used only "
        "where its validation photos say it helps); needs --data",
    )
    s.add_argument("--data", metavar="DATA", help="the labelled folder the model was trained on (same split)")
    s.add_argument(
        "--move",
        action="store_true",
        help="move the files instead of copying them (a journal is written first; undo puts them back)",
    )
    s.add_argument("--dry-run", action="store_true", help="say where every file would go; change nothing")
    s.add_argument(
        "--new-only",
        action="store_true",
        help="only photos that arrived since the last sort into --out (its manifest remembers the rest)",
    )
    s.add_argument(
        "--watch",
        type=float,
        metavar="SECONDS",
        help="keep looking for new photos every SECONDS (a simple poll; implies --new-only)",
    )
    s.add_argument(
        "--no-companions",
        action="store_true",
        help="do not move a photo's Live Photo video, RAW file or sidecars with it",
    )
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
    u = sub.add_parser("undo", help="put back every file a --move sort moved (from its journal)")
    u.add_argument("journal", help="a journal-*.csv, or the sorted folder (its latest journal)")
    u.set_defaults(func=cmd_undo)
    pr = sub.add_parser("predict", help="predict the class of single images")
    pr.add_argument("model")
    pr.add_argument("images", nargs="+")
    pr.add_argument("--top", type=int, default=5)
    pr.add_argument("--json", action="store_true")
    pr.set_defaults(func=cmd_predict)
