"""The trained-model bundle: one file with weights, classes, backbone and metrics.

Loading never executes code from the file: ``torch.load(weights_only=True)``
accepts tensors and plain containers only, so a malicious pickle is refused
with a clear message instead of running.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..models import text_detector, text_layout
from ..models.backbones import Network, build_network, get_spec
from .calibration import HeldOut
from .config import Metrics, TrainConfig, TrainResult

FORMAT = "gallery-sorter/1"
MODEL_FILE = "model.pt"


class ModelFileError(ValueError):
    """A model file that cannot be loaded, with a message fit for the user."""


@dataclass
class ModelBundle:
    network: Network
    backbone: str
    classes: list[str]
    metrics: Metrics | None = None  # None: unknown (a file from elsewhere)
    config: TrainConfig | None = None  # how it was trained, when known
    held_out: HeldOut | None = None  # its validation predictions: what a sort's precision claim rests on

    @classmethod
    def from_result(cls, result: TrainResult) -> ModelBundle:
        held = HeldOut(np.asarray(result.val_probs, np.float32), np.asarray(result.val_true, np.int64))
        return cls(
            result.network,
            result.config.backbone,
            result.classes,
            result.metrics,
            result.config,
            held if len(held) else None,
        )

    @property
    def temperature(self) -> float:
        """Calibration from training (1.0 for a file that does not say)."""
        return self.metrics.temperature if self.metrics is not None else 1.0

    @property
    def preprocess(self):
        return get_spec(self.backbone).preprocess

    @property
    def reads_text(self) -> bool:
        """Whether the model also reads each photo's text layout (files from before text read none)."""
        return self.network.text_dim > 0

    def frozen_boundary(self) -> int:
        """First stage any training phase changed (0 if unknown): everything before it is pretrained."""
        if self.config is None or not self.config.phases:
            return 0
        return self.network.boundary(self.config.deepest_unfreeze)

    def meta(self) -> dict:
        pre = self.preprocess
        return {
            "format": FORMAT,
            "backbone": self.backbone,
            "classes": self.classes,
            "metrics": self.metrics.to_dict() if self.metrics else {},
            "config": self.config.to_dict() if self.config else {},
            "preprocess": {"size": pre.size, "mean": list(pre.mean), "std": list(pre.std)},
            "text": text_meta(self.network.text_dim),
        }


def text_meta(dim: int) -> dict:
    """What a file records of the text layout its head reads: enough to refuse a mismatched descriptor."""
    if not dim:
        return {"used": False}
    return {"used": True, "dim": dim, "version": text_layout.VERSION, "pixels": text_detector.DETECT_PIXELS}


def _text_dim(meta: dict) -> int:
    text = meta.get("text") or {}
    if not text.get("used"):
        return 0
    if text.get("version") != text_layout.VERSION or text.get("dim") != text_layout.DIM:
        raise ModelFileError(
            f"this model reads text layouts of version {text.get('version')}; this app computes version "
            f"{text_layout.VERSION}: retrain it here"
        )
    return int(text["dim"])


def _config(d) -> TrainConfig | None:
    """The training config stored in a file, or None when it is missing or not ours."""
    if not isinstance(d, dict) or not d:
        return None
    try:
        cfg = TrainConfig.from_dict(d)
        cfg.validate()
        return cfg
    except (TypeError, ValueError):
        return None


def to_bytes(bundle: ModelBundle) -> bytes:
    buf = io.BytesIO()
    state = {k: v.contiguous() for k, v in bundle.network.state_dict().items()}
    obj = {"meta_json": json.dumps(bundle.meta()), "state_dict": state}
    if bundle.held_out is not None:
        obj["held_out"] = {
            "probs": torch.from_numpy(np.asarray(bundle.held_out.probs, np.float32)),
            "true": torch.from_numpy(np.asarray(bundle.held_out.true, np.int64)),
        }
    torch.save(obj, buf)
    return buf.getvalue()


def from_bytes(data: bytes) -> ModelBundle:
    try:
        obj = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # weights_only refuses code and arbitrary objects; junk fails to unpickle
        if "Unsupported global" in str(exc):
            raise ModelFileError(
                "not a Gallery Sorter model file: it holds code or objects beyond weights and "
                "settings, which are refused for safety"
            ) from None
        raise ModelFileError(
            "not a Gallery Sorter model file (unreadable or damaged data, or content that is refused for safety)"
        ) from None
    if not isinstance(obj, dict) or "meta_json" not in obj or "state_dict" not in obj:
        raise ModelFileError("not a Gallery Sorter model file (missing metadata)")
    try:
        meta = json.loads(obj["meta_json"])
    except (TypeError, ValueError):
        raise ModelFileError("model metadata is corrupt") from None
    if meta.get("format") != FORMAT:
        raise ModelFileError(f"unsupported model format {meta.get('format')!r}")
    classes = meta.get("classes")
    if not isinstance(classes, list) or len(classes) < 2 or not all(isinstance(c, str) for c in classes):
        raise ModelFileError("model metadata has no valid class list")
    text_dim = _text_dim(meta)
    try:
        get_spec(meta["backbone"])
        net = build_network(meta["backbone"], len(classes), load_backbone=False, text_dim=text_dim)
        net.load_state_dict(obj["state_dict"], strict=True)
    except Exception as exc:
        raise ModelFileError(f"model weights do not fit the declared backbone: {str(exc)[:200]}") from None
    net.eval()
    net.requires_grad_(False)
    metrics, config = Metrics.from_dict(meta.get("metrics")), _config(meta.get("config"))
    return ModelBundle(net, meta["backbone"], classes, metrics, config, _held_out(obj.get("held_out"), len(classes)))


def _held_out(d, n_classes: int) -> HeldOut | None:
    """The validation predictions a file carries (files from before they were kept carry none)."""
    try:
        probs, true = d["probs"].numpy(), d["true"].numpy()
    except (TypeError, KeyError, AttributeError):
        return None
    if probs.ndim != 2 or probs.shape[1] != n_classes or len(true) != len(probs) or not len(true):
        return None
    if true.min() < 0 or true.max() >= n_classes:
        return None
    return HeldOut(probs, true)


def save_dir(bundle: ModelBundle, out: Path) -> Path:
    """MODEL_DIR layout used by the CLI: model.pt + metrics.json."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MODEL_FILE).write_bytes(to_bytes(bundle))
    (out / "metrics.json").write_text(json.dumps(bundle.metrics.to_dict() if bundle.metrics else {}, indent=2))
    return out / MODEL_FILE


def load(path: Path) -> ModelBundle:
    """A model.pt file, or a MODEL_DIR holding one."""
    path = Path(path)
    if path.is_dir():
        path = path / MODEL_FILE
    if not path.is_file():
        raise ModelFileError(f"no model file at {path}")
    return from_bytes(path.read_bytes())
