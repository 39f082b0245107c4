from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st

from core.analysis.evaluate import evaluate_probs
from core.events import Advance, Plan, Status, Step
from core.session.jobs import user_message
from core.words import agreement_words
from pages.ui import review_ui as ui
from pages.ui.charts import confusion_figure
from pages.ui.common import heavy, job_progress, kept, need_model, photo_name, stale_model_warning, workspace

ws = workspace()
st.title("Review")
st.caption("See what the model got wrong and why (Grad-CAM shows where it looked), then fix the data and retrain.")
if not need_model(ws):
    st.stop()

r = ws.model.result
has_val = r is not None and len(r.val_paths) > 0 and ws.model_staleness != "other data"
known = {i.path for i in ws.data.dataset.items} if ws.data.dataset is not None else None
root = ws.data.dataset.root if ws.data.dataset is not None else None  # captions name photos under it
if known is not None:
    ws.review.decisions.retain(known)
st.caption(f"Model in use: {ws.model.source}.")
stale_model_warning(
    ws, "What you see below is the old model's view; train again (Train page) to check the corrected data."
)
n_pending = len(ws.review.decisions.pending())
if n_pending:
    st.info(
        f"{ui.plural(n_pending, 'review decision')} not applied yet: see **Decisions** below.",
        icon=":material/pending_actions:",
    )


def guarded(section):
    """Run one section; an unexpected error becomes a message, never a stack trace."""
    try:
        return section()
    except Exception as exc:  # st.rerun / st.stop are BaseExceptions and pass through
        st.error(f"This part of the page failed: {user_message(exc)}")
        return None


# ------------------------------------------------------------------ metrics and confusion
def overview():
    ev = evaluate_probs(r.val_paths, r.val_true, r.val_probs, r.classes)
    wrong = sum(1 for x in ev.rows if not x["correct"])
    c = st.columns(5)
    name, why = agreement_words(ws.data.from_groups)
    c[0].metric(name, f"{ev.accuracy:.1%}", help=why)
    c[1].metric("Macro precision", f"{ev.macro['precision']:.3f}")
    c[2].metric("Macro recall", f"{ev.macro['recall']:.3f}")
    c[3].metric("Macro F1", f"{ev.macro['f1']:.3f}")
    c[4].metric("Misclassified", f"{wrong} of {len(ev.rows)}")
    left, right = st.columns([1, 1])
    with left:
        st.subheader("Confusion matrix")
        st.caption("Click a cell to see the images behind it.")
        event = st.plotly_chart(
            confusion_figure(ev.classes, ev.confusion),
            key="confusion",
            on_select="rerun",
            selection_mode="points",
            width="stretch",
        )
    with right:
        st.subheader("Per class")
        st.dataframe(pd.DataFrame(ev.per_class).round(3), hide_index=True, width="stretch")
    points = (event or {}).get("selection", {}).get("points", []) if event else []
    cell = tuple(points[0]["customdata"]) if points and points[0].get("customdata") else None
    if cell != ws.review.cell:  # a new click: filter the grid to that cell
        ws.review.cell = cell
        if cell:
            ui.set_choice(ws, "rv_true", cell[0])
            ui.set_choice(ws, "rv_pred", cell[1])
            ui.set_choice(ws, "rv_show", "All")
    return ev


def test_split() -> None:
    """A given test/ split: scored once after training, shown apart from validation."""
    if r is None or not r.test_paths or r.test_probs is None:
        return
    te = evaluate_probs(r.test_paths, r.test_true, r.test_probs, r.classes)
    with st.container(border=True):
        st.subheader("Test split")
        st.caption(
            "Held out as given: never trained on, never used to choose a model or an epoch. "
            "Scored once, after training; this is the figure to expect on new photos."
        )
        c = st.columns(3)
        c[0].metric("Test accuracy", f"{te.accuracy:.1%}")
        c[1].metric("Test macro F1", f"{te.macro['f1']:.3f}")
        c[2].metric("Test images", f"{len(te.rows)}")


