"""Widgets of the Review page: remembered filters, image cards with Grad-CAM, decision buttons.

Decisions live in ``ws.review.decisions`` (core/review.py), never only in widget
state, so they survive page switches and a browser refresh. Filter choices are
kept in the workspace for the same reason: Streamlit forgets the state of
widgets that were not drawn in the last run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import streamlit as st

from core.data import decisions as rv
from core.session.workspace import Workspace
from core.words import plural  # noqa: F401  (pages call it as ui.plural)
from pages.ui import nav
from pages.ui.common import kept, photo_name, set_kept, thumb

RETRAIN_NOTE = (
    "Training again with your review decisions applied ({n} changed). Images moved or left out of "
    "validation change what accuracy is measured on, so compare the new figure with care."
)


def remembered(
    ws: Workspace, key: str, options: Sequence[Any], default: Any, widget: Callable, label: str, **kw
) -> Any:
    """A select-like widget whose value survives page switches and refreshes (see ``kept``)."""
    if default not in options:
        default = options[0]
    return widget(label, options, key=kept(ws, key, default, options), **kw)


def set_choice(ws: Workspace, key: str, value: Any) -> None:
    """Change a remembered widget from code (call before the widget is drawn)."""
    set_kept(ws, key, value)


def page_slice(ws: Workspace, key: str, n: int, per_page: int, signature: Any) -> slice:
    """A page number control; back to page 1 when the filters (``signature``) change."""
    pages = max(1, -(-n // per_page))
    store = ws.widgets.values
    if store.get(f"{key}-sig") != signature:
        store[f"{key}-sig"] = signature
        st.session_state[key] = 1
    elif key not in st.session_state:
        st.session_state[key] = store.get(key, 1)
    st.session_state[key] = min(max(1, int(st.session_state[key])), pages)
    if pages > 1:
        c1, c2 = st.columns([1, 5])
        page = c1.number_input("Page", 1, pages, key=key)
        c2.caption(f"of {pages} · {per_page} per page · {n} images")
    else:
        page = 1
    store[key] = page
    start = (page - 1) * per_page
    return slice(start, min(n, start + per_page))


def _key(*parts: Any) -> str:
    return hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).hexdigest()


def _decide(ws: Workspace, path: Path, action: str, label: str | None, to_class: str | None, source: str) -> None:
    ws.review.decisions.decide(path, action, label, to_class, source)


def _withdraw(ws: Workspace, path: Path) -> None:
    ws.review.decisions.withdraw(path)


def decision_status(ws: Workspace, path: Path, key: str) -> None:
    d = ws.review.decisions.get(path)
    if d is None:
        return
    state = "applied" if ws.review.decisions.is_applied(path) else "not applied yet"
    c1, c2 = st.columns([3, 1])
    c1.caption(f"**Decision:** {d.describe()} ({state})")
    c2.button("Undo", key=f"wd-{key}", on_click=_withdraw, args=(ws, path), type="tertiary")


def decision_buttons(
    ws: Workspace, path: Path, label: str | None, classes: Sequence[str], suggested: str | None, source: str
) -> None:
    """Move to class / exclude / keep for one image (callbacks: the page reflects it at once)."""
    key = _key(source, path)
    decision_status(ws, path, key)
    with st.popover("Move to class…", icon=":material/drive_file_move:", width="stretch"):
        order = sorted((c for c in classes if c != label), key=lambda c: c != suggested)
        for c in order:
            st.button(
                f"{c} (predicted)" if c == suggested else c,
                key=f"mv-{key}-{c}",
                width="stretch",
                on_click=_decide,
                args=(ws, path, rv.MOVE, label, c, source),
            )
    c2, c3 = st.columns(2)
    c2.button(
        "Exclude",
        key=f"ex-{key}",
        width="stretch",
        help="leave this image out of training",
        on_click=_decide,
        args=(ws, path, rv.EXCLUDE, label, None, source),
    )
    c3.button(
        "Keep",
        key=f"kp-{key}",
        width="stretch",
        help="the label is right; keep it as is",
        on_click=_decide,
        args=(ws, path, rv.KEEP, label, None, source),
    )


def show_image(path: Path, picture=None, note: str | None = None, root: Path | None = None) -> None:
    """The Grad-CAM picture when there is one, else the thumbnail; never an exception."""
    if isinstance(picture, str):
        st.warning(picture)
        return
    if picture is not None:
        st.image(picture, width="stretch")
    else:
        data = thumb(path, 224)
        if data is None:
            st.warning(f"unreadable: {photo_name(path, root)}")
        else:
            st.image(data, width="stretch")
    if note:
        st.caption(note)


def cards(items: Sequence[Any], draw: Callable[[Any], None], cols: int = 4) -> None:
    """Lay items out in rows of ``cols`` bordered cards."""
    for start in range(0, len(items), cols):
        row = st.columns(cols)
        for col, item in zip(row, items[start : start + cols]):
            with col, st.container(border=True):
                draw(item)


def decisions_panel(ws: Workspace, known: set[Path] | None = None) -> None:
    """The one place that lists every decision, with undo, CSV and apply."""
    dec = ws.review.decisions
    root = ws.data.dataset.root if ws.data.dataset is not None else None
    pending = dec.pending()
    if not len(dec) and not pending:
        st.caption("No decisions yet. Use **Move**, **Exclude** or **Keep** under an image.")
        return
    c1, c2, c3, c4 = st.columns([1, 1, 1, 1.3])
    c1.button("Undo last", icon=":material/undo:", disabled=not dec.undo_stack, on_click=dec.undo, width="stretch")
    c2.download_button(
        "Download CSV", rv.to_csv(dec), "review_decisions.csv", "text/csv", icon=":material/download:", width="stretch"
    )
    apply_now = c3.button(
        "Apply", disabled=not pending, width="stretch", help="write the decisions into the dataset used for training"
    )
    retrain = c4.button(
        "Apply and retrain",
        type="primary",
        icon=":material/model_training:",
        width="stretch",
        disabled=ws.data.dataset is None or ws.train.slot.running,
    )
    if apply_now or retrain:
        changed = ws.review.apply(ws.data)
        if retrain:
            from core.training.ladder import LadderRequest

            ws.start_training(ws.train.settings or LadderRequest(), RETRAIN_NOTE.format(n=plural(changed, "image")))
            nav.switch("train")
        st.session_state["review-applied"] = True
        st.rerun()
    if st.session_state.pop("review-applied", None) is not None:
        st.success("Applied. The Train page now trains on the corrected dataset.")
    st.caption(f"{plural(len(dec), 'decision')} · {len(pending)} not applied yet")
    rows = list(dec)[::-1]
    for d in rows[:200]:
        a, b, c = st.columns([4, 4, 1])
        a.write(
            f"`{photo_name(d.path, root)}`" + ("" if known is None or d.path in known else " (not in the current data)")
        )
        b.write(
            f"{d.describe()} · {'applied' if dec.is_applied(d.path) else 'pending'}"
            + (f" · from {d.source}" if d.source else "")
        )
        c.button("Undo", key=f"dl-{_key(d.path)}", on_click=_withdraw, args=(ws, d.path), type="tertiary")
    if len(rows) > 200:
        st.caption(f"… and {len(rows) - 200} more (all of them are in the CSV).")
    withdrawn = [p for p in pending if dec.get(p) is None]
    if withdrawn:
        st.caption(f"{len(withdrawn)} applied decisions were undone; **Apply** puts those images back as they were.")
