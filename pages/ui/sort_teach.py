"""The Sort page's teaching loop: a target the user understands, the photos worth checking, re-sorting.

All state lives in ``ws.sort`` (the kept features in ``teacher``, the user's word in
``corrections``), so a page switch or a refresh keeps the loop where it was.
"""

from __future__ import annotations

from pathlib import Path

import plotly.graph_objects as go
import streamlit as st

from core.data import decisions as rv
from core.inference.audit import filing_evidence
from core.inference.certify import Certificate, coverage_curve
from core.inference.placement import FilingRule
from core.inference.teach import next_to_check
from core.session.workspace import Workspace
from core.words import plural
from pages.ui.common import job_progress, kept, photo_name, thumb

TARGETS = [0.8, 0.85, 0.9, 0.95, 0.97, 0.98, 0.99, 0.995]
DEFAULT_TARGET = 0.98  # the README's, the CLI's example
BATCH = 12


def _curve(ws: Workspace) -> list[tuple[FilingRule, Certificate]]:
    """The certified rule at every target, made again only when the predictions or the answers change."""
    said = ws.sort.placed_by_person()  # the person's word files a photo, whatever the model says
    key = (id(ws.sort.preds), len(ws.sort.preds), tuple(sorted((str(p), c) for p, c in said.items())))
    if ws.sort.curve_key != key:
        t, bundle = ws.sort.teacher, ws.model.bundle
        held = t.held_out() if t is not None else None
        if held is None and (t is None or not t.labels) and bundle is not None:
            held = bundle.held_out  # a model file's own validation: true while its head is unchanged
        classes = t.classes if t is not None else bundle.classes
        held = filing_evidence(held, _grouped(ws), ws.sort.audit, ws.sort.preds, classes)
        ws.sort.curve = coverage_curve(ws.sort.preds, classes, held, TARGETS, said)
        ws.sort.curve_key = key
    return ws.sort.curve


def _grouped(ws: Workspace) -> bool:
    """The model in use learned Discover's groups: only the person's audit can say what is right."""
    return ws.data.from_groups and ws.model.run is not None


def filing_target(ws: Workspace) -> FilingRule:
    """'Of what is filed, at least X% is right', what that files of this gallery, and what the claim rests on."""
    c1, c2 = st.columns([2, 3])
    target = c1.select_slider(
        "Of the photos filed automatically, at least this share must be right",
        TARGETS,
        value=DEFAULT_TARGET,
        key=kept(ws, "sort-target"),
        format_func=lambda v: f"{v:.1%}".replace(".0%", "%"),
        help="the most likely photos of each class are filed until the share expected right would fall "
        "below it; the rest go to unsure/ for you. The expectation is bounded with the validation photos, "
        "which training never saw (and photos you audit), never with the ones you were asked to check",
    )
    curve = _curve(ws)
    rule, cert = curve[TARGETS.index(target)]
    c1.markdown(
        f"At **{target:.1%}**: **{plural(cert.filed, 'photo')}** filed automatically "
        f"({cert.share:.0%} of the {cert.considered:,} left to the model), "
        f"**{cert.considered - cert.filed:,}** to `unsure/`."
    )
    if _grouped(ws):
        c1.caption(
            "Your classes came from Discover's groups: validation photos agree with the groups, which is not "
            "accuracy, so only an audit (below) can certify what is filed."
        )
    c1.caption(cert.basis())
    t = ws.sort.teacher
    if t is not None and t.learned is not None:
        c1.caption(f"Learning from the gallery: {t.learned.words()}.")
    fig = go.Figure(
        go.Scatter(
            x=[c.share for _, c in curve],
            y=[c.target for _, c in curve],
            mode="lines+markers",
            text=[f"{c.target:.1%}: {c.filed:,} filed" for _, c in curve],
            hovertemplate="%{text} (%{x:.0%})",
        )
    )
    fig.add_trace(go.Scatter(x=[cert.share], y=[target], mode="markers", marker=dict(size=14), showlegend=False))
    fig.update_layout(
        height=220,
        margin=dict(t=10, b=10, l=10, r=10),
        showlegend=False,
        xaxis=dict(title="share of the gallery filed automatically", tickformat=".0%", range=[0, 1]),
        yaxis=dict(title="of what is filed, right", tickformat=".1%"),
    )
    c2.plotly_chart(fig, width="stretch", key="sort-curve")
    return rule


def progress_view(ws: Workspace, rule: FilingRule) -> None:
    """Filed, unsure, checked by you, and what the last checks bought (measured, not forecast)."""
    preds = ws.sort.preds
    folders = [rule.folder(p) for p in preds if p.label is not None]
    checked = sum(1 for p in preds if p.path in rule.overrides)
    unsure = sum(1 for f in folders if f == "unsure")
    t = ws.sort.teacher
    est = t.estimate(preds, rule.overrides, rule) if t is not None else None
    c = st.columns(4)
    c[0].metric("Filed automatically", f"{len(folders) - unsure - checked:,}")
    c[1].metric("Unsure (for you)", f"{unsure:,}")
    c[2].metric("Checked by you", f"{checked:,}")
    if est is not None:
        before = ws.sort.estimates[-2].expected_correct if len(ws.sort.estimates) > 1 else None
        delta = f"{100 * (est.expected_correct - before):+.1f} points since the last re-sort" if before else None
        c[3].metric(
            "Expected in the right folder",
            f"{est.expected_correct:.1%}",
            delta=delta,
            help="from the calibrated probabilities; photos you checked count as right",
        )
    if len(ws.sort.estimates) > 1:
        a, b = ws.sort.estimates[-2], ws.sort.estimates[-1]
        st.caption(
            f"Your last {plural(b.checked - a.checked, 'answer')} and the re-sort took the unsure pile from "
            f"{a.unsure:,} to {b.unsure:,} and filed {b.filed - a.filed:+,} more automatically "
            "(at the target chosen then); the next batch is likely to do about as much."
        )


