import streamlit as st

from core.models.backbones import REGISTRY, boundary_of
from core.session.progress import duration_words, eta_words, forecast_words
from core.training.config import describe_path
from core.training.costs import measure_in_background
from core.training.ladder import DEFAULT_BUDGET_S, LABELS, MODES, WORDS, LadderRequest, forecasts, recipe
from core.training.train import warm_up
from pages.ui import nav
from pages.ui.charts import training_figure
from pages.ui.common import hosted_limits, kept, need_dataset, settings, stale_model_warning, workspace
from pages.ui.runs_table import model_in_use, runs_table
from pages.ui.train_custom import custom_recipe

ws = workspace()
limits = settings()
CHART_EVERY_S = 5.0  # see curves()

st.title("Train")
if not need_dataset(ws):
    st.stop()
ds = ws.data.effective()
if len(ds.classes) < 2:
    st.error(
        "Training needs at least two classes with images: one sub-folder per class "
        "(or groups made on the Discover page)."
    )
    nav.link("data", "Go to Data", ":material/folder_open:")
    st.stop()
running = ws.train.slot.running
CUSTOM = "custom"
LITE = [n for n in REGISTRY if n.startswith("efficientnet_lite")]  # the backbones with offline weights


def expected(mode: str, backbone: str) -> str:
    """'about 40 s' for this dataset here, or '' while this machine's costs are being measured."""
    rungs = ("quick", "better") if mode == "auto" else (mode,)
    cfgs = {r: recipe(r, backbone) for r in rungs}
    if not measure_in_background(backbone, {boundary_of(backbone, c.deepest_unfreeze) for c in cfgs.values()}):
        return ""
    minutes = st.session_state.get("ladder-budget", ws.widgets.values.get("ladder-budget")) if mode == "auto" else None
    budget = 60 * float(minutes) if minutes else DEFAULT_BUDGET_S
    # Automatic: Quick, then Better fitted to what Quick leaves of the budget
    return forecast_words([f.seconds for f in forecasts(ds, LadderRequest(mode, backbone, budget_s=budget), ws.cache)])


