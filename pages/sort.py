import time

import pandas as pd
import streamlit as st

from core.data import decisions as rv
from core.events import Advance, Plan, Step
from core.inference.gallery import scan_gallery
from core.inference.sort import UNSURE, Prediction
from core.inference.teach import build_teacher
from core.words import plural
from pages.ui.common import (
    hosted_limits,
    image_grid,
    job_progress,
    kept,
    photo_name,
    settings,
    stale_model_warning,
    workspace,
)
from pages.ui.gallery_source import gallery_source
from pages.ui.model_file import model_file_box
from pages.ui.single_image import single_image_test
from pages.ui.sort_audit import audit_panel
from pages.ui.sort_output import output_section, said_box, take_outcome, undo_box
from pages.ui.sort_teach import check_batch, corrections_panel, filing_target, progress_view, take_resort

ws = workspace()
limits = settings()
st.title("Sort")
model_file_box(ws)
bundle = ws.model.bundle
if bundle is None:
    st.info("No model yet: train one on the **Train** page, or load a model file above.")
    st.stop()
st.caption(f"Model: {bundle.backbone}, classes: {', '.join(bundle.classes)}")
st.caption(f"Model in use: {ws.model.source}.")
stale_model_warning(ws, "Sorting still works; train again on the Train page to sort with the corrected model.")
single_image_test(ws, bundle)

st.subheader("Sort a gallery")
hosted_limits(limits, "sort")
gallery_source(ws, limits)
slot = ws.sort.slot
running = slot.running
root = ws.sort.root
with_companions = st.toggle(
    "Keep each photo's companions with it",
    value=True,
    key=kept(ws, "sort-companions"),
    help="a Live Photo's video, a RAW file beside its JPEG, .xmp/.aae sidecars: same "
    "folder and name. They go to the photo's class folder; others to not-classified/.",
)
new_only = False
if ws.sort.local and ws.sort.destination is not None:
    new_only = st.toggle(
        "Only photos added since the last sort into the same place",
        key=kept(ws, "sort-new-only"),
        help="the sorted folder remembers what it holds (.gallery-sorter/manifest.csv)",
    )
try:
    gs = scan_gallery(root, ws.sort.destination, new_only, with_companions) if root is not None else None
except ValueError as exc:
    st.error(str(exc))
    gs = None
n = len(gs.photos) if gs else 0
if gs is not None and gs.sorted_before:
    st.caption(f"{plural(gs.sorted_before, 'photo')} sorted before are left as they are.")


def labelled_items(split: str) -> list[tuple]:
    """(photo, class) of the current data in one split, for the classes this model knows."""
    ds = ws.data.effective()
    if ds is None:
        return []
    return [(i.path, i.label) for i in ds.split_items(split) if i.label in bundle.classes]


c1, c2, _ = st.columns([1, 1, 4])
if c1.button(f"Sort {plural(n, 'image')}", type="primary", disabled=running or not n, icon=":material/sort:"):
    todo, ws.sort.scan, cache = list(gs.photos), gs, ws.cache
    train_items, val_items = labelled_items("train"), labelled_items("val")

    def work(on_event, should_stop):
        t0 = time.time()

        def prog(d, t):
            rate = d / max(time.time() - t0, 1e-6)
            on_event(Advance("images", d, f"{d}/{t} images · {rate:.1f} img/s"))

        on_event(Plan((Step("images", len(todo)),)))
        on_event(Advance("images", 0, f"0/{len(todo)} images · preparing the model"))  # the first batch includes set-up
        teacher, failures = build_teacher(bundle, todo, cache, train_items, val_items, prog, should_stop)
        return teacher, [Prediction(p, None, error=e) for p, e in failures]

    slot.start(ws.job("sort", work, len(todo)))
    st.rerun()
if c2.button("Cancel", disabled=not running, icon=":material/cancel:"):
    slot.stop()


@st.fragment(run_every=1.0 if running else None)
def progress() -> None:
    job_progress(slot.job, running, label="Sorting", failed="Sorting failed", stopped="Sorting cancelled.")


progress()
fresh = slot.take()
if fresh is not None:
    ws.sort.teacher, ws.sort.failures = fresh
    ws.sort.preds = ws.sort.teacher.predictions() + ws.sort.failures
    ws.sort.corrections = rv.Decisions()
    ws.sort.audit, ws.sort.audit_batch = {}, []
    ws.sort.batch, ws.sort.estimates = [], []
take_outcome(ws)
take_resort(ws)

preds = ws.sort.preds
if not preds:
    said_box(ws)
    undo_box(ws)
    st.stop()

rule = filing_target(ws)
if not ws.sort.estimates and ws.sort.teacher is not None:
    ws.sort.estimates.append(ws.sort.teacher.estimate(preds, rule.overrides, rule))
progress_view(ws, rule)
groups: dict[str, list] = {}
for p in preds:
    groups.setdefault(rule.folder(p), []).append(p)
order = [c for c in bundle.classes if c in groups] + ([UNSURE] if UNSURE in groups else [])
st.write(" · ".join(f"**{g}**: {len(groups[g])}" for g in order))
check_batch(ws, bundle.classes)
corrections_panel(ws)
audit_panel(ws, rule, bundle.classes)

output_section(ws, rule, limits)
view = st.radio("View", ["By class", "Table"], horizontal=True, key="sort_view")
if view == "By class":
    tabs = st.tabs([f"{g} ({len(groups[g])})" for g in order])
    for tab, g in zip(tabs, order):
        with tab:
            members = sorted(groups[g], key=lambda p: -p.confidence)[:36]  # the browser holds a page, not 10,000
            image_grid(
                [p.path for p in members],
                [
                    (f"{p.label} {p.confidence:.0%}" if p.label else "unreadable") + f" · {photo_name(p.path, root)}"
                    for p in members
                ],
            )
            if len(groups[g]) > 36:
                st.caption(f"The 36 most confident of {len(groups[g])}; the Table view lists all.")
else:
    df = pd.DataFrame(
        [
            {
                "file": photo_name(p.path, root, 240),
                "class": p.label,
                "confidence": round(100 * p.confidence, 2),
                "folder": rule.folder(p),
                "top3": ", ".join(f"{c} {s:.0%}" for c, s in p.top),
            }
            for p in preds
        ]
    )
    st.dataframe(
        df,
        hide_index=True,
        width="stretch",
        column_config={"confidence": st.column_config.NumberColumn("confidence", format="%.2f%%")},
    )

with st.expander("Correct any photo"):
    names = [str(p.path.relative_to(root)) for p in preds if root and p.label is not None]
    pick = st.selectbox("Photo", names, key="ov_img")
    target = st.selectbox("It belongs to", bundle.classes, key="ov_cls")
    if st.button("Apply correction", key="ov_btn") and pick:
        chosen = next(p for p in preds if str(p.path.relative_to(root)) == pick)
        ws.sort.corrections.decide(chosen.path, rv.MOVE, chosen.label, target, "sort")
        ws.data.extra = ws.sort.confirmed()
        st.rerun()
