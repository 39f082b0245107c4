"""The Train page's custom recipe: every setting by hand, starting from a preset, and the LR finder."""

from __future__ import annotations

import streamlit as st

from core.data import augment
from core.models.backbones import REGISTRY, UNFREEZE_CHOICES, WeightsChoice, check_weights
from core.session.jobs import user_message
from core.session.workspace import Workspace
from core.settings import Settings
from core.training.config import (
    OPTIMIZERS,
    PRESET_LABELS,
    PRESETS,
    SCHEDULES,
    Phase,
    TrainConfig,
    describe_path,
)
from core.training.lr_find import lr_find
from pages.ui.charts import lr_figure
from pages.ui.common import kept as kept_key


def lr_finder(ws: Workspace, ds, running: bool, lr_key: str, backbone: str, weights: WeightsChoice) -> None:
    """Range test on cached head features; one click copies the suggestion into the LR box."""
    with st.expander("Learning-rate finder"):
        if st.button("Run the LR range test", key="lrf_btn", disabled=running):
            try:
                with st.spinner("Computing features and sweeping learning rates…"):
                    ws.train.lr_finding = lr_find(
                        ds, TrainConfig(backbone=backbone, weights=weights.kind, weights_path=weights.path), ws.cache
                    )
            except Exception as exc:  # shown, never a trace
                st.error(f"LR finder failed: {user_message(exc)}")
        found = ws.train.lr_finding
        if found:
            st.plotly_chart(lr_figure(found), width="stretch", key="lrf_chart")

            def use() -> None:
                st.session_state[lr_key] = float(found.suggestion)

            st.button(f"Use suggested LR {found.suggestion:.2e}", on_click=use, key="lrf_use")


def custom_recipe(ws: Workspace, ds, limits: Settings, running: bool) -> TrainConfig | None:
    """Every training setting by hand (a preset to start from); None while the settings cannot train."""
    preset = st.selectbox(
        "Recipe", list(PRESETS), format_func=PRESET_LABELS.get, key=kept_key(ws, "preset"), disabled=running
    )
    base = PRESETS[preset]()
    backbone, weights = backbone_choice(ws, preset, base, running)
    if weights is None:
        return None
    phases = phases_choice(ws, ds, preset, base, limits, running, backbone, weights)
    if phases is None:
        return None
    aug, disabled_steps, views = augmentation_choice(ws, preset, base, running)
    cfg = TrainConfig(
        backbone=backbone,
        weights=weights.kind,
        weights_path=weights.path,
        phases=phases,
        augment=aug,
        disabled_steps=disabled_steps,
        views=views,
        **optimiser_choice(ws, preset, base),
    )
    return checked(cfg, limits)


def backbone_choice(ws: Workspace, preset: str, base: TrainConfig, running: bool) -> tuple[str, WeightsChoice | None]:
    """The backbone, and its weights (None until usable weights are chosen)."""
    c1, c2 = st.columns(2)
    names = list(REGISTRY)
    backbone = c1.selectbox(
        "Backbone",
        names,
        index=names.index(base.backbone),
        format_func=lambda n: REGISTRY[n].label,
        key=kept_key(ws, f"backbone-{preset}"),
        disabled=running,
    )
    return backbone, weights_choice(ws, backbone, c2)


def weights_choice(ws: Workspace, backbone: str, note_column) -> WeightsChoice | None:
    """ImageNet weights where they load; otherwise a .pth file or random initialisation."""
    weights = WeightsChoice()
    with st.spinner(f"Loading ImageNet weights for {REGISTRY[backbone].label} (downloaded on first use where online)…"):
        problem = check_weights(backbone, weights)
    if not problem:
        note_column.caption(f"Weights: {REGISTRY[backbone].weights_source}")
        return weights
    st.warning(problem)
    how = st.radio(
        "Weights",
        ["a .pth file on this machine", "random initialisation (not pretrained)"],
        key=kept_key(ws, f"weights-{backbone}"),
        horizontal=True,
    )
    if how.startswith("random"):
        st.caption("Training from random weights needs far more data and epochs; results will be poor.")
        return WeightsChoice("random")
    path = st.text_input("Path to a .pth state dict", key=kept_key(ws, f"wpath-{backbone}"))
    if not path:
        return None
    weights = WeightsChoice("file", path)
    problem = check_weights(backbone, weights)
    if problem:
        st.error(problem)
        return None
    return weights


def phases_choice(
    ws: Workspace,
    ds,
    preset: str,
    base: TrainConfig,
    limits: Settings,
    running: bool,
    backbone: str,
    weights: WeightsChoice,
) -> list[Phase] | None:
    """One phase (with the LR finder) or a staged schedule; None while no phase is set."""
    staged = st.toggle(
        "Staged schedule (several phases)",
        value=len(base.phases) > 1,
        key=kept_key(ws, f"staged-{preset}"),
        disabled=running,
    )
    if staged:
        return staged_phases(ws, preset, base, limits, running)
    return [one_phase(ws, ds, preset, base, limits, running, backbone, weights)]


