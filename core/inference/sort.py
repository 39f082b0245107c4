"""Predict over a gallery in streaming batches.

Memory stays flat with gallery size: images are decoded (at reduced JPEG
scale) a batch at a time, results stream out, and nothing keeps pixels.
Where each file then goes (copy, zip, move with undo) is core.inference.placement.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..data.preprocess import eval_array
from ..models import runtime
from ..models.features import Progress, StopCheck, decode_batches
from ..models.text_layout import detect_layout
from ..training.calibration import calibrate
from ..training.model_io import ModelBundle

UNSURE = "unsure"


@dataclass
class Prediction:
    path: Path
    label: str | None  # None when the file could not be read
    confidence: float = 0.0
    top: list[tuple[str, float]] = field(default_factory=list)
    error: str | None = None
    calibrated: float | None = None  # the probability of being right, once a calibration is known
    probs: np.ndarray | None = field(default=None, repr=False)  # every class's probability (for certifying)


def predict_paths(
    bundle: ModelBundle,
    paths: Sequence[Path],
    batch_size: int = 16,  # images decoded and in flight at once; ONNX Runtime runs 8 at a time anyway
    top_k: int = 3,
    progress: Progress | None = None,
    should_stop: StopCheck | None = None,
) -> Iterator[Prediction]:
    pre = bundle.preprocess
    net = bundle.network
    net.eval()
    forward = runtime.predict_fn(net, bundle.frozen_boundary(), n_images=len(paths))
    layouts: dict[int, np.ndarray] = {}  # this batch's text layouts, detected in the decode threads

    def read_text(i: int, img) -> None:
        layouts[i] = detect_layout(img).vector

    done = 0
    for idx, batch, failures in decode_batches(
        paths,
        lambda im: eval_array(im, pre),
        batch_size,
        pre.resize_to,
        should_stop=should_stop,
        also=read_text if bundle.reads_text else None,
    ):
        for i, err in failures:
            yield Prediction(Path(paths[i]), None, error=err)
        if len(idx):
            text = torch.from_numpy(np.stack([layouts.pop(i) for i in idx])) if bundle.reads_text else None
            probs = forward(batch, text).softmax(1).numpy()
            cal = calibrate(probs, bundle.temperature).max(axis=1)
            for j, i in enumerate(idx):
                yield make_prediction(Path(paths[i]), probs[j], bundle.classes, top_k, float(cal[j]))
        done += len(idx) + len(failures)
        if progress:
            progress(done, len(paths))


def make_prediction(
    path: Path, probs: np.ndarray, classes: list[str], top_k: int = 3, calibrated: float | None = None
) -> Prediction:
    order = np.argsort(-probs)[:top_k]
    top = [(classes[k], float(probs[k])) for k in order]
    return Prediction(path, top[0][0], top[0][1], top, calibrated=calibrated, probs=np.asarray(probs, np.float32))
