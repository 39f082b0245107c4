"""What to do with a sorted gallery: download a .zip, copy into a folder, or move in place (with undo)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.events import Advance, Plan, Status, Step
from core.inference.gallery import GalleryError, check_destination, place
from core.inference.placement import FilingRule, latest_journal, plan, undo, zip_bytes
from core.session.jobs import user_message
from core.session.workspace import Workspace
from core.settings import Settings
from core.words import plural
from pages.ui.common import job_progress, kept, photo_name

ZIP_MAX_MB = 500  # a download is built in memory: above this, copy or move into a folder instead


def _size_mb(paths) -> float:
    total = 0
    for p in paths:
        try:
            total += p.stat().st_size
        except OSError:
            pass
    return total / 1024**2


def _zip(ws: Workspace, rule: FilingRule, limits: Settings) -> None:
    """The zip of what is on screen; held back while a job is about to change it.

    While a job runs, its progress fragment reruns every second, and each run lets Streamlit prune a
    generated download the browser has not fetched yet: the download would be cancelled.
    """
    gs = ws.sort.scan
    pl = plan(ws.sort.preds, None, rule, gs.companions if gs else {}, gs.kept if gs else [], root=ws.sort.root)
    mb = _size_mb(p.source for p in pl.placements)
    if mb > ZIP_MAX_MB:
        where = "copy or move it into a folder below" if limits.allow_local_paths else "sort a smaller part at a time"
        st.info(f"The sorted gallery is {mb:,.0f} MB, too large to download from the browser: {where}.")
        return
    st.download_button(
        "Download sorted .zip",
        data=lambda: zip_bytes(pl),
        file_name="sorted-gallery.zip",
        on_click="ignore",  # a rerun while the browser fetches the zip would cancel the download
        mime="application/zip",
        disabled=ws.sort.busy,
        help="ready when the re-sort, copy or move under way has finished" if ws.sort.busy else None,
        type="primary",
        icon=":material/download:",
    )


def _start_placing(ws: Workspace, rule: FilingRule, out: Path, move: bool) -> None:
    preds, gs = list(ws.sort.preds), ws.sort.scan

    def work(on_event, should_stop):
        on_event(Status("Moving the files (a journal is written first)" if move else "Copying the files"))
        on_event(Plan((Step("files", len(preds)),)))
        outcome = place(preds, gs, out, rule, move=move)
        on_event(Advance("files", len(preds)))
        return outcome

    ws.sort.place_slot.start(ws.job("place", work, len(preds)))


def take_outcome(ws: Workspace) -> None:
    """A finished copy or move: say how it went (once), before the page draws what is left to sort."""
    done = ws.sort.place_slot.take()
    if done is not None:
        _say_outcome(ws, done)


def _say_outcome(ws: Workspace, outcome) -> None:
    counts = ", ".join(f"{k} {v}" for k, v in sorted(outcome.counts.items()))
    photos = sum(1 for p in outcome.plan.placements if p.kind == "photo")
    together = sum(1 for p in outcome.plan.placements if p.kind == "companion")
    extra = f" (+{plural(together, 'companion file')} with their photos)" if together else ""
    if outcome.moved is None:
        ws.sort.say("success", f"Copied {plural(photos, 'image')} into {outcome.plan.out_dir}{extra}: {counts}.")
        return
    ws.sort.last_journal = outcome.moved.journal
    ws.sort.preds = []  # the photos now sit in their folders: the old paths no longer point at them
    bad = outcome.moved.problems
    text = f"Moved {plural(photos, 'image')} into {outcome.plan.out_dir}{extra}: {counts}."
    if bad:
        text += f" {plural(len(bad), 'file')} could not be moved and stayed where it was: " + "; ".join(
            f"{photo_name(p, ws.sort.root)} ({why})" for p, why in bad[:5]
        )
    ws.sort.say("warning" if bad else "success", text)


def _undo(ws: Workspace) -> None:
    journal = ws.sort.last_journal or (latest_journal(ws.sort.destination) if ws.sort.destination else None)
    if journal is None or not journal.exists():
        ws.sort.say("info", "Nothing to undo.")
        return
    try:
        r = undo(journal)
    except ValueError as exc:
        ws.sort.say("error", str(exc))
        return
    ws.sort.last_journal = None
    if r.complete:
        ws.sort.say("success", f"Put back {plural(r.restored, 'file')}: the folder is as it was before the sort.")
    else:
        ws.sort.say(
            "warning",
            f"Put back {plural(r.restored, 'file')}; " + "; ".join(f"{n}: {why}" for n, why in r.problems[:10]),
        )


def _preview(ws: Workspace, rule: FilingRule, out: Path, move: bool) -> None:
    gs = ws.sort.scan
    try:
        check_destination(ws.sort.root, out, move)
    except GalleryError as exc:
        st.error(str(exc))
        return
    dry = place(ws.sort.preds, gs, out, rule, move=move, dry_run=True)
    counts = dry.counts
    st.write("**Dry run** (nothing changed yet): " + " · ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
    sample = [p for items in dry.plan.sample().values() for p in items]
    st.dataframe(
        [{"file": photo_name(p.source, ws.sort.root, 120), "goes to": str(p.target.relative_to(out))} for p in sample],
        hide_index=True,
        width="stretch",
    )


def undo_box(ws: Workspace) -> None:
    """After a move, the way back (shown even when there is nothing left to sort)."""
    out = ws.sort.destination
    can_undo = ws.sort.last_journal is not None or (out is not None and latest_journal(out) is not None)
    if not (ws.sort.local and can_undo and not ws.sort.place_slot.running):
        return
    if st.button(
        "Undo last sort",
        key="sort-undo-alone",
        icon=":material/undo:",
        help="put every moved file back where it was (checked by size and hash)",
    ):
        _undo(ws)
        st.rerun()


def said_box(ws: Workspace) -> None:
    said = ws.sort.take_said()
    if said:
        getattr(st, said[0])(said[1])


def output_section(ws: Workspace, rule: FilingRule, limits: Settings) -> None:
    st.subheader("Save the sorted gallery")
    said = ws.sort.take_said()
    if said:
        getattr(st, said[0])(said[1])
    slot = ws.sort.place_slot
    busy = slot.running

    @st.fragment(run_every=1.0 if busy else None)
    def placing() -> None:
        job_progress(slot.job, busy, failed="Could not place the files", stopped="Stopped.")

    placing()
    _zip(ws, rule, limits)
    if not limits.allow_local_paths:
        return
    if ws.sort.local:
        _local_output(ws, rule, busy)
        return
    with st.expander("Copy the sorted images into a folder on this machine"):
        dest = st.text_input(
            "Destination folder (created if missing; nothing is moved or overwritten)", key=kept(ws, "copy_dest")
        )
        if st.button("Copy", key="copy_btn", disabled=busy) and dest:
            try:
                check_destination(ws.sort.root, Path(dest).expanduser(), False)
                _start_placing(ws, rule, Path(dest).expanduser(), move=False)
                st.rerun()
            except GalleryError as exc:
                st.error(str(exc))


def _local_output(ws: Workspace, rule: FilingRule, busy: bool) -> None:
    from pages.ui.gallery_source import destination_choice

    destination_choice(ws)
    out = ws.sort.destination
    if out is None:
        st.caption("Type a destination folder.")
        return
    move = out.resolve() == ws.sort.root.resolve() or st.toggle(
        "Move the photos (instead of copying them)",
        key=kept(ws, "sort-move"),
        help="a journal is written before anything moves; Undo last sort puts every file back",
    )
    c1, c2, c3 = st.columns(3)
    if c1.button("Preview (dry run)", key="sort-preview", icon=":material/visibility:"):
        _preview(ws, rule, out, move)
    label = f"Move {plural(len(ws.sort.preds), 'photo')}" if move else f"Copy {plural(len(ws.sort.preds), 'photo')}"
    if c2.button(
        label,
        key="sort-place",
        type="primary",
        disabled=busy,
        icon=":material/drive_file_move:" if move else ":material/content_copy:",
    ):
        try:
            check_destination(ws.sort.root, out, move)
            _start_placing(ws, rule, out, move)
            st.rerun()
        except (GalleryError, OSError) as exc:
            st.error(user_message(exc))
    can_undo = ws.sort.last_journal is not None or latest_journal(out) is not None
    if c3.button("Undo last sort", key="sort-undo", disabled=busy or not can_undo, icon=":material/undo:"):
        _undo(ws)
        st.rerun()
