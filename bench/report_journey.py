"""BENCHMARKS.md section for the labelling-free journey (bench journey)."""

from __future__ import annotations

from .report_filing import _ok, _pct, _stamp


def section_journey(d: dict) -> str:
    """What the Sort page stated after a Discover journey, against the truth the app never saw."""
    rows = d["rows"]
    lines = [
        "## The labelling-free journey: what the app states against the truth\n",
        _stamp(d),
        *([f"_{d['note']}._\n"] if d.get("note") else []),
        "A simulated person, in one process per row: Discover (automatic k) on half a gallery with its folder "
        "names hidden; each group named after its majority kind (two groups of one kind merged); at most "
        f"{d.get('moves', 20)} moves among the photos each group shows first (a kind with no group starts one); "
        "the default training; a sort of the unseen half at 98%, where validation only agrees with the groups; "
        "audits of 24 photos a round (drawn from every photo given a class, as the page does), answered with "
        "the truth ('None of these' for a kind with no class), until the certificate files 80% at 98%, 5 "
        "rounds, or half the photos given a class (where the page stops offering audits). *Stated*: the certificate's expected share right of what is filed, and its lower bound. "
        "*Right*: measured against the truth, audited photos left out.\n",
        "| gallery | seed | moves | kinds with a class | groups found | grouped right | audit answers "
        "| filed | right of filed | stated | stated bound | gap | peak RSS | s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        gap = abs(r["stated expected"] - r["filed right"]) if r["filed right"] == r["filed right"] else float("nan")
        lines.append(
            f"| {r['gallery']} | {r['seed']} | {r['moves']} of {r['moves allowed']} | {r['kinds with a class']} of "
            f"{r['kinds']} | {r['groups found']} | {_pct(r['grouped right'])} | {r['audit answers']} | "
            f"{_pct(r['filed share'])} | {_pct(r['filed right'])} | {_pct(r['stated expected'])} | "
            f"{_pct(r['stated lower bound'])} | {_pct(gap)} | {r['peak_rss_mb']:,.0f} MB | {r['seconds']:.0f} |"
        )
    lines.append("")
    moved = [r for r in rows if r["moves allowed"] and r["gallery"].startswith("phone")]
    if moved:
        every = all(r["kinds with a class"] == r["kinds"] for r in moved)
        right = all(r["filed right"] >= 0.97 for r in moved)
        share = all(r["filed share"] >= 0.80 for r in moved)
        lines.append(
            f"Against #33 on the phone gallery (with moves): every kind its own class: {_ok(every)}; "
            f"filed >= 97% right: {_ok(right)}; >= 80% filed: {_ok(share)}."
        )
    gaps = [abs(r["stated expected"] - r["filed right"]) for r in rows if r["filed right"] == r["filed right"]]
    if gaps:
        lines.append(f"Stated within 2 points of measured on every row: {_ok(max(gaps) <= 0.02)}.")
    first = [r for r in rows if r["moves allowed"] and "split hints" in r]  # one Discover per gallery and seed
    if first:
        s_ok, s_n = sum(r["split hints right"] for r in first), sum(r["split hints"] for r in first)
        m_ok, m_n = sum(r["merge hints right"] for r in first), sum(r["merge hints"] for r in first)
        lines.append(
            f"Discover's suggestions on the groups it proposed (the first two splits and the first merge the page "
            f"shows; a split is right when its halves are mostly different kinds, a merge when both groups are "
            f"mostly one kind): splits right {s_ok} of {s_n}, merges right {m_ok} of {m_n}; right more often than "
            f"wrong: {_ok(s_ok + m_ok > (s_n + m_n) / 2)}."
        )
    peak = max(r["peak_rss_mb"] for r in rows)
    lean = (
        " with the hosted demo's allocator setting (GS_LEAN_MEMORY=1)" if d.get("env", {}).get("GS_LEAN_MEMORY") else ""
    )
    lines.append(f"Peak RSS of a whole journey{lean}: {peak:,.0f} MB (< 1,500: {_ok(peak < 1500)}).\n")
    return "\n".join(lines)
