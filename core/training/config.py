"""What a training run is asked to do and what it gives back.

:class:`TrainConfig` (its :class:`Phase` list), the named :data:`PRESETS`, the
:class:`Metrics` a finished run measured, the :class:`TrainResult` it returns,
and :func:`describe_path`, the words that say how the run will go.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from ..data import augment
from ..models.backbones import UNFREEZE_CHOICES, Network, WeightsChoice, get_spec
from ..models.features import feature_tag

OPTIMIZERS = ("adamw", "adam", "sgd")
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
    # The head also reads each photo's text layout (where its writing sits: captions, chat lines,
    # pages), which the CNN cannot see. The automatic ladder keeps it only if validation improves.
    text: bool = True
    # Large galleries (core.training.budget): each view's cached inputs cover this many training
    # photos, and each epoch validates on this many; 0 = all of them (the full split is scored at the end).
    view_photos: int = 0
    val_photos: int = 0

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
        d.setdefault("text", False)  # a config stored before text layouts existed read none
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
        if self.view_photos < 0 or self.val_photos < 0:
            raise ValueError("view_photos and val_photos must be 0 (all) or a number of photos")


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
    text: str = ""  # whether the model reads the text on photos, and what validation said about it

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


def describe_path(cfg: TrainConfig, spec_label: str) -> str:
    """What the user is told about how training runs (cached or full forward)."""
    k = cfg.deepest_unfreeze
    steps = cfg.augment_steps
    views = f"{cfg.views} augmented views per image" if steps else "1 view per image, no augmentation"
    once = "once per image and view" if steps and cfg.views > 1 else "once per image"
    if k == 0:
        return f"Fast path: {spec_label} runs {once}; the head trains on cached pooled features ({views})."
    if k < UNFREEZE_CHOICES["all"]:
        sample = f"; each view covers {cfg.view_photos:,} of the training photos" if cfg.view_photos else ""
        return (
            f"Fast path: the frozen part of {spec_label} runs {once}; the unfrozen "
            f"blocks + head train on cached block outputs ({views}{sample})."
        )
    return f"Full fine-tuning: every epoch runs the whole of {spec_label} on freshly augmented images (slow on CPU)."
