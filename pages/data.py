from pathlib import Path

import plotly.graph_objects as go
import streamlit as st

from core.data.dataset import DatasetError, load_dataset
from core.data.files import scan
from core.data.images import FORMAT_WORDS, UPLOAD_TYPES, first_readable
from core.data.intake import IntakeError, save_uploads, skipped_in
from core.session.jobs import user_message
from core.training.config import TrainConfig
from core.training.train import warm_up
from core.words import plural
from pages.ui import nav
from pages.ui.common import hosted_limits, image_grid, load_demo, settings, workspace
from pages.ui.folder_picker import folder_picker
from pages.ui.health_view import draw_augment_preview, draw_health
from pages.ui.upload_guard import guard_large_folder_uploads

ws = workspace()
cfg = settings()
st.title("Data")
st.caption(
    "One sub-folder per class (the folder names become the labels), or train/ and val/ folders "
    "that each hold class folders. Images at the top level count as unlabelled."
)


def ingest(files, kind: str) -> None:
    """Uploaded files -> a fresh folder in this session's workspace -> a dataset."""
    sig = tuple((f.file_id, f.name) for f in files)
    if not files or ws.data.taken_uploads.get(kind) == sig:
        return
    ws.data.taken_uploads[kind] = sig
    try:
        with st.spinner(f"Reading {len(files)} files…"):
            folder = ws.new_folder("upload")
            report = save_uploads(((f.name, f.getvalue()) for f in files), folder, max_files=cfg.max_images)
            if report.written == 0:
                raise IntakeError(f"no images found in the upload ({FORMAT_WORDS})")
            set_dataset(folder, f"{kind}: {report.written} images", report.skipped)
    except (IntakeError, DatasetError) as exc:
        st.error(str(exc))
    except Exception as exc:  # never a stack trace in the UI
        st.error(f"Could not read the upload: {user_message(exc)}")


def set_dataset(folder: Path, source: str, skipped=()) -> None:
    """Make ``folder`` the dataset, unless none of its images can be read (then the current one stays)."""
    ds = load_dataset(folder)
    if ds.items and first_readable(i.path for i in ds.items) is None:
        n = len(ds.items)
        raise IntakeError(
            f"none of the {plural(n, 'image file')} could be read as an image (damaged, or in a "
            "format we do not decode); your current data is unchanged"
        )
    ws.data.set_dataset(ds, source, skipped)


def take_local(folder: Path) -> None:
    """A local folder used in place: its images are read where they are."""
    listing = scan(folder)
    if not listing.images:
        raise IntakeError(f"no images found in {folder} ({FORMAT_WORDS})")
    if len(listing.images) > cfg.max_images:
        raise IntakeError(f"{len(listing.images):,} images: the limit on this server is {cfg.max_images:,}")
    set_dataset(folder, f"local folder {folder}: {plural(len(listing.images), 'image')}", skipped_in(listing))


hosted_limits(cfg, "data")
tabs = ["Upload a folder", "Upload a .zip or files", "Demo dataset"] + (
    ["Local folder"] if cfg.allow_local_paths else []
)
tab_folder, tab_zip, tab_demo, *tab_local = st.tabs(tabs)
with tab_folder:
    guard_large_folder_uploads()
    files = st.file_uploader(
        "Choose a folder of photos", accept_multiple_files="directory", key="up_dir", max_upload_size=cfg.max_upload_mb
    )
    st.caption(
        "More than a few hundred photos? One .zip uploads much faster"
        + (", and a local folder (last tab) is read where it is." if cfg.allow_local_paths else ".")
    )
    ingest(files or [], "folder upload")
with tab_zip:
    files = st.file_uploader(
        "A .zip of class folders, or several images",
        type=["zip", *UPLOAD_TYPES],
        accept_multiple_files=True,
        key="up_zip",
        max_upload_size=cfg.max_upload_mb,
    )
    ingest(files or [], "zip/files upload")
with tab_demo:
    st.write("194 small licence-clean images in 4 classes: animals, clipart, scenery, screenshots.")
    if st.button("Use the demo dataset", key="demo_btn"):
        load_demo(ws)
