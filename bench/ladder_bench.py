"""The quality ladder against the accuracy anchor: validation accuracy, seconds, peak memory.

Each rung runs as the user's command would (`python -m core train DATA --quality MODE`), in its
own process so its peak RSS is its own and nothing is cached from an earlier run. The
automatic mode's output gives Quick's and Better's figures from the same climb (it runs Quick
first and Better when validation says so). Best runs on its own. The anchor is a plain full
fine-tune in fastai's ``fine_tune`` style (:mod:`bench.anchor`) on the same split (same seed).

    python -m bench ladder [--runs N]        # auto and best per dataset and seed
    python -m bench anchor [--runs N]        # the anchor (slow: many minutes per run)
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from pathlib import Path

from .common import OUT, SHARED, median, peak_rss_mb, save

DATASETS = {"hymenoptera": "hymenoptera", "trashnet": "trashnet", "gallery_mix": "gallery_mix"}
RUNG_LINE = re.compile(r"^rung (\w+) val_accuracy ([\d.]+).*? seconds ([\d.]+)$", re.M)


def run_ladder(dataset: Path, mode: str, seed: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="gs-ladder-") as tmp:
        args = ["-q", "train", str(dataset), "--out", str(Path(tmp) / "m"), "--quality", mode, "--seed", str(seed)]
        peak, wall, out = peak_rss_mb(args)
    rungs = {m.group(1): (float(m.group(2)), float(m.group(3))) for m in RUNG_LINE.finditer(out)}
    kept = re.search(r"kept (\w+)", out).group(1).lower()
    seconds = float(re.search(r"^ladder_seconds ([\d.]+)", out, re.M).group(1))
    return {
        "mode": mode,
        "seed": seed,
        "rungs": {k: {"val_acc": a, "seconds": s} for k, (a, s) in rungs.items()},
        "kept": kept,
        "val_acc": rungs[kept][0],
        "seconds": seconds,
        "wall_s": wall,
        "peak_rss_mb": peak,
    }


def summary(rows: list[dict]) -> list[dict]:
    """Median per dataset and rung (Quick and Better from the automatic climbs, Best on its own)."""
    out = []
    for ds in dict.fromkeys(r["dataset"] for r in rows):
        mine = [r for r in rows if r["dataset"] == ds]
        cells: dict[str, list[tuple[float, float]]] = {}
        for r in mine:
            if r["mode"] == "auto":
                for rung, v in r["rungs"].items():
                    cells.setdefault(rung, []).append((v["val_acc"], v["seconds"]))
                cells.setdefault("auto (default)", []).append((r["val_acc"], r["seconds"]))
            else:
                cells.setdefault(r["mode"], []).append((r["val_acc"], r["seconds"]))
        for name, v in cells.items():
            peaks = [r["peak_rss_mb"] for r in mine if (r["mode"] == "auto") == (name != "best")]
            out.append(
                {
                    "dataset": ds,
                    "rung": name,
                    "runs": len(v),
                    "val_acc": median([a for a, _ in v]),
                    "seconds": median([s for _, s in v]),
                    "peak_rss_mb": max(peaks),
                }
            )
    return out


def run(
    runs: int = 3,
    datasets: tuple[str, ...] = tuple(DATASETS),
    best_runs: int = 1,
    best_on: tuple[str, ...] | None = None,
) -> None:
    """Every dataset's automatic climb ``runs`` times; Best ``best_runs`` times (only on ``best_on`` if given)."""
    rows = []
    for name in datasets:
        for seed in range(runs):
            best = seed < best_runs and (best_on is None or name in best_on)
            for mode in ("auto", "best") if best else ("auto",):
                t = time.perf_counter()
                r = {"dataset": name, **run_ladder(SHARED / DATASETS[name], mode, seed)}
                print(
                    f"  {name} {mode} seed {seed}: {r['val_acc']:.3f} in {r['seconds']:.0f} s "
                    f"(peak {r['peak_rss_mb']:.0f} MB; {time.perf_counter() - t:.0f} s wall)",
                    flush=True,
                )
                rows.append(r)
    cmd = f"python -m bench ladder --runs {runs}"
    if best_on is not None:
        cmd = f"python -c 'import bench.ladder_bench as L; L.run(runs={runs}, best_on={best_on!r})'"
    save("ladder", {"command": cmd, "rows": rows, "summary": summary(rows), "best_runs": best_runs})


