"""Where the gallery to sort comes from: a folder upload, files or a .zip, or a local folder read in place."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.data.files import KEPT_TYPES
from core.data.images import UPLOAD_TYPES
from core.data.intake import IntakeError, save_uploads
from core.inference.gallery import default_destination
from core.session.workspace import Workspace
from core.settings import Settings
from core.words import plural
from pages.ui.common import kept
from pages.ui.folder_picker import folder_picker
from pages.ui.upload_guard import LARGE_FILES, guard_large_folder_uploads

LOCAL_HINT = (
    f"More than a few hundred photos? A local folder is the fast way: the photos are read where they "
    f"are (nothing is uploaded), and they can be sorted into class folders in place, with undo. "
    f"A browser uploads a folder one file at a time; above about {LARGE_FILES} files it is slow."
)


def _take_uploads(ws: Workspace, files, limits: Settings, words: str) -> None:
    sig = tuple((f.file_id, f.name) for f in files)
    if not files or ws.data.taken_uploads.get("sort") == sig:
        return
    try:
        folder = ws.new_folder("gallery")
        report = save_uploads(
            ((f.name, f.getvalue()) for f in files), folder, max_files=limits.max_images, keep_companions=True
        )
        ws.data.taken_uploads["sort"] = sig
        if report.written == 0:
            st.error("No photos in that upload (JPEG, PNG, HEIC, AVIF, WebP, BMP, GIF or TIFF).")
            return
        ws.sort.set_gallery(folder, f"{words}: {plural(report.written, 'image')}", skipped=report.skipped)
    except IntakeError as exc:
        st.error(str(exc))


def _local(ws: Workspace) -> None:
    st.caption(LOCAL_HINT)
    folder = folder_picker(
        ws, "sort-local", "Folder on this machine", help="read where it is; nothing is copied until you sort"
    )
    if folder is not None and st.button("Use this folder", key="sort_local_btn", type="primary"):
        from core.data.files import scan
        from core.data.intake import skipped_in

        listing = scan(folder)
        ws.sort.set_gallery(
            folder,
            f"local folder {folder}",
            local=True,
            skipped=[s for s in skipped_in(listing, companions_kept=True) if "kept" not in s[1]],
        )
        ws.sort.destination = default_destination(folder)  # a copy into a new folder, unless the user says otherwise


def gallery_source(ws: Workspace, limits: Settings) -> None:
    """The tabs that bring a gallery in; what was taken in is said below them (uploaders forget)."""
    tabs = ["Upload a folder", "Upload images or a .zip"] + (["Local folder"] if limits.allow_local_paths else [])
    t = st.tabs(tabs)
    with t[0]:
        guard_large_folder_uploads()
        files = st.file_uploader(
            "Folder of photos to sort",
            accept_multiple_files="directory",
            key="sort_dir",
            max_upload_size=limits.max_upload_mb,
        )
        st.caption(
            "Large galleries upload faster as one .zip"
            + (", or use the Local folder tab." if limits.allow_local_paths else ".")
        )
        _take_uploads(ws, list(files or []), limits, "folder upload")
    with t[1]:
        files = st.file_uploader(
            "Images or a .zip",
            accept_multiple_files=True,
            key="sort_files",
            max_upload_size=limits.max_upload_mb,
            type=["zip", *UPLOAD_TYPES, *KEPT_TYPES],
        )
        _take_uploads(ws, list(files or []), limits, "uploaded files")
    if limits.allow_local_paths:
        with t[2]:
            _local(ws)
    if ws.sort.root is not None:
        c1, c2 = st.columns([5, 1])
        c1.info(f"Gallery: {ws.sort.source}", icon=":material/photo_library:")
        if c2.button("Clear", key="sort-clear", help="forget this gallery (your files are not touched)"):
            ws.sort.clear()
            st.rerun()
    if ws.sort.skipped:
        with st.expander(f"{plural(len(ws.sort.skipped), 'file')} not sorted"):
            st.markdown("\n".join(f"- `{name}`: {why}" for name, why in ws.sort.skipped[:300]))


def destination_choice(ws: Workspace) -> None:
    """For a local folder: a copy into a new folder beside it (the default), or class folders in place (moves).

    The options' words never change with the gallery: the browser keeps a radio's choice by its
    words, and one whose words changed shows nothing chosen.
    """
    root = ws.sort.root
    here = st.radio(
        "Where the class folders go",
        ["new folder", "in place"],
        horizontal=True,
        key=kept(ws, "sort-dest-kind", "new folder", ["new folder", "in place"]),
        format_func={
            "new folder": "into a new folder (copies; your folder stays as it is)",
            "in place": "inside the gallery folder (moves the photos; undo puts them back)",
        }.get,
    )
    if here == "in place":
        ws.sort.destination = root
        st.caption(f"Class folders go inside `{root}`.")
        return
    default = default_destination(root)
    typed = st.text_input(
        "Destination folder (created if missing)",
        key=kept(ws, "sort-dest-typed"),
        placeholder=str(default),
        help="empty: a new folder beside the gallery",
    )
    ws.sort.destination = Path(typed).expanduser() if typed.strip() else default
    if not typed.strip():
        st.caption(f"Class folders go into `{default}`.")
