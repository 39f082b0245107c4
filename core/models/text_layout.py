"""A photo's text layout as a short vector of numbers: how much text, where, in what lines.

The kinds a phone gallery holds that a CNN confuses are told apart by where their writing sits:
- memes: one or two lines of large text in a band at the top and/or bottom, centred;
- chat screenshots: a status bar, then short lines alternating between the left and right sides;
- app screenshots: a status bar, many left-aligned short lines in a tall picture;
- documents: many regular, evenly spaced, full-width lines sharing a left edge;
- receipts: many short, narrow lines in a central column, often left and right aligned at once;
- photos: little or no text, or a sign somewhere in the middle.
The numbers below are written for those general shapes, each scaled to about [0, 1], so any
head can use them next to the CNN's features; nothing here is fitted to a data set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from . import text_detector
from .text_detector import TextBoxes

VERSION = 1  # bump when the numbers change: cached descriptors carry it in their key
GRID = 64  # coverage is measured on a GRID x GRID raster of the photo
NAMES = (
    "text_area",  # share of the photo covered by text lines
    "top_band",  # share of the top 22% covered
    "middle_band",
    "bottom_band",
    "status_bar",  # share of the top 6% covered by small text (a phone's status bar)
    "centred_block",  # share of the central box (x 20-80%, y 30-70%) covered
    "rows_with_text",  # share of the picture's rows that hold any text
    "lines",  # number of lines, log-scaled (60 lines = 1)
    "line_height",  # median line height (10% of the height = 1)
    "largest_line",  # tallest line (20% of the height = 1): a meme's caption
    "height_regularity",  # 1 when every line is as tall as the others
    "spacing_regularity",  # 1 when lines are evenly spaced (documents, receipts)
    "left_aligned",  # share of lines starting at a common left edge
    "right_aligned",  # share of lines ending at a common right edge
    "centred",  # share of lines centred on the photo (captions, headings)
    "full_width",  # share of lines wider than 60% of the photo
    "line_width",  # mean line width
    "two_sided",  # short lines on the left AND on the right: a chat
    "band_captions",  # share of lines that are large and sit in the top or bottom quarter
    "columns",  # distinct left edges, up to 4 (= 1)
    "compactness",  # text area over the area of the text's bounding box
    "tall_picture",  # log aspect ratio (h / w), 3:1 = 1, wide = negative
    "confidence",  # mean detector confidence of the lines
    "has_text",
)
DIM = len(NAMES)
_IDX = {n: i for i, n in enumerate(NAMES)}


@dataclass(frozen=True)
class TextLayout:
    """A photo's descriptor and the lines it came from (kept to draw them on the photo)."""

    vector: np.ndarray  # (DIM,) float32
    boxes: np.ndarray  # (n, 4) float32, fractions of width and height
    width: int
    height: int

    def __getitem__(self, name: str) -> float:
        return float(self.vector[_IDX[name]])

    def summary(self) -> str:
        return summarise(self.vector)


def _lines(boxes: np.ndarray) -> np.ndarray:
    """Merge boxes that share most of their height into lines (DB sometimes splits a line at wide gaps)."""
    if len(boxes) == 0:
        return boxes
    order = boxes[np.argsort((boxes[:, 1] + boxes[:, 3]) / 2)]
    lines = [order[0].copy()]
    for b in order[1:]:
        cur = lines[-1]
        overlap = min(cur[3], b[3]) - max(cur[1], b[1])
        if overlap > 0.6 * min(cur[3] - cur[1], b[3] - b[1]):
            cur[:] = (min(cur[0], b[0]), min(cur[1], b[1]), max(cur[2], b[2]), max(cur[3], b[3]))
        else:
            lines.append(b.copy())
    return np.stack(lines)


def _share_near_mode(values: np.ndarray, tol: float) -> float:
    """Share of values within ``tol`` of the value most others are near (a common edge)."""
    if len(values) < 2:
        return 0.0
    near = np.abs(values[:, None] - values[None, :]) <= tol
    return float(near.sum(1).max() / len(values))


def _cv_score(x: np.ndarray) -> float:
    """1 for equal values, towards 0 as they vary (1 / (1 + coefficient of variation))."""
    if len(x) < 2 or x.mean() <= 0:
        return 0.0
    return float(1.0 / (1.0 + x.std() / x.mean()))


