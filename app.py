"""Gallery Sorter: entry point. Builds the navigation; each page is a thin script in pages/."""

import os
import sys
from pathlib import Path

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
# Several threads share 2 cores here (training, Grad-CAM, sorting, page reruns): spinning OpenMP
# workers starve each other; passive waiting keeps a CAM at ~75 ms instead of seconds under load.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

st.set_page_config(page_title="Gallery Sorter", page_icon=":material/photo_library:", layout="wide")

# absolute paths, so deploy/streamlit_app.py can run this same file
pages = [
    st.Page(ROOT / "pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page(ROOT / "pages/data.py", title="Data", icon=":material/folder_open:"),
    st.Page(ROOT / "pages/discover.py", title="Discover", icon=":material/auto_awesome:"),
    st.Page(ROOT / "pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page(ROOT / "pages/review.py", title="Review", icon=":material/fact_check:"),
    st.Page(ROOT / "pages/sort.py", title="Sort", icon=":material/sort:"),
]
st.navigation(pages).run()
