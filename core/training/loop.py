"""The training loop's parts: one epoch, one evaluation, and what they are built from.

Seeding, parameter groups, the optimizer and schedule, class weights, which stages
train (and whether their BatchNorm does), and the trainable weights of the best epoch.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable

import numpy as np
import torch
from torch import nn

from ..events import Advance, Batch, OnEvent, StopCheck, Stopped
from ..models.backbones import Network
from .config import TrainConfig

# Fine-tuning blocks on cached maps: 16 images per forward/backward were as fast here as 32 (6.3-6.5
# against 6.7 ms per image) and 8 as fast as 16 (7.7-8.8 ms either way, Lite0's last two blocks at
# 288 px), holding 85-90 MB of activations instead of 145-170: with BatchNorm frozen the step is the
# same, and Better's peak is what a large gallery or a Discover-then-train session must fit.
MICRO_BATCH = 8


def seeded_head(net: Network, seed: int) -> None:
    """Initialise the new head from the seed alone.

    How much of the global RNG building a network uses depends on what the process
    has cached already (the first build also materialises the pretrained weights), so
    the head is re-drawn here, after the build, for runs that repeat exactly.
    """
    seed_everything(seed)
    for m in net.head.modules():
        if hasattr(m, "reset_parameters"):
            m.reset_parameters()


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def param_groups(net: Network, unfreeze: int, lr: float, cfg: TrainConfig) -> list[dict]:
    """The head at ``lr * head_lr_mult``; each trainable stage from the last backwards at ``lr * lr_decay**i``."""
    groups = [{"params": list(net.head.parameters()), "lr": lr * cfg.head_lr_mult}]
    first = net.boundary(unfreeze)
    for i, stage in enumerate(reversed(list(net.stages)[first:])):
        params = [p for p in stage.parameters() if p.requires_grad]
        if params:
            groups.append({"params": params, "lr": lr * cfg.lr_decay**i})
    return groups


def make_optimizer(params, name: str, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)


def make_schedule(opt, name: str, lr: float, total_steps: int):
    total_steps = max(1, total_steps)
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total_steps)
    if name == "onecycle":
        peaks = [g["lr"] for g in opt.param_groups]
        return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=peaks, total_steps=total_steps)
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0)


def class_weight_tensor(y: np.ndarray, n_classes: int) -> torch.Tensor:
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    counts[counts == 0] = 1
    return torch.tensor(len(y) / (n_classes * counts), dtype=torch.float32)


def train_one_epoch(
    net: Network,
    criterion: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]],
    boundary: int,
    epoch: int,
    epochs: int,
    n_batches: int,
    emit: OnEvent,
    should_stop: StopCheck,
    done_batches: int = 0,
    micro: int = 0,
) -> tuple[float, float]:
    """One epoch over ``batches``; returns (mean loss, accuracy) on what it trained on.

    ``micro``: run each batch's forward and backward this many images at a time and add up the
    gradients: the same step (where no BatchNorm trains) for a fraction of the activations' memory.
    """
    tot_loss = tot_correct = tot_n = 0.0
    for b, (xb, tb, yb) in enumerate(batches):
        if should_stop():
            raise Stopped()
        n = len(yb)
        optimizer.zero_grad(set_to_none=True)
        batch_loss = 0.0
        step = micro or n
        texts = tb.split(step) if tb is not None else [None] * math.ceil(n / step)
        for xc, tc, yc in zip(xb.split(step), texts, yb.split(step)):
            logits = net.forward_from(xc, boundary, tc)
            loss = criterion(logits, yc) * (len(yc) / n)
            loss.backward()
            batch_loss += loss.item()
            tot_correct += (logits.argmax(1) == yc).sum().item()
        optimizer.step()
        scheduler.step()
        tot_loss += batch_loss * n
        tot_n += n
        emit(Batch(epoch, epochs, b + 1, n_batches, batch_loss, optimizer.param_groups[0]["lr"]))
        emit(Advance("batches", done_batches + b + 1))
    return tot_loss / max(tot_n, 1), tot_correct / max(tot_n, 1)


def evaluate(
    net: Network,
    X: torch.Tensor,
    T: torch.Tensor | None,
    y: torch.Tensor,
    boundary: int,
    criterion: nn.Module,
    batch_size: int = MICRO_BATCH,
) -> tuple[float, float, torch.Tensor]:
    """(loss, accuracy, probabilities) of a network on cached inputs (and their text layouts ``T``).

    Micro-batches, as in training: 64 cached maps through two expanded blocks held ~70 MB more at
    each validation, the peak of a Discover-then-train session on the hosted demo.
    """
    net.eval()
    if len(X) == 0:
        return float("nan"), float("nan"), torch.empty(0)
    outs = []
    with torch.inference_mode():
        for k in range(0, len(X), batch_size):
            t = T[k : k + batch_size] if T is not None else None
            outs.append(net.forward_from(X[k : k + batch_size].float(), boundary, t))
        logits = torch.cat(outs)
        loss = criterion(logits, y).item()
        probs = logits.softmax(1)
        acc = (probs.argmax(1) == y).float().mean().item()
    return loss, acc, probs


def warm_optimizer_import() -> None:
    """The first optimizer construction imports torch._dynamo (seconds); do it while features compute."""
    torch.optim.AdamW([nn.Parameter(torch.zeros(1))])


def trainable_state(net: Network, boundary: int) -> dict:
    return {
        k: v.detach().clone()
        for k, v in net.state_dict().items()
        if k.startswith("head.") or (k.startswith("stages.") and int(k.split(".")[1]) >= boundary)
    }


def set_train_mode(net: Network, first_trainable: int, bn_frozen: bool = False) -> None:
    for i, stage in enumerate(net.stages):
        stage.train(i >= first_trainable)
        if bn_frozen:
            for m in stage.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()  # small data: ImageNet's statistics are better than a few batches' estimates
    net.head.train()
