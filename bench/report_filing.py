"""BENCHMARKS.md sections for filing at a precision asked: bench filing and bench semi."""

from __future__ import annotations


def _stamp(d: dict) -> str:
    return f"_Command: `{d['command']}` · {d['date']} · {d['machine']}_\n"


def _ok(cond: bool) -> str:
    return "met" if cond else "**not met**"


def _pct(x) -> str:
    return "n/a" if x is None or x != x else f"{x:.1%}"


def section_filing(d: dict) -> str:
    """A user's sort of an unseen 40% at 98%: filed and how right, against hindsight and the per-photo rule."""
    lines = [
        "## Filing at 98%: what is filed, and how right it is (unseen 40% of a shared set)\n",
        _stamp(d),
        "60% of each class is the labelled folder (`core train`, the automatic default), the other 40% a "
        "flat gallery sorted with `core sort --precision 0.98` (plain, and with `--learn-from-gallery`). "
        "*Hindsight*: the most a single threshold on the `calibrated` column could file at 98% knowing the "
        "truth. *Per-photo*: the old rule (a photo filed when its own chance reaches 98%).\n",
        "| set | seed | sort | filed | right of filed | certified | hindsight | per-photo filed (right) | accuracy |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in d["rows"]:
        for key in ("plain", "learn"):
            m = r[key]
            lines.append(
                f"| {r['dataset']} | {r['seed']} | {key} | {_pct(m['filed_share'])} | {_pct(m['filed_precision'])} | "
                f"{_pct(m['certified'])} | {_pct(m['hindsight_share'])} | {_pct(m['per_photo_share'])} "
                f"({_pct(m['per_photo_precision'])}) | {_pct(m['accuracy'])} |"
            )
    lines += ["", "| set, sort | median filed | hindsight | gap | lowest precision | target (gap <= 10 pts, >= 97%) |"]
    lines.append("|---|---|---|---|---|---|")
    for name, s in d["summary"].items():
        gap = 100 * (s["hindsight_share"] - s["filed_share"])
        lines.append(
            f"| {name} | {_pct(s['filed_share'])} | {_pct(s['hindsight_share'])} | {gap:.1f} pts | "
            f"{_pct(s['min_precision'])} | {_ok(gap <= 10 and s['min_precision'] >= 0.97)} |"
        )
    return "\n".join(lines) + "\n"


def section_semi(d: dict) -> str:
    """The supervised head against learning from the gallery, at few labels."""
    lines = [
        "## The gallery teaches: supervised head vs learning from the unlabelled photos\n",
        _stamp(d),
        "Share labelled per class; the rest is the gallery (truth read only here). Quick model trained on the "
        "labelled part; *learn*: the head's probabilities smoothed over the gallery's look-alikes, kept only "
        "when validation says they help. Filing: the certified rule at 98%. Checks: suggested batches of 12 "
        "until 95% of the gallery is right.\n",
        "| set, labelled | accuracy head -> learn | gain | used (runs) | filed at 98% head -> learn "
        "(right) | checks to 95% head -> learn | ratio (target <= 0.7) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, s in d["summary"].items():
        ratio = s.get("checks_ratio")
        checks = (
            f"{s['checks_head']} -> {s['checks_learn']}" if "checks_head" in s else "not run (validation too small)"
        )
        lines.append(
            f"| {name} | {_pct(s['head_accuracy'])} -> {_pct(s['learn_accuracy'])} | {s['gain_points']:+.1f} pts | "
            f"{s['learn_used']} | {_pct(s['head_filed_share'])} ({_pct(s['head_filed_precision'])}) -> "
            f"{_pct(s['learn_filed_share'])} ({_pct(s['learn_filed_precision'])}) | {checks} | "
            f"{'n/a' if ratio is None else f'{ratio:.2f} ({_ok(ratio <= 0.7)})'} |"
        )
    t = d.get("resort") or {}
    if t:
        lines += [
            "",
            "One re-sort (24 answers: head retrained, smoothed, certified at 98%), features repeated to size; "
            "the neighbourhood graph is built once by the sort pass:",
            "",
            "| gallery | re-sort | target | graph (once) |",
            "|---|---|---|---|",
        ]
        for n, limit in (("1000", 1.0), ("10000", 5.0)):
            if n in t:
                lines.append(
                    f"| {int(n):,} | {t[n]['resort_s']:.2f} s | < {limit:g} s: {_ok(t[n]['resort_s'] < limit)} | "
                    f"{t[n]['graph_s']:.1f} s |"
                )
    return "\n".join(lines) + "\n"
