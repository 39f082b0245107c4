"""Predict over a gallery in streaming batches, then copy or zip it by class.

Memory stays flat with gallery size: images are decoded (at reduced JPEG
scale) a batch at a time, results stream out, and nothing keeps pixels.
User files are only ever read; outputs are new copies with clash-free names.
"""

from __future__ import annotations

import csv
import io
import shutil
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..data.files import unique_path
from ..data.preprocess import eval_array
from ..models import runtime
from ..models.features import Progress, StopCheck, decode_batches
from ..training.model_io import ModelBundle

UNSURE = "unsure"


@dataclass
class Prediction:
    path: Path
    label: str | None  # None when the file could not be read
    confidence: float = 0.0
    top: list[tuple[str, float]] = field(default_factory=list)
    error: str | None = None


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
    done = 0
    for idx, batch, failures in decode_batches(
        paths, lambda im: eval_array(im, pre), batch_size, pre.resize_to, should_stop=should_stop
    ):
        for i, err in failures:
            yield Prediction(Path(paths[i]), None, error=err)
        if len(idx):
            probs = forward(batch).softmax(1).numpy()
            for j, i in enumerate(idx):
                yield make_prediction(Path(paths[i]), probs[j], bundle.classes, top_k)
        done += len(idx) + len(failures)
        if progress:
            progress(done, len(paths))


def make_prediction(path: Path, probs: np.ndarray, classes: list[str], top_k: int = 3) -> Prediction:
    order = np.argsort(-probs)[:top_k]
    top = [(classes[k], float(probs[k])) for k in order]
    return Prediction(path, top[0][0], top[0][1], top)


def destination(p: Prediction, min_confidence: float, overrides: dict[Path, str] | None = None) -> str:
    """Folder a prediction goes to: an override, the class, or 'unsure'."""
    if overrides and p.path in overrides:
        return overrides[p.path]
    if p.label is None:
        return UNSURE
    return p.label if p.confidence >= min_confidence else UNSURE


def _rel(p: Path, root: Path | None) -> str:
    try:
        return p.relative_to(root).as_posix() if root else p.name
    except ValueError:
        return p.name


def predictions_csv(
    preds: Iterable[Prediction],
    min_confidence: float,
    root: Path | None = None,
    overrides: dict[Path, str] | None = None,
    files: dict[Path, str] | None = None,
) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["path", "class", "confidence", "folder", "top3", "file", "error"])
    for p in preds:
        top = ";".join(f"{c}:{s:.4f}" for c, s in p.top)
        w.writerow(
            [
                _rel(p.path, root),
                p.label or "",
                f"{p.confidence:.4f}",
                destination(p, min_confidence, overrides),
                top,
                (files or {}).get(p.path, ""),
                p.error or "",
            ]
        )
    return buf.getvalue()


def copy_sorted(
    preds: Sequence[Prediction],
    out_dir: Path,
    min_confidence: float = 0.0,
    root: Path | None = None,
    overrides: dict[Path, str] | None = None,
) -> dict[str, int]:
    """Copy (never move) each image into out_dir/<class>/; name clashes get a suffix."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    files: dict[Path, str] = {}
    for p in preds:
        if p.error:
            continue
        folder = destination(p, min_confidence, overrides)
        target = unique_path(out_dir / folder / p.path.name)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(p.path, target)
        files[p.path] = target.relative_to(out_dir).as_posix()
        counts[folder] = counts.get(folder, 0) + 1
    csv_path = unique_path(out_dir / "predictions.csv")
    csv_path.write_text(predictions_csv(preds, min_confidence, root, overrides, files))
    return counts


def write_zip(
    preds: Sequence[Prediction],
    target,
    min_confidence: float = 0.0,
    root: Path | None = None,
    overrides: dict[Path, str] | None = None,
) -> dict[str, int]:
    """A zip (path or file object) with one folder per class (+ unsure) and predictions.csv."""
    counts: dict[str, int] = {}
    files: dict[Path, str] = {}
    used: set[str] = set()
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED) as zf:
        for p in preds:
            if p.error:
                continue
            folder = destination(p, min_confidence, overrides)
            name = f"{folder}/{p.path.name}"
            n = 1
            while name in used:
                name = f"{folder}/{p.path.stem} ({n}){p.path.suffix}"
                n += 1
            used.add(name)
            zf.write(p.path, name)  # JPEGs do not compress: store them
            files[p.path] = name
            counts[folder] = counts.get(folder, 0) + 1
        zf.writestr("predictions.csv", predictions_csv(preds, min_confidence, root, overrides, files))
    return counts


def zip_bytes(
    preds: Sequence[Prediction],
    min_confidence: float = 0.0,
    root: Path | None = None,
    overrides: dict[Path, str] | None = None,
) -> bytes:
    buf = io.BytesIO()
    write_zip(preds, buf, min_confidence, root, overrides)
    return buf.getvalue()
