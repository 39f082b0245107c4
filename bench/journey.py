"""The labelling-free journey, played by a simulated person: what the app states against the truth.

    python -m bench journey [--runs N]

For each gallery (the generated phone gallery, then gallery_mix, trashnet and hymenoptera with
their folder names hidden) and split seed, half the photos are the person's to group and the other
half is the unseen gallery to sort. The person does what the pages offer, in one process:

1. Discover with the automatic number of groups, on the group half with names hidden;
2. names each group after the kind most of its photos are (two groups of one kind are merged);
3. makes at most MOVES moves among the photos Discover shows first ("Check these first", six a
   group): a photo of a kind that has a group goes there, one of a kind with no group starts a
   new group named after it (the lost kind), and the photos like it follow;
4. trains the default (Automatic) on the named groups;
5. sorts the unseen half at a 98% target as the Sort page does: validation only agrees with the
   groups, so it is no evidence, and only the audit can certify;
6. audits as the page asks, AUDIT photos a round, answering with the truth ("none of these"
   when the kind has no class), until the certificate files at least 80% at the target, or ROUNDS rounds.

Measured against the truth: the kinds that got a class, the share filed, how right it is, and
what the page stated (the certificate's expected share right and its lower bound). The same
journey without moves is the baseline. Each journey runs in its own child process, whose peak
RSS is the journey's.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from .common import ROOT, SHARED, median, save

MOVES = 20
AUDIT = 24
ROUNDS = 5  # 120 answers: past the 100 held-out photos from which each photo's own calibrated chance is trusted
TARGET = 0.98
PHONE = "phone gallery (generated)"
# The peak RSS is held to the hosted budget (1.5 GB), so the journey runs with the hosted demo's
# allocator setting (big buffers mapped, ~15% slower); the rest of hosted mode (Lite0 for Discover,
# limits) is not the journey's.
LEAN_ENV = {"GS_LEAN_MEMORY": "1"}
SETS = {"gallery_mix": "gallery_mix", "hymenoptera": "hymenoptera", "trashnet": "trashnet"}


def _halves(items: list[tuple[Path, str, str]], seed: int) -> tuple[list, list]:
    """Two halves stratified by kind; the photos sharing a source stay on one side."""
    by: dict[tuple[str, str], list] = {}
    for it in items:
        by.setdefault((it[1], it[2]), []).append(it)
    rng = random.Random(seed)
    first, second = [], []
    kinds = sorted({k for k, _ in by})
    for kind in kinds:
        groups = [by[key] for key in sorted(by) if key[0] == kind]
        rng.shuffle(groups)
        half, n = sum(len(g) for g in groups) / 2, 0
        for g in groups:
            (first if n < half else second).extend(g)
            n += len(g) if n < half else 0
    return first, second


def _items(name: str) -> list[tuple[Path, str, str]]:
    """(photo, true kind, source) of a gallery: the source keeps a photo's variants on one side."""
    if name == PHONE:
        from .text_bench import gallery

        root, files = gallery()
        return [(root / rel, info["kind"], (info.get("sources") or [rel])[0]) for rel, info in sorted(files.items())]
    from core.data.files import list_images

    return [(p, p.parent.name, str(p)) for p in list_images(SHARED / SETS[name])]


def _flat(items: list, dest: Path) -> dict[Path, str]:
    """Hard links under neutral names in one folder (the person's photos, kinds hidden): path -> kind."""
    import os

    dest.mkdir(parents=True)
    truth = {}
    for k, (p, kind, _) in enumerate(items):
        link = dest / f"IMG_{k:05d}{p.suffix.lower()}"
        os.link(p, link)
        truth[link] = kind
    return truth


def hints_right(g, truth: dict[Path, str]) -> tuple[int, int, int, int]:
    """(split hints right, offered, merge hints right, offered) for the groups Discover proposed.

    A split is right when its two halves are mostly different kinds; a merge when both groups are
    mostly the same kind. The page shows the first two splits and the first merge."""
    from core.analysis.discover import merge_hints, split_hints

    def major(idx) -> str:
        return Counter(truth[g.paths[i]] for i in idx).most_common(1)[0][0]

    splits = split_hints(g)[:2]
    merges = merge_hints(g)[:1]
    split_ok = sum(major(h.parts[0]) != major(h.parts[1]) for h in splits)
    merge_ok = sum(major(g.group(a).members) == major(g.group(b).members) for a, b, _ in merges)
    return split_ok, len(splits), merge_ok, len(merges)


