"""A training run, stage by stage.

Plain functions with explicit arguments, in the spirit of torchvision's
reference ``train.py``: :func:`setup` builds what a run needs once,
:func:`run_phases` trains every phase's epochs (``loop.train_one_epoch`` and
``loop.evaluate`` do one pass each), :func:`finish` scores and packages the best
epoch, and :func:`train` strings them together. The run reports typed events
through ``on_event`` and checks ``should_stop`` every batch; it knows nothing of
threads or the UI. :func:`warm_up` exports a recipe's frozen prefix ahead of time.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..data.dataset import Dataset, check_trainable
from ..data.preprocess import eval_array
from ..events import Epoch, OnEvent, Plan, Status, Step, StopCheck, Stopped, ignore, never
from ..models import runtime, text_layout
from ..models.backbones import UNFREEZE_CHOICES, Network, build_network, get_spec
from ..models.features import FeatureCache, decode_batches
from .calibration import fit_temperature
from .config import Metrics, TrainConfig, TrainResult, describe_path
from .inputs import Inputs
from .loop import (
    MICRO_BATCH,
    class_weight_tensor,
    evaluate,
    make_optimizer,
    make_schedule,
    param_groups,
    seed_everything,
    seeded_head,
    set_train_mode,
    train_one_epoch,
    trainable_state,
    warm_optimizer_import,
)


@dataclass
class Run:
    """What :func:`setup` builds once and every epoch of a run uses."""

    cfg: TrainConfig
    net: Network
    inputs: Inputs
    n_batches: int
    criterion: nn.Module
    t0: float
    text_scaled: bool = False  # the text layouts' scaling came with a head (a Quick run's): keep it


def setup(dataset: Dataset, cfg: TrainConfig, cache: FeatureCache | None, emit: OnEvent, should_stop: StopCheck) -> Run:
    """Check the data, build the network and the inputs, announce the plan."""
    cfg.validate()
    check_trainable(dataset)
    seed_everything(cfg.seed)
    t0 = time.perf_counter()
    threading.Thread(target=warm_optimizer_import, daemon=True).start()
    spec = get_spec(cfg.backbone)
    classes = list(dataset.classes)
    cidx = {c: i for i, c in enumerate(classes)}
    emit(Status(f"Loading {spec.label} ({cfg.weights_choice.label})"))
    net = build_network(cfg.backbone, len(classes), cfg.weights_choice, text_dim=text_layout.DIM if cfg.text else 0)
    seeded_head(net, cfg.seed)
    train_items, val_items = dataset.split_items("train"), dataset.split_items("val")
    test_items = [i for i in dataset.split_items("test") if i.label in cidx]
    inputs = Inputs(
        net,
        cfg,
        cache if cache is not None else FeatureCache(),
        net.boundary(cfg.deepest_unfreeze),
        classes,
        [i.path for i in train_items],
        np.array([cidx[i.label] for i in train_items], dtype=int),
        [i.path for i in val_items],
        np.array([cidx[i.label] for i in val_items], dtype=int),
        emit,
        should_stop,
        [i.path for i in test_items],
        np.array([cidx[i.label] for i in test_items], dtype=int),
    )
    n_batches = max(1, math.ceil(inputs.view_size / cfg.batch_size))
    weight = class_weight_tensor(inputs.train_y, len(classes)) if cfg.class_weights else None
    criterion = nn.CrossEntropyLoss(weight=weight, label_smoothing=cfg.label_smoothing)
    emit(
        Plan(
            (Step("features", inputs.missing()), Step("batches", cfg.total_epochs * n_batches)),
            describe_path(cfg, spec.label),
        )
    )
    return Run(cfg, net, inputs, n_batches, criterion, t0)


def _pooled_sample(net: Network, inputs: Inputs) -> torch.Tensor:
    """Pooled features of up to 64 training images through the network as it stands (frozen, eval)."""
    if inputs.cached:
        z, start = inputs.view(0, 1).X[:64].float(), inputs.boundary
    else:  # full fine-tuning: decode a few training images
        pre = get_spec(inputs.cfg.backbone).preprocess
        batches = decode_batches(inputs.train_paths[:16], lambda im: eval_array(im, pre), 16, pre.resize_to)
        z, start = next((b for idx, b, _ in batches if len(idx)), torch.zeros(0)), 0
    net.eval()
    with torch.inference_mode():
        for stage in net.stages[start:] if len(z) else ():
            z = stage(z.contiguous(memory_format=torch.channels_last) if z.dim() == 4 else z)
    return z


def fit_text_scaling(net: Network, inputs: Inputs) -> None:
    """Standardise the text layouts on the training photos, to the spread of one pooled CNN feature:
    the two parts of the head's input then start on an equal footing."""
    T = inputs.training_layouts()
    if T is None:
        return
    z = _pooled_sample(net, inputs)
    spread = float(z.std(0).mean()) if len(z) > 1 else 1.0
    net.fit_text_scaling(T, spread if spread > 0 else 1.0)