ev = guarded(overview) if has_val else None
if has_val:
    guarded(test_split)
if not has_val and ws.model_staleness == "other data":
    st.info(
        "The model in use was trained on other data than the dataset loaded now, so its validation results "
        "are not shown here. Train on the current data (Train page) to review it."
    )
elif not has_val:
    st.info(
        "This model has no validation results to review (it was loaded from a file, or the data had no "
        "validation split). Likely label errors and decisions below still work."
    )


# ------------------------------------------------------------------ predictions with Grad-CAM
SHOW = ["Mistakes", "Correct", "All"]
SHORT_LIST = 6  # label-check photos shown before "Show all"


@dataclass(frozen=True)
class Filters:
    """What the Predictions section shows: which photos, and which heatmap of which class."""

    show: str  # Mistakes | Correct | All
    true_c: str
    pred_c: str
    method: str
    target: str  # @pred, @true or class:<name>


def prediction_filters(classes: list[str]) -> Filters:
    from core.analysis.explain import LABELS, METHODS

    f = st.columns([1.3, 1, 1, 1.2, 1.3])
    show = ui.remembered(ws, "rv_show", SHOW, "Mistakes", f[0].radio, "Show", horizontal=True)
    true_c = ui.remembered(ws, "rv_true", ["All"] + classes, "All", f[1].selectbox, "True class")
    pred_c = ui.remembered(
        ws, "rv_pred", ["All"] + classes, "All", f[2].selectbox, "Predicted class", help="'everything predicted as X'"
    )
    method = ui.remembered(
        ws, "rv_method", list(METHODS), "gradcam", f[3].selectbox, "Heatmap method", format_func=LABELS.get
    )
    targets = ["@pred", "@true"] + [f"class:{c}" for c in classes]
    target = ui.remembered(
        ws,
        "rv_target",
        targets,
        "@pred",
        f[4].selectbox,
        "Explain which class",
        format_func=lambda t: {"@pred": "the predicted class", "@true": "the true class"}.get(
            t, t.removeprefix("class:")
        ),
        help="'Why did it say bee, and where is the ant?': pick the class to explain",
    )
    return Filters(show, true_c, pred_c, method, target)


def heatmaps(page: list[dict], classes: list[str], fl: Filters) -> tuple[list, list[str], list[str | None]]:
    """Each photo's picture (heatmap, beside the photo, or the text lines read), its text summary and the
    class its heat explains; the photos alone if the heatmaps fail."""
    from core.analysis.explain import LABELS, SLOW, cache_key, draw_text_lines, explain_paths, side_by_side

    cidx = {c: k for k, c in enumerate(classes)}
    tg = [
        None
        if fl.target == "@pred"
        else cidx[x["true"]]
        if fl.target == "@true"
        else cidx[fl.target.removeprefix("class:")]
        for x in page
    ]
    ex = ws.explainer(ws.model.bundle)
    missing = [i for i, x in enumerate(page) if cache_key(ex, x["path"], fl.method, tg[i]) not in ws.cams]
    compute = bool(missing)
    if missing and fl.method in SLOW:
        compute = st.button(
            f"Compute {LABELS[fl.method]} for {len(missing)} images (about {len(missing) * 20} s or more on CPU)",
            icon=":material/hourglass:",
        )
        if not compute:
            st.caption(
                f"{LABELS[fl.method]} runs the model once per feature channel, so it is computed only on request."
            )
    try:
        if compute or not missing:
            with heavy(ws, "gradcam", len(missing), "The heatmaps"):
                with st.spinner(f"Computing {LABELS[fl.method]} for {len(missing)} images…" if missing else "…"):
                    exps = explain_paths(ex, [x["path"] for x in page], fl.method, tg, ws.cams)
        else:  # slow method not requested: show what is already cached
            exps = explain_paths(ex, [x["path"] for x in page], fl.method, tg, ws.cams, compute=False)
        beside = st.toggle(
            "Show each photo beside its heatmap",
            key=kept(ws, "rv_beside"),
            help="off: the heatmap over the photo, at the card's full width",
        )
        lines = ws.model.bundle.reads_text and st.toggle(
            "Show the text lines it read",
            value=True,
            key=kept(ws, "rv_text_lines"),
            help="this model reads where the writing sits on each photo (captions, chat lines, pages): "
            "the outlined lines, on the whole photo, beside the heatmap",
        )
        pics = [
            (
                side_by_side(draw_text_lines(x["path"], e.explanation.text, 288), e.explanation.overlay)
                if lines and e.explanation.text is not None
                else side_by_side(e.explanation.image, e.explanation.overlay)
                if beside
                else e.explanation.overlay
            )
            if e is not None and e.ok
            else (e.problem if e is not None else None)
            for x, e in zip(page, exps)
        ]
        texts = [e.explanation.text.summary() if e is not None and e.ok and e.explanation.text else "" for e in exps]
        explained = [classes[e.explanation.target] if e is not None and e.ok else None for e in exps]
        return pics, texts, explained
    except Exception as exc:
        st.warning(f"Heatmaps could not be computed ({user_message(exc)}); showing the images only.")
        return [None] * len(page), [""] * len(page), [None] * len(page)


