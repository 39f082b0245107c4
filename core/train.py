"""Training: config, recipes, the loop and the learning-rate finder.

Plain functions with explicit arguments, in the spirit of torchvision's
reference ``train.py``. The loop reports through an ``on_event`` callback and
checks ``should_stop`` every batch; it knows nothing of threads or the UI.
"""
from __future__ import annotations

import math
import threading
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from . import augment, runtime
from .backbones import UNFREEZE_CHOICES, Network, WeightsChoice, build_network, get_spec
from .dataset import Dataset, check_trainable
from .features import FeatureCache, Stopped, decode_batches

Event = dict[str, Any]
OnEvent = Callable[[Event], None]


@dataclass
class Phase:
    unfreeze: str = "head only"  # a key of UNFREEZE_CHOICES
    epochs: int = 10
    lr: float = 1e-3


def feature_tag(backbone: str, weights: WeightsChoice) -> str:
    return f"{backbone}|{weights.label}"


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
    optimizer: str = "adamw"  # adam | adamw | sgd
    schedule: str = "cosine"  # constant | cosine | onecycle
    weight_decay: float = 1e-4
    label_smoothing: float = 0.1
    class_weights: bool = False
    early_stopping: int = 0  # patience in epochs on val loss; 0 = off (best epoch still restored)
    seed: int = 0
    val_fraction: float = 0.2

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

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        d = dict(d)
        d["phases"] = [Phase(**p) for p in d.get("phases", [])] or [Phase()]
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in known})

    def validate(self) -> None:
        get_spec(self.backbone)
        augment.steps_for(self.augment, set(self.disabled_steps))
        for p in self.phases:
            if p.unfreeze not in UNFREEZE_CHOICES:
                raise ValueError(f"unknown layer group {p.unfreeze!r}; choose from {', '.join(UNFREEZE_CHOICES)}")
            if p.epochs < 1 or not (0 < p.lr < 10):
                raise ValueError("each phase needs epochs >= 1 and a learning rate in (0, 10)")
        if self.optimizer not in ("adam", "adamw", "sgd"):
            raise ValueError("optimizer must be adam, adamw or sgd")
        if self.schedule not in ("constant", "cosine", "onecycle"):
            raise ValueError("schedule must be constant, cosine or onecycle")
        if not 1 <= self.batch_size <= 1024 or not 1 <= self.views <= 50:
            raise ValueError("batch size must be 1..1024 and views 1..50")


# Recipes a user picks by name; the seeds' recipes reproduced as presets.
PRESETS: dict[str, Callable[[], TrainConfig]] = {
    "recommended": lambda: TrainConfig(),
    "seed-mobilenetv2": lambda: TrainConfig(
        backbone="mobilenet_v2", phases=[Phase("head only", 10, 1e-3)], augment="seed", views=5,
        optimizer="adam", schedule="constant", label_smoothing=0.0,
    ),
    "seed-resnet34": lambda: TrainConfig(
        backbone="resnet34", phases=[Phase("last block + head", 5, 1e-4), Phase("head only", 3, 1e-4)],
        augment="light", views=5, optimizer="adam", schedule="constant", label_smoothing=0.0,
    ),
}
PRESET_LABELS = {
    "recommended": "Recommended (EfficientNet-Lite0 at 288 px, head trained on cached features)",
    "seed-mobilenetv2": "Seed: MobileNetV2 last layer (seed augmentation)",
    "seed-resnet34": "Seed: ResNet34 layer4+fc then fc (Adam)",
}


@dataclass
class TrainResult:
    network: Network
    classes: list[str]
    config: TrainConfig
    history: list[dict]
    metrics: dict
    val_paths: list[Path]
    val_true: list[int]
    val_probs: np.ndarray  # (n_val, n_classes)
    path_in_use: str
    skipped: list[tuple[str, str]]


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
    k = max(UNFREEZE_CHOICES[p.unfreeze] for p in cfg.phases)
    steps = augment.steps_for(cfg.augment, set(cfg.disabled_steps))
    views = f"{cfg.views} augmented views per image" if steps else "1 view per image, no augmentation"
    once = "once per image and view" if steps and cfg.views > 1 else "once per image"
    if k == 0:
        return f"Fast path: {spec_label} runs {once}; the head trains on cached pooled features ({views})."
    if k < 3:
        return (f"Fast path: the frozen part of {spec_label} runs {once}; the unfrozen "
                f"blocks + head train on cached block outputs ({views}).")
    return f"Full fine-tuning: every epoch runs the whole of {spec_label} on freshly augmented images (slow on CPU)."


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
        return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=total_steps)
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0)


