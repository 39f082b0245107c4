"""Where the writing is on a photo: PP-OCRv4 text detection in ONNX Runtime, offline.

An ImageNet CNN sees the dog under a meme's caption, not the caption; what makes a photo a
meme, a chat screenshot, a document or a receipt is where its text sits. This finds the text
*lines* (boxes, no reading of words) so :mod:`core.models.text_layout` can describe them.

The model is PaddleOCR's PP-OCRv4 mobile detector (Apache-2.0), the file that
``rapidocr-onnxruntime`` 1.4.4 ships, kept in ``assets/models`` (see its README there for why
it is vendored rather than installed). It is a DB (differentiable binarisation) network: it
outputs a per-pixel text probability; lines are its connected regions, grown back by the
margin DB shrinks them by ("unclip"). Nothing here ever downloads anything.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image

MODEL_FILE = Path(__file__).resolve().parents[2] / "assets" / "models" / "ppocr_v4_det.onnx"
MODEL_SHA256 = "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9"
# The detector's input holds about this many pixels whatever the aspect (sides multiples of 32):
# its cost is proportional to pixels (~25 ms for 256 x 256 on one core here), and layout, not
# reading, is the goal. A 1170 x 2532 screenshot runs at 160 x 384: body text stays ~6 px high.
DETECT_PIXELS = 256 * 256
MIN_SIDE = 64
MAX_LINE_HEIGHT = 0.3  # taller "lines" are textures the detector mistook (a caption is ~0.1)
THRESH = 0.3  # pixel probability that counts as text (PP-OCR's default)
BOX_THRESH = 0.5  # mean probability a region needs to be kept (PP-OCR's default)
UNCLIP = 1.6  # DB shrinks each text region by area * (1 - 0.4^2) / perimeter; this grows it back
MIN_BOX_PX = 3
MAX_BOXES = 300


class TextDetectorMissing(RuntimeError):
    """The detector's model file is missing or damaged; the message says what to do."""


@dataclass(frozen=True)
class TextBoxes:
    """Text lines found on one image, as fractions of its width and height."""

    boxes: np.ndarray  # (n, 4) float32: x0, y0, x1, y1 in [0, 1]
    scores: np.ndarray  # (n,) float32: mean text probability inside each box
    width: int  # of the image the fractions refer to
    height: int

    def __len__(self) -> int:
        return len(self.boxes)


def _check_model() -> bytes:
    if not MODEL_FILE.is_file():
        raise TextDetectorMissing(f"text detector model missing at {MODEL_FILE} (restore it from the repository)")
    data = MODEL_FILE.read_bytes()
    if hashlib.sha256(data).hexdigest() != MODEL_SHA256:
        raise TextDetectorMissing(f"text detector model at {MODEL_FILE} is damaged (checksum mismatch)")
    return data


_lock = threading.Lock()


@cache
def _session():
    """One process-wide session; ``run`` is thread-safe in ONNX Runtime.

    One intra-op thread: detection runs in the decode workers, beside the CNN's forward pass on
    the other core, so it overlaps instead of contending.
    """
    import onnxruntime as ort

    with _lock:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        return ort.InferenceSession(_check_model(), opts, providers=["CPUExecutionProvider"])


def close() -> None:
    """Close the process-wide session and its arena (the next detection opens it again)."""
    _session.cache_clear()


def available() -> str | None:
    """None when the detector loads; otherwise why not (for the UI and the CLI)."""
    try:
        _session()
        return None
    except TextDetectorMissing as exc:
        return str(exc)
    except Exception as exc:  # onnxruntime missing or refusing the file
        return f"text detector unavailable: {exc}"


def input_size(width: int, height: int, pixels: int = DETECT_PIXELS) -> tuple[int, int]:
    """(w, h) the detector runs at: about ``pixels`` in all, both multiples of 32, aspect kept."""
    scale = (pixels / max(width * height, 1)) ** 0.5
    w = max(MIN_SIDE, int(round(width * scale / 32)) * 32)
    h = max(MIN_SIDE, int(round(height * scale / 32)) * 32)
    return w, h


def probability_map(img: Image.Image, pixels: int = DETECT_PIXELS) -> np.ndarray:
    """(h, w) float32 text probability at the detector's input size."""
    w, h = input_size(*img.size, pixels=pixels)
    x = np.asarray(img.convert("RGB").resize((w, h), Image.BILINEAR), dtype=np.float32)
    x = (x[:, :, ::-1] / 127.5 - 1.0).transpose(2, 0, 1)[None]  # BGR, mean = std = 0.5 (PP-OCR's)
    sess = _session()
    out = sess.run(None, {sess.get_inputs()[0].name: np.ascontiguousarray(x)})[0]
    return out[0, 0]


def boxes_from_map(prob: np.ndarray, width: int, height: int) -> TextBoxes:
    """Axis-aligned line boxes from a probability map (DB's post-processing, simplified)."""
    import cv2

    mh, mw = prob.shape
    mask = cv2.dilate((prob > THRESH).astype(np.uint8), np.ones((2, 2), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    boxes, scores = [], []
    for k in range(1, n):
        x, y, w, h, area = (int(v) for v in stats[k])
        if min(w, h) < MIN_BOX_PX or h > MAX_LINE_HEIGHT * mh:
            continue
        score = float(prob[y : y + h, x : x + w][labels[y : y + h, x : x + w] == k].mean())
        if score < BOX_THRESH:
            continue
        d = area * UNCLIP / max(2 * (w + h), 1)
        boxes.append(
            (max(0.0, (x - d) / mw), max(0.0, (y - d) / mh), min(1.0, (x + w + d) / mw), min(1.0, (y + h + d) / mh))
        )
        scores.append(score)
        if len(boxes) >= MAX_BOXES:
            break
    b = np.array(boxes, dtype=np.float32).reshape(-1, 4)
    return TextBoxes(b, np.array(scores, dtype=np.float32), width, height)


def detect(img: Image.Image, pixels: int = DETECT_PIXELS) -> TextBoxes:
    """Text lines on a decoded image (already EXIF-rotated and RGB, as ``core.data.images`` gives it)."""
    return boxes_from_map(probability_map(img, pixels), *img.size)
