"""Export a trained bundle to ONNX or TorchScript, with a parity check.

An export is only reported as good when the exported model gives the same
top-1 class as the torch model on sample inputs (real images when given).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ..data.images import ImageError, load_rgb
from ..data.preprocess import eval_array
from ..training.model_io import ModelBundle

FORMATS = ("onnx", "torchscript")


@dataclass
class ExportReport:
    format: str
    path: str
    samples: int
    top1_agreement: float
    max_abs_diff: float

    @property
    def ok(self) -> bool:
        return self.top1_agreement == 1.0


def sample_inputs(bundle: ModelBundle, images: Sequence[Path] = (), n_random: int = 4, seed: int = 0) -> torch.Tensor:
    """Real images (preprocessed exactly as for prediction), topped up with random inputs."""
    pre = bundle.preprocess
    arrs = []
    for p in images:
        try:
            arrs.append(eval_array(load_rgb(p, min_side=pre.resize_to), pre))
        except ImageError:
            continue
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n_random, 3, pre.size, pre.size, generator=g)
    if arrs:
        x = torch.cat([torch.from_numpy(np.stack(arrs)), x])
    return x


class _Plain(torch.nn.Module):
    """Contiguous NCHW in, logits out: what an exported graph should see."""

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for stage in self.net.stages:
            x = stage(x)
        return self.net.head(x)


def _reference(bundle: ModelBundle, x: torch.Tensor) -> np.ndarray:
    with torch.inference_mode():
        return bundle.network(x).numpy()


def export_torchscript(bundle: ModelBundle, out: Path, x: torch.Tensor) -> ExportReport:
    model = _Plain(bundle.network).eval()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        scripted = torch.jit.trace(model, x[:1])
        scripted.save(str(out))
        loaded = torch.jit.load(str(out))
        got = loaded(x).numpy()
    return _report("torchscript", out, _reference(bundle, x), got)


def export_onnx(bundle: ModelBundle, out: Path, x: torch.Tensor) -> ExportReport:
    import onnxruntime as ort

    model = _Plain(bundle.network).eval()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (x[:1],),
            str(out),
            input_names=["input"],
            output_names=["logits"],
            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
            dynamo=False,
        )
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    got = sess.run(["logits"], {"input": x.numpy()})[0]
    return _report("onnx", out, _reference(bundle, x), got)


def _report(fmt: str, out: Path, ref: np.ndarray, got: np.ndarray) -> ExportReport:
    agree = float((ref.argmax(1) == got.argmax(1)).mean())
    return ExportReport(fmt, str(out), len(ref), agree, float(np.abs(ref - got).max()))


def export(bundle: ModelBundle, fmt: str, out_dir: Path, images: Sequence[Path] = ()) -> ExportReport:
    """Write model.onnx or model.torchscript.pt (+ classes.json) into out_dir."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    x = sample_inputs(bundle, images)
    if fmt == "onnx":
        report = export_onnx(bundle, out_dir / "model.onnx", x)
    else:
        report = export_torchscript(bundle, out_dir / "model.torchscript.pt", x)
    pre = bundle.preprocess
    (out_dir / "classes.json").write_text(
        json.dumps(
            {
                "classes": bundle.classes,
                "backbone": bundle.backbone,
                "preprocess": {"size": pre.size, "resize_to": pre.resize_to, "mean": pre.mean, "std": pre.std},
                "export": asdict(report),
            },
            indent=1,
        )
    )
    return report
