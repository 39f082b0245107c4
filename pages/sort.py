import time
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.data.files import list_images, scan
from core.data.intake import IntakeError, save_uploads, skipped_in
from core.events import Advance, Plan, Step
from core.inference.sort import UNSURE, copy_sorted, destination, predict_paths, zip_bytes
from core.session.jobs import Job, user_message
from core.training.model_io import ModelFileError, from_bytes, to_bytes
from pages.ui.common import image_grid, job_progress, settings, stale_model_warning, workspace

ws = workspace()
limits = settings()
st.title("Sort")


def single_image_test(bundle) -> None:
    """Drop one image: its class, the top-5 and (when available) its Grad-CAM."""
    with st.expander("Test a single image", expanded=False):
        one = st.file_uploader(
            "One image", type=["jpg", "jpeg", "png", "webp", "bmp", "gif", "tif", "tiff"], key="single_up"
        )
        if one is None:
            return
        folder = ws.dir / "single"
        try:
            save_uploads([(Path(one.name).name, one.getvalue())], folder)
            path = max((p for p in folder.rglob("*") if p.is_file()), key=lambda p: p.stat().st_mtime)
            pred = next(predict_paths(bundle, [path], top_k=5))
        except (IntakeError, StopIteration) as exc:
            st.error(f"Could not read that image: {exc}")
            return
        if pred.error:
            st.error(pred.error)
            return
        st.markdown(f"This image belongs to **>>> {pred.label} <<<** with confidence **{pred.confidence:.2%}**")
        a, b = st.columns(2)
        a.image(str(path), width="stretch")
        fig = go.Figure(go.Bar(x=[p for _, p in pred.top][::-1], y=[c for c, _ in pred.top][::-1], orientation="h"))
        fig.update_layout(height=260, margin=dict(t=10, b=10, l=10, r=10), xaxis=dict(range=[0, 1], tickformat=".0%"))
        b.plotly_chart(fig, width="stretch", key="single_top5")
        cam_overlay = single_cam(bundle, path)
        if cam_overlay is not None:
            b.image(cam_overlay, caption=f"Grad-CAM for {pred.label}", width="stretch")


def single_cam(bundle, path):
    from core.analysis import explain

    try:
        result = explain.explain_paths(ws.explainer(bundle), [path], cache=ws.cams)[0]
    except Exception as exc:  # a heatmap is a bonus: say why it is missing
        st.caption(f"Grad-CAM unavailable: {user_message(exc)}")
        return None
    if not result.ok:
        st.caption(f"Grad-CAM unavailable: {result.problem}")
        return None
    return result.explanation.overlay


with st.expander("Model file: download this model, or load one to skip training", expanded=ws.model.bundle is None):
    if ws.model.bundle is not None:
        st.download_button(
            "Download model (.pt)",
            data=lambda: to_bytes(ws.model.bundle),
            file_name="gallery-sorter-model.pt",
            mime="application/octet-stream",
            icon=":material/download:",
        )
    up = st.file_uploader("Load a model file (.pt)", type=["pt"], key="model_up")
    if up is not None and ws.model.loaded_file_id != up.file_id:
        try:
            ws.model.use_file(from_bytes(up.getvalue()), up.name, up.file_id)
            st.success("Model file loaded.")
        except ModelFileError as exc:
            st.error(str(exc))

bundle = ws.model.bundle
if bundle is None:
    st.info("No model yet: train one on the **Train** page, or load a model file above.")
    st.stop()
st.caption(f"Model: {bundle.backbone}, classes: {', '.join(bundle.classes)}")
st.caption(f"Model in use: {ws.model.source}.")
stale_model_warning(ws, "Sorting still works; train again on the Train page to sort with the corrected model.")

slot = ws.sort.slot
running = slot.running
single_image_test(bundle)

st.subheader("Sort a gallery")
t1, t2, t3 = st.tabs(["Upload a folder", "Upload images or a .zip", "Local folder"])
with t1:
    f1 = st.file_uploader(
        "Folder of photos to sort",
        accept_multiple_files="directory",
        key="sort_dir",
        max_upload_size=limits.max_upload_mb,
    )
with t2:
    f2 = st.file_uploader(
        "Images or a .zip",
        accept_multiple_files=True,
        key="sort_files",
        max_upload_size=limits.max_upload_mb,
        type=["zip", "jpg", "jpeg", "png", "webp", "bmp", "gif", "tif", "tiff"],
    )
with t3:
    if not limits.allow_local_paths:
        st.info("Local folder paths are switched off on this server (hosted mode).")
    else:
        local = st.text_input("Folder on this machine (read only)", key="sort_local")
        if st.button("Use this folder", key="sort_local_btn") and local:
            if Path(local).expanduser().is_dir():
                root = Path(local).expanduser()
                ws.sort.set_gallery(root, local=True, skipped=skipped_in(scan(root)))
            else:
                st.error(f"{local} is not a folder")
