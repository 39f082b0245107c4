"""python -m bench [train|train-default|sort|sort-rss|sort-backbones|sort-limit|finetune|intake|app|cam|scaling|discover|discover-embeddings|ray|teach|semi|filing|ladder|scale|memory|journey|anchor|anchor-annealed|load|report ...] [--runs N] [--visitors N [--uploader]] [--soak MINUTES]

Runs the named benchmarks (all when none is named) on ../shared/data, keeps each
result in bench/out/<name>.json, and rewrites BENCHMARKS.md from every result there.

Data makers are not suites and run on their own: `python -m bench.phone_gallery OUT
--per-kind N [--flat]` writes a generated phone gallery (photos, memes, screenshots,
documents, receipts) for measuring text-aware sorting.
`load` (N visitors at once on the hosted entry, --visitors N; --uploader adds one uploading
1,000 photos; --soak MINUTES has visitors come and go instead) needs no ../shared, is run
only when named, and leaves BENCHMARKS.md as it is (`python -m bench report` writes it).
"""

from __future__ import annotations

import argparse
import importlib

from .common import need_shared

SUITES = {
    "train": "bench.train_bench",
    "sort": "bench.sort_bench",
    "app": "bench.app_bench",
    "cam": "bench.cam_latency",
    "scaling": "bench.scaling",
    "discover": "bench.discover_ari",
    "discover-embeddings": "bench.discover_embeddings",
    "ray": "bench.ray_bench",
    "teach": "bench.teach_bench",
    "semi": "bench.semi_bench",
    "filing": "bench.filing_bench",
    "ladder": "bench.ladder_bench",
    "page-open": "bench.page_open",
    "int8": "bench.int8_bench",
    "anchor": "bench.ladder_bench:run_anchor",
    "anchor-annealed": "bench.ladder_bench:run_anchor_annealed",
    "train-default": "bench.train_bench:run_default",
    "sort-rss": "bench.sort_bench:run_rss",
    "sort-backbones": "bench.sort_bench:run_backbones",
    "sort-limit": "bench.sort_limit",
    "finetune": "bench.finetune_speed",
    "intake": "bench.intake",
    "text-accuracy": "bench.text_bench:run_accuracy",
    "text-speed": "bench.text_bench:run_speed",
    "load": "bench.load_visitors",
    "scale": "bench.scale_bench",
    "memory": "bench.memory_curve",
    "journey": "bench.journey",
}

INCLUDED = {"train-default", "sort-rss"}  # parts that "train" and "sort" already run
ON_REQUEST = {"load"}  # run only when named: it needs the machine to itself


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench")
    ap.add_argument("suites", nargs="*", help=f"any of {', '.join(SUITES)}, or report")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--visitors", type=int, default=1, help="load: how many visitors at once")
    ap.add_argument("--uploader", action="store_true", help="load: one more visitor uploads 1,000 photos and trains")
    ap.add_argument("--soak", type=float, metavar="MINUTES", help="load: visitors come and go for MINUTES instead")
    args = ap.parse_args()
    names = args.suites or [n for n in SUITES if n not in INCLUDED | ON_REQUEST]
    if set(names) - ON_REQUEST - {"report"} or not names:
        need_shared()
    for name in names:
        if name == "report":
            continue
        module, _, func = SUITES[name].partition(":")
        print(f"== {name}", flush=True)
        extra = {"visitors": args.visitors, "uploader": args.uploader} if name == "load" else {}
        if name == "load" and args.soak:
            module, extra = "bench.load_soak", {"minutes": args.soak}
        getattr(importlib.import_module(module), func or "run")(runs=args.runs, **extra)
    if set(names) <= ON_REQUEST:
        return
    from .report import write

    print(f"wrote {write()}")


main()
