"""Widgets and state accessors shared by the pages (the only UI module outside pages/)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import streamlit as st

from core.session.workspace import REGISTRY, Workspace
from core.settings import load_settings
from pages.ui import nav
from pages.ui.session_reaper import install as install_reaper

DEMO_DIR = Path(__file__).resolve().parents[2] / "assets" / "demo"


def workspace() -> Workspace:
    """This browser's workspace; its id lives in the URL so a refresh finds it again."""
    ws_id = st.session_state.get("ws_id") or st.query_params.get("ws")
    ws = REGISTRY.get(ws_id)
    st.session_state["ws_id"] = ws.id
    install_reaper()  # from the first workspace on, the sessions Streamlit forgets are shut down and freed
    if st.query_params.get("ws") != ws.id:
        st.query_params["ws"] = ws.id
    keep_widgets(ws)  # what the user set in the last run, before this run may stop drawing it
    ws.collect()
    return ws


def settings():
    return load_settings()


def kept(ws: Workspace, key: str, default: Any = None, options: Sequence[Any] | None = None) -> str:
    """A widget key whose value survives leaving the page or refreshing it (kept in ``ws.widgets``).

    Streamlit drops the state of widgets that a run did not draw. Call this as the widget's
    ``key=``: the last value is put back before the widget is drawn, and saved after every run
    by :func:`keep_widgets`. With ``options``, a kept value that is no longer an option is dropped.
    """
    values = ws.widgets.values
    if key not in st.session_state:
        v = values.get(key, default)
        if v is not None and (options is None or v in options):
            st.session_state[key] = v
    elif options is not None and st.session_state[key] not in options:
        st.session_state[key] = default if default in options else options[0]
    st.session_state.setdefault("_kept_keys", set()).add(key)
    return key


def keep_widgets(ws: Workspace) -> None:
    """Save the values of the kept widgets the last run drew (``workspace()`` calls it first thing)."""
    for key in st.session_state.get("_kept_keys", ()):
        if key in st.session_state:
            ws.widgets.values[key] = st.session_state[key]


def set_kept(ws: Workspace, key: str, value: Any) -> None:
    """Change a kept widget from code (call before the widget is drawn)."""
    st.session_state[key] = value
    ws.widgets.values[key] = value


# Process-wide: a visitor's session folder is deleted when the session expires, so without a time
# limit its thumbnails would stay in the server's memory until 5,000 newer ones pushed them out.
@st.cache_data(max_entries=5000, ttl=load_settings().session_idle_s, show_spinner=False)
def _thumb_bytes(path: str, mtime: float, size: int) -> bytes | None:
    import io

    from core.data.images import ImageError, thumbnail

    try:
        img = thumbnail(path, size)
    except ImageError:
        return None
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def thumb(path: Path, size: int = 160) -> bytes | None:
    try:
        mtime = Path(path).stat().st_mtime
    except OSError:
        return None
    return _thumb_bytes(str(path), mtime, size)


CAPTION_CHARS = 40  # about two lines under a thumbnail


