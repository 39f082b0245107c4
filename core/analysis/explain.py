"""Grad-CAM (and friends) for every backbone in the registry, via pytorch-grad-cam.

Why a private copy of the network: the trained network is shared with
prediction and sorting, and after training all its parameters are frozen
(``requires_grad`` False). pytorch-grad-cam reads the gradient that flows back
into the target layer; with frozen parameters and an input that does not
require grad nothing upstream of the logits requires grad, so there is no
gradient to read (``backward`` fails, or with only the head trainable the
gradient list stays empty). The :class:`Explainer` deep-copies the network once
and adds one forward hook on the copy's ``cam_layer`` that makes that layer's
output a leaf which requires grad. The backward pass then runs only from the
logits back to that layer (pool + head: cheap), the weights stay frozen, and no
other thread ever sees a hook on the shared network.

The pieces stay small and composable, like pytorch-grad-cam itself:
``METHODS`` (name -> CAM class), ``Explainer.heatmaps`` (tensor in, maps out),
``Explainer.explain`` (PIL images in, heatmaps + overlays out), ``CamCache``
(a bounded LRU the caller owns) and ``explain_paths`` (cache-aware glue).
"""

from __future__ import annotations

import copy
import threading
import uuid
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from pytorch_grad_cam import EigenCAM, GradCAM, GradCAMPlusPlus, HiResCAM, LayerCAM, ScoreCAM
from pytorch_grad_cam.base_cam import BaseCAM
from pytorch_grad_cam.utils.image import show_cam_on_image
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

from ..data.images import ImageError, load_rgb
from ..data.preprocess import Preprocess, eval_array, eval_image
from ..models.backbones import Network
from ..models.text_layout import TextLayout, detect_layout


class ThinEigenCAM(EigenCAM):
    """EigenCAM with a thin SVD and the paper's sign correction.

    pytorch-grad-cam's projection runs a full SVD and so builds a C x C matrix
    (1280 x 1280 for EfficientNet/MobileNet) to read its first row: about a
    second per image on CPU. The first right-singular vector is the same from
    the thin SVD. SVD signs are arbitrary, so the map is flipped when its
    negative part dominates (Seg-Eigen-CAM, Eq. 13) instead of coming out blank.
    """

    def get_cam_image(self, input_tensor, target_layer, targets, activations, grads, eigen_smooth=False):
        a = np.nan_to_num(np.asarray(activations, dtype=np.float32))
        b, c, h, w = a.shape
        flat = a.reshape(b, c, h * w).transpose(0, 2, 1)
        flat = flat - flat.mean(axis=1, keepdims=True)
        _, _, vt = np.linalg.svd(flat, full_matrices=False)
        proj = np.einsum("bnc,bc->bn", flat, vt[:, 0, :])
        flip = np.abs(proj.min(axis=1)) > np.abs(proj.max(axis=1))
        proj[flip] *= -1
        return proj.reshape(b, h, w).astype(np.float32)


METHODS: dict[str, type[BaseCAM]] = {
    "gradcam": GradCAM,
    "gradcam++": GradCAMPlusPlus,
    "hirescam": HiResCAM,
    "layercam": LayerCAM,
    "eigencam": ThinEigenCAM,
    "scorecam": ScoreCAM,
}
LABELS: dict[str, str] = {
    "gradcam": "Grad-CAM",
    "gradcam++": "Grad-CAM++",
    "hirescam": "HiResCAM",
    "layercam": "LayerCAM",
    "eigencam": "EigenCAM (class-agnostic)",
    "scorecam": "Score-CAM (slow)",
}
CLASS_AGNOSTIC = frozenset({"eigencam"})  # the target class does not change the map
SLOW = frozenset({"scorecam"})  # one forward pass per channel of the target layer

Target = int | None  # a class index, or None for "the predicted class"


def check_method(method: str) -> type[BaseCAM]:
    try:
        return METHODS[method]
    except KeyError:
        raise ValueError(f"unknown CAM method {method!r}; choose from {', '.join(METHODS)}") from None


def _grad_entry(module: torch.nn.Module, args, output: torch.Tensor):
    """Forward hook: start the autograd graph at the CAM layer (the weights stay frozen)."""
    if torch.is_grad_enabled() and not output.requires_grad:
        return output.detach().requires_grad_(True)
    return None


@dataclass
class Explanation:
    image: Image.Image  # the exact crop the model sees
    heatmap: np.ndarray  # (size, size) float32 in [0, 1]
    overlay: Image.Image
    probs: np.ndarray  # (n_classes,) softmax of the un-masked image
    target: int  # class index the map explains
    method: str
    text: TextLayout | None = None  # the text lines the model read, when it reads text

    @property
    def pred(self) -> int:
        return int(self.probs.argmax())