# One container for everything above the buttons: whatever it shows (a measuring note, a custom recipe,
# a stale-model warning), Train and Stop keep their place, so a rerun never shows a stale copy of them.
with st.container():
    modes = [m for m in MODES if m != "best" or limits.allow_full_finetune] + [CUSTOM]
    c1, c2 = st.columns([2, 1])
    picked_custom = st.session_state.get("ladder-mode", ws.widgets.values.get("ladder-mode")) == CUSTOM
    backbone = ws.widgets.values.get("ladder-backbone", LITE[0])
    if not picked_custom:  # a custom recipe has its own backbone box
        backbone = c2.selectbox(
            "Backbone",
            LITE,
            format_func=lambda n: REGISTRY[n].label,
            key=kept(ws, "ladder-backbone"),
            disabled=running,
            help="EfficientNet-Lite models carry their ImageNet weights offline; Custom recipe offers the others",
        )
    guesses = {m: expected(m, backbone) for m in modes if m != CUSTOM}
    # The expected time goes in the caption, never in the option's words: the browser keeps a radio's
    # choice by its words, and the time changes (costs measured, features cached by a run), which
    # left no option chosen on screen.
    mode = c1.radio(
        "Quality",
        modes,
        key=kept(ws, "ladder-mode", "auto", modes),
        disabled=running,
        format_func=lambda m: "Custom recipe" if m == CUSTOM else LABELS[m],
        captions=[
            "every setting by hand" if m == CUSTOM else (f"about {guesses[m]} · " if guesses[m] else "") + WORDS[m]
            for m in modes
        ],
    )
    if not all(guesses.values()):

        @st.fragment(run_every=1.0)
        def measuring() -> None:
            """Redraw the page once this machine's costs are known (they are measured in the background)."""
            st.caption("Measuring what training costs on this machine…")
            if all(expected(m, backbone) for m in guesses):
                st.rerun(scope="app")

        measuring()
    if limits.hosted:
        hosted_limits(limits, "train")
    elif not limits.allow_full_finetune:
        st.caption("Best (the whole network) is switched off on this server: it is too slow for a shared CPU.")
    request = cfg = None
    planned = None  # how the settings shown now would train: a finished run says so again only if it differs
    if mode == CUSTOM:
        cfg = custom_recipe(ws, ds, limits, running)
        if cfg is not None:
            ws.train.settings = cfg  # what "Apply and retrain" on Review trains with
            planned = describe_path(cfg, REGISTRY[cfg.backbone].label)
    else:
        budget = DEFAULT_BUDGET_S
        if mode == "auto":
            budget = 60 * st.number_input(
                "Time budget (minutes)",
                1,
                120,
                int(DEFAULT_BUDGET_S // 60),
                key=kept(ws, "ladder-budget"),
                disabled=running,
                help="Quick and Better together take about this long: on a large gallery Better works on as many "
                "photos as fit in the time Quick leaves",
            )
        request = LadderRequest(mode, backbone, budget_s=budget, allow_best=limits.allow_full_finetune)
        planned = f"{LABELS[mode]}: {WORDS[mode]}"
        ws.train.settings = request
        rung_cfg = recipe("quick" if mode == "auto" else mode, backbone)
        st.info(
            f"**{LABELS[mode]}**: {WORDS[mode]}." + (f" Expected here: about {guesses[mode]}." if guesses[mode] else "")
        )
        cfg = rung_cfg
    if cfg is not None and not running:
        warm_up(cfg)  # export the frozen part while the user reads this page

    if not running:
        stale_model_warning(ws, "Press **Train** to train on the data as it is now.")
b1, b2, _ = st.columns([1, 1, 4])
ready = request is not None or (mode == CUSTOM and cfg is not None)
if b1.button("Train", type="primary", disabled=running or not ready, icon=":material/play_arrow:"):
    ws.start_training(request if request is not None else cfg)
    st.rerun()
if b2.button("Stop", disabled=not running, icon=":material/stop:"):
    ws.train.slot.stop()


@st.fragment(run_every=1.0 if running else None)
def live() -> None:
    ws.collect()  # a model the run already finished (Quick, before Better) is usable now
    job = ws.train.slot.job
    if job is None:
        st.caption("Press **Train** to start. Training runs in the background; you can switch pages and come back.")
        return
    snap = job.snapshot()
    view = snap.progress
    note_job, note = ws.train.run_note
    if note_job is job and note:
        st.info(note, icon=":material/fact_check:")
    if view.description and view.description != planned:  # the box above says it already
        st.caption(f"This run: {view.description}")
    for n in view.notes:
        st.caption(f":material/route: {n.message}")
    if snap.queued:  # other visitors' work fills the server: say where this run stands in line
        st.progress(0.0, text=snap.waiting_words())
        st.caption(
            "This server runs a limited number of heavy jobs at once, so each finishes sooner and none runs "
            "out of memory. Your run starts by itself; **Stop** takes it out of the line."
        )
        return
    eta = eta_words(view.eta_seconds)
    # while running the bar carries the status; once ended, the box below says it (not twice)
    text = " · ".join(t for t in (view.message, view.detail, eta) if t) if snap.active else view.detail
    st.progress(min(1.0, view.fraction), text=text)
    if snap.state == "failed":
        st.error(f"Training failed: {snap.error}")
    elif snap.state == "stopped":
        st.warning(snap.message)
    elif snap.state == "done":
        st.success(snap.message)
        if view.promised:  # the forecast shown before the run, held against what it took
            st.caption(
                f"Expected before the run: about {forecast_words(view.promised)}. "
                f"It took {duration_words(snap.elapsed)}."
            )
    if view.candidates and snap.active:
        st.caption(f"{len(view.candidates)} model(s) ready while this run goes on: the best is in use already.")
    if running and not snap.active:
        st.rerun(scope="app")  # job ended: redraw the page once, stop polling


# Drawing the three charts costs the server and the browser far more than the bar, on the cores
# the run trains on: while it runs they are redrawn every few seconds, the bar every second.
@st.fragment(run_every=CHART_EVERY_S if running else None)
def curves() -> None:
    job = ws.train.slot.job
    view = job.snapshot().progress if job is not None else None
    if view is not None and (view.epochs or view.batches):
        st.plotly_chart(training_figure(list(view.epochs), list(view.batches)), width="stretch", key="curves")


live()
curves()
runs_table(ws, running)
model_in_use(ws, running)