def class_weight_tensor(y: np.ndarray, n_classes: int) -> torch.Tensor:
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    counts[counts == 0] = 1
    return torch.tensor(len(y) / (n_classes * counts), dtype=torch.float32)


def evaluate_cached(net: Network, X: torch.Tensor, y: torch.Tensor, boundary: int,
                    criterion: nn.Module, batch_size: int = 256) -> tuple[float, float, torch.Tensor]:
    """(loss, accuracy, probabilities) of a network on cached inputs."""
    net.eval()
    if len(X) == 0:
        return float("nan"), float("nan"), torch.empty(0)
    outs = []
    with torch.inference_mode():
        for k in range(0, len(X), batch_size):
            outs.append(net.forward_from(X[k:k + batch_size], boundary))
        logits = torch.cat(outs)
        loss = criterion(logits, y).item()
        probs = logits.softmax(1)
        acc = (probs.argmax(1) == y).float().mean().item()
    return loss, acc, probs


def _warm_optimizer_import() -> None:
    """The first optimizer construction imports torch._dynamo (seconds); do it while features compute."""
    torch.optim.AdamW([nn.Parameter(torch.zeros(1))])


def _trainable_state(net: Network, boundary: int) -> dict:
    return {k: v.detach().clone() for k, v in net.state_dict().items()
            if k.startswith("head.") or (k.startswith("stages.") and int(k.split(".")[1]) >= boundary)}