def name_groups(g, truth: dict[Path, str]):
    """Each group named after its majority kind; a second group of the same kind is merged into the first."""
    from core.analysis.discover import merge, rename

    seen: dict[str, int] = {}
    for gid in list(g.group_ids):
        kinds = Counter(truth[g.paths[i]] for i in g.group(gid).members)
        kind = kinds.most_common(1)[0][0]
        if kind in seen:
            g = merge(g, seen[kind], gid)
        else:
            seen[kind] = gid
    for kind, gid in seen.items():
        g = rename(g, gid, kind)
    return g


def make_moves(g, truth: dict[Path, str], cap: int) -> tuple[object, int]:
    """At most ``cap`` moves among the photos each group shows first; (grouping, moves made)."""
    from core.analysis.discover import move, rename

    moves = 0
    while moves < cap:
        by_name = {g.name_of(gid): gid for gid in g.group_ids}
        pick = None
        for gid in g.group_ids:
            shown = g.group(gid).check_first[:6]
            pick = next((i for i in shown if truth[g.paths[i]] != g.name_of(gid)), None)
            if pick is not None:
                break
        if pick is None:
            break  # every photo shown first is where it belongs
        kind = truth[g.paths[pick]]
        if kind in by_name:
            g = move(g, pick, by_name[kind])
        else:  # the lost kind: a new group from this one photo, the photos like it follow
            g = move(g, pick, None)
            new = max(g.group_ids)
            g = rename(g, new, kind)
        moves += 1
    return g, moves


def journey(name: str, seed: int, moves_cap: int) -> dict:
    """One journey in this process; every figure against the truth, which the app never sees."""
    from core.analysis.discover import discover, placed_labels, to_dataset
    from core.analysis.discover.embedding import discover_backbone
    from core.inference.audit import audit_result, audit_room, audit_sample, filing_evidence
    from core.inference.certify import certified_rule
    from core.inference.teach import build_teacher
    from core.models.features import FeatureCache
    from core.settings import apply_memory_policy, load_settings
    from core.training.ladder import LadderRequest, climb
    from core.training.model_io import ModelBundle

    from .rss import peak_rss_mb

    settings = load_settings()
    apply_memory_policy(settings)  # as the hosted demo, where the 1.5 GB budget applies (LEAN_ENV)
    items = _items(name)
    mine, unseen = _halves(items, seed)
    kinds = sorted({k for _, k, _ in items})
    cache = FeatureCache()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gs-journey-") as tmp:
        truth = _flat(mine, Path(tmp) / "mine")
        gallery = _flat(unseen, Path(tmp) / "gallery")
        g = discover(sorted(truth), backbone=discover_backbone(), cache=cache, seed=seed)
        groups_found = g.k
        hints = hints_right(g, truth)
        g = name_groups(g, truth)
        g, moved = make_moves(g, truth, moves_cap)
        classes_named = sorted(g.names.values())
        grouped_right = sum(truth[g.paths[i]] == g.name_of(int(x)) for i, x in enumerate(g.labels) if x >= 0)
        ds = to_dataset(g, seed=seed)
        ladder = climb(ds, LadderRequest(seed=seed))
        result = ladder.results[ladder.chosen]
        bundle = ModelBundle.from_result(result)
        classes = list(bundle.classes)
        tr = [(i.path, i.label) for i in ds.split_items("train")]
        va = [(i.path, i.label) for i in ds.split_items("val")]
        teacher, _ = build_teacher(bundle, sorted(gallery), cache, tr, va)
        preds = teacher.predictions()
        audit: dict[Path, str] = {}
        rounds = 0
        while True:
            held = filing_evidence(None, True, audit, preds, classes)  # grouped labels: validation is no evidence
            rule, cert = certified_rule(preds, classes, held, TARGET, audit)
            done = cert.is_certified and cert.filed and cert.certified >= TARGET and cert.share >= 0.8
            if rounds == ROUNDS or done:
                break
            room = min(AUDIT, audit_room(preds, audit))  # the page stops offering past half the gallery
            sample = [p for p in audit_sample(preds, rule, room, seed=len(audit)) if p not in audit] if room else []
            if not sample:
                break
            audit.update({p: gallery[p] for p in sample})  # the truth; a kind with no class is "none of these"
            rounds += 1
        filed = [p for p in preds if p.label is not None and p.path not in audit and rule.folder(p) != "unsure"]
        right = sum(p.label == gallery[p.path] for p in filed)
        considered = sum(1 for p in preds if p.label is not None and p.path not in audit)
        said = audit_result(audit, preds)
    confirmed = len(placed_labels(g))
    return {
        "gallery": name,
        "seed": seed,
        "moves allowed": moves_cap,
        "photos grouped": len(truth),
        "photos sorted": len(gallery),
        "kinds": len(kinds),
        "groups found": groups_found,
        "split hints right": hints[0],
        "split hints": hints[1],
        "merge hints right": hints[2],
        "merge hints": hints[3],
        "kinds with a class": sum(k in classes_named for k in kinds),
        "classes": classes_named,
        "moves": moved,
        "confirmed labels": confirmed,
        "grouped right": grouped_right / max(1, len(truth)),
        "rung": result.metrics.rung,
        "val agreement": result.metrics.val_accuracy,
        "audit answers": said.checked,
        "audit right": said.right,
        "filed share": len(filed) / max(1, considered),
        "filed right": right / max(1, len(filed)) if filed else float("nan"),
        "stated expected": cert.expected,
        "stated lower bound": cert.certified,
        "certified": bool(cert.is_certified and cert.filed and cert.certified >= TARGET),
        "basis": cert.basis(),
        "seconds": time.perf_counter() - t0,
        "peak_rss_mb": peak_rss_mb(),
        "lean memory": settings.lean_memory,
    }