files = list(f1 or []) + list(f2 or [])
sig = tuple((f.file_id, f.name) for f in files)
if files and ws.data.taken_uploads.get("sort") != sig:
    try:
        folder = ws.new_folder("gallery")
        report = save_uploads(((f.name, f.getvalue()) for f in files), folder, max_files=limits.max_images)
        ws.data.taken_uploads["sort"] = sig
        ws.sort.set_gallery(folder, skipped=report.skipped)
    except IntakeError as exc:
        st.error(str(exc))
if ws.sort.skipped:
    with st.expander(f"{len(ws.sort.skipped)} files not sorted"):
        st.markdown("\n".join(f"- `{name}`: {why}" for name, why in ws.sort.skipped[:300]))

paths = list_images(ws.sort.root) if ws.sort.root else []
c1, c2, _ = st.columns([1, 1, 4])
if c1.button(f"Sort {len(paths)} images", type="primary", disabled=running or not paths, icon=":material/sort:"):
    todo = paths

    def work(on_event, should_stop):
        t0 = time.time()

        def prog(d, t):
            rate = d / max(time.time() - t0, 1e-6)
            on_event(Advance("images", d, f"{d}/{t} images · {rate:.1f} img/s"))

        on_event(Plan((Step("images", len(todo)),)))
        on_event(Advance("images", 0, f"0/{len(todo)} images · preparing the model"))  # the first batch includes set-up
        return list(predict_paths(bundle, todo, progress=prog, should_stop=should_stop))

    slot.start(Job("sort", work))
    st.rerun()
if c2.button("Cancel", disabled=not running, icon=":material/cancel:"):
    slot.stop()


@st.fragment(run_every=1.0 if running else None)
def progress() -> None:
    job_progress(slot.job, running, label="Sorting", failed="Sorting failed", stopped="Sorting cancelled.")


progress()
fresh = slot.take()
if fresh is not None:
    ws.sort.preds = fresh

preds = ws.sort.preds
if not preds:
    st.stop()

threshold = st.slider("Minimum confidence (below it, images go to 'unsure')", 0.0, 1.0, 0.5, 0.05, key="threshold")
groups: dict[str, list] = {}
for p in preds:
    groups.setdefault(destination(p, threshold, ws.sort.overrides), []).append(p)
order = [c for c in bundle.classes if c in groups] + ([UNSURE] if UNSURE in groups else [])
st.write(" · ".join(f"**{g}**: {len(groups[g])}" for g in order))

st.download_button(
    "Download sorted .zip",
    data=lambda: zip_bytes(preds, threshold, ws.sort.root, ws.sort.overrides),
    file_name="sorted-gallery.zip",
    mime="application/zip",
    type="primary",
    icon=":material/download:",
)
if limits.allow_local_paths:
    with st.expander("Copy the sorted images into a folder on this machine"):
        dest = st.text_input(
            "Destination folder (created if missing; nothing is moved or overwritten)", key="copy_dest"
        )
        if st.button("Copy", key="copy_btn") and dest:
            try:
                counts = copy_sorted(preds, Path(dest).expanduser(), threshold, ws.sort.root, ws.sort.overrides)
                st.success(
                    f"Copied {sum(counts.values())} images into {dest}: "
                    + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
                )
            except OSError as exc:
                st.error(f"Could not copy: {exc.strerror or exc}")
view = st.radio("View", ["By class", "Table"], horizontal=True, key="sort_view")
if view == "By class":
    tabs = st.tabs([f"{g} ({len(groups[g])})" for g in order])
    for tab, g in zip(tabs, order):
        with tab:
            members = sorted(groups[g], key=lambda p: -p.confidence)[:60]
            image_grid(
                [p.path for p in members],
                [f"{p.label} {p.confidence:.0%}" if p.label else "unreadable" for p in members],
            )
else:
    df = pd.DataFrame(
        [
            {
                "file": str(Path(p.path).relative_to(ws.sort.root)) if ws.sort.root else p.path.name,
                "class": p.label,
                "confidence": round(100 * p.confidence, 2),
                "folder": destination(p, threshold, ws.sort.overrides),
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

with st.expander("Override a prediction"):
    names = [str(p.path.relative_to(ws.sort.root)) for p in preds if ws.sort.root]
    pick = st.selectbox("Image", names, key="ov_img")
    target = st.selectbox("Put it in", bundle.classes + [UNSURE], key="ov_cls")
    if st.button("Apply override", key="ov_btn") and pick:
        ws.sort.overrides[ws.sort.root / pick] = target
        st.rerun()
    if ws.sort.overrides:
        st.caption("Your overrides (used by the download and the copy):")
        st.dataframe(
            [{"image": str(k.relative_to(ws.sort.root)), "goes to": v} for k, v in ws.sort.overrides.items()],
            hide_index=True,
            width="stretch",
        )