@dataclass
class _Best:
    score: float = math.inf
    state: dict | None = None
    epoch: int = 0


def run_phases(run: Run, emit: OnEvent, should_stop: StopCheck) -> tuple[list[dict], _Best, bool]:
    """Every phase's epochs; returns (history, best epoch, stopped by the user)."""
    cfg, net, inputs = run.cfg, run.net, run.inputs
    eval_criterion = nn.CrossEntropyLoss()
    history: list[dict] = []
    best = _Best()
    epoch = 0
    g = torch.Generator().manual_seed(cfg.seed)
    try:
        if inputs.cached:
            inputs.view(0, 1)  # while this runs, the optimizer import warms up in its thread
        if not run.text_scaled:
            fit_text_scaling(net, inputs)
        for ph_i, phase in enumerate(cfg.phases):
            k = UNFREEZE_CHOICES[phase.unfreeze]
            net.set_trainable(k)
            opt = make_optimizer(param_groups(net, k, phase.lr, cfg), cfg.optimizer, phase.lr, cfg.weight_decay)
            sched = make_schedule(opt, cfg.schedule, phase.lr, phase.epochs * run.n_batches)
            since_best = 0
            for _ in range(phase.epochs):
                epoch += 1
                te = time.perf_counter()
                set_train_mode(net, net.boundary(k), cfg.bn_frozen)
                tl, ta = train_one_epoch(
                    net,
                    run.criterion,
                    opt,
                    sched,
                    inputs.batches(epoch, g),
                    inputs.boundary,
                    epoch,
                    cfg.total_epochs,
                    run.n_batches,
                    emit,
                    should_stop,
                    (epoch - 1) * run.n_batches,
                    MICRO_BATCH if inputs.cached and cfg.bn_frozen else 0,
                )
                val = inputs.validation()
                vl, va, _ = evaluate(net, val.X, val.T, val.y, inputs.boundary, eval_criterion)
                e = Epoch(
                    epoch,
                    cfg.total_epochs,
                    ph_i + 1,
                    phase.unfreeze,
                    tl,
                    ta,
                    vl,
                    va,
                    opt.param_groups[0]["lr"],
                    time.perf_counter() - te,
                )
                history.append(e.row())
                emit(e)
                score = vl if len(val) else -epoch  # no val set: keep the last epoch
                if score < best.score - 1e-6:
                    best = _Best(score, trainable_state(net, inputs.boundary), epoch)
                    since_best = 0
                else:
                    since_best += 1
                    if cfg.early_stopping and since_best >= cfg.early_stopping:
                        emit(Status(f"Early stopping: val loss did not improve for {since_best} epochs"))
                        break
    except Stopped:
        emit(Status("Stopped by the user"))
        if not history:
            raise
        return history, best, True
    return history, best, False