def predictions() -> None:
    from core.analysis.explain import LABELS

    st.subheader("Predictions")
    classes = ev.classes
    fl = prediction_filters(classes)
    rows = [
        x
        for x in ev.rows
        if (fl.show == "All" or x["correct"] == (fl.show == "Correct"))
        and fl.true_c in ("All", x["true"])
        and fl.pred_c in ("All", x["pred"])
    ]
    order = "most confidently wrong first" if fl.show != "Correct" else "least confident first"
    st.caption(
        f"{ui.plural(len(rows), 'image')}, sorted by loss ({order}). Left: what the model sees; right: "
        f"{LABELS[fl.method]} heat (red = what pushed it towards the explained class)."
    )
    if not rows:
        st.success("No validation image matches these filters." if fl.show == "Mistakes" else "No images here.")
        return
    per_page = ui.remembered(ws, "rv_per_page", [9, 12], 9, st.sidebar.selectbox, "Images per page (Review)")
    sl = ui.page_slice(ws, "rv_page", len(rows), per_page, (fl.show, fl.true_c, fl.pred_c))
    page = rows[sl]
    pics, texts, explained = heatmaps(page, classes, fl)

    def draw(k: int) -> None:
        x = page[k]
        mark = ":green[:material/check_circle:]" if x["correct"] else ":red[:material/cancel:]"
        ui.show_image(x["path"], pics[k], root=root)
        st.markdown(f"{mark} true **{x['true']}** → predicted **{x['pred']}** ({x['confidence']:.0%})")
        top = " · ".join(f"{c} {p:.0%}" for c, p in x["top3"])
        heat = f" · heat for **{explained[k]}**" if explained[k] else ""
        said = f"  \n{texts[k].capitalize()}" if texts[k] else ""
        st.caption(f"top-3: {top} · loss {x['loss']:.2f}{heat}{said}  \n`{photo_name(x['path'], root)}`")
        ui.decision_buttons(
            ws, Path(x["path"]), x["true"], classes, x["pred"] if not x["correct"] else None, "predictions"
        )

    ui.cards(list(range(len(page))), draw, cols=3)  # three a row: the heatmaps are big enough to read


if ev is not None:
    guarded(predictions)


# ------------------------------------------------------------------ likely label errors
def confirmed_labels() -> set[tuple[Path, str]]:
    """(photo, label) pairs the person gave: Review's moves and keeps, Sort's answers and audit, placed photos."""
    from core.analysis.discover import placed_labels
    from core.data.decisions import labels_from

    said = [labels_from(ws.review.decisions), ws.sort.confirmed()]
    g = ws.discover.grouping
    if g is not None and ws.data.from_groups and ws.discover.dataset is ws.data.dataset:
        said.append(placed_labels(g))
    return {pair for labels in said for pair in labels.items()}


