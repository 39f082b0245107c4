"""The app's pages, named once: both entry points (app.py, deploy/streamlit_app.py) and every link use this.

Streamlit resolves a page given as a relative path ("pages/data.py") against the folder of the
script it was started with; the hosted entry lives in deploy/, so relative paths broke there.
Every path here is absolute, resolved from the app's folder, so links work from either entry.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# name -> (script, title, icon); the first is the default page
PAGES: dict[str, tuple[str, str, str]] = {
    "home": ("pages/home.py", "Home", ":material/home:"),
    "data": ("pages/data.py", "Data", ":material/folder_open:"),
    "discover": ("pages/discover.py", "Discover", ":material/auto_awesome:"),
    "train": ("pages/train.py", "Train", ":material/model_training:"),
    "review": ("pages/review.py", "Review", ":material/fact_check:"),
    "sort": ("pages/sort.py", "Sort", ":material/sort:"),
}


def path(name: str) -> str:
    """The page's script as an absolute path (what st.switch_page / st.page_link accept from any entry)."""
    return str(ROOT / PAGES[name][0])


def page(name: str):
    """The st.Page for ``name`` (a fresh object: Streamlit keeps per-run state on them)."""
    import streamlit as st

    script, title, icon = PAGES[name]
    return st.Page(ROOT / script, title=title, icon=icon, default=name == "home")


def switch(name: str) -> None:
    import streamlit as st

    st.switch_page(page(name))


def link(name: str, label: str, icon: str | None = None) -> None:
    import streamlit as st

    st.page_link(page(name), label=label, icon=icon)


def run_app() -> None:
    """Build the navigation and run the chosen page (the whole of an entry point's work)."""
    os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
    # Several threads share 2 cores here (training, Grad-CAM, sorting, page reruns): spinning OpenMP
    # workers starve each other; passive waiting keeps a CAM at ~75 ms instead of seconds under load.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import streamlit as st

    from core.settings import apply_memory_policy, load_settings

    apply_memory_policy(load_settings())

    st.set_page_config(page_title="Gallery Sorter", page_icon=":material/photo_library:", layout="wide")
    chosen = st.navigation([page(n) for n in PAGES])
    if chosen.url_path != "":  # Home paints before the engine loads; every other page needs it now
        from pages.ui.preload import ready

        ready()  # all lazy imports, once, under one lock: concurrent first visits never see half a module
    chosen.run()
