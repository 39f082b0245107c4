"""Drop one image: its class, the top-5 and (when available) where the model looked."""

from __future__ import annotations

from pathlib import Path

import plotly.graph_objects as go
import streamlit as st

from core.data.images import UPLOAD_TYPES
from core.data.intake import IntakeError, save_uploads
from core.inference.sort import predict_paths
from core.session.jobs import user_message
from core.session.workspace import Workspace
from pages.ui.common import heavy, thumb


def _cam(ws: Workspace, bundle, path: Path):
    from core.analysis import explain

    try:
        with heavy(ws, "gradcam", 1, "The heatmap"):
            result = explain.explain_paths(ws.explainer(bundle), [path], cache=ws.cams)[0]
    except Exception as exc:  # a heatmap is a bonus: say why it is missing
        st.caption(f"Grad-CAM unavailable: {user_message(exc)}")
        return None
    if not result.ok:
        st.caption(f"Grad-CAM unavailable: {result.problem}")
        return None
    if result.explanation.text is not None:  # the model read the writing too: say where it was
        st.caption(f"It also read the text: {result.explanation.text.summary()}.")
        return explain.side_by_side(
            explain.draw_text_lines(path, result.explanation.text, 288), result.explanation.overlay
        )
    return result.explanation.overlay


def single_image_test(ws: Workspace, bundle) -> None:
    with st.expander("Test a single image", expanded=False):
        one = st.file_uploader("One image", type=UPLOAD_TYPES, key="single_up")
        if one is None:
            return
        folder = ws.dir / "single"
        try:
            save_uploads([(Path(one.name).name, one.getvalue())], folder)
            path = max((p for p in folder.rglob("*") if p.is_file()), key=lambda p: p.stat().st_mtime)
            pred = next(predict_paths(bundle, [path], top_k=5))
        except (IntakeError, StopIteration, ValueError) as exc:
            st.error(f"Could not read that image: {user_message(exc)}")
            return
        if pred.error:
            st.error(pred.error)
            return
        st.markdown(f"This image belongs to **{pred.label}** (confidence {pred.confidence:.1%}).")
        a, b = st.columns(2)
        shown = thumb(path, 480)  # decoded by us: HEIC and AVIF show in every browser
        if shown is not None:
            a.image(shown, width="stretch")
        fig = go.Figure(go.Bar(x=[p for _, p in pred.top][::-1], y=[c for c, _ in pred.top][::-1], orientation="h"))
        fig.update_layout(height=260, margin=dict(t=10, b=10, l=10, r=10), xaxis=dict(range=[0, 1], tickformat=".0%"))
        b.plotly_chart(fig, width="stretch", key="single_top5")
        overlay = _cam(ws, bundle, path)
        if overlay is not None:
            b.image(overlay, caption=f"Grad-CAM for {pred.label}", width="stretch")
