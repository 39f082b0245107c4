"""Better at any gallery size: the automatic default on trashnet and on a gallery four times its size.

The large gallery is built from trashnet: four augmented copies of every photo (crop, flip,
small rotation, light and contrast), saved as new JPEGs, 4,148 photos in 6 classes. Copies of
one photo stay in one split (train or val, from trashnet's stratified split), so validation
never sees a copy of a training photo. Each run is the user's command in its own process:

- *default*: ``core train DATA --out M`` (Automatic, 240 s budget): Quick, then Better fitted to
  the time Quick leaves;
- *full Better*: ``core train DATA --quality better --budget 1e9``: Better over every photo and
  view, as every Better run was before working sets (the accuracy to keep, and its time).

    python -m bench scale [--runs N]
"""

from __future__ import annotations

import random
import re
import tempfile
import time
from pathlib import Path

from .common import SHARED, median, peak_rss_mb, save

WORK = Path("/tmp/gs-bench-large")
COPIES = 4


def make_large(copies: int = COPIES) -> Path:
    """trashnet x ``copies`` with a grouped split (train/ and val/ folders); made once."""
    from PIL import Image, ImageEnhance

    from core.data.dataset import load_dataset

    root = WORK / f"trashnet_x{copies}"
    done = root / ".complete"
    if done.exists():
        return root
    ds = load_dataset(SHARED / "trashnet", 0.2, 0)
    rng = random.Random(0)
    for split in ("train", "val"):
        for item in ds.split_items(split):
            src = Image.open(item.path).convert("RGB")
            w, h = src.size
            for k in range(copies):
                im = src.rotate(rng.uniform(-8, 8), resample=Image.BILINEAR, fillcolor=(235, 235, 235))
                s = rng.uniform(0.8, 1.0)
                x0, y0 = rng.uniform(0, w * (1 - s)), rng.uniform(0, h * (1 - s))
                im = im.crop((int(x0), int(y0), int(x0 + w * s), int(y0 + h * s))).resize((w, h))
                if rng.random() < 0.5:
                    im = im.transpose(Image.FLIP_LEFT_RIGHT)
                im = ImageEnhance.Brightness(im).enhance(rng.uniform(0.85, 1.15))
                im = ImageEnhance.Contrast(im).enhance(rng.uniform(0.85, 1.15))
                out = root / split / item.label / f"{item.path.stem}_{k}.jpg"
                out.parent.mkdir(parents=True, exist_ok=True)
                im.save(out, quality=90)
    done.touch()
    return root


def run_one(data: Path, seed: int, full_better: bool) -> dict:
    with tempfile.TemporaryDirectory(prefix="gs-scale-") as tmp:
        args = ["-q", "train", str(data), "--out", str(Path(tmp) / "m"), "--seed", str(seed)]
        if full_better:
            args += ["--quality", "better", "--budget", "1e9"]
        peak, wall, out = peak_rss_mb(args)
    rungs = {
        m.group(1): {"val_acc": float(m.group(2)), "seconds": float(m.group(3))}
        for m in re.finditer(r"^rung (\w+) val_accuracy ([\d.]+).*? seconds ([\d.]+)$", out, re.M)
    }
    kept = re.search(r"kept (\w+)", out).group(1).lower()
    forecast = {m.group(1): float(m.group(2)) for m in re.finditer(r"^forecast (\w+) seconds ([\d.]+)$", out, re.M)}
    ws = re.search(r"^working_set (\d+) of (\d+) per view, (\d+) views, (\d+) steps$", out, re.M)
    seconds = float(re.search(r"^ladder_seconds ([\d.]+)", out, re.M).group(1))
    ran = [r for r in forecast if r in rungs]  # compare the forecast of what ran with what ran
    return {
        "run": "full better" if full_better else "default",
        "seed": seed,
        "rungs": rungs,
        "kept": kept,
        "val_acc": rungs[kept]["val_acc"],
        "seconds": seconds,
        "forecast_s": sum(forecast[r] for r in ran),
        "forecast_over_real": sum(forecast[r] for r in ran) / seconds if seconds else None,
        "working_set": None if ws is None else dict(zip(("photos", "of", "views", "steps"), map(int, ws.groups()))),
        "wall_s": wall,
        "peak_rss_mb": peak,
    }


