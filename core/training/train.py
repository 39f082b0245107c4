"""Training: config, recipes, the loop and the learning-rate finder.

Plain functions with explicit arguments, in the spirit of torchvision's
reference ``train.py``: :func:`setup` builds what a run needs once,
:func:`train_one_epoch` and :func:`evaluate` do one pass each, :func:`train`
strings them together. The loop reports typed events through ``on_event`` and
checks ``should_stop`` every batch; it knows nothing of threads or the UI.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..data import augment
from ..data.dataset import Dataset, check_trainable
from ..data.preprocess import eval_array
from ..events import Advance, Batch, Epoch, OnEvent, Plan, Status, Step, StopCheck, Stopped, ignore, never
from ..models import runtime
from ..models.backbones import UNFREEZE_CHOICES, Network, WeightsChoice, build_network, get_spec
from ..models.features import FeatureCache, decode_batches, feature_tag
from .calibration import fit_temperature

OPTIMIZERS = ("adamw", "adam", "sgd")
# Fine-tuning blocks on cached maps: 16 images per forward/backward are as fast here as 32 (6.3-6.5
# against 6.7 ms per image) and hold half the activations; with BatchNorm frozen the step is the same.
MICRO_BATCH = 16
SCHEDULES = ("cosine", "constant", "onecycle")


@dataclass
class Phase:
    unfreeze: str = "head only"  # a key of UNFREEZE_CHOICES
    epochs: int = 10
    lr: float = 1e-3


@dataclass
class TrainConfig:
    backbone: str = "efficientnet_lite0"
    weights: str = "pretrained"  # pretrained | file | random
    weights_path: str | None = None
    phases: list[Phase] = field(default_factory=lambda: [Phase("head only", 30, 1e-3)])
    # Off by default: on a frozen backbone, cached augmented views cost a forward pass each
    # and did not raise accuracy (hymenoptera at 288 px: 0.974/0.974/0.967 without, 0.974/
    # 0.967/0.961 with light x 5 views, 7x slower). Presets and the Train page turn it on.
    augment: str = "none"
    disabled_steps: list[str] = field(default_factory=list)
    views: int = 5  # augmented views cached per training image
    batch_size: int = 32
    optimizer: str = "adamw"  # one of OPTIMIZERS
    schedule: str = "cosine"  # one of SCHEDULES
    weight_decay: float = 1e-4
    label_smoothing: float = 0.1
    class_weights: bool = False
    early_stopping: int = 0  # patience in epochs on val loss; 0 = off (best epoch still restored)
    seed: int = 0
    val_fraction: float = 0.2
    head_lr_mult: float = 1.0  # the head learns this many times faster than the blocks being fine-tuned
    lr_decay: float = 1.0  # each trainable stage further from the head learns this much slower
    bn_frozen: bool = False  # BatchNorm in fine-tuned blocks keeps its ImageNet statistics (eval mode)
    feature_flip: float = 0.0  # chance of mirroring a cached spatial input left-right (a free augmentation)

    @property
    def weights_choice(self) -> WeightsChoice:
        return WeightsChoice(self.weights, self.weights_path)

    @property
    def feature_tag(self) -> str:
        """Names the frozen backbone in feature-cache keys (shared by training, LR finder, label errors)."""
        return feature_tag(self.backbone, self.weights_choice)

    @property
    def total_epochs(self) -> int:
        return sum(p.epochs for p in self.phases)

    @property
    def deepest_unfreeze(self) -> int:
        return max(UNFREEZE_CHOICES[p.unfreeze] for p in self.phases)

    @property
    def augment_steps(self) -> list[str]:
        return augment.steps_for(self.augment, set(self.disabled_steps))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        d = dict(d)
        d["phases"] = [Phase(**p) for p in d.get("phases", [])] or [Phase()]
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})

    def validate(self) -> None:
        get_spec(self.backbone)
        augment.steps_for(self.augment, set(self.disabled_steps))
        for p in self.phases:
            if p.unfreeze not in UNFREEZE_CHOICES:
                raise ValueError(f"unknown layer group {p.unfreeze!r}; choose from {', '.join(UNFREEZE_CHOICES)}")
            if p.epochs < 1 or not (0 < p.lr < 10):
                raise ValueError("each phase needs epochs >= 1 and a learning rate in (0, 10)")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}")
        if not 1 <= self.batch_size <= 1024 or not 1 <= self.views <= 50:
            raise ValueError("batch size must be 1..1024 and views 1..50")
        if not (0 < self.head_lr_mult <= 1000 and 0 < self.lr_decay <= 1 and 0 <= self.feature_flip <= 1):
            raise ValueError("head_lr_mult must be in (0, 1000], lr_decay in (0, 1] and feature_flip in [0, 1]")


# Recipes a user picks by name; the seeds' recipes reproduced as presets.
PRESETS: dict[str, Callable[[], TrainConfig]] = {
    "recommended": lambda: TrainConfig(),
    "seed-mobilenetv2": lambda: TrainConfig(
        backbone="mobilenet_v2",
        phases=[Phase("head only", 10, 1e-3)],
        augment="seed",
        views=5,
        optimizer="adam",
        schedule="constant",
        label_smoothing=0.0,
    ),
    "seed-resnet34": lambda: TrainConfig(
        backbone="resnet34",
        phases=[Phase("last block + head", 5, 1e-4), Phase("head only", 3, 1e-4)],
        augment="light",
        views=5,
        optimizer="adam",
        schedule="constant",
        label_smoothing=0.0,
    ),
}
PRESET_LABELS = {
    "recommended": "Recommended (EfficientNet-Lite0 at 288 px, head trained on cached features)",
    "seed-mobilenetv2": "Seed: MobileNetV2 last layer (seed augmentation)",
    "seed-resnet34": "Seed: ResNet34 layer4+fc then fc (Adam)",
}


@dataclass
class Metrics:
    """What a finished run measured; stored in the model file as a plain dict."""

    val_accuracy: float | None
    val_loss: float | None
    best_epoch: int
    epochs: int
    train_seconds: float
    backbone: str
    weights: str
    classes: list[str]
    n_train: int
    n_val: int
    stopped_early: bool
    rung: str = ""  # which quality rung produced this model, when a ladder ran
    temperature: float = 1.0  # calibration: softmax(log p / T) is the chance of being right
    test_accuracy: float | None = None  # on a given test/ split, scored once after training
    n_test: int = 0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict | None) -> Metrics | None:
        if not isinstance(d, dict):
            return None
        known = {f.name for f in fields(cls)}
        try:
            return cls(**{k: v for k, v in d.items() if k in known})
        except TypeError:  # an older or foreign file: fields missing
            return None


@dataclass
class TrainResult:
    network: Network
    classes: list[str]
    config: TrainConfig
    history: list[dict]  # one row per epoch (Epoch.row())
    metrics: Metrics
    val_paths: list[Path]
    val_true: list[int]
    val_probs: np.ndarray  # (n_val, n_classes)
    path_in_use: str
    skipped: list[tuple[str, str]]
    test_paths: list[Path] = field(default_factory=list)  # a given test/ split: never trained or selected on
    test_true: list[int] = field(default_factory=list)
    test_probs: np.ndarray | None = None


def seeded_head(net: Network, seed: int) -> None:
    """Initialise the new head from the seed alone.

    How much of the global RNG building a network uses depends on what the process
    has cached already (the first build also materialises the pretrained weights), so
    the head is re-drawn here, after the build, for runs that repeat exactly.
    """
    seed_everything(seed)
    for m in net.head.modules():
        if hasattr(m, "reset_parameters"):
            m.reset_parameters()


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def describe_path(cfg: TrainConfig, spec_label: str) -> str:
    """What the user is told about how training runs (cached or full forward)."""
    k = cfg.deepest_unfreeze
    steps = cfg.augment_steps
    views = f"{cfg.views} augmented views per image" if steps else "1 view per image, no augmentation"
    once = "once per image and view" if steps and cfg.views > 1 else "once per image"
    if k == 0:
        return f"Fast path: {spec_label} runs {once}; the head trains on cached pooled features ({views})."
    if k < UNFREEZE_CHOICES["all"]:
        return (
            f"Fast path: the frozen part of {spec_label} runs {once}; the unfrozen "
            f"blocks + head train on cached block outputs ({views})."
        )
    return f"Full fine-tuning: every epoch runs the whole of {spec_label} on freshly augmented images (slow on CPU)."


def param_groups(net: Network, unfreeze: int, lr: float, cfg: TrainConfig) -> list[dict]:
    """The head at ``lr * head_lr_mult``; each trainable stage from the last backwards at ``lr * lr_decay**i``."""
    groups = [{"params": list(net.head.parameters()), "lr": lr * cfg.head_lr_mult}]
    first = net.boundary(unfreeze)
    for i, stage in enumerate(reversed(list(net.stages)[first:])):
        params = [p for p in stage.parameters() if p.requires_grad]
        if params:
            groups.append({"params": params, "lr": lr * cfg.lr_decay**i})
    return groups


def make_optimizer(params, name: str, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)


def make_schedule(opt, name: str, lr: float, total_steps: int):
    total_steps = max(1, total_steps)
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total_steps)
    if name == "onecycle":
        peaks = [g["lr"] for g in opt.param_groups]
        return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=peaks, total_steps=total_steps)
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0)


def class_weight_tensor(y: np.ndarray, n_classes: int) -> torch.Tensor:
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    counts[counts == 0] = 1
    return torch.tensor(len(y) / (n_classes * counts), dtype=torch.float32)


# ---------------------------------------------------------------- the inputs of a run


def view_name(cfg: TrainConfig, v: int) -> str:
    """The cache's name for augmented view ``v`` of a run's training images ("eval" without augmentation)."""
    steps = cfg.augment_steps
    return "eval" if not steps else f"aug{v}s{cfg.seed}:{','.join(steps)}"


def features_to_compute(cfg: TrainConfig, cache: FeatureCache, boundary: int, train_paths, eval_paths) -> int:
    """Cached inputs a run with ``cfg`` still has to compute: one per validation/test image, one per
    training image and view the epochs will reach."""
    views = min(cfg.views if cfg.augment_steps else 1, cfg.total_epochs)
    todo = cache.count_missing(cfg.feature_tag, boundary, list(eval_paths), "eval")
    for v in range(views):
        todo += cache.count_missing(cfg.feature_tag, boundary, list(train_paths), view_name(cfg, v))
    return todo


@dataclass
class Inputs:
    """The training and validation inputs at the network's boundary, computed (and cached) on demand.

    With a frozen prefix (``boundary > 0``) inputs are the prefix's cached outputs: one
    augmented view per epoch is computed until all views are cached. Without one (full
    fine-tuning) training images are decoded and augmented afresh every epoch.
    """

    net: Network
    cfg: TrainConfig
    cache: FeatureCache
    boundary: int
    classes: list[str]
    train_paths: list[Path]
    train_y: np.ndarray
    val_paths: list[Path]
    val_y: np.ndarray
    emit: OnEvent
    should_stop: StopCheck
    test_paths: list[Path] = field(default_factory=list)
    test_y: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    skipped: list[tuple[str, str]] = field(default_factory=list)
    computed: int = 0  # feature images computed so far (the plan's "features" step)
    _views: dict[int, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)
    _val: tuple[torch.Tensor, torch.Tensor, list[Path]] | None = None

    @property
    def cached(self) -> bool:
        return self.boundary > 0

    @property
    def steps(self) -> list[str]:
        return self.cfg.augment_steps

    @property
    def n_views(self) -> int:
        return self.cfg.views if self.steps else 1

    @property
    def min_side(self) -> int:
        return get_spec(self.cfg.backbone).preprocess.resize_to

    def view_name(self, v: int) -> str:
        return view_name(self.cfg, v)

    def transform(self, k: int):
        """View k's (or epoch k's) augmentation: seeded by the run's seed, so reruns repeat."""
        pre = get_spec(self.cfg.backbone).preprocess
        if not self.steps:
            return lambda img: eval_array(img, pre)
        return augment.train_transform(self.steps, pre, seed=self.cfg.seed * 1_000_003 + k)

    def missing(self) -> int:
        """Feature images this run still has to compute (what the plan counts)."""
        if not self.cached:
            return 0
        return features_to_compute(
            self.cfg, self.cache, self.boundary, self.train_paths, self.val_paths + self.test_paths
        )

    def _features(self, paths: list[Path], view: str, transform) -> tuple[torch.Tensor, list[int]]:
        base = {"computed": self.computed, "hits": None}

        def progress(done: int, total: int) -> None:
            if base["hits"] is None:  # the first call reports what was cached already
                base["hits"] = done
            self.computed = base["computed"] + done - base["hits"]
            self.emit(Advance("features", self.computed, f"{done}/{total} images"))

        X, ok, fails = self.cache.features(
            self.net,
            self.cfg.feature_tag,
            self.boundary,
            paths,
            view,
            transform,
            self.min_side,
            progress=progress,
            should_stop=self.should_stop,
            dtype=None,  # as stored: batches are upcast one at a time
            via=self.net.pool_via,
            keep_via=True,  # pooled features here: their maps are Better's inputs
        )
        for i, e in fails:
            if (str(paths[i]), e) not in self.skipped:
                self.skipped.append((str(paths[i]), e))
        if self.computed > base["computed"]:
            runtime.give_back_memory()  # decoded photos and batch buffers: back to the OS before training
        return X, ok

    def validation(self) -> tuple[torch.Tensor, torch.Tensor, list[Path]]:
        """Validation inputs, computed once, after the first training batches (the chart's first point comes sooner)."""
        if self._val is None:
            if self.val_paths:
                self.emit(Status(f"Computing features for {len(self.val_paths)} validation images"))
                X, ok = self._features(self.val_paths, "eval", self._eval_tf())
            else:
                X, ok = torch.empty(0), []
            self._val = (X, torch.tensor(self.val_y[ok], dtype=torch.long), [self.val_paths[i] for i in ok])
        return self._val

    def test(self) -> tuple[torch.Tensor, torch.Tensor, list[Path]]:
        """The test split's inputs, computed once at the very end (nothing before looks at them)."""
        if not self.test_paths:
            return torch.empty(0), torch.empty(0, dtype=torch.long), []
        self.emit(Status(f"Scoring the {len(self.test_paths)} test images once"))
        X, ok = self._features(self.test_paths, "eval", self._eval_tf())
        return X, torch.tensor(self.test_y[ok], dtype=torch.long), [self.test_paths[i] for i in ok]

    def _eval_tf(self):
        pre = get_spec(self.cfg.backbone).preprocess
        return lambda img: eval_array(img, pre)

    def view(self, v: int, epoch: int) -> tuple[torch.Tensor, torch.Tensor]:
        if v not in self._views:
            what = f"training view {v + 1} of {self.n_views}" if self.n_views > 1 else "the training images"
            self.emit(Status(f"Computing features for {what}" + (f" (epoch {epoch})" if v else "")))
            X, ok = self._features(self.train_paths, self.view_name(v), self.transform(v))
            self._views[v] = (X, torch.tensor(self.train_y[ok], dtype=torch.long))
        return self._views[v]

    def batches(self, epoch: int, generator: torch.Generator) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Shuffled training batches for one epoch."""
        bs = self.cfg.batch_size
        if self.cached:
            X, y = self.view((epoch - 1) % self.n_views, epoch)
            self.emit(Status(f"Training, epoch {epoch} of {self.cfg.total_epochs}"))
            perm = torch.randperm(len(X), generator=generator)
            for s in range(0, len(X), bs):
                xb = X[perm[s : s + bs]].float()
                if self.cfg.feature_flip and xb.dim() == 4:  # mirror some cached maps: a free augmentation
                    flip = torch.rand(len(xb), generator=generator) < self.cfg.feature_flip
                    xb = torch.where(flip[:, None, None, None], xb.flip(-1), xb)
                yield xb, y[perm[s : s + bs]]
            return
        self.emit(Status(f"Training, epoch {epoch} of {self.cfg.total_epochs} (decoding and augmenting every image)"))
        order = torch.randperm(len(self.train_paths), generator=generator).tolist()
        paths = [self.train_paths[i] for i in order]
        y = torch.tensor(self.train_y[order], dtype=torch.long)
        for idx, xb, _ in decode_batches(paths, self.transform(epoch), bs, self.min_side, should_stop=self.should_stop):
            if len(idx):
                yield xb, y[idx]


# ---------------------------------------------------------------- one pass each


def train_one_epoch(
    net: Network,
    criterion: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    boundary: int,
    epoch: int,
    epochs: int,
    n_batches: int,
    emit: OnEvent,
    should_stop: StopCheck,
    done_batches: int = 0,
    micro: int = 0,
) -> tuple[float, float]:
    """One epoch over ``batches``; returns (mean loss, accuracy) on what it trained on.

    ``micro``: run each batch's forward and backward this many images at a time and add up the
    gradients: the same step (where no BatchNorm trains) for a fraction of the activations' memory.
    """
    tot_loss = tot_correct = tot_n = 0.0
    for b, (xb, yb) in enumerate(batches):
        if should_stop():
            raise Stopped()
        n = len(yb)
        optimizer.zero_grad(set_to_none=True)
        batch_loss = 0.0
        for xc, yc in zip(xb.split(micro or n), yb.split(micro or n)):
            logits = net.forward_from(xc, boundary)
            loss = criterion(logits, yc) * (len(yc) / n)
            loss.backward()
            batch_loss += loss.item()
            tot_correct += (logits.argmax(1) == yc).sum().item()
        optimizer.step()
        scheduler.step()
        tot_loss += batch_loss * n
        tot_n += n
        emit(Batch(epoch, epochs, b + 1, n_batches, batch_loss, optimizer.param_groups[0]["lr"]))
        emit(Advance("batches", done_batches + b + 1))
    return tot_loss / max(tot_n, 1), tot_correct / max(tot_n, 1)


def evaluate(
    net: Network, X: torch.Tensor, y: torch.Tensor, boundary: int, criterion: nn.Module, batch_size: int = MICRO_BATCH
) -> tuple[float, float, torch.Tensor]:
    """(loss, accuracy, probabilities) of a network on cached inputs.

    Micro-batches, as in training: 64 cached maps through two expanded blocks held ~70 MB more at
    each validation, the peak of a Discover-then-train session on the hosted demo.
    """
    net.eval()
    if len(X) == 0:
        return float("nan"), float("nan"), torch.empty(0)
    outs = []
    with torch.inference_mode():
        for k in range(0, len(X), batch_size):
            outs.append(net.forward_from(X[k : k + batch_size].float(), boundary))
        logits = torch.cat(outs)
        loss = criterion(logits, y).item()
        probs = logits.softmax(1)
        acc = (probs.argmax(1) == y).float().mean().item()
    return loss, acc, probs


def _warm_optimizer_import() -> None:
    """The first optimizer construction imports torch._dynamo (seconds); do it while features compute."""
    torch.optim.AdamW([nn.Parameter(torch.zeros(1))])


def _trainable_state(net: Network, boundary: int) -> dict:
    return {
        k: v.detach().clone()
        for k, v in net.state_dict().items()
        if k.startswith("head.") or (k.startswith("stages.") and int(k.split(".")[1]) >= boundary)
    }


def _set_train_mode(net: Network, first_trainable: int, bn_frozen: bool = False) -> None:
    for i, stage in enumerate(net.stages):
        stage.train(i >= first_trainable)
        if bn_frozen:
            for m in stage.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()  # small data: ImageNet's statistics are better than a few batches' estimates
    net.head.train()


# ---------------------------------------------------------------- a run


@dataclass
class Run:
    """What :func:`setup` builds once and every epoch of a run uses."""

    cfg: TrainConfig
    net: Network
    inputs: Inputs
    n_batches: int
    criterion: nn.Module
    t0: float


def setup(dataset: Dataset, cfg: TrainConfig, cache: FeatureCache | None, emit: OnEvent, should_stop: StopCheck) -> Run:
    """Check the data, build the network and the inputs, announce the plan."""
    cfg.validate()
    check_trainable(dataset)
    seed_everything(cfg.seed)
    t0 = time.perf_counter()
    threading.Thread(target=_warm_optimizer_import, daemon=True).start()
    spec = get_spec(cfg.backbone)
    classes = list(dataset.classes)
    cidx = {c: i for i, c in enumerate(classes)}
    emit(Status(f"Loading {spec.label} ({cfg.weights_choice.label})"))
    net = build_network(cfg.backbone, len(classes), cfg.weights_choice)
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
    n_batches = max(1, math.ceil(len(inputs.train_paths) / cfg.batch_size))
    weight = class_weight_tensor(inputs.train_y, len(classes)) if cfg.class_weights else None
    criterion = nn.CrossEntropyLoss(weight=weight, label_smoothing=cfg.label_smoothing)
    emit(
        Plan(
            (Step("features", inputs.missing()), Step("batches", cfg.total_epochs * n_batches)),
            describe_path(cfg, spec.label),
        )
    )
    return Run(cfg, net, inputs, n_batches, criterion, t0)


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
        for ph_i, phase in enumerate(cfg.phases):
            k = UNFREEZE_CHOICES[phase.unfreeze]
            net.set_trainable(k)
            opt = make_optimizer(param_groups(net, k, phase.lr, cfg), cfg.optimizer, phase.lr, cfg.weight_decay)
            sched = make_schedule(opt, cfg.schedule, phase.lr, phase.epochs * run.n_batches)
            since_best = 0
            for _ in range(phase.epochs):
                epoch += 1
                te = time.perf_counter()
                _set_train_mode(net, net.boundary(k), cfg.bn_frozen)
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
                Xva, yva, _ = inputs.validation()
                vl, va, _ = evaluate(net, Xva, yva, inputs.boundary, eval_criterion)
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
                score = vl if len(Xva) else -epoch  # no val set: keep the last epoch
                if score < best.score - 1e-6:
                    best = _Best(score, _trainable_state(net, inputs.boundary), epoch)
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
    Xva, yva, va_paths = inputs.validation()
    if best.state is not None:
        net.load_state_dict(best.state, strict=False)
    net.eval()
    net.requires_grad_(False)
    vl, va, probs = evaluate(net, Xva, yva, inputs.boundary, nn.CrossEntropyLoss())
    temperature = fit_temperature(probs.numpy(), yva.numpy()) if len(Xva) else 1.0
    Xte, yte, te_paths = inputs.test()
    _, te_acc, te_probs = (
        evaluate(net, Xte, yte, inputs.boundary, nn.CrossEntropyLoss()) if len(Xte) else (None, None, None)
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
    if head_from is not None:
        run.net.head.load_state_dict(head_from.head.state_dict())
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


@dataclass
class LrFinding:
    lrs: list[float]
    losses: list[float]
    suggestion: float


def lr_find(
    dataset: Dataset,
    cfg: TrainConfig,
    cache: FeatureCache | None = None,
    start: float = 1e-6,
    end: float = 1.0,
    steps: int = 100,
    on_event: OnEvent | None = None,
    should_stop: StopCheck | None = None,
) -> LrFinding:
    """Learning-rate range test on the head over cached features.

    Returns lrs, smoothed losses and the suggestion (steepest descent of the
    smoothed curve, as fastai does), which the UI offers as a one-click choice.
    """
    head_cfg = replace(cfg, phases=[Phase("head only", 1, start)], augment="none")
    run = setup(dataset, head_cfg, cache, on_event or ignore, should_stop or never)
    X, y = run.inputs.view(0, 1)
    net = run.net
    net.set_trainable(0)
    net.head.train()
    opt = make_optimizer(net.head.parameters(), cfg.optimizer, start, cfg.weight_decay)
    mult = (end / start) ** (1 / max(1, steps - 1))
    criterion = nn.CrossEntropyLoss()
    g = torch.Generator().manual_seed(cfg.seed)
    lrs, losses, smooth = [], [], 0.0
    best = math.inf
    for s in range(steps):
        lr = start * mult**s
        for pg in opt.param_groups:
            pg["lr"] = lr
        idx = torch.randint(0, len(X), (min(cfg.batch_size, len(X)),), generator=g)
        loss = criterion(net.forward_from(X[idx].float(), run.inputs.boundary), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        smooth = 0.9 * smooth + 0.1 * loss.item()
        val = smooth / (1 - 0.9 ** (s + 1))
        lrs.append(lr)
        losses.append(val)
        best = min(best, val)
        if val > 4 * best and s > 10:
            break
    return LrFinding(lrs, losses, _steepest(lrs, losses))


def _steepest(lrs: list[float], losses: list[float]) -> float:
    """The learning rate where the smoothed loss falls fastest, before its minimum."""
    arr = np.array(losses)
    if len(arr) <= 2:
        return float(lrs[0]) if lrs else 1e-3
    grads = np.gradient(arr, np.log10(np.array(lrs)))
    upto = int(np.argmin(arr))
    return float(lrs[int(np.argmin(grads[: max(upto, 1)]))])
