"""The runs of this session side by side, and which one's model is in use (the best, unless you pick)."""

from __future__ import annotations

import streamlit as st

from core.session.workspace import Workspace
from core.training.ladder import LABELS
from core.words import agreement_words, plural
from pages.ui import nav


def _settings(r) -> str:
    cfg = r.result.config
    layers = ", ".join(f"{p.unfreeze} x{p.epochs}" for p in cfg.phases)
    aug = "no augmentation" if not cfg.augment_steps else f"{cfg.augment} x{cfg.views} views"
    return f"{layers}; {aug}"


def runs_table(ws: Workspace, running: bool) -> None:
    runs = ws.train.runs
    if not runs:
        return
    st.subheader("Runs")
    in_use = ws.model.run
    current = ws.data.version
    column = agreement_words(ws.data.from_groups)[0].lower()  # "validation accuracy" only for the person's labels
    rows = []
    for r in reversed(runs):
        m = r.result.metrics
        rows.append(
            {
                "run": str(r.number),
                "in use": "●" if r is in_use else "",
                "quality": LABELS.get(m.rung, "Custom") if m.rung else "Custom",
                "backbone": m.backbone,
                "settings": _settings(r),
                column: "n/a" if m.val_accuracy is None else f"{m.val_accuracy:.1%}",
                "test accuracy": "" if m.test_accuracy is None else f"{m.test_accuracy:.1%}",
                "time": f"{m.train_seconds:.0f} s",
                "ended": "stopped early" if r.state == "stopped" else "finished",
                "data": "current" if r.data_version == current else "earlier data",
            }
        )
    if not any(row["test accuracy"] for row in rows):
        for row in rows:
            del row["test accuracy"]
    st.table(rows)  # a short table, as text: readable everywhere (and by the browser tests)


def model_in_use(ws: Workspace, running: bool) -> None:
    """Which run's model Review, Sort and the export use, why, and the choice to use another."""
    runs = ws.train.runs
    if not runs or ws.model.bundle is None:
        return
    run = ws.model.run
    if run is None:
        st.info(f"In use on Review and Sort: {ws.model.source} (loaded on the Sort page).")
    else:
        m = run.result.metrics
        why = (
            "you chose it"
            if ws.model.chosen_by_user
            else ("it validates best of this session's runs on the current data" if len(runs) > 1 else "the only run")
        )
        st.success(f"In use on Review and Sort: **{ws.model.source}** ({why}).")
        if m.text:
            st.caption(f":material/text_fields: This model {m.text.replace('pixels only', 'reads pixels only')}.")
        if m.val_accuracy is not None:
            name, why = agreement_words(ws.data.from_groups)
            st.metric(
                name,
                f"{m.val_accuracy:.1%}",
                help=f"{why}; best epoch {m.best_epoch} of {m.epochs}, {m.train_seconds:.0f}s",
            )
    if len(runs) > 1:
        numbers = [r.number for r in reversed(runs)]
        labels = {
            r.number: f"run {r.number} · {LABELS.get(r.result.metrics.rung, 'Custom')} · "
            + ("n/a" if r.accuracy is None else f"{r.accuracy:.1%}")
            + (" (stopped early)" if r.state == "stopped" else "")
            for r in runs
        }
        c1, c2 = st.columns([3, 1])
        pick = c1.selectbox(
            "Use the model of",
            numbers,
            index=numbers.index(run.number) if run else 0,
            format_func=labels.get,
            key="use-run",
            disabled=running,
        )
        if c2.button("Use it", disabled=running or (run is not None and pick == run.number)):
            ws.choose_run(pick)
            st.rerun()
        if ws.model.chosen_by_user and st.button("Back to the best run", key="use-best"):
            ws.model.chosen_by_user = False
            ws.collect()
            st.rerun()
        st.caption(
            f"{plural(len(runs), 'run')} this session; a stopped run never replaces a better one "
            "unless you pick it here."
        )
    nav.link("review", "Next: Review the mistakes", ":material/arrow_forward:")