def summary(rows: list[dict]) -> list[dict]:
    out = []
    for ds in dict.fromkeys(r["dataset"] for r in rows):
        for run in ("default", "full better"):
            mine = [r for r in rows if r["dataset"] == ds and r["run"] == run]
            if not mine:
                continue
            out.append(
                {
                    "dataset": ds,
                    "run": run,
                    "runs": len(mine),
                    "val_acc": median([r["val_acc"] for r in mine]),
                    "seconds": median([r["seconds"] for r in mine]),
                    "forecast_over_real": median([r["forecast_over_real"] for r in mine]),
                    "peak_rss_mb": max(r["peak_rss_mb"] for r in mine),
                    "kept": sorted({r["kept"] for r in mine}),
                }
            )
    return out


def run(runs: int = 3, full_runs: int | None = None) -> None:
    """``runs`` seeds of the default on each set; full-epoch Better on the large set ``full_runs`` times
    (all seeds when None; 0 keeps the full-Better rows of the last run, which did not change)."""
    sets = {"trashnet": SHARED / "trashnet", f"trashnet x{COPIES}": make_large()}
    rows = []
    for name, data in sets.items():
        for seed in range(runs):
            full_seeds = runs if full_runs is None else full_runs
            for full in (False, True) if name != "trashnet" and seed < full_seeds else (False,):
                t = time.perf_counter()
                r = {"dataset": name, "photos": sum(1 for p in data.rglob("*.jpg")), **run_one(data, seed, full)}
                print(
                    f"  {name} {r['run']} seed {seed}: {r['val_acc']:.3f} ({r['kept']}) in {r['seconds']:.0f} s, "
                    f"forecast {r['forecast_s']:.0f} s, working set {r['working_set']}, peak {r['peak_rss_mb']:.0f} MB "
                    f"({time.perf_counter() - t:.0f} s wall)",
                    flush=True,
                )
                rows.append(r)
    out = {"command": f"python -m bench scale --runs {runs}", "rows": rows}
    if full_runs == 0:  # Better over every photo did not change: its rows from the last run stand
        import json

        from .common import OUT

        last = json.loads((OUT / "scale.json").read_text())
        rows += [r for r in last["rows"] if r["run"] == "full better"]
        out["command"] = "python -c 'import bench.scale_bench as S; S.run(3, full_runs=0)'"
        out["note"] = f"full Better rows from the previous run ({last.get('note', last['date'])})"
    save("scale", {**out, "summary": summary(rows)})


def run_more(datasets: tuple[str, ...] = ("hymenoptera", "gallery_mix"), runs: int = 3) -> None:
    """The default on more shared sets (no full-Better baseline: they are small), merged into scale.json."""
    import json

    from .common import OUT

    d = json.loads((OUT / "scale.json").read_text())
    rows = [r for r in d["rows"] if r["dataset"] not in datasets]
    for name in datasets:
        for seed in range(runs):
            r = {
                "dataset": name,
                "photos": len(list((SHARED / name).rglob("*.*"))),
                **run_one(SHARED / name, seed, False),
            }
            print(f"  {name} default seed {seed}: {r['val_acc']:.3f} ({r['kept']}) in {r['seconds']:.0f} s", flush=True)
            rows.append(r)
    cmd = f"{d['command']}; python -c 'import bench.scale_bench as S; S.run_more({datasets!r}, {runs})'"
    save("scale", {"command": cmd, "rows": rows, "summary": summary(rows), "note": f"first part measured {d['date']}"})