def staged_phases(ws: Workspace, preset: str, base: TrainConfig, limits: Settings, running: bool) -> list[Phase] | None:
    """Phases as rows of a table the user edits."""
    # a data editor's state cannot be restored through session state: keep its rows instead,
    # and start a re-created editor from the rows the user left it with
    kept_rows = ws.widgets.values.setdefault("train-phase-rows", {})
    first_rows = ws.widgets.values.setdefault("train-phase-rows-first", {})
    if f"phases-{preset}" not in st.session_state or preset not in first_rows:
        first_rows[preset] = kept_rows.get(preset) or [
            {"layers": p.unfreeze, "epochs": p.epochs, "lr": p.lr} for p in base.phases
        ]
    edited = st.data_editor(
        first_rows[preset],
        num_rows="dynamic",
        key=f"phases-{preset}",
        disabled=running,
        width="stretch",
        column_config={
            "layers": st.column_config.SelectboxColumn(
                "layers to train", options=list(UNFREEZE_CHOICES), required=True
            ),
            "epochs": st.column_config.NumberColumn(
                "epochs", min_value=1, max_value=limits.max_epochs, step=1, required=True
            ),
            "lr": st.column_config.NumberColumn(
                "learning rate", min_value=1e-6, max_value=1.0, format="%.5f", required=True
            ),
        },
    )
    kept_rows[preset] = edited
    phases = [
        Phase(r["layers"], int(r["epochs"]), float(r["lr"]))
        for r in edited
        if r.get("layers") and r.get("epochs") and r.get("lr")
    ]
    if not phases:
        st.error("Add at least one phase.")
        return None
    return phases


def one_phase(
    ws: Workspace,
    ds,
    preset: str,
    base: TrainConfig,
    limits: Settings,
    running: bool,
    backbone: str,
    weights: WeightsChoice,
) -> Phase:
    """Layers, epochs and learning rate of a single phase, with the LR finder under them."""
    first = base.phases[0]
    a, b, c = st.columns(3)
    layers = a.selectbox(
        "Layers to train",
        list(UNFREEZE_CHOICES),
        index=list(UNFREEZE_CHOICES).index(first.unfreeze),
        key=kept_key(ws, f"layers-{preset}"),
        disabled=running,
    )
    epochs = b.number_input(
        "Epochs",
        1,
        limits.max_epochs,
        min(first.epochs, limits.max_epochs),
        key=kept_key(ws, f"epochs-{preset}"),
        disabled=running,
    )
    lr_key = kept_key(ws, f"lr-{preset}")
    st.session_state.setdefault(lr_key, first.lr)
    lr = c.number_input("Learning rate", 1e-6, 1.0, format="%.5f", key=lr_key, disabled=running)
    lr_finder(ws, ds, running, lr_key, backbone, weights)
    return Phase(layers, int(epochs), float(lr))


def augmentation_choice(ws: Workspace, preset: str, base: TrainConfig, running: bool) -> tuple[str, list[str], int]:
    """(augmentation preset, the steps switched off, views cached per image)."""
    c1, c2, c3 = st.columns(3)
    aug = c1.selectbox(
        "Augmentation",
        list(augment.PRESETS),
        index=list(augment.PRESETS).index(base.augment),
        key=kept_key(ws, f"aug-{preset}"),
        disabled=running,
    )
    steps = augment.PRESETS[aug]
    if not steps:
        c2.caption("No augmentation: every image is used once, as it is.")
        return aug, [], 1
    on = c2.multiselect("Steps", steps, default=steps, key=kept_key(ws, f"steps-{preset}-{aug}"), disabled=running)
    views = c3.number_input(
        "Augmented views cached per image",
        1,
        20,
        base.views,
        key=kept_key(ws, f"views-{preset}"),
        disabled=running or not on,
    )
    return aug, [s for s in steps if s not in on], int(views)


def optimiser_choice(ws: Workspace, preset: str, base: TrainConfig) -> dict:
    """Optimiser, schedule, batch size, label smoothing, class weights, early stopping and seed (TrainConfig fields)."""
    with st.expander("Optimiser, schedule and more"):
        a, b, c = st.columns(3)
        optimizer = a.selectbox(
            "Optimiser", OPTIMIZERS, index=OPTIMIZERS.index(base.optimizer), key=kept_key(ws, f"opt-{preset}")
        )
        schedule = b.selectbox(
            "Schedule", SCHEDULES, index=SCHEDULES.index(base.schedule), key=kept_key(ws, f"sched-{preset}")
        )
        batch = c.number_input("Batch size", 1, 512, base.batch_size, key=kept_key(ws, f"bs-{preset}"))
        smoothing = a.slider("Label smoothing", 0.0, 0.3, base.label_smoothing, 0.05, key=kept_key(ws, f"ls-{preset}"))
        class_weights = b.checkbox(
            "Weight classes against imbalance", base.class_weights, key=kept_key(ws, f"cw-{preset}")
        )
        patience = c.number_input(
            "Early stopping patience (0 = off)", 0, 50, base.early_stopping, key=kept_key(ws, f"es-{preset}")
        )
        seed = a.number_input("Seed", 0, 2**31 - 1, base.seed, key=kept_key(ws, f"seed-{preset}"))
    return {
        "batch_size": int(batch),
        "optimizer": optimizer,
        "schedule": schedule,
        "label_smoothing": float(smoothing),
        "class_weights": class_weights,
        "early_stopping": int(patience),
        "seed": int(seed),
    }


def checked(cfg: TrainConfig, limits: Settings) -> TrainConfig | None:
    """The recipe if it can train on this server (saying how it will run), else None with the reason shown."""
    try:
        cfg.validate()
    except ValueError as exc:
        st.error(str(exc))
        return None
    if not limits.allow_full_finetune and any(p.unfreeze == "all" for p in cfg.phases):
        st.error(
            "Training all layers is switched off on this server (too slow for a shared CPU). "
            "Choose 'last 2 blocks + head' or fewer."
        )
        return None
    if cfg.total_epochs > limits.max_epochs:
        st.error(f"At most {limits.max_epochs} epochs in total on this server.")
        return None
    st.info(describe_path(cfg, REGISTRY[cfg.backbone].label))
    return cfg
