from pathlib import Path

import streamlit as st

from core.analysis.discover import (
    DISCARDED,
    DiscoverError,
    common_root,
    discard,
    discover,
    discover_backbone,
    merge,
    merge_hints,
    more_groups,
    move,
    regroup,
    rename,
    split,
    split_as,
    split_hints,
    to_dataset,
)
from core.data.dataset import DatasetError
from core.events import Advance, Plan, Status, Step
from core.models.backbones import REGISTRY
from core.session.jobs import user_message
from core.words import plural
from pages.ui import nav
from pages.ui.charts import group_map_figure, k_scores_figure
from pages.ui.common import image_grid, job_progress, kept, need_dataset, photo_name, thumb, workspace

LITE = [n for n in REGISTRY if n.startswith("efficientnet_lite")]  # offline ImageNet weights
ws = workspace()
st.title("Discover")
st.caption(
    "No class folders? The pretrained model looks at every photo once and proposes groups of similar "
    "ones. Name the groups you want as classes, fix a few odd ones out (the photos like them follow), then "
    "train on them. Your files are never moved or changed."
)

disc = ws.discover
g = disc.grouping
if ws.data.dataset is None and g is None:
    need_dataset(ws)
    st.stop()


def source_paths() -> tuple[list[Path], str]:
    """What 'Find groups' looks at: the unlabelled images, else every image (folders ignored)."""
    if g is not None and ws.data.dataset is not None and disc.dataset is ws.data.dataset:
        return list(g.paths), disc.what or "the images grouped before"
    ds = ws.data.effective()
    if ds is None:
        return list(g.paths), disc.what or "the images grouped before"
    if ds.unlabelled:
        return [i.path for i in ds.unlabelled], f"{len(ds.unlabelled)} images without class folders"
    items = [i for i in ds.items if not i.excluded]
    return [i.path for i in items], f"all {len(items)} images (their folder names are ignored here)"


def apply(fn, *args, **kwargs) -> str | None:
    """Run one pure edit on the grouping; returns the error in words (never a trace), or None."""
    try:
        disc.set_grouping(fn(disc.grouping, *args, **kwargs))
        followed = disc.grouping.followed
        if followed:
            disc.say("info", f"{plural(followed, 'similar photo')} followed the ones you moved.")
        return None
    except (DiscoverError, DatasetError) as exc:
        return str(exc)
    except Exception as exc:  # never a stack trace in the UI
        return f"That did not work: {user_message(exc)}"


def edit(fn, *args, **kwargs) -> None:
    """A button's edit: apply, keep any error for the next run, redraw."""
    err = apply(fn, *args, **kwargs)
    if err:
        disc.say("error", err)
    st.rerun()


def picked_indices(event) -> list[int]:
    """Grouping indices of the dots chosen on the map (customdata may come back wrapped in a list)."""
    out = set()
    for p in event.selection.points if event else []:
        cd = p.get("customdata")
        if isinstance(cd, list):
            cd = cd[0] if cd else None
        if cd is not None:
            out.add(int(cd))
    return sorted(out)


paths, what = source_paths()
job = disc.slot.job
running = disc.slot.running
n = len(paths)