if tab_local:
    with tab_local[0]:
        st.caption("The photos are read where they are (nothing is copied or changed); the fast way for large folders.")
        folder = folder_picker(ws, "data-local", "Folder on this machine", help="one sub-folder per class")
        if st.button("Load folder", key="local_btn", disabled=folder is None):
            try:
                with st.spinner("Reading the folder…"):
                    take_local(folder)
            except (IntakeError, DatasetError) as exc:
                st.error(str(exc))
else:
    with tab_folder:
        st.info("Local folder paths are switched off on this server (hosted mode). Upload a folder or a .zip.")

ds = ws.data.dataset
if ds is None:
    st.info("No data yet: upload a folder or a .zip above, or use the demo dataset.")
    st.stop()

warm_up(TrainConfig())  # a head start on the export Train (and Discover) will need; runs once
eff = ws.data.effective()
st.subheader("Your dataset")
st.write(f"**Source:** {ws.data.source}")
n_test = len(eff.split_items("test"))
layout_words = {
    "classes": "class folders (a stratified 80/20 train/val split was made, seed 0)",
    "splits": (
        "train/val/test folders, used as given: the test images are held out, and scored once after training"
        if n_test
        else "train/val folders, used as given"
    ),
    "flat": "no class folders: unlabelled images",
    "empty": "no images",
}
st.write(f"**Layout:** {layout_words.get(ds.layout, ds.layout)}")
if ws.data.excluded:
    st.write(f"**Excluded:** {len(ws.data.excluded)} files (see the health report below)")


def health_section() -> None:
    """Health report and augmentation preview; a failure here is shown, never raised."""
    try:
        draw_health(ws)
    except Exception as exc:  # never a stack trace in the UI
        st.error(f"The health check failed: {user_message(exc)}")
    try:
        draw_augment_preview(ws)
    except Exception as exc:
        st.error(f"The augmentation preview failed: {user_message(exc)}")


if ds.layout in ("flat", "empty") or not eff.classes:
    n = len(eff.unlabelled)
    st.warning(
        f"{n} images without class folders. To train, put them in one sub-folder per class, "
        "or let **Discover** propose groups for you to name. "
        "You can still sort them with a trained or loaded model on the **Sort** page."
    )
    if n >= 3:
        nav.link("discover", "Find groups in these photos (Discover)", ":material/auto_awesome:")
    image_grid([i.path for i in eff.unlabelled[:24]], root=eff.root)
    health_section()
    st.stop()

counts = eff.counts()
splits = [s for s in ("train", "val", "test") if any(s in v for v in counts.values())]
fig = go.Figure([go.Bar(name=s, x=list(counts), y=[counts[c].get(s, 0) for c in counts]) for s in splits])
fig.update_layout(barmode="stack", height=300, margin=dict(t=30, b=10), title="Images per class")
c1, c2 = st.columns([2, 1])
c1.plotly_chart(fig, width="stretch")
c2.dataframe(
    [{"class": c, **{s: v.get(s, 0) for s in splits}} for c, v in counts.items()],
    hide_index=True,
    width="stretch",
)
n_out = len(ds.labelled) - len(eff.labelled)
n_fit = len(eff.split_items("train")) + len(eff.split_items("val"))
c2.metric("Images for training", n_fit, help="training and validation images, minus the ones you excluded")
if n_test:
    c2.metric("Test images", n_test, help="never trained on nor used to pick a model: scored once, after training")
if n_out:
    c2.caption(f"{n_out} excluded (see the health report)")
if len(eff.classes) < 2:
    st.error("Only one class: training needs at least two class folders.")
if eff.unlabelled:
    st.info(f"{len(eff.unlabelled)} images sit outside any class folder; they are not used for training.")

health_section()

st.subheader("Samples")
tabs = st.tabs(eff.classes)
for tab, cls in zip(tabs, eff.classes):
    with tab:
        members = [i.path for i in eff.labelled if i.label == cls]
        image_grid(members[:12], root=eff.root)
nav.link("train", "Next: Train", ":material/arrow_forward:")
