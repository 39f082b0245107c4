"""Augmentation presets (albumentations) for training views and the Data page preview.

A preset is an ordered list of named steps; each step can be switched off by
name, so the UI and CLI can toggle them without knowing albumentations.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import albumentations as A  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from .preprocess import Preprocess, eval_array, to_tensor_array  # noqa: E402

Step = Callable[[int], A.BasicTransform]

# name -> factory(size) ; the seed project's list, then the lighter ones.
STEPS: dict[str, Step] = {
    "random_resized_crop": lambda s: A.RandomResizedCrop(size=(s, s), scale=(0.6, 1.0)),
    "resize": lambda s: A.Resize(s, s),
    "horizontal_flip": lambda s: A.HorizontalFlip(p=0.5),
    "brightness_contrast": lambda s: A.RandomBrightnessContrast(p=0.5),
    "hue_saturation": lambda s: A.HueSaturationValue(p=0.5),
    "shift_scale_rotate": lambda s: A.Affine(
        translate_percent=(-0.0625, 0.0625), scale=(0.9, 1.1), rotate=(-45, 45), p=0.5
    ),
    "grid_distortion": lambda s: A.GridDistortion(p=0.3),
    "random_rotate90": lambda s: A.RandomRotate90(p=0.5),
}

PRESETS: dict[str, list[str]] = {
    "none": [],
    "light": ["random_resized_crop", "horizontal_flip", "brightness_contrast"],
    "seed": [
        "resize",
        "brightness_contrast",
        "hue_saturation",
        "shift_scale_rotate",
        "grid_distortion",
        "random_rotate90",
        "horizontal_flip",
    ],
}


def steps_for(preset: str, disabled: frozenset[str] | set[str] = frozenset()) -> list[str]:
    if preset not in PRESETS:
        raise ValueError(f"unknown augmentation preset {preset!r}; choose from {', '.join(PRESETS)}")
    return [s for s in PRESETS[preset] if s not in disabled]


def train_transform(steps: list[str], pre: Preprocess, seed: int | None = None) -> Callable[[Image.Image], np.ndarray]:
    """Random augmentation for training, ending at the backbone's input size.

    With a ``seed``, each image's draw depends only on (seed, its pixels): runs repeat
    exactly although images are decoded on several threads in any order, and a view the
    feature cache stored is the same view a rerun would compute.
    """
    if not steps:
        return lambda img: eval_array(img, pre)
    local = threading.local()

    def compose() -> A.Compose:
        if not hasattr(local, "compose"):  # one per thread: transforms hold their random state
            ops: list[A.BasicTransform] = []
            if "random_resized_crop" not in steps and "resize" not in steps:
                ops.append(A.SmallestMaxSize(max_size=pre.resize_to))
                ops.append(A.CenterCrop(pre.size, pre.size))
            ops += [STEPS[s](pre.size) for s in steps]
            local.compose = A.Compose(ops)
        return local.compose

    def run(img: Image.Image) -> np.ndarray:
        w, h = img.size
        if min(w, h) > 2 * pre.resize_to:  # shrink huge inputs before the pipeline
            s = 2 * pre.resize_to / min(w, h)
            img = img.resize((round(w * s), round(h * s)), Image.BILINEAR)
        arr = np.asarray(img)
        c = compose()
        if seed is not None:
            h8 = hashlib.blake2b(arr.tobytes(), digest_size=8, key=str(seed).encode()).digest()
            c.set_random_seed(int.from_bytes(h8, "little"))
        out = c(image=arr)["image"]
        if out.shape[0] != pre.size or out.shape[1] != pre.size:
            out = np.asarray(Image.fromarray(out).resize((pre.size, pre.size), Image.BILINEAR))
        return to_tensor_array(out, pre)

    return run


def preview(img: Image.Image, steps: list[str], pre: Preprocess, n: int = 8) -> list[Image.Image]:
    """The same image through the pipeline n times, de-normalised for display."""
    fn = train_transform(steps, pre)
    outs = []
    for _ in range(n):
        arr = fn(img).transpose(1, 2, 0) * np.asarray(pre.std) + np.asarray(pre.mean)
        outs.append(Image.fromarray((np.clip(arr, 0, 1) * 255).astype(np.uint8)))
    return outs