# ---------------------------------------------------------------- find groups
with st.container(border=True):
    st.write(f"**Looking at:** {what}")
    c1, c2, c3 = st.columns([2, 2, 3])
    how_many = c1.radio(
        "How many kinds of photos?",
        ["find out", "about"],
        key=kept(ws, "disc-k-mode"),
        format_func={"find out": "Find out for me", "about": "I have about…"}.get,
        disabled=n < 4,
        horizontal=True,
    )
    want_k = None
    if how_many == "about" and n >= 4:
        want_k = int(
            c2.number_input("kinds of photos", 2, max(2, min(40, n - 1)), min(4, max(2, n - 1)), key=kept(ws, "disc-k"))
        )
    else:
        c2.caption("The number of groups is chosen from how the photos fall apart; you can change it after.")
    method = c3.radio(
        "Grouping method",
        ["kmeans", "agglomerative"],
        horizontal=True,
        key="disc_method",
        format_func={"kmeans": "k-means", "agglomerative": "agglomerative (Ward)"}.get,
    )
    backbone = c3.selectbox(
        "Model that compares the photos",
        LITE,
        index=LITE.index(discover_backbone()),
        format_func=lambda b: REGISTRY[b].label,
        key=kept(ws, "disc-backbone"),
        help=(
            "Lite2 separates everyday subjects better (ants and bees: ARI 0.90 against 0.81 for Lite0, "
            "BENCHMARKS.md). Lite0 is 1.7x faster and shares its features with training, so training on "
            "the groups starts at once; it is the default on the hosted demo, where memory is tight."
        ),
    )
    b1, b2, b3, _ = st.columns([1.3, 1.3, 1, 2])
    if b1.button("Find groups", type="primary", icon=":material/auto_awesome:", disabled=running or n < 3):
        todo, cache = list(paths), ws.cache

        def work(on_event, should_stop):
            on_event(Status("Looking at your images"))
            on_event(Plan((Step("images", len(todo)),)))
            return discover(
                todo,
                k=want_k,
                method=method,
                backbone=backbone,
                cache=cache,
                should_stop=should_stop,
                progress=lambda d, t: on_event(Advance("images", d, f"{d}/{t} images")),
                on_status=lambda m: on_event(Status(m)),
            )

        disc.slot.start(ws.job("discover", work, len(todo)))
        disc.what = what
        st.rerun()
    if b2.button(
        "Regroup",
        icon=":material/refresh:",
        disabled=running or g is None,
        help="Group the same photos again with the number and method above (fast; replaces your edits).",
    ):
        edit(regroup, k=want_k, method=method)
    if b3.button("Stop", icon=":material/stop:", disabled=not running):
        disc.slot.stop()
    if n < 3:
        st.warning("At least 3 images are needed to find groups.")


@st.fragment(run_every=1.0 if running else None)
def live() -> None:
    job_progress(
        disc.slot.job,
        running,
        failed="Could not find groups",
        stopped="Stopped. The images looked at so far are remembered: Find groups continues from there.",
    )


live()
found = disc.slot.take()
if found is not None:
    disc.set_grouping(found)
    g = found

msg = disc.take_message()
if msg:
    getattr(st, msg[0])(msg[1])
if g is None or running:
    st.stop()

rev = disc.revision
groot = common_root(g.paths)  # captions name photos under it, as training on the groups will
if set(g.paths) != set(paths) and disc.dataset is not ws.data.dataset:
    st.warning("Your data changed since these groups were found. Press **Find groups** to group the new images.")

# ---------------------------------------------------------------- how many groups, and what to do about it
with st.container(border=True):
    c1, c2, c3 = st.columns([4, 1, 1])
    how = f"chosen automatically: {g.k_note}" if g.k_auto and g.k_note else "your number"
    c1.markdown(f"**{g.k} groups** among {len(g.paths)} photos ({how}; {g.method}).")
    if c2.button("Fewer groups", icon=":material/remove:", key=f"fewer-{rev}", disabled=g.k <= 2):
        edit(more_groups, -1)
    if c3.button("More groups", icon=":material/add:", key=f"more-{rev}", disabled=g.k >= len(g.paths) - 1):
        edit(more_groups, 1)
    if g.k_scores:
        with st.expander("Why this number?"):
            st.plotly_chart(k_scores_figure(g.k_scores, g.k), width="stretch", key=f"kscores-{rev}")
            top = sorted(g.k_scores.values(), reverse=True)
            if len(top) > 1 and top[0] - top[1] < 0.01:
                st.caption(
                    "The best scores are within 0.01 of each other: the photos could be grouped either way. "
                    "Choose the number of kinds you know you have."
                )
            st.caption(
                "Silhouette: how much closer each photo is to its own group than to the next one (higher "
                "means better separated). A score of 2 does not win a tie against more groups: merging "
                "two groups is one click, seeing that one group mixes two kinds is not."
            )
