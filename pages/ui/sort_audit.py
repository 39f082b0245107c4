"""The Sort page's audit: a random sample of what was filed, confirmed or moved by the person.

Its answers are evidence for the filing certificate (never training for the re-sorts, or they
would stop being held out), they file their photos where the person said, and they are
confirmed labels for the next training on the Train page.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.inference.audit import AUDIT_SHARE, NOT_A_CLASS, SAMPLE, audit_result, audit_room, audit_sample
from core.inference.placement import FilingRule
from core.inference.sort import UNSURE
from core.session.workspace import Workspace
from core.words import plural
from pages.ui.common import photo_name, thumb


def _answer(ws: Workspace, path: Path, truth: str) -> None:
    ws.sort.audit[path] = truth
    ws.data.extra = ws.sort.confirmed()  # confirmed by the person: training data for a new model


def _card(ws: Workspace, p, classes: list[str], k: int, filed: bool) -> None:
    data = thumb(p.path, 200)
    if data is not None:
        st.image(data, caption=photo_name(p.path, ws.sort.root), width="stretch")
    st.markdown(f"Filed as **{p.label}**" if filed else f"The model says **{p.label}** (not filed)")
    said = ws.sort.audit.get(p.path)
    if said is not None:
        st.caption(f"You: {said}")
        return
    b1, b2 = st.columns(2)
    b1.button("Right", key=f"au-ok-{k}", on_click=_answer, args=(ws, p.path, p.label), width="stretch")
    with b2.popover("It is…", width="stretch"):
        for c in classes:
            if c != p.label:
                st.button(c, key=f"au-mv-{k}-{c}", on_click=_answer, args=(ws, p.path, c), width="stretch")
        st.button(
            "None of these",
            key=f"au-none-{k}",
            on_click=_answer,
            args=(ws, p.path, NOT_A_CLASS),
            width="stretch",
            help="a kind the model has no class for: counted as wrong, and the photo goes to unsure/",
        )


def audit_panel(ws: Workspace, rule: FilingRule, classes: list[str]) -> None:
    """'Audit the sort': the sample, its answers, and the bound they give, in the person's own words."""
    preds = ws.sort.preds
    st.subheader("Audit the sort")
    result = audit_result(ws.sort.audit, preds)
    st.caption(
        f"A random sample of the photos the model gave a class, filed or not, spread over the classes and "
        f"over how sure the model was: say whether each is right. Unlike the photos to check above, these "
        f"are drawn at random, so they measure how far the model's confidence can be trusted, which decides "
        f"what is filed{' (the groups you named are not the truth: only you are)' if ws.data.from_groups else ''}."
    )
    room = min(SAMPLE, audit_room(preds, ws.sort.audit))
    if not room:
        st.info(
            f"You have audited {plural(len(ws.sort.audit), 'photo')}, {AUDIT_SHARE:.0%} of those the model gave "
            "a class: past that an audit is sorting the gallery by hand. The photos in unsure/ are yours to check."
        )
    elif st.button(
        f"Audit {plural(room, 'photo')}" if not ws.sort.audit_batch else f"Audit {room} more",
        key="sort-audit",
        icon=":material/fact_check:",
        disabled=bool(ws.sort.audit_batch) and not all(p in ws.sort.audit for p in ws.sort.audit_batch),
    ):
        seed = len(ws.sort.audit)
        ws.sort.audit_batch = [p for p in audit_sample(preds, rule, room, seed) if p not in ws.sort.audit]
    index = {p.path: p for p in preds}
    batch = [index[p] for p in ws.sort.audit_batch if p in index]
    for row in range(0, len(batch), 6):
        cols = st.columns(6)
        for k, p in enumerate(batch[row : row + 6], row):
            with cols[k - row], st.container(border=True):
                _card(ws, p, classes, k, rule.folder(p) != UNSURE)
    if result.checked:
        (st.success if result.lower >= rule.threshold else st.warning)(result.words())
        st.caption(f"{plural(result.checked, 'audit answer')} also count in the certificate above.")