def _child(name: str, seed: int, moves_cap: int) -> dict:
    """The journey in a fresh process: its peak RSS is the journey's alone."""
    code = (
        "import json; from bench.journey import journey; "
        f"print('ROW', json.dumps(journey({name!r}, {seed}, {moves_cap})))"
    )
    env = {**os.environ, **LEAN_ENV}
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env=env)
    if p.returncode:
        raise RuntimeError(p.stderr[-3000:])
    return json.loads([x for x in p.stdout.splitlines() if x.startswith("ROW ")][-1][4:])


COLS = (
    "gallery",
    "seed",
    "moves",
    "kinds",
    "groups found",
    "kinds with a class",
    "grouped right",
    "audit answers",
    "filed share",
    "filed right",
    "stated expected",
    "stated lower bound",
    "seconds",
    "peak_rss_mb",
)


def table(rows: list[dict]) -> str:
    def fmt(v) -> str:
        if isinstance(v, float):
            return f"{v:.3f}" if abs(v) < 10 else f"{v:.0f}"
        return str(v)

    lines = ["| " + " | ".join(COLS) + " |", "|" + "|".join("---" for _ in COLS) + "|"]
    return "\n".join(lines + ["| " + " | ".join(fmt(r[c]) for c in COLS) + " |" for r in rows])


def run(runs: int = 1, galleries: tuple[str, ...] = (PHONE, *SETS)) -> None:
    rows = []
    for name in galleries:
        for seed in range(runs):
            for cap in (MOVES, 0) if name == PHONE else (MOVES,):
                r = _child(name, seed, cap)
                print(json.dumps(r), flush=True)
                rows.append(r)
    summary = {
        name: {
            "filed right (median)": median([r["filed right"] for r in rows if r["gallery"] == name]),
            "stated - measured (worst)": max(
                abs(r["stated expected"] - r["filed right"]) for r in rows if r["gallery"] == name
            ),
        }
        for name in galleries
    }
    md = table(rows)
    print(md)
    save(
        "journey",
        {
            "command": "python -m bench journey",
            "env": LEAN_ENV,
            "rows": rows,
            "table": md,
            "summary": summary,
            "target": TARGET,
            "moves": MOVES,
        },
    )