def _shorter_name(name: str, width: int) -> str:
    """A file name cut in the middle to ``width`` characters, its extension kept."""
    if len(name) <= width:
        return name
    stem, ext = (name[: -len(Path(name).suffix)], Path(name).suffix) if 0 < len(Path(name).suffix) <= 6 else (name, "")
    room = max(2, width - len(ext) - 1)
    return stem[: (room + 1) // 2] + "…" + stem[len(stem) - room // 2 :] + ext


def photo_name(path: Path | str, root: Path | None = None, width: int = CAPTION_CHARS) -> str:
    """A photo's name as captions show it: its path under the gallery's or data's root (``cats/IMG_0054.jpg``).

    A bare file name is ambiguous: two folders may each hold an IMG_0054. A photo outside ``root``
    (or with none given) keeps its parent folder. A path longer than ``width`` keeps the file name,
    the first folder and the folders nearest the file that fit, with "…" for those left out.
    """
    p = Path(path)
    parts: list[str] = []
    if root is not None:
        try:
            parts = list(p.relative_to(root).parts)
        except ValueError:
            parts = []
    if not parts:
        parts = [p.parent.name, p.name] if p.parent.name else [p.name]
    text = "/".join(parts)
    if len(text) <= width:
        return text
    *folders, name = parts
    name = _shorter_name(name, width)
    for head in (folders[:1], []):
        for k in range(len(folders) - len(head), 0, -1):  # the folders nearest the file, as many as fit
            tail = folders[len(folders) - k :]
            left_out = len(folders) > len(head) + k
            short = "/".join([*head, *(["…"] if left_out else []), *tail, name])
            if len(short) <= width:
                return short
    lead = "…/" if len(folders) > 1 else ""
    room = width - len(lead) - len(name) - 1
    if folders and room >= 6:  # no folder fits whole: the nearest one, cut in the middle
        return f"{lead}{_shorter_name(folders[-1], room)}/{name}"
    return name


def image_grid(
    paths: Sequence[Path],
    captions: Sequence[str] | None = None,
    cols: int = 6,
    size: int = 160,
    root: Path | None = None,
) -> None:
    """Thumbnails in a grid, captioned by :func:`photo_name` under ``root`` unless captions are given.

    Unreadable files show their name instead of failing.
    """
    if not paths:
        st.caption("No images.")
        return
    columns = st.columns(cols)
    for k, p in enumerate(paths):
        with columns[k % cols]:
            data = thumb(p, size)
            cap = captions[k] if captions else photo_name(p, root)
            if data is None:
                st.warning(f"unreadable: {photo_name(p, root)}")
            else:
                st.image(data, caption=cap, width="stretch")


def job_progress(
    job, was_running: bool, *, failed: str, stopped: str, label: str = "", stop_button: str | None = None
) -> None:
    """A background job's progress bar, then its outcome; redraws the page once when it ends.

    Call it inside an ``st.fragment(run_every=...)`` that polls only while the job runs.
    """
    if job is None:
        return
    from core.session.progress import eta_words

    snap = job.snapshot()
    if snap.queued:  # waiting in line for the server's memory or a CPU slot
        st.progress(0.0, text=f"{label or 'Queued'} · {snap.waiting_words()}")
        if stop_button and st.button(stop_button):
            job.stop()
    elif snap.active:
        view = snap.progress
        text = " · ".join(t for t in (label or view.message, view.detail, eta_words(view.eta_seconds)) if t)
        st.progress(min(1.0, view.fraction), text=text)
        if stop_button and st.button(stop_button):
            job.stop()
    elif snap.state == "failed":
        st.error(f"{failed}: {snap.error}")
    elif snap.state == "stopped":
        st.warning(stopped)
    if was_running and not snap.active:
        st.rerun(scope="app")  # job ended: draw the results once, stop polling


@contextmanager
def heavy(ws: Workspace, kind: str, images: int = 0, what: str = "This") -> Iterator[None]:
    """Run a block of heavy work in the page's own run once the server's scheduler admits it.

    For work a page does while the user waits (a page of Grad-CAM heatmaps, odd-image search):
    it waits in the same line as every session's jobs, and says its place while it waits.
    """
    import time

    from core.session.scheduler import estimate_mb, scheduler

    sched = scheduler()
    ticket = sched.submit(kind, estimate_mb(kind, images), ws.id)
    try:
        if ticket.state == "queued":
            box = st.empty()
            while ticket.state == "queued":
                place = sched.place(ticket)
                where = place.words() if place is not None else "starting"
                # drawing each half second also lets Streamlit stop this run if the user leaves
                box.info(f"{what} waits for other work on this server to finish: {where}", icon=":material/hourglass:")
                time.sleep(0.5)
            box.empty()
        from core.models.runtime import acting_for

        with acting_for(ws.id):
            yield
    finally:
        sched.release(ticket)  # also takes it out of line when the run was stopped while waiting


def hosted_limits(limits, page: str) -> None:
    """On the hosted demo, say the limits this page applies (nothing when running locally)."""
    if not limits.hosted:
        return
    said = {
        "data": f"up to {limits.max_images:,} images and {limits.max_upload_mb:,} MB per upload; "
        "local folders are switched off",
        "train": f"at most {limits.max_epochs} epochs"
        + ("" if limits.allow_full_finetune else "; Best (the whole network) is switched off"),
        "sort": f"up to {limits.max_images:,} images and {limits.max_upload_mb:,} MB per upload; "
        "the sorted gallery is downloaded as a .zip",
    }[page]
    st.caption(
        f":material/dns: This is the hosted demo, shared by its visitors: {said}. "
        "Heavy work runs a few jobs at a time (yours may wait its turn). Run it locally to lift these limits."
    )


def stale_model_warning(ws: Workspace, consequence: str) -> None:
    """Say (once per page) why the model in use may not fit the current data."""
    why = ws.model_staleness
    if why == "other data":
        st.warning(
            "This model was trained on other data than the dataset loaded now. " + consequence, icon=":material/update:"
        )
    elif why == "changed data":
        st.warning(
            "The data changed since this model was trained (review decisions, exclusions or relabels). " + consequence,
            icon=":material/update:",
        )


def need_dataset(ws: Workspace) -> bool:
    if ws.data.dataset is None:
        st.info("No data yet. Bring photos on the **Data** page, or try the demo dataset.")
        nav.link("data", "Go to Data", ":material/folder_open:")
        return False
    return True


def need_model(ws: Workspace) -> bool:
    if ws.model.bundle is None:
        st.info("No trained model yet. Train one on the **Train** page (or load a model file on **Sort**).")
        nav.link("train", "Go to Train", ":material/model_training:")
        return False
    return True


def load_demo(ws: Workspace) -> None:
    from core.data.dataset import load_dataset

    ws.data.set_dataset(load_dataset(DEMO_DIR), "demo dataset (gallery_mix, 4 classes)")
