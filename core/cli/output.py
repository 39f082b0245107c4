"""How the CLI prints: progress from the shared progress model, skipped files, the health report."""

from __future__ import annotations

import sys
import time
from pathlib import Path


class Printer:
    """Prints a run as it goes, from the same progress model the pages draw."""

    def __init__(self, quiet: bool) -> None:
        from ..session.progress import TrainingProgress

        self.quiet = quiet
        self.model = TrainingProgress()
        self.said = ""
        self.last = 0.0

    def __call__(self, e) -> None:
        from ..events import Advance, Epoch, Note, Plan, Status
        from ..session.progress import eta_words

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


def print_skipped(skipped: list[tuple[str, str]]) -> None:
    """Files of the input that are not used, and why (links and special files are never followed)."""
    for name, why in skipped:
        print(f"skipped {name}: {why}", file=sys.stderr)


def throttled(label: str, quiet: bool):
    state = {"last": 0.0}

    def progress(done: int, total: int) -> None:
        now = time.time()
        if not quiet and (now - state["last"] > 2 or done == total) and total:
            state["last"] = now
            print(f"  {label}: {done}/{total}", file=sys.stderr, flush=True)

    return progress


def relative(p, root: Path) -> str:
    """Paths as the user knows them: inside their folder or zip, not our temp dir."""
    try:
        return str(Path(p).relative_to(root))
    except ValueError:
        return str(p)


LAYOUT_WORDS = {
    "splits": "train/val folders (split as given)",
    "classes": "class folders (stratified {pct}% validation split, seed 0)",
    "flat": "no class folders (unlabelled images)",
    "empty": "no images",
}


def print_report(report, shown_root: Path, limit: int, splits_of: dict | None = None) -> None:
    def rel(p: Path) -> str:
        # a stratified split is invisible in the paths: say which copy is the validation one
        tag = (splits_of or {}).get(p)
        return relative(p, shown_root) + (f"  [{tag}]" if tag else "")

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
