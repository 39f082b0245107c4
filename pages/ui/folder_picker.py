"""A local folder: typed, or picked from a simple folder browser (only where local paths are allowed)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.session.workspace import Workspace
from pages.ui.common import kept, set_kept

MAX_LISTED = 300  # sub-folders shown at once; more are reachable by typing the path


def _subfolders(folder: Path) -> list[Path]:
    from core.data.files import subfolders

    try:
        return subfolders(folder)[:MAX_LISTED]
    except OSError:
        return []


def folder_picker(ws: Workspace, key: str, label: str, help: str | None = None) -> Path | None:
    """The folder the user chose (it exists), or None. Never lists hidden folders or follows links."""
    typed = st.text_input(label, key=kept(ws, f"{key}-path"), help=help, placeholder="/home/me/Pictures")
    with st.popover("Browse folders…", icon=":material/folder_open:"):
        start = Path(typed).expanduser() if typed and Path(typed).expanduser().is_dir() else Path.home()
        here = Path(ws.widgets.values.get(f"{key}-browse", str(start)))
        if not here.is_dir():
            here = start
        st.caption(f"`{here}`")
        c1, c2 = st.columns(2)
        if c1.button("Up one level", key=f"{key}-up", disabled=here.parent == here, icon=":material/arrow_upward:"):
            ws.widgets.values[f"{key}-browse"] = str(here.parent)
            st.rerun()
        if c2.button("Use this folder", key=f"{key}-use", type="primary", icon=":material/check:"):
            set_kept(ws, f"{key}-path", str(here))
            st.rerun()
        subs = _subfolders(here)
        if subs:
            pick = st.selectbox(
                "Open a sub-folder",
                [p.name for p in subs],
                key=f"{key}-sub",
                index=None,
                placeholder="choose a sub-folder",
            )
            if pick and st.button("Open", key=f"{key}-open", icon=":material/folder:"):
                ws.widgets.values[f"{key}-browse"] = str(here / pick)
                st.rerun()
        else:
            st.caption("No sub-folders here.")
    if not typed:
        return None
    folder = Path(typed).expanduser()
    if not folder.is_dir():
        st.error(f"{typed} is not a folder on this machine.")
        return None
    return folder