def finish(run: Run, history: list[dict], best: _Best, stopped: bool) -> TrainResult:
    """Restore the best epoch, score it on validation, and package the result."""
    cfg, net, inputs = run.cfg, run.net, run.inputs
    val = inputs.validation(full=True)  # the epochs may have picked the best on a subset: report all of it
    Xva, yva, va_paths = val.X, val.y, val.paths
    if best.state is not None:
        net.load_state_dict(best.state, strict=False)
    net.eval()
    net.requires_grad_(False)
    vl, va, probs = evaluate(net, val.X, val.T, val.y, inputs.boundary, nn.CrossEntropyLoss())
    temperature = fit_temperature(probs.numpy(), yva.numpy()) if len(Xva) else 1.0
    te = inputs.test()
    yte, te_paths = te.y, te.paths
    _, te_acc, te_probs = (
        evaluate(net, te.X, te.T, te.y, inputs.boundary, nn.CrossEntropyLoss()) if len(te) else (None, None, None)
    )
    metrics = Metrics(
        val_accuracy=va if len(Xva) else None,
        val_loss=vl if len(Xva) else None,
        best_epoch=best.epoch,
        epochs=len(history),
        train_seconds=round(time.perf_counter() - run.t0, 3),
        backbone=cfg.backbone,
        weights=cfg.weights_choice.label,
        classes=list(inputs.classes),
        n_train=len(inputs.train_paths),
        n_val=len(va_paths),
        stopped_early=stopped,
        temperature=round(temperature, 4),
        test_accuracy=te_acc,
        n_test=len(te_paths),
        text="reads the text on photos" if net.text_dim else "pixels only",
    )
    return TrainResult(
        net,
        list(inputs.classes),
        cfg,
        history,
        metrics,
        va_paths,
        yva.tolist(),
        probs.numpy() if len(Xva) else np.zeros((0, len(inputs.classes))),
        describe_path(cfg, get_spec(cfg.backbone).label),
        list(inputs.skipped),
        te_paths,
        yte.tolist(),
        te_probs.numpy() if te_probs is not None else None,
    )


def train(
    dataset: Dataset,
    cfg: TrainConfig,
    cache: FeatureCache | None = None,
    on_event: OnEvent | None = None,
    should_stop: StopCheck | None = None,
    head_from: Network | None = None,
) -> TrainResult:
    """Fine-tune ``cfg.backbone`` on ``dataset``; returns the best epoch's model.

    ``head_from``: start the head from this network's (a Quick run's head, as fastai trains the
    head before unfreezing: the blocks then start from useful gradients, not a random head's).
    """
    emit, stop = on_event or ignore, should_stop or never
    run = setup(dataset, cfg, cache, emit, stop)
    if head_from is not None and head_from.text_dim == run.net.text_dim:
        run.net.head.load_state_dict(head_from.head.state_dict())
        if run.net.text_dim:
            run.net.text_mean.copy_(head_from.text_mean)
            run.net.text_scale.copy_(head_from.text_scale)
            run.text_scaled = True
    history, best, stopped = run_phases(run, emit, stop)
    return finish(run, history, best, stopped)


def warm_up(cfg: TrainConfig) -> threading.Thread | None:
    """Export the frozen prefix this recipe will use, in the background, before Train is pressed.

    The export takes 1-5 s (more while the browser and page reruns share the CPU); done while
    the user reads the page, the first point on the live chart comes that much sooner. The
    job finds the export by content, so nothing is shared but read-only pretrained weights.
    """
    if cfg.weights == "random" or not runtime.wants_onnx(runtime.MIN_IMAGES):
        return None  # random weights differ per build: nothing to share
    k = cfg.deepest_unfreeze

    def work() -> None:
        net = build_network(cfg.backbone, 2, cfg.weights_choice)
        boundary = min(net.boundary(k), net.pool_via)  # pooled features go through pool_via
        if boundary > 0:
            size = get_spec(cfg.backbone).preprocess.size
            runtime.session(net, 0, boundary, False, torch.zeros(1, 3, size, size))

    return runtime.warm_in_background(f"{cfg.feature_tag}|{k}", work)