def train(
    dataset: Dataset,
    cfg: TrainConfig,
    cache: FeatureCache | None = None,
    on_event: OnEvent | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainResult:
    """Fine-tune ``cfg.backbone`` on ``dataset``; returns the best epoch's model."""
    cfg.validate()
    check_trainable(dataset)
    emit = on_event or (lambda e: None)
    stop = should_stop or (lambda: False)
    cache = cache if cache is not None else FeatureCache()
    seed_everything(cfg.seed)
    t0 = time.perf_counter()
    threading.Thread(target=_warm_optimizer_import, daemon=True).start()

    spec = get_spec(cfg.backbone)
    classes = list(dataset.classes)
    cidx = {c: i for i, c in enumerate(classes)}
    emit({"type": "status", "message": f"Loading {spec.label} ({cfg.weights_choice.label})"})
    net = build_network(cfg.backbone, len(classes), cfg.weights_choice)
    seeded_head(net, cfg.seed)
    pre = spec.preprocess
    max_k = max(UNFREEZE_CHOICES[p.unfreeze] for p in cfg.phases)
    boundary = net.boundary(max_k)
    cached = boundary > 0
    tag = cfg.feature_tag
    steps = augment.steps_for(cfg.augment, set(cfg.disabled_steps))
    views = cfg.views if steps else 1
    eval_tf = lambda img: augment.eval_array(img, pre)  # noqa: E731
    def train_tf_for(k: int):
        """View k's (or epoch k's) augmentation: seeded by the run's seed, so reruns repeat."""
        return augment.train_transform(steps, pre, seed=cfg.seed * 1_000_003 + k)
    min_side = pre.resize_to
    path_in_use = describe_path(cfg, spec.label)
    emit({"type": "path", "message": path_in_use})

    train_items = dataset.split_items("train")
    val_items = dataset.split_items("val")
    tr_paths = [i.path for i in train_items]
    tr_y = np.array([cidx[i.label] for i in train_items])
    va_paths = [i.path for i in val_items]
    skipped: list[tuple[str, str]] = []

    if cached:  # one augmented view is computed per epoch until all views are cached
        emit({"type": "plan", "feature_images": len(va_paths) + min(views, cfg.total_epochs) * len(tr_paths),
              "feature_share": 0.9 if max_k == 0 else 0.5})

    def progress(what: str):
        return lambda done, total: emit({"type": "cache", "what": what, "done": done, "total": total})

    val_state: dict = {}

    def validation() -> tuple[torch.Tensor, torch.Tensor]:
        """Validation inputs, cached once; computed after the first training batches so the
        live chart gets its first point as early as possible."""
        if not val_state:
            emit({"type": "status", "message": f"Computing features for {len(va_paths)} validation images"})
            X, ok, fails = (cache.features(net, tag, boundary, va_paths, "eval", eval_tf, min_side,
                                           progress=progress("validation"), should_stop=stop)
                            if va_paths else (torch.empty(0), [], []))
            skipped.extend((str(va_paths[i]), e) for i, e in fails)
            val_state["paths"] = [va_paths[i] for i in ok]
            val_state["X"] = X
            val_state["y"] = torch.tensor([cidx[val_items[i].label] for i in ok], dtype=torch.long)
        return val_state["X"], val_state["y"]

    view_cache: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def train_view(v: int) -> tuple[torch.Tensor, torch.Tensor]:
        if v not in view_cache:
            name = "eval" if not steps else f"aug{v}s{cfg.seed}:{','.join(steps)}"
            tf = eval_tf if not steps else train_tf_for(v)
            emit({"type": "status", "message": f"Computing features for training view {v + 1} of {views}"
                  + (f" (epoch {epoch})" if v else "")})
            X, ok_idx, fails = cache.features(net, tag, boundary, tr_paths, name, tf, min_side,
                                              progress=progress(f"training view {v + 1}/{views}"), should_stop=stop)
            for i, e in fails:
                if (str(tr_paths[i]), e) not in skipped:
                    skipped.append((str(tr_paths[i]), e))
            view_cache[v] = (X, torch.tensor(tr_y[ok_idx], dtype=torch.long))
        return view_cache[v]

    weight = class_weight_tensor(tr_y, len(classes)) if cfg.class_weights else None
    criterion = nn.CrossEntropyLoss(weight=weight, label_smoothing=cfg.label_smoothing)
    eval_criterion = nn.CrossEntropyLoss()
    history: list[dict] = []
    best = {"loss": math.inf, "state": None, "epoch": 0}
    epoch = 0
    stopped = False
    g = torch.Generator().manual_seed(cfg.seed)
    n_batches = max(1, math.ceil(len(tr_paths) / cfg.batch_size))
    try:
        if cached:
            train_view(0)  # while this runs, the optimizer import warms up in its thread
        for ph_i, phase in enumerate(cfg.phases):
            k = UNFREEZE_CHOICES[phase.unfreeze]
            net.set_trainable(k)
            ph_boundary = net.boundary(k)
            params = [p for p in net.parameters() if p.requires_grad]
            opt = make_optimizer(params, cfg.optimizer, phase.lr, cfg.weight_decay)
            sched = make_schedule(opt, cfg.schedule, phase.lr, phase.epochs * n_batches)
            since_best = 0
            for _ in range(phase.epochs):
                epoch += 1
                te = time.perf_counter()
                for i, stage in enumerate(net.stages):
                    stage.train(i >= ph_boundary)
                net.head.train()
                tot_loss = tot_correct = tot_n = 0.0
                if cached:
                    X, y = train_view((epoch - 1) % views)
                    perm = torch.randperm(len(X), generator=g)
                    batches = ((X[perm[s:s + cfg.batch_size]], y[perm[s:s + cfg.batch_size]])
                               for s in range(0, len(X), cfg.batch_size))
                else:
                    order = torch.randperm(len(tr_paths), generator=g).tolist()
                    paths_e = [tr_paths[i] for i in order]
                    y_e = torch.tensor(tr_y[order], dtype=torch.long)
                    batches = ((xb, y_e[idx]) for idx, xb, _ in decode_batches(
                        paths_e, train_tf_for(epoch), cfg.batch_size, min_side, should_stop=stop) if len(idx))
                for b, (xb, yb) in enumerate(batches):
                    if stop():
                        raise Stopped()
                    logits = net.forward_from(xb, boundary)
                    loss = criterion(logits, yb)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    sched.step()
                    n = len(yb)
                    tot_loss += loss.item() * n
                    tot_correct += (logits.argmax(1) == yb).sum().item()
                    tot_n += n
                    emit({"type": "batch", "epoch": epoch, "batch": b + 1, "batches": n_batches,
                          "loss": loss.item(), "lr": opt.param_groups[0]["lr"]})
                Xva, yva = validation()
                vl, va, _ = evaluate_cached(net, Xva, yva, boundary, eval_criterion)
                row = {"epoch": epoch, "phase": ph_i + 1, "unfreeze": phase.unfreeze,
                       "train_loss": tot_loss / max(tot_n, 1), "train_acc": tot_correct / max(tot_n, 1),
                       "val_loss": vl, "val_acc": va, "lr": opt.param_groups[0]["lr"],
                       "seconds": time.perf_counter() - te}
                history.append(row)
                emit({"type": "epoch", **row, "epochs": cfg.total_epochs})
                score = vl if len(Xva) else -epoch  # no val set: keep the last epoch
                if score < best["loss"] - 1e-6:
                    best = {"loss": score, "state": _trainable_state(net, boundary), "epoch": epoch}
                    since_best = 0
                else:
                    since_best += 1
                    if cfg.early_stopping and since_best >= cfg.early_stopping:
                        emit({"type": "status", "message": f"Early stopping: val loss did not improve for {since_best} epochs"})
                        break
    except Stopped:
        stopped = True
        emit({"type": "status", "message": "Stopped by the user"})
        if not history:
            raise

    Xva, yva = validation()
    va_paths = val_state["paths"]
    if best["state"] is not None:
        net.load_state_dict(best["state"], strict=False)
    net.eval()
    net.requires_grad_(False)
    vl, va, probs = evaluate_cached(net, Xva, yva, boundary, eval_criterion)
    metrics = {
        "val_accuracy": va if len(Xva) else None,
        "val_loss": vl if len(Xva) else None,
        "best_epoch": best["epoch"],
        "epochs": epoch,
        "train_seconds": round(time.perf_counter() - t0, 3),
        "backbone": cfg.backbone,
        "weights": cfg.weights_choice.label,
        "classes": classes,
        "n_train": len(tr_paths),
        "n_val": len(va_paths),
        "stopped_early": stopped,
    }
    return TrainResult(net, classes, cfg, history, metrics, va_paths, yva.tolist(),
                       probs.numpy() if len(Xva) else np.zeros((0, len(classes))), path_in_use, skipped)


def warm_up(cfg: TrainConfig) -> threading.Thread | None:
    """Export the frozen prefix this recipe will use, in the background, before Train is pressed.

    The export takes 1-5 s (more while the browser and page reruns share the CPU); done while
    the user reads the page, the first point on the live chart comes that much sooner. The
    job finds the export by content, so nothing is shared but read-only pretrained weights.
    """
    if cfg.weights == "random" or not runtime.wants_onnx(runtime.MIN_IMAGES):
        return None  # random weights differ per build: nothing to share
    k = max(UNFREEZE_CHOICES[p.unfreeze] for p in cfg.phases)

    def work() -> None:
        net = build_network(cfg.backbone, 2, cfg.weights_choice)
        boundary = net.boundary(k)
        if boundary > 0:
            size = get_spec(cfg.backbone).preprocess.size
            runtime.session(net, 0, boundary, False, torch.zeros(1, 3, size, size))

    return runtime.warm_in_background(f"{cfg.feature_tag}|{k}", work)


def lr_find(
    dataset: Dataset,
    cfg: TrainConfig,
    cache: FeatureCache | None = None,
    start: float = 1e-6,
    end: float = 1.0,
    steps: int = 100,
    on_event: OnEvent | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> dict:
    """Learning-rate range test on the head over cached features.

    Returns lrs, smoothed losses and the suggestion (steepest descent of the
    smoothed curve, as fastai does), which the UI offers as a one-click choice.
    """
    check_trainable(dataset)
    seed_everything(cfg.seed)
    cache = cache if cache is not None else FeatureCache()
    spec = get_spec(cfg.backbone)
    classes = list(dataset.classes)
    cidx = {c: i for i, c in enumerate(classes)}
    net = build_network(cfg.backbone, len(classes), cfg.weights_choice)
    seeded_head(net, cfg.seed)
    boundary = net.boundary(0)
    items = dataset.split_items("train")
    pre = spec.preprocess
    emit = on_event or (lambda e: None)
    X, ok, _ = cache.features(net, cfg.feature_tag, boundary,
                              [i.path for i in items], "eval", lambda im: augment.eval_array(im, pre),
                              pre.resize_to, should_stop=should_stop,
                              progress=lambda d, t: emit({"type": "cache", "what": "lr finder", "done": d, "total": t}))
    y = torch.tensor([cidx[items[i].label] for i in ok], dtype=torch.long)
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
        loss = criterion(net.forward_from(X[idx], boundary), y[idx])
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
    arr = np.array(losses)
    grads = np.gradient(arr, np.log10(np.array(lrs))) if len(arr) > 2 else np.zeros_like(arr)
    upto = int(np.argmin(arr)) if len(arr) else 0
    sug_i = int(np.argmin(grads[: max(upto, 1)])) if len(arr) > 2 else 0
    return {"lrs": lrs, "losses": losses, "suggestion": float(lrs[sug_i]) if lrs else 1e-3}