def _decide(ws: Workspace, path: Path, action: str, label: str | None, to_class: str | None) -> None:
    ws.sort.corrections.decide(path, action, label, to_class, "sort")
    ws.data.extra = ws.sort.confirmed()  # corrections are training data too (the Train page uses them)


def _resort(ws: Workspace) -> None:
    teacher, labels = ws.sort.teacher, ws.sort.labels()

    def work(on_event, should_stop):
        return teacher.resort(labels)

    ws.sort.resort_slot.start(ws.job("resort", work, len(labels)))


def take_resort(ws: Workspace) -> None:
    """A finished re-sort: new predictions, a new batch to check, the estimate recorded at the chosen target."""
    fresh = ws.sort.resort_slot.take()
    if fresh is None:
        return
    ws.sort.preds = fresh + ws.sort.failures
    ws.sort.batch = []
    target = float(ws.widgets.values.get("sort-target", DEFAULT_TARGET))
    rule, _ = _curve(ws)[TARGETS.index(target) if target in TARGETS else TARGETS.index(DEFAULT_TARGET)]
    ws.sort.estimates.append(ws.sort.teacher.estimate(ws.sort.preds, rule.overrides, rule))


def _card(ws: Workspace, p, classes: list[str], k: int) -> None:
    data = thumb(p.path, 200)
    if data is not None:
        st.image(data, caption=photo_name(p.path, ws.sort.root), width="stretch")
    d = ws.sort.corrections.get(p.path)
    sure = p.calibrated if p.calibrated is not None else p.confidence
    st.markdown(f"**{p.label}** · {sure:.0%} likely")
    if d is not None:
        st.caption(f"You: {d.to_class or d.label}")
    b1, b2 = st.columns(2)
    b1.button(
        "Right",
        key=f"ok-{k}-{p.path.name}",
        on_click=_decide,
        args=(ws, p.path, rv.KEEP, p.label, None),
        width="stretch",
        icon=":material/check:",
    )
    with b2.popover("Move to…", width="stretch"):
        for c in classes:
            if c != p.label:
                st.button(
                    c,
                    key=f"mv-{k}-{p.path.name}-{c}",
                    on_click=_decide,
                    args=(ws, p.path, rv.MOVE, p.label, c),
                    width="stretch",
                )


def check_batch(ws: Workspace, classes: list[str]) -> None:
    """'Check these 12': the photos whose answer would teach the model most, and the re-sort button."""
    t = ws.sort.teacher
    if t is None:
        return
    st.subheader("Check a few, teach the rest")
    labels = ws.sort.labels()
    index = {p.path: i for i, p in enumerate(ws.sort.preds)}
    if not ws.sort.batch or all(p in labels for p in ws.sort.batch):
        feats = t.features_for([p.path for p in ws.sort.preds])
        picks = next_to_check(ws.sort.preds, feats, labels, BATCH)
        ws.sort.batch = [ws.sort.preds[i].path for i in picks]
    batch = [ws.sort.preds[index[p]] for p in ws.sort.batch if p in index]
    if not batch:
        st.success("Nothing left that the model is unsure about.")
        return
    st.caption(
        f"Check these {len(batch)}: the model is least sure of them, and they look different from each "
        "other. Say **Right** or move each to its class, then re-sort: every correction teaches the "
        "model about all the photos like it."
    )
    for row in range(0, len(batch), 4):
        cols = st.columns(4)
        for k, p in enumerate(batch[row : row + 4], row):
            with cols[k - row], st.container(border=True):
                _card(ws, p, classes, k)
    n_new = len(labels) - (ws.sort.estimates[-1].checked if ws.sort.estimates else 0)
    running = ws.sort.resort_slot.running
    c1, c2 = st.columns([2, 3])
    if c1.button(
        f"Re-sort with my corrections ({plural(len(labels), 'photo')})",
        type="primary",
        disabled=running or not labels,
        icon=":material/refresh:",
        key="sort-resort",
    ):
        _resort(ws)
        st.rerun()
    if n_new > 0 and not running:
        c2.caption(f"{plural(n_new, 'new answer')} since the last re-sort.")

    @st.fragment(run_every=0.5 if running else None)
    def resorting() -> None:
        job_progress(
            ws.sort.resort_slot.job,
            running,
            failed="Re-sorting failed",
            stopped="Stopped.",
            label="Re-sorting the gallery with your corrections",
        )

    resorting()


def corrections_panel(ws: Workspace) -> None:
    """Every photo the user checked: undo, export as CSV (python -m core train --extra-labels)."""
    dec = ws.sort.corrections
    if not len(dec):
        return
    with st.expander(f"Your corrections ({plural(len(dec), 'photo')})"):
        c1, c2 = st.columns(2)
        c1.button("Undo last", key="corr-undo", on_click=dec.undo, icon=":material/undo:")
        c2.download_button(
            "Download CSV", rv.to_csv(dec), "sort_corrections.csv", "text/csv", icon=":material/download:"
        )
        st.caption(
            "They are training data too: the Train page trains on them with your dataset. "
            "From the command line: `python -m core train DATA --extra-labels sort_corrections.csv`."
        )
        st.dataframe(
            [
                {
                    "photo": photo_name(d.path, ws.sort.root),
                    "model said": d.label or "",
                    "you said": d.to_class or d.label or "",
                }
                for d in list(dec)[::-1]
            ],
            hide_index=True,
            width="stretch",
        )
        ws.data.extra = ws.sort.confirmed()
