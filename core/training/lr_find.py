"""The learning-rate range test: a suggestion for a head's learning rate, before training."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import nn

from ..data.dataset import Dataset
from ..events import OnEvent, StopCheck, ignore, never
from ..models.features import FeatureCache
from .config import Phase, TrainConfig
from .inputs import batch_of
from .loop import make_optimizer
from .train import fit_text_scaling, setup


@dataclass
class LrFinding:
    lrs: list[float]
    losses: list[float]
    suggestion: float


def lr_find(
    dataset: Dataset,
    cfg: TrainConfig,
    cache: FeatureCache | None = None,
    start: float = 1e-6,
    end: float = 1.0,
    steps: int = 100,
    on_event: OnEvent | None = None,
    should_stop: StopCheck | None = None,
) -> LrFinding:
    """Learning-rate range test on the head over cached features.

    Returns lrs, smoothed losses and the suggestion (steepest descent of the
    smoothed curve, as fastai does), which the UI offers as a one-click choice.
    """
    head_cfg = replace(cfg, phases=[Phase("head only", 1, start)], augment="none")
    run = setup(dataset, head_cfg, cache, on_event or ignore, should_stop or never)
    rows = run.inputs.view(0, 1)
    X, y = rows.X, rows.y
    net = run.net
    fit_text_scaling(run.net, run.inputs)
    net.set_trainable(0)
    net.head.train()
    opt = make_optimizer(net.head.parameters(), cfg.optimizer, start, cfg.weight_decay)
    mult = (end / start) ** (1 / max(1, steps - 1))
    criterion = nn.CrossEntropyLoss()
    g = torch.Generator().manual_seed(cfg.seed)
    lrs, losses, smooth = [], [], 0.0
    best = math.inf
    for s in range(steps):
        lr = start * mult**s
        for pg in opt.param_groups:
            pg["lr"] = lr
        idx = torch.randint(0, len(X), (min(cfg.batch_size, len(X)),), generator=g)
        loss = criterion(net.forward_from(X[idx].float(), run.inputs.boundary, batch_of(rows.T, idx)), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        smooth = 0.9 * smooth + 0.1 * loss.item()
        val = smooth / (1 - 0.9 ** (s + 1))
        lrs.append(lr)
        losses.append(val)
        best = min(best, val)
        if val > 4 * best and s > 10:
            break
    return LrFinding(lrs, losses, _steepest(lrs, losses))


def _steepest(lrs: list[float], losses: list[float]) -> float:
    """The learning rate where the smoothed loss falls fastest, before its minimum."""
    arr = np.array(losses)
    if len(arr) <= 2:
        return float(lrs[0]) if lrs else 1e-3
    grads = np.gradient(arr, np.log10(np.array(lrs)))
    upto = int(np.argmin(arr))
    return float(lrs[int(np.argmin(grads[: max(upto, 1)]))])