def describe(found: TextBoxes) -> TextLayout:
    """The descriptor of one photo from its detected text lines."""
    v = np.zeros(DIM, dtype=np.float32)
    w, h = max(found.width, 1), max(found.height, 1)
    v[_IDX["tall_picture"]] = float(np.clip(np.log(h / w) / np.log(3.0), -1.0, 1.0))
    boxes = found.boxes
    if len(boxes) == 0:
        return TextLayout(v, boxes, found.width, found.height)
    grid = np.zeros((GRID, GRID), dtype=bool)
    for x0, y0, x1, y1 in boxes:
        grid[
            int(y0 * GRID) : max(int(np.ceil(y1 * GRID)), int(y0 * GRID) + 1), int(x0 * GRID) : int(np.ceil(x1 * GRID))
        ] = True

    def cover(y0: float, y1: float, x0: float = 0.0, x1: float = 1.0) -> float:
        return float(grid[int(y0 * GRID) : int(y1 * GRID), int(x0 * GRID) : int(x1 * GRID)].mean())

    lines = _lines(boxes)
    heights = lines[:, 3] - lines[:, 1]
    widths = lines[:, 2] - lines[:, 0]
    centres_y = (lines[:, 1] + lines[:, 3]) / 2
    centres_x = (lines[:, 0] + lines[:, 2]) / 2
    n = len(lines)
    small_top = (lines[:, 3] <= 0.07) & (heights < 0.045)
    status = float(np.clip(widths[small_top].sum(), 0, 1)) if small_top.any() else 0.0
    gaps = np.diff(np.sort(centres_y))
    left_side = (lines[:, 0] < 0.3) & (lines[:, 2] < 0.8) & (widths < 0.7)
    right_side = (lines[:, 2] > 0.7) & (lines[:, 0] > 0.2) & (widths < 0.7)
    rows = grid.any(1)
    ys, xs = np.nonzero(grid)
    extent = (ys.max() - ys.min() + 1) * (xs.max() - xs.min() + 1)
    # a caption line is large, and either one of few lines or larger than the photo's typical line
    big = heights >= max(0.05, 0.0 if n <= 4 else 1.5 * float(np.median(heights)))
    big_band = big & ((centres_y < 0.25) | (centres_y > 0.75))
    left_edges = np.sort(lines[:, 0])
    columns = 1 + int((np.diff(left_edges) > 0.15).sum()) if n else 0
    values = {
        "text_area": grid.mean(),
        "top_band": cover(0.0, 0.22),
        "middle_band": cover(0.22, 0.78),
        "bottom_band": cover(0.78, 1.0),
        "status_bar": status,
        "centred_block": cover(0.3, 0.7, 0.2, 0.8),
        "rows_with_text": rows.mean(),
        "lines": min(1.0, np.log1p(n) / np.log1p(60)),
        "line_height": min(1.0, float(np.median(heights)) * 10),
        "largest_line": min(1.0, float(heights.max()) * 5),
        "height_regularity": _cv_score(heights),
        "spacing_regularity": _cv_score(gaps) if n >= 3 else 0.0,
        "left_aligned": _share_near_mode(lines[:, 0], 0.03),
        "right_aligned": _share_near_mode(lines[:, 2], 0.03),
        "centred": float(np.mean((np.abs(centres_x - 0.5) < 0.05) & (widths < 0.9))),
        "full_width": float(np.mean(widths > 0.6)),
        "line_width": float(widths.mean()),
        "two_sided": min(1.0, 4 * float(left_side.mean() * right_side.mean())),
        "band_captions": float(big_band.mean()),
        "columns": min(columns, 4) / 4,
        "compactness": grid.sum() / max(extent, 1),
        "confidence": float(found.scores.mean()) if len(found.scores) else 0.0,
        "has_text": 1.0,
    }
    for name, val in values.items():
        v[_IDX[name]] = val
    return TextLayout(v, boxes, found.width, found.height)


def detect_layout(img: Image.Image) -> TextLayout:
    """The text layout of a decoded image: the detector, then the descriptor (the one way to get one)."""
    return describe(text_detector.detect(img))


def summarise(vec: np.ndarray) -> str:
    """The descriptor in a person's words: how much text, and where."""
    g = {n: float(vec[i]) for i, n in enumerate(NAMES)}
    if g["has_text"] < 0.5 or g["text_area"] < 0.003:
        return "no text found on this photo"
    n_lines = int(round(np.expm1(g["lines"] * np.log1p(60))))
    where = []
    if g["band_captions"] > 0.3 and (g["top_band"] > 0.05 or g["bottom_band"] > 0.05):
        bands = [b for b in ("top", "bottom") if g[f"{b}_band"] > 0.05]
        where.append(f"in caption bands ({' and '.join(bands)})")
    if g["two_sided"] > 0.3 and n_lines >= 3:  # one centred line sits on "both sides" by itself
        where.append("in short lines on both sides, like a chat")
    if g["full_width"] > 0.4 and g["lines"] > 0.45:
        where.append("in full-width lines, like a page")
    elif g["lines"] > 0.55 and g["left_aligned"] > 0.5:
        where.append("in many left-aligned lines")
    if g["status_bar"] > 0.1:
        where.append("with a status bar at the top")
    if not where:
        where.append("in the middle" if g["middle_band"] >= max(g["top_band"], g["bottom_band"]) else "near an edge")
    return f"text covers {g['text_area']:.0%} of this photo, {', '.join(where)} ({n_lines} line{'s' * (n_lines != 1)})"