def label_errors() -> None:
    from core.analysis.evaluate import find_label_errors
    from core.training.config import TrainConfig

    st.subheader("Photos to review: does their folder fit?")
    st.caption(
        "A model that never saw each photo (five-fold cross-validation on the pretrained features) says what it "
        "thinks each one shows. Where that disagrees with the photo's folder, the photo is listed here, the most "
        "confident disagreements first. These are photos to look at, not errors: most are hard photos any model "
        "confuses, a few sit in the wrong folder. Training and validation photos are checked; a test split is not."
    )
    if ws.data.dataset is None:
        st.info("Load the training data on the **Data** page to check its labels.")
        return
    bundle = ws.model.bundle
    cfg = r.config if r is not None else (bundle.config or TrainConfig(backbone=bundle.backbone))
    ds = ws.data.effective()
    sig = hash(tuple((str(i.path), i.label) for i in ds.labelled))
    slot = ws.review.label_slot
    running = slot.running
    if st.button("Check labels", icon=":material/rule:", disabled=running):
        ws.review.label_sig = sig
        sure = confirmed_labels()

        def work(on_event, should_stop):
            prog = lambda d, t: on_event(Advance("images", d, f"features: {d}/{t} images"))  # noqa: E731
            on_event(Status("Computing pooled features (once per image)"))
            on_event(Plan((Step("images", len(ds.labelled)),)))
            return find_label_errors(
                ds, cfg.backbone, cfg.weights_choice, ws.cache, progress=prog, should_stop=should_stop, confirmed=sure
            )

        slot.start(ws.job("label-errors", work, len(ds.labelled)))
        st.rerun()

    @st.fragment(run_every=1.0 if running else None)
    def progress() -> None:
        job_progress(
            slot.job,
            running,
            failed="The label check failed",
            stopped="The label check was stopped.",
            stop_button="Stop check",
        )

    progress()
    fresh = slot.take()
    if fresh is not None:
        ws.review.label_report = fresh
    rep = ws.review.label_report
    if rep is None:
        return
    if ws.review.label_sig != sig:
        st.caption("The labels changed since this check (decisions applied?); run it again to refresh.")
    share = len(rep.suspects) / max(1, rep.n_checked)
    st.write(
        f"Held-out accuracy of the check: **{rep.oof_accuracy:.1%}** on {rep.n_checked} photos "
        f"({rep.folds} folds); it disagrees with the folder of **{len(rep.suspects)}** ({share:.0%})."
    )
    if rep.confirmed:
        st.caption(
            f"{ui.plural(rep.confirmed, 'label')} you confirmed (moves, keeps, answers, audit) are never listed."
        )
    if not rep.suspects:
        st.success("Every folder agrees with what the check sees.")
        return
    min_conf = st.slider(
        "Only show disagreements at least this confident", 0.0, 1.0, 0.5, 0.05, key=kept(ws, "label_min_conf_w")
    )
    rows = [s for s in rep.suspects if s.confidence >= min_conf]
    if not rows:
        st.caption("None at this confidence.")
        return
    show_all = st.toggle(f"Show all {len(rows)}", key=kept(ws, "le_all"), disabled=len(rows) <= SHORT_LIST)
    if show_all:
        shown = rows[ui.page_slice(ws, "le_page", len(rows), 8, (id(rep), min_conf))]
    else:
        shown = rows[:SHORT_LIST]
        if len(rows) > SHORT_LIST:
            st.caption(f"The {SHORT_LIST} most confident of {len(rows)} first.")

    def draw(s) -> None:
        ui.show_image(s.path, root=ds.root)
        st.markdown(f"in **{s.given}**, looks like **{s.suggested}** ({s.confidence:.0%} sure)")
        st.caption(f"{s.split} · `{photo_name(s.path, ds.root)}`")
        ui.decision_buttons(ws, s.path, s.given, rep.classes, s.suggested, "label errors")

    ui.cards(shown, draw, cols=3)


guarded(label_errors)

# ------------------------------------------------------------------ decisions
st.subheader(f"Decisions ({len(ws.review.decisions)})")
guarded(lambda: ui.decisions_panel(ws, known))