def run_best(datasets: tuple[str, ...] = ("trashnet",), seeds: tuple[int, ...] = (0,)) -> None:
    """Best alone (it takes many minutes), merged into the ladder's rows: same seed and data, replaced."""
    d = json.loads((OUT / "ladder.json").read_text())
    new = []
    for name in datasets:
        for seed in seeds:
            r = {"dataset": name, **run_ladder(SHARED / DATASETS[name], "best", seed)}
            print(f"  {name} best seed {seed}: {r['val_acc']:.3f} in {r['seconds']:.0f} s", flush=True)
            new.append(r)
    mine = {(r["dataset"], r["mode"], r["seed"]) for r in new}
    rows = [r for r in d["rows"] if (r["dataset"], r["mode"], r["seed"]) not in mine] + new
    cmd = f"{d['command']}; python -c 'import bench.ladder_bench as L; L.run_best({datasets!r}, {seeds!r})'"
    when = f"Best on {', '.join(datasets)} (seeds {', '.join(map(str, seeds))}) added to rows measured {d['date']}"
    note = f"{d['note']}; {when}" if d.get("note") else when
    save("ladder", {"command": cmd, "rows": rows, "summary": summary(rows), "best_runs": d["best_runs"], "note": note})


# The anchor's two recipes. "patience": fastai's recipe at 224 px, one-cycle planned over 25 epochs,
# stopped when validation has not improved for 4. "annealed": the same at the backbone's own input
# size (288 px for Lite0, as our rungs use), one-cycle over 12 epochs run to the end, so the rate
# has come down when it stops (a run stopped early ends at a high rate, which can flatter us).
ANCHOR_RECIPES = {
    "patience": {"size": 224, "max_epochs": 25, "patience": 4},
    "annealed": {"size": None, "max_epochs": 12, "patience": 99},
}


def run_anchor(
    runs: int = 1,
    datasets: tuple[str, ...] = ("trashnet",),
    recipe: str = "patience",
    seeds: tuple[int, ...] | None = None,
) -> None:
    """``seeds`` (default ``range(runs)``) lets a long anchor add seeds to rows already measured."""
    from core.data.dataset import load_dataset
    from core.models.backbones import DEFAULT_BACKBONE, get_spec

    from .anchor import fine_tune

    settings = dict(ANCHOR_RECIPES[recipe])
    settings["size"] = settings["size"] or get_spec(DEFAULT_BACKBONE).preprocess.size
    rows = []
    for name in datasets:
        for seed in seeds if seeds is not None else range(runs):
            ds = load_dataset(SHARED / DATASETS[name], 0.2, seed)
            tr = [(i.path, i.label) for i in ds.split_items("train")]
            va = [(i.path, i.label) for i in ds.split_items("val")]
            r = fine_tune(tr, va, ds.classes, seed=seed, log=lambda m: print(m, flush=True), **settings)
            rows.append(
                {
                    "dataset": name,
                    "seed": seed,
                    "recipe": f"{recipe}: {settings['size']} px, {settings['max_epochs']} epochs planned"
                    + (f", patience {settings['patience']}" if settings["patience"] < settings["max_epochs"] else ""),
                    "val_acc": r.best_val_acc,
                    "best_epoch": r.best_epoch,
                    "epochs": r.epochs,
                    "seconds": r.seconds,
                    "seconds_to_best": r.history[r.best_epoch - 1]["s"],
                }
            )
            print(f"  anchor {name} seed {seed}: {r.best_val_acc:.3f} in {r.seconds:.0f} s", flush=True)
    # keep the other recipe's rows: each recipe is its own (long) command
    old = json.loads((OUT / "anchor.json").read_text()).get("rows", []) if (OUT / "anchor.json").exists() else []
    mine = {(r["dataset"], r["seed"], r["recipe"].split(":")[0]) for r in rows}
    kept = [r for r in old if (r["dataset"], r["seed"], r.get("recipe", "patience").split(":")[0]) not in mine]
    commands = "python -m bench anchor --runs N; python -m bench anchor-annealed --runs N"
    save("anchor", {"command": commands, "rows": kept + rows})


def run_anchor_annealed(runs: int = 1) -> None:
    run_anchor(runs, tuple(DATASETS), recipe="annealed")