if g.failures:
    with st.expander(f"Unreadable images left out: {len(g.failures)}"):
        for p, why in g.failures[:500]:
            st.write(f"- `{photo_name(p, groot)}`: {why}")

ids = g.group_ids
label_of = {gid: g.names[gid] for gid in ids}
targets = [*ids, DISCARDED, None]


def target_label(t) -> str:
    return "a new group" if t is None else g.name_of(t)


def caption(i: int) -> str:
    marks = ("⚠ " if g.doubtful[i] else "") + ("📌 " if g.pinned is not None and g.pinned[i] else "")
    return marks + photo_name(g.paths[i], groot)


# ---------------------------------------------------------------- suggestions: split one, merge two
hints = split_hints(g)[:2]
pairs = merge_hints(g)[:1]
if hints or pairs:
    st.subheader("Suggestions")
for h in hints:
    with st.container(border=True):
        name = g.names[h.group]
        st.markdown(
            f"**{name}** looks like two kinds: {len(h.parts[1])} of its {len(h.parts[0]) + len(h.parts[1])} photos "
            "carry writing (a caption, a chat, a page), the others are plain pictures. Split the written ones off?"
            if h.by_writing
            else f"**{name}** looks like two kinds of photos (split score {h.score:.2f}). Split it into 2?"
        )
        for half in h.parts:
            image_grid([g.paths[i] for i in half[:8]], None, cols=8, size=100, root=groot)
        if st.button(
            f"Split the written photos off {name}" if h.by_writing else f"Split {name} into 2",
            key=f"hint-split-{rev}-{h.group}",
            icon=":material/call_split:",
        ):
            edit(split_as, h)
for a, b, sim in pairs:
    with st.container(border=True):
        st.markdown(f"**{g.names[a]}** and **{g.names[b]}** look alike (similarity {sim:.2f}). Merge them?")
        if st.button(f"Merge {g.names[b]} into {g.names[a]}", key=f"hint-merge-{rev}-{a}-{b}", icon=":material/merge:"):
            edit(merge, a, b)


# ---------------------------------------------------------------- the groups
def move_menu(i: int, key: str) -> None:
    with st.popover("Move to…", width="stretch"):
        for t in targets:
            if t != int(g.labels[i]):
                st.button(target_label(t), key=f"{key}-{t}", width="stretch", on_click=lambda t=t: apply(move, i, t))


st.caption(
    "Check the photos that sit least well in each group first; move a few that are wrong, and the photos "
    "like them follow. A moved photo stays where you put it (📌)."
)
tab_groups, tab_map, tab_edit = st.tabs(["Groups", "Map", "Merge · split · move"])
with tab_groups:
    for gid in ids:
        grp = g.group(gid)
        with st.container(border=True):
            c1, c2, c3 = st.columns([3, 3, 1])
            new_name = c1.text_input("Name", grp.name, key=f"gname-{rev}-{gid}", max_chars=60)
            c2.write(f"**{grp.size} images** · {len(grp.doubtful)} doubtful")
            if c3.button("Not a class", key=f"discard-{rev}-{gid}", help="Leave these images out of training"):
                edit(discard, gid)
            if new_name.strip() and new_name != grp.name:
                err = apply(rename, gid, new_name)
                if err:
                    c1.error(err)
                else:
                    st.rerun()
            check = grp.check_first[:6]
            st.caption("Check these first: the photos that sit worst here, those with most photos like them first")
            cols = st.columns(6)
            for k, i in enumerate(check):
                with cols[k]:
                    data = thumb(g.paths[i], 140)
                    if data is not None:
                        st.image(data, caption=caption(i), width="stretch")
                    move_menu(i, f"mv-{rev}-{gid}-{k}")
            typical = [i for i in grp.members if i not in check][:12]
            if typical:
                st.caption("Most typical:")
                image_grid([g.paths[i] for i in typical], [caption(i) for i in typical], cols=6, size=140)
            if grp.size > 18:
                with st.expander(f"All {grp.size} images"):
                    shown = grp.members[:300]
                    image_grid([g.paths[i] for i in shown], [caption(i) for i in shown], cols=8, size=120)
    if g.discarded:
        with st.expander(f"Not a class: {len(g.discarded)} images (left out of training)"):
            image_grid([g.paths[i] for i in g.discarded[:120]], None, cols=8, size=120, root=groot)
            if st.button("Bring them back as a group", key=f"undiscard-{rev}"):
                edit(move, g.discarded, None, propagate=False)

