"""The Data page's health report, size histogram and augmentation preview.

Drawing only: the checks live in ``core.analysis.health``. The report is computed once
per dataset and kept in ``ws.data.health`` (it survives reruns and refreshes); class-level
findings are cheap and follow exclusions live. Exclusions go to ``ws.data.excluded``,
which ``ws.data.effective()`` applies everywhere.
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import plotly.graph_objects as go
import streamlit as st

from core.analysis import health
from core.data.dataset import Dataset, Item
from core.models.backbones import DEFAULT_BACKBONE, get_spec
from core.session.jobs import user_message
from core.session.state import HealthEntry
from core.session.workspace import Workspace
from pages.ui.common import heavy, photo_name, thumb

DEFAULT_PRE = get_spec(DEFAULT_BACKBONE).preprocess

AUTO_CHECK_MAX = 3000  # above this many images the check waits for a click
SHOW_FILES = 12  # thumbnails per finding before "and N more"
ICONS = {"error": ":material/error:", "warning": ":material/warning:", "info": ":material/info:"}


def _key(ws: Workspace) -> str:
    """Identity of the dataset the cached report belongs to (new upload or relabel = new key)."""
    ds = ws.data.dataset
    return f"{ws.data.generation}|{ds.root}|{len(ds.items)}|{hash(frozenset(ws.data.relabel.items()))}"


def _rel(ds: Dataset, p: Path) -> str:
    """A file's full path under the data's root: a key that tells every file apart (captions shorten)."""
    try:
        return Path(p).relative_to(ds.root).as_posix()
    except ValueError:
        return str(p)


def _exclude(ws: Workspace, paths: Sequence[Path]) -> None:
    ws.data.exclude(paths)


def _include(ws: Workspace, paths: Sequence[Path]) -> None:
    ws.data.include(paths)


def _compute(ws: Workspace) -> HealthEntry:
    base = ws.data.dataset.with_changes(set(), ws.data.relabel)
    bar = st.progress(0.0, text="Checking images…")

    def progress(done: int, total: int) -> None:
        bar.progress(done / max(1, total), text=f"Checking images: {done:,}/{total:,}")

    report = health.check(base, skipped=ws.data.skipped, progress=progress)
    bar.empty()
    ws.data.health = HealthEntry(_key(ws), report, base.items)
    return ws.data.health


def _compute_outliers(ws: Workspace, entry: HealthEntry) -> None:
    items = entry.items
    bar = st.progress(0.0, text="Computing backbone features…")

    def progress(done: int, total: int) -> None:
        bar.progress(done / max(1, total), text=f"Backbone features: {done:,}/{total:,}")

    X = health.backbone_features([i.path for i in items], cache=ws.cache, progress=progress)
    bar.empty()
    entry.outliers = health.outlier_findings(items, X)


def is_open(f: health.Finding, excluded: set[Path]) -> bool:
    """A file finding is resolved once every file it suggests leaving out is excluded."""
    targets = f.exclude or (f.files if f.kind not in health.CLASS_KINDS else ())
    return not targets or any(p not in excluded for p in targets)


def _captions(ds: Dataset, items: dict[Path, Item], paths: Sequence[Path], excluded: set[Path]) -> list[str]:
    out = []
    for p in paths:
        it = items.get(p)
        where = f"{it.label or 'unlabelled'} · {it.split}" if it else ""
        mark = "EXCLUDED · " if p in excluded else ""
        out.append(f"{mark}{where} · {photo_name(p, ds.root)}" if where else f"{mark}{photo_name(p, ds.root)}")
    return out


def _files(ds: Dataset, f: health.Finding, items: dict[Path, Item], excluded: set[Path]) -> None:
    if not f.files:
        return
    shown = list(f.files[:SHOW_FILES])
    if f.kind in health.UNREADABLE_KINDS or f.kind in health.CLASS_KINDS:
        lines = [f"- `{_rel(ds, p)}`" + (" (excluded)" if p in excluded else "") for p in shown]
        st.markdown("\n".join(lines))
    else:
        cols = st.columns(6)
        for k, (p, cap) in enumerate(zip(shown, _captions(ds, items, shown, excluded))):
            with cols[k % 6]:
                data = thumb(p, 160)
                if data is None:
                    st.caption(f"unreadable: {photo_name(p, ds.root)}")
                else:
                    st.image(data, caption=cap, width="stretch")
    if len(f.files) > SHOW_FILES:
        st.caption(f"… and {len(f.files) - SHOW_FILES} more")


def _finding(ws: Workspace, ds: Dataset, f: health.Finding, items: dict[Path, Item], uid: str, said: set[str]) -> None:
    excluded = ws.data.excluded
    if is_open(f, excluded):
        if f.message not in said:  # several groups often share one explanation: say it once
            st.markdown(f"{ICONS[f.severity]} {f.message}")
            st.caption(f"What to do: {f.action}")
            said.add(f.message)
    else:
        st.markdown(f":material/check_circle: ~~{f.message}~~ Resolved: the suggested files are excluded.")
    _files(ds, f, items, excluded)
    todo = [p for p in f.exclude if p not in excluded]
    done = [p for p in f.files if p in excluded]
    if todo or done:
        row = st.container(horizontal=True)
        if todo:
            label = "Exclude this file" if len(todo) == 1 else f"Exclude these {len(todo)} files"
            row.button(label, key=f"hx-{uid}", on_click=_exclude, args=(ws, tuple(todo)), icon=":material/block:")
        if done:
            row.button(
                f"Include again ({len(done)})",
                key=f"hi-{uid}",
                on_click=_include,
                args=(ws, tuple(done)),
                icon=":material/undo:",
            )


def _excluded_list(ws: Workspace, ds: Dataset) -> None:
    excluded = ws.data.excluded
    if not excluded:
        return
    names = {_rel(ds, p): p for p in sorted(excluded)}
    with st.expander(f"{len(names)} excluded files (not used for training or validation)"):
        pick = st.multiselect("Choose files to include again", list(names), key="health-include-pick")
        row = st.container(horizontal=True)
        row.button(
            "Include selected",
            key="health-include-sel",
            disabled=not pick,
            on_click=_include,
            args=(ws, tuple(names[n] for n in pick)),
        )
        row.button("Include all again", key="health-include-all", on_click=_include, args=(ws, tuple(excluded)))
        st.markdown("\n".join(f"- `{n}`" for n in list(names)[:200]))


def draw_health(ws: Workspace) -> None:
    """The Health report section: findings grouped by kind, each with its files and one-click fixes."""
    st.subheader("Health report")
    ds = ws.data.dataset
    entry = ws.data.health
    if entry is None or entry.key != _key(ws):
        entry = None
        n = len(ds.items)
        if n <= AUTO_CHECK_MAX or st.button(f"Check all {n:,} images", key="health-run"):
            entry = _compute(ws)
        else:
            st.info(f"{n:,} images: the check reads every file once (about a minute per few thousand).")
            return
    report = entry.report
    eff = ws.data.effective()
    excluded = ws.data.excluded
    items = {i.path: i for i in entry.items}
    findings = [f for f in report.findings if f.kind not in health.CLASS_KINDS]
    findings = health.class_findings(eff) + findings + (entry.outliers or [])
    findings.sort(key=lambda f: health.SEVERITIES.index(f.severity))

    open_ = [f for f in findings if is_open(f, excluded)]
    sev = defaultdict(int)
    for f in open_:
        sev[f.severity] += 1
    m = st.columns(4)
    m[0].metric(
        "Readable images",
        f"{report.n_checked:,} / {report.n_images:,}",
        help="every file was opened; the others are listed below and training skips them",
    )
    m[1].metric("Blocking problems", sev["error"], help="training cannot start until these are fixed")
    m[2].metric("Warnings", sev["warning"], help="likely to hurt training (unreadable files are skipped)")
    m[3].metric("Worth a look", sev["info"])
    if not open_:
        st.success(
            "No open problems: no unreadable files, duplicates, placeholders or class problems"
            + (" (some were resolved by excluding files)." if findings else ".")
        )

    grouped: dict[str, list[health.Finding]] = defaultdict(list)
    for f in findings:
        grouped[f.kind].append(f)
    for kind, group in grouped.items():
        live = [f for f in group if is_open(f, excluded)]
        worst = min(live or group, key=lambda f: health.SEVERITIES.index(f.severity)).severity
        n_files = len({p for f in group for p in f.files})
        title = health.TITLES.get(kind, kind.replace("_", " "))
        parts = [f"{len(group)} groups"] if len(group) > 1 else []
        parts += [f"{n_files} file{'s' if n_files != 1 else ''}"] if n_files else []
        parts += ["resolved"] if not live else []
        label = f"{title} ({', '.join(parts)})" if parts else title
        icon = ICONS[worst] if live else ":material/check_circle:"
        with st.expander(label, expanded=bool(live) and worst != "info", icon=icon):
            all_todo = {p for f in group for p in f.exclude if p not in excluded}
            if len(group) > 1 and all_todo:
                st.button(
                    f"Exclude all {len(all_todo)} suggested files in this section",
                    key=f"hxall-{kind}",
                    on_click=_exclude,
                    args=(ws, tuple(sorted(all_todo))),
                    type="primary",
                )
            said: set[str] = set()
            for k, f in enumerate(group[:50]):
                if k:
                    st.divider()
                _finding(ws, ds, f, items, f"{kind}-{k}", said)
            if len(group) > 50:
                st.caption(f"… and {len(group) - 50} more groups (the CLI's `check --json` lists all)")
    _excluded_list(ws, ds)

    c1, c2 = st.columns([3, 1])
    c1.caption(
        "Optional: find images that a pretrained backbone sees as unlike the rest of their class "
        "(mislabelled or off-topic). Runs EfficientNet-Lite0 once per image; reused by training."
    )
    if entry.outliers is None:
        if c2.button("Find odd images", key="health-outliers", icon=":material/search:"):
            try:
                with heavy(ws, "label-errors", len(entry.items), "Finding odd images"):
                    _compute_outliers(ws, entry)
            except Exception as exc:  # weights missing, out of memory...: say so, keep the report
                st.error(f"Could not compute backbone features: {user_message(exc)}")
            else:
                st.rerun()
    elif not entry.outliers:
        c2.success("None found")
    if c2.button("Check again", key="health-rerun", icon=":material/refresh:"):
        _compute(ws)  # right away, in this run: the click's answer is the fresh report
        st.session_state["health-rechecked"] = True
        st.rerun()
    if st.session_state.pop("health-rechecked", None):
        c1.success(f"Checked again just now: {report.n_checked:,} of {report.n_images:,} images read.")
    _stats(report)


def _stats(report: health.HealthReport) -> None:
    if not report.sizes:
        return
    sides = [min(s) for s in report.sizes]
    fig = go.Figure(go.Histogram(x=sides, nbinsx=40, marker_color="#636efa"))
    # labels sit above the plot area, where the bars cannot cover them
    above = dict(y=1.0, yref="paper", yanchor="bottom", showarrow=False)
    fig.add_vline(
        x=health.MIN_SIDE,
        line_dash="dot",
        line_color="#ef553b",
        annotation=dict(above, text=f"< {health.MIN_SIDE} px: too small", xanchor="right"),
    )
    size = DEFAULT_PRE.size
    fig.add_vline(
        x=size,
        line_dash="dot",
        line_color="gray",
        annotation=dict(above, text=f"default model input {size} px", xanchor="left"),
    )
    fig.update_layout(
        height=280,
        margin=dict(t=60, b=10, l=10, r=10),
        title="Shortest side of each image (px)",
        xaxis_title="pixels",
        yaxis_title="images",
        bargap=0.05,
    )
    fig.update_xaxes(rangemode="nonnegative")  # no negative pixel sizes on the axis
    c1, c2 = st.columns([3, 1])
    c1.plotly_chart(fig, width="stretch")
    o = report.orientation
    c2.markdown(f"**Orientation**  \n{o['landscape']} landscape · {o['portrait']} portrait · {o['square']} square")
    c2.markdown(f"**Greyscale**  \n{report.grayscale_share:.0%} of images")
    ws_, hs_ = sorted(w for w, _ in report.sizes), sorted(h for _, h in report.sizes)
    c2.markdown(f"**Median size**  \n{ws_[len(ws_) // 2]} x {hs_[len(hs_) // 2]} px")


def draw_augment_preview(ws: Workspace) -> None:
    """One image through an augmentation preset 8 times: what the model will see while training."""
    from core.data import augment
    from core.data.images import ImageError, load_rgb

    eff = ws.data.effective()
    pool = (eff.labelled or eff.unlabelled)[:1000]
    if not pool:
        return
    st.subheader("Augmentation preview")
    names = {_rel(eff, i.path): i.path for i in pool}
    presets = [p for p in augment.PRESETS if p != "none"] or list(augment.PRESETS)
    c1, c2, c3 = st.columns([3, 1, 1])
    pick = c1.selectbox("Image", list(names), key="aug-image")
    preset = c2.selectbox(
        "Preset",
        presets,
        key="aug-preset",
        format_func=lambda p: f"{p}: {', '.join(augment.PRESETS[p]) or 'no augmentation'}",
    )
    nonce = st.session_state.get("aug-nonce", 0)  # display-only: a refresh may draw new samples
    if c3.button("New samples", key="aug-again", icon=":material/casino:"):
        nonce += 1
        st.session_state["aug-nonce"] = nonce
    want = (ws.data.generation, pick, preset, nonce)
    cached = st.session_state.get("aug-preview")
    if not cached or cached[0] != want:
        pre = DEFAULT_PRE  # display only: preview() undoes the normalisation
        try:
            img = load_rgb(names[pick], min_side=pre.resize_to)
        except ImageError as exc:
            st.error(str(exc))
            return
        shots = []
        for out in augment.preview(img, augment.steps_for(preset), pre, n=8):
            buf = io.BytesIO()
            out.save(buf, format="JPEG", quality=85)
            shots.append(buf.getvalue())
        cached = (want, shots)
        st.session_state["aug-preview"] = cached
    cols = st.columns(8)
    for col, data in zip(cols, cached[1]):
        col.image(data, width="stretch")
    st.caption(
        f"Eight random draws of the chosen preset on this image, at the default model's {DEFAULT_PRE.size} px input."
    )
