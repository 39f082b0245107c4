"""The model in use as a file: download it, or load one to skip training."""

from __future__ import annotations

import streamlit as st

from core.session.workspace import Workspace
from core.training.model_io import ModelFileError, from_bytes, to_bytes


def model_file_box(ws: Workspace) -> None:
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
