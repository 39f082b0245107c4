from pathlib import Path

import pandas as pd
import streamlit as st

from core.intake import IntakeError, save_uploads
from core.jobs import Job
from core.model_io import ModelFileError, from_bytes, to_bytes
from core.sort import UNSURE, destination, list_images, predict_paths, zip_bytes
from pages.ui.common import image_grid, settings, workspace

ws = workspace()
limits = settings()
st.title("Sort")

with st.expander("Model file: download this model, or load one to skip training", expanded=ws.bundle is None):
    if ws.bundle is not None:
        st.download_button("Download model (.pt)", data=lambda: to_bytes(ws.bundle), file_name="gallery-sorter-model.pt",
                           mime="application/octet-stream", icon=":material/download:")
    up = st.file_uploader("Load a model file (.pt)", type=["pt"], key="model_up")
    if up is not None and ws.ui.get("model_loaded") != up.file_id:
        try:
            ws.bundle = from_bytes(up.getvalue())
            ws.train_result = None
            ws.ui["model_loaded"] = up.file_id
            st.success(f"Loaded a {ws.bundle.backbone} model for classes: {', '.join(ws.bundle.classes)}")
        except ModelFileError as exc:
            st.error(str(exc))

if ws.bundle is None:
    st.info("No model yet: train one on the **Train** page, or load a model file above.")
    st.stop()
st.caption(f"Model: {ws.bundle.backbone}, classes: {', '.join(ws.bundle.classes)}")

running = ws.sort_job is not None and ws.sort_job.alive
t1, t2 = st.tabs(["Upload a folder", "Upload images or a .zip"])
with t1:
    f1 = st.file_uploader("Folder of photos to sort", accept_multiple_files="directory", key="sort_dir")
with t2:
    f2 = st.file_uploader("Images or a .zip", accept_multiple_files=True, key="sort_files",
                          type=["zip", "jpg", "jpeg", "png", "webp", "bmp", "gif", "tif", "tiff"])
files = list(f1 or []) + list(f2 or [])
sig = tuple((f.file_id, f.name) for f in files)
if files and ws.ui.get("sort_sig") != sig:
    try:
        folder = ws.new_folder("gallery")
        report = save_uploads(((f.name, f.getvalue()) for f in files), folder, max_files=limits.max_images)
        ws.sort_root = folder
        ws.ui["sort_sig"] = sig
        ws.sort_preds = []
        ws.sort_overrides.clear()
        if report.skipped:
            st.caption(f"{len(report.skipped)} non-image files skipped")
    except IntakeError as exc:
        st.error(str(exc))

paths = list_images(ws.sort_root) if ws.sort_root else []
c1, c2, _ = st.columns([1, 1, 4])
if c1.button(f"Sort {len(paths)} images", type="primary", disabled=running or not paths, icon=":material/sort:"):
    bundle, todo = ws.bundle, paths

    def work(on_event, should_stop):
        prog = lambda d, t: on_event({"type": "progress", "done": d, "total": t, "text": f"{d}/{t} images"})  # noqa: E731
        return list(predict_paths(bundle, todo, progress=prog, should_stop=should_stop))

    ws.sort_job = Job("sort", work).start()
    ws.ui["sort_consumed"] = None
    st.rerun()
if c2.button("Cancel", disabled=not running, icon=":material/cancel:"):
    ws.sort_job.stop()


@st.fragment(run_every=1.0 if running else None)
def progress() -> None:
    job = ws.sort_job
    if job is None:
        return
    snap = job.snapshot()
    if snap.active:
        st.progress(snap.progress, text=f"Sorting: {snap.progress_text}")
    elif snap.state == "failed":
        st.error(f"Sorting failed: {snap.error}")
    elif snap.state == "stopped":
        st.warning("Sorting cancelled.")
    if running and not snap.active:
        st.rerun(scope="app")


progress()
job = ws.sort_job
if job is not None and not job.alive and job.result is not None and ws.ui.get("sort_consumed") is not job:
    ws.sort_preds = job.result
    ws.ui["sort_consumed"] = job

preds = ws.sort_preds
if not preds:
    st.stop()

threshold = st.slider("Minimum confidence (below it, images go to 'unsure')", 0.0, 1.0, 0.5, 0.05, key="threshold")
groups: dict[str, list] = {}
for p in preds:
    groups.setdefault(destination(p, threshold, ws.sort_overrides), []).append(p)
order = [c for c in ws.bundle.classes if c in groups] + ([UNSURE] if UNSURE in groups else [])
st.write(" · ".join(f"**{g}**: {len(groups[g])}" for g in order))

st.download_button(
    "Download sorted .zip", data=lambda: zip_bytes(preds, threshold, ws.sort_root, ws.sort_overrides),
    file_name="sorted-gallery.zip", mime="application/zip", type="primary", icon=":material/download:",
)
view = st.radio("View", ["By class", "Table"], horizontal=True, key="sort_view")
if view == "By class":
    tabs = st.tabs([f"{g} ({len(groups[g])})" for g in order])
    for tab, g in zip(tabs, order):
        with tab:
            members = sorted(groups[g], key=lambda p: -p.confidence)[:60]
            image_grid([p.path for p in members],
                       [f"{p.label} {p.confidence:.0%}" if p.label else "unreadable" for p in members])
else:
    df = pd.DataFrame([{
        "file": str(Path(p.path).relative_to(ws.sort_root)) if ws.sort_root else p.path.name,
        "class": p.label, "confidence": round(p.confidence, 4),
        "folder": destination(p, threshold, ws.sort_overrides),
        "top3": ", ".join(f"{c} {s:.0%}" for c, s in p.top),
    } for p in preds])
    st.dataframe(df, hide_index=True, width="stretch")

with st.expander("Override a prediction"):
    names = [str(p.path.relative_to(ws.sort_root)) for p in preds if ws.sort_root]
    pick = st.selectbox("Image", names, key="ov_img")
    target = st.selectbox("Put it in", ws.bundle.classes + [UNSURE], key="ov_cls")
    if st.button("Apply override", key="ov_btn") and pick:
        ws.sort_overrides[ws.sort_root / pick] = target
        st.rerun()
    if ws.sort_overrides:
        st.write({str(k.relative_to(ws.sort_root)): v for k, v in ws.sort_overrides.items()})