class _WithText(torch.nn.Module):
    """The network as pytorch-grad-cam calls it, ``model(x)``, with the batch's text layouts set beside.

    The CAM still explains the picture: the gradient is read at the last convolution, which the
    layouts never pass through; they only shift the logits the gradient starts from.
    """

    def __init__(self, net: Network) -> None:
        super().__init__()
        self.net = net
        self.text: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        text = self.text
        if text is not None and len(text) != len(x):  # Score-CAM's masked copies of one image
            text = text.expand(len(x), -1)
        return self.net(x, text)


class Explainer:
    """A grad-enabled private copy of one trained network; thread-safe, reusable across calls."""

    def __init__(self, network: Network, classes: Sequence[str], preprocess: Preprocess) -> None:
        self.source = network  # what this explains (callers compare identity to reuse it)
        self.net: Network = copy.deepcopy(network).eval()
        self.net.requires_grad_(False)
        self.net.cam_layer.register_forward_hook(_grad_entry)  # lives as long as the copy
        self.model = _WithText(self.net)
        self.classes = list(classes)
        self.preprocess = preprocess
        self.model_id = uuid.uuid4().hex[:12]
        self._lock = threading.Lock()

    @classmethod
    def from_bundle(cls, bundle) -> Explainer:
        return cls(bundle.network, bundle.classes, bundle.preprocess)

    def class_index(self, target: int | str | None) -> Target:
        """A class name, index or None ("predicted") as an index or None."""
        if target is None or target == "":
            return None
        if isinstance(target, str) and target not in self.classes and target.isdigit():
            target = int(target)
        if isinstance(target, str):
            if target not in self.classes:
                raise ValueError(f"unknown class {target!r}; the model knows {', '.join(self.classes)}")
            return self.classes.index(target)
        if not 0 <= int(target) < len(self.classes):
            raise ValueError(f"class index {target} out of range 0..{len(self.classes) - 1}")
        return int(target)

    def heatmaps(
        self,
        x: torch.Tensor,
        method: str = "gradcam",
        targets: Target | Sequence[Target] = None,
        batch_size: int = 16,
        score_batch: int = 64,
        text: torch.Tensor | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Tensor (N, 3, H, W) -> (heatmaps (N, H, W) in [0, 1], probs (N, C), explained class (N,)).

        ``text``: (N, DIM) layouts, for a network that reads text."""
        cam_cls = check_method(method)
        n = len(x)
        if self.net.text_dim and text is None:
            raise ValueError("this model reads the text on photos: explain it with their text layouts")
        if self.net.text_dim and cam_cls is ScoreCAM:
            batch_size = 1  # its masked copies of one image share that image's layout
        per_image = list(targets) if isinstance(targets, (list, tuple)) else [targets] * n
        if len(per_image) != n:
            raise ValueError("one target per image, or one for all")
        heat = np.zeros((n, x.shape[-2], x.shape[-1]), np.float32)
        probs = np.zeros((n, len(self.classes)), np.float32)
        explained = np.zeros(n, int)
        done = np.zeros(n, bool)
        with self._lock, torch.inference_mode(False), torch.enable_grad():
            with cam_cls(model=self.model, target_layers=[self.net.cam_layer]) as cam:
                cam.batch_size = score_batch  # read by ScoreCAM only
                for s in range(0, n, batch_size):
                    chunk = list(range(s, min(n, s + batch_size)))
                    # "predicted" images and fixed-class images go in separate calls
                    for group in (
                        [i for i in chunk if per_image[i] is None],
                        [i for i in chunk if per_image[i] is not None],
                    ):
                        if not group:
                            continue
                        fixed = per_image[group[0]] is not None
                        tg = [ClassifierOutputTarget(int(per_image[i])) for i in group] if fixed else None
                        self.model.text = text[group] if text is not None else None
                        maps = cam(input_tensor=x[group], targets=tg)
                        p = cam.outputs.detach().float().softmax(1).numpy()
                        for j, i in enumerate(group):
                            heat[i], probs[i] = maps[j], p[j]
                            explained[i] = int(per_image[i]) if fixed else int(p[j].argmax())
                            done[i] = True
        if not done.all():  # pytorch-grad-cam's __exit__ swallows IndexError
            raise RuntimeError(f"{method} did not produce a map for every image")
        return np.clip(heat, 0.0, 1.0), probs, explained

    def explain(
        self,
        images: Sequence[Image.Image],
        method: str = "gradcam",
        targets: Target | Sequence[Target] = None,
        batch_size: int = 16,
        image_weight: float = 0.5,
    ) -> list[Explanation]:
        """PIL images -> explanations on the eval crop, computed as one batch."""
        if not images:
            return []
        pre = self.preprocess
        x = torch.from_numpy(np.stack([eval_array(im, pre) for im in images]))
        layouts = [detect_layout(im) for im in images] if self.net.text_dim else None
        text = torch.from_numpy(np.stack([t.vector for t in layouts])) if layouts else None
        heat, probs, explained = self.heatmaps(x, method, targets, batch_size, text=text)
        out = []
        for k, im in enumerate(images):
            crop = eval_image(im, pre)
            out.append(
                Explanation(
                    crop,
                    heat[k],
                    overlay(crop, heat[k], image_weight),
                    probs[k],
                    int(explained[k]),
                    method,
                    layouts[k] if layouts else None,
                )
            )
        return out


def overlay(image: Image.Image, heatmap: np.ndarray, image_weight: float = 0.5) -> Image.Image:
    """Jet-coloured heatmap blended onto the image (pytorch-grad-cam's show_cam_on_image)."""
    rgb = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    return Image.fromarray(show_cam_on_image(rgb, heatmap, use_rgb=True, image_weight=image_weight))


def draw_text_lines(image: Image.Image | str | Path, layout: TextLayout, max_side: int = 320) -> Image.Image:
    """The whole photo (scaled to ``max_side``) with the text lines the model read outlined.

    The whole photo, not the CNN's square crop: the layout is measured on all of it."""
    from PIL import ImageDraw

    if not isinstance(image, Image.Image):
        image = load_rgb(image, min_side=max_side)
    img = image.convert("RGB").copy()
    img.thumbnail((max_side, max_side))
    d = ImageDraw.Draw(img)
    w, h = img.size
    for x0, y0, x1, y1 in layout.boxes:
        d.rectangle([x0 * w, y0 * h, x1 * w, y1 * h], outline=(255, 0, 170), width=max(2, w // 160))
    return img


def side_by_side(a: Image.Image, b: Image.Image, gap: int = 4) -> Image.Image:
    out = Image.new("RGB", (a.width + gap + b.width, max(a.height, b.height)), (255, 255, 255))
    out.paste(a, (0, 0))
    out.paste(b, (a.width + gap, 0))
    return out


class CamCache:
    """A small bounded LRU of explanations, owned by the caller (one per workspace).

    Keys are (model id, path, method, target); an entry is ~0.5 MB (heatmap,
    crop and overlay at 224 px), so the default bound keeps it near 30 MB.
    """

    def __init__(self, maxsize: int = 64) -> None:
        self.maxsize = maxsize
        self._items: OrderedDict[Hashable, Explanation] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Explanation | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
            return hit

    def put(self, key: Hashable, value: Explanation) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def cache_key(explainer: Explainer, path: str | Path, method: str, target: Target) -> tuple:
    return (explainer.model_id, str(path), method, "pred" if target is None else int(target))


@dataclass(frozen=True)
class ExplainResult:
    """One image's explanation, or why there is none (in words)."""

    explanation: Explanation | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.explanation is not None


def explain_paths(
    explainer: Explainer,
    paths: Sequence[str | Path],
    method: str = "gradcam",
    targets: Target | Sequence[Target] = None,
    cache: CamCache | None = None,
    batch_size: int = 16,
    compute: bool = True,
) -> list[ExplainResult | None]:
    """One result per path; only cache misses are computed, in one batch.

    With ``compute=False`` nothing new is computed: misses come back as None (a slow
    method the user has not asked for yet).
    """
    check_method(method)
    per_image = list(targets) if isinstance(targets, (list, tuple)) else [targets] * len(paths)
    keys = [cache_key(explainer, p, method, t) for p, t in zip(paths, per_image)]
    hits = [cache.get(k) if cache else None for k in keys]
    out: list[ExplainResult | None] = [ExplainResult(h) if h is not None else None for h in hits]
    if not compute:
        return out
    todo, images = [], []
    for i, p in enumerate(paths):
        if out[i] is None:
            try:
                images.append(load_rgb(p, min_side=explainer.preprocess.resize_to))
                todo.append(i)
            except ImageError as exc:
                out[i] = ExplainResult(problem=str(exc))
    if todo:
        fresh = explainer.explain(images, method, [per_image[i] for i in todo], batch_size)
        for i, e in zip(todo, fresh):
            out[i] = ExplainResult(e)
            if cache is not None:
                cache.put(keys[i], e)
    return out
