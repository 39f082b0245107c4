import streamlit as st

# The first page anyone sees paints before the engine's modules load (they import numpy,
# PIL, ...): the static text and the demo button go out first, the workspace (if any) after.
st.title("Gallery Sorter")
st.markdown(
    "Drop in a folder of photos whose sub-folder names are the labels; Gallery Sorter fine-tunes a "
    "pretrained image model on them, right here on your CPU, and shows you the training live. "
    "Then it shows what the model got wrong (with Grad-CAM heatmaps) and sorts the rest of your "
    "gallery into one folder per class."
)
c1, c2 = st.columns([1, 3])
demo = c1.button("Try the demo dataset", type="primary", icon=":material/rocket_launch:")
c2.caption("194 small images in 4 classes (animals, clipart, scenery, screenshots); trains in well under a minute.")

st.subheader("How it works")
st.markdown(
    "1. **Data**: upload a folder (one sub-folder per class), a .zip, or use the demo.\n"
    "   No class folders yet? **Discover** proposes groups of similar photos for you to name.\n"
    "2. **Train**: a pretrained EfficientNet-Lite0 learns your classes; watch the curves live.\n"
    "3. **Review**: accuracy, the confusion matrix and the mistakes.\n"
    "4. **Sort**: upload the rest of your gallery and download it sorted into class folders.\n\n"
    "Your photos stay on the machine that runs this app; nothing is sent anywhere."
)
# A first visit has no workspace yet: nothing below needs the engine, so it is not imported at
# all (the import holds the GIL and delayed sending the page by up to 0.7 s).
if demo or st.session_state.get("ws_id") or st.query_params.get("ws"):
    from pages.ui import nav
    from pages.ui.preload import ready

    ready()  # the engine's modules, imported once under one lock (see pages/ui/preload.py)
    from pages.ui.common import load_demo, workspace

    ws = workspace()
    if demo:
        load_demo(ws)
        nav.switch("data")
    if ws.data.dataset is not None:
        st.success(f"Current data: {ws.data.source}")