# ---------------------------------------------------------------- the map
with tab_map:
    st.caption(
        f"Each dot is an image ({g.map_method} of the embeddings); similar images sit together. "
        "Crosses are doubtful. Hover for the file name; lasso or box-select dots to move them."
    )
    fig = group_map_figure(
        g.coords,
        [g.name_of(int(x)) for x in g.labels],
        [photo_name(p, groot) for p in g.paths],
        [bool(d) for d in g.doubtful],
    )
    event = st.plotly_chart(fig, key=f"map-{rev}", on_select="rerun", selection_mode=("points", "box", "lasso"))
    picked = picked_indices(event)
    if picked:
        st.write(f"**{len(picked)} selected**")
        image_grid([g.paths[i] for i in picked[:24]], [caption(i) for i in picked[:24]], cols=8, size=110)
        c1, c2 = st.columns([2, 1])
        to = c1.selectbox("Move the selected images to", targets, format_func=target_label, key=f"map-to-{rev}")
        if c2.button("Move", key=f"map-move-{rev}"):
            edit(move, picked, to)

# ---------------------------------------------------------------- edits
with tab_edit:
    c1, c2, c3 = st.columns(3)
    with c1.container(border=True):
        st.write("**Merge two groups**")
        a = st.selectbox("Keep", ids, format_func=label_of.get, key=f"merge-a-{rev}")
        b = st.selectbox("Merge into it", [i for i in ids if i != a], format_func=label_of.get, key=f"merge-b-{rev}")
        if st.button("Merge", key=f"merge-{rev}", disabled=b is None):
            edit(merge, a, b)
    with c2.container(border=True):
        st.write("**Split a group**")
        s = st.selectbox("Group", ids, format_func=label_of.get, key=f"split-g-{rev}")
        size = g.group(s).size if s is not None else 0
        parts = st.number_input("Into", 2, max(2, min(8, size)), 2, key=f"split-n-{rev}")
        if st.button("Split", key=f"split-{rev}", disabled=size < 2):
            edit(split, s, int(parts))
    with c3.container(border=True):
        st.write("**Move images**")
        src = st.selectbox(
            "From", [*ids, DISCARDED] if g.discarded else ids, format_func=g.name_of, key=f"move-from-{rev}"
        )
        members = g.group(src).members if src != DISCARDED else g.discarded
        chosen = st.multiselect(
            "Images", members, format_func=caption, key=f"move-imgs-{rev}", help="Doubtful images are marked ⚠"
        )
        to = st.selectbox("To", [t for t in targets if t != src], format_func=target_label, key=f"move-to-{rev}")
        if st.button("Move", key=f"move-{rev}", disabled=not chosen):
            edit(move, chosen, to)

# ---------------------------------------------------------------- hand-off
st.divider()
named = ", ".join(f"{g.names[i]} ({(g.labels == i).sum()})" for i in ids)
st.write(f"**Classes for training:** {named}" + (f"; {len(g.discarded)} images left out" if g.discarded else ""))
current = ws.data.dataset
if current is not None and current.classes and disc.dataset is not current:
    st.warning(
        f"Your data already has class folders ({', '.join(current.classes[:6])}"
        f"{', …' if len(current.classes) > 6 else ''}). Training on these groups uses them instead of "
        "those labels (your files are not changed; load your data again on the Data page to go back).",
        icon=":material/swap_horiz:",
    )
if st.button("Train on these groups", type="primary", icon=":material/model_training:"):
    try:
        ds = to_dataset(g)
    except (DatasetError, DiscoverError) as exc:
        st.error(str(exc))
    else:
        ws.data.set_dataset(ds, f"Discover: {len(ds.classes)} groups from {what}", from_groups=True)
        disc.dataset = ds
        nav.switch("train")
