"""Export a trained bundle to ONNX or TorchScript, with a parity check.

An export is only reported as good when the exported model gives the same
top-1 class as the torch model on sample inputs (real images when given).

A model that reads the text on photos takes a second input, ``text_layout`` (one row of
``core.models.text_layout.NAMES`` per image). The text detector is not part of the exported
graph: the export says so, and whoever runs it must compute those rows the same way.
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
from ..models import text_layout
from ..models.text_layout import detect_layout
from ..training.model_io import ModelBundle

FORMATS = ("onnx", "torchscript")


@dataclass
class ExportReport:
    format: str
    path: str
    samples: int
    top1_agreement: float
    max_abs_diff: float
    note: str = ""  # what the exported graph leaves to its user (the text detector)

    @property
    def ok(self) -> bool:
        return self.top1_agreement == 1.0


@dataclass
class Samples:
    """Inputs for the parity check: images, and their text layouts when the model reads text."""

    x: torch.Tensor
    text: torch.Tensor | None

    def args(self, n: int | None = None) -> tuple[torch.Tensor, ...]:
        rows = slice(None) if n is None else slice(0, n)
        return (self.x[rows],) if self.text is None else (self.x[rows], self.text[rows])


def sample_inputs(bundle: ModelBundle, images: Sequence[Path] = (), n_random: int = 4, seed: int = 0) -> Samples:
    """Real images (preprocessed exactly as for prediction, with their detected text layouts),
    topped up with random inputs (and random layouts)."""
    pre = bundle.preprocess
    arrs, layouts = [], []
    for p in images:
        try:
            img = load_rgb(p, min_side=pre.resize_to)
        except ImageError:
            continue
        arrs.append(eval_array(img, pre))
        if bundle.reads_text:
            layouts.append(detect_layout(img).vector)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n_random, 3, pre.size, pre.size, generator=g)
    if arrs:
        x = torch.cat([torch.from_numpy(np.stack(arrs)), x])
    if not bundle.reads_text:
        return Samples(x, None)
    t = torch.rand(n_random, text_layout.DIM, generator=g)
    if layouts:
        t = torch.cat([torch.from_numpy(np.stack(layouts)), t])
    return Samples(x, t)


class _Plain(torch.nn.Module):
    """Contiguous NCHW in (and text layouts, for a model that reads them), logits out."""

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor, text: torch.Tensor | None = None) -> torch.Tensor:
        for stage in self.net.stages:
            x = stage(x)
        return self.net.classify(x, text)


def _reference(bundle: ModelBundle, s: Samples) -> np.ndarray:
    with torch.inference_mode():
        return bundle.network(*s.args()).numpy()


def export_torchscript(bundle: ModelBundle, out: Path, s: Samples) -> ExportReport:
    model = _Plain(bundle.network).eval()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        scripted = torch.jit.trace(model, s.args(1))
        scripted.save(str(out))
        loaded = torch.jit.load(str(out))
        got = loaded(*s.args()).numpy()
    return _report("torchscript", out, _reference(bundle, s), got, bundle)


def export_onnx(bundle: ModelBundle, out: Path, s: Samples) -> ExportReport:
    import onnxruntime as ort

    model = _Plain(bundle.network).eval()
    names = ["input"] + (["text_layout"] if s.text is not None else [])
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            s.args(1),
            str(out),
            input_names=names,
            output_names=["logits"],
            dynamic_axes={**{n: {0: "batch"} for n in names}, "logits": {0: "batch"}},
            dynamo=False,
        )
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    got = sess.run(["logits"], {n: a.numpy() for n, a in zip(names, s.args())})[0]
    return _report("onnx", out, _reference(bundle, s), got, bundle)


TEXT_NOTE = (
    "this model also reads each photo's text layout (input 'text_layout', {dim} numbers: {names}); "
    "the text detector is not part of this file: compute the layout as core.models.text_layout "
    "version {version} does (PP-OCRv4 detection, assets/models/ppocr_v4_det.onnx)"
)


def _report(fmt: str, out: Path, ref: np.ndarray, got: np.ndarray, bundle: ModelBundle) -> ExportReport:
    agree = float((ref.argmax(1) == got.argmax(1)).mean())
    note = ""
    if bundle.reads_text:
        note = TEXT_NOTE.format(dim=text_layout.DIM, names=", ".join(text_layout.NAMES), version=text_layout.VERSION)
    return ExportReport(fmt, str(out), len(ref), agree, float(np.abs(ref - got).max()), note)


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
                "text_layout": (
                    {"input": "text_layout", "names": list(text_layout.NAMES), "version": text_layout.VERSION}
                    if bundle.reads_text
                    else None
                ),
            },
            indent=1,
        )
    )
    return report
