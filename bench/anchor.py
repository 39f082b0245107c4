"""The accuracy anchor: a plain full fine-tune in fastai's ``fine_tune`` style, written out plainly.

torchvision-reference style, no caching of any kind: every step decodes, augments and runs the
whole network forward and backward. The recipe is fastai's ``fine_tune``: one epoch with the
body frozen (one-cycle at ``base_lr``), then every layer trains with discriminative learning
rates (``base_lr / 2`` for the head, a hundredth of that for the first layers) on a one-cycle
schedule, with random resized crops and flips. It runs until validation accuracy has not
improved for ``patience`` epochs (at most ``max_epochs``) and keeps the best epoch: a fair
yardstick, not one stopped while still rising.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torchvision.transforms.v2 as T
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset

IMAGENET_TO_LITE = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))


class Folder(Dataset):
    def __init__(self, items, classes, tf):
        self.items, self.cidx, self.tf = items, {c: k for k, c in enumerate(classes)}, tf

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        path, label = self.items[i]
        from core.data.images import load_rgb  # EXIF orientation and odd modes handled as everywhere

        return self.tf(load_rgb(path)), self.cidx[label]


def transforms(size: int, mean, std):
    train = T.Compose(
        [
            T.RandomResizedCrop(size, scale=(0.35, 1.0), antialias=True),
            T.RandomHorizontalFlip(),
            T.ToImage(),
            T.ToDtype(torch.float32, scale=True),
            T.Normalize(mean, std),
        ]
    )
    val = T.Compose(
        [
            T.Resize(int(size / 0.875), antialias=True),
            T.CenterCrop(size),
            T.ToImage(),
            T.ToDtype(torch.float32, scale=True),
            T.Normalize(mean, std),
        ]
    )
    return train, val


@dataclass
class AnchorResult:
    best_val_acc: float
    best_epoch: int
    epochs: int
    seconds: float
    history: list[dict] = field(default_factory=list)


def _param_groups(net, lr: float, lr_mult: float = 100.0):
    """Discriminative learning rates: geometric from lr/lr_mult (first stage) to lr (head)."""
    parts = [*net.stages[:-1], net.head]
    lrs = np.geomspace(lr / lr_mult, lr, len(parts))
    return [{"params": list(part.parameters()), "lr": float(r)} for part, r in zip(parts, lrs)]


def evaluate(net, loader) -> float:
    net.eval()
    right = n = 0
    with torch.inference_mode():
        for x, y in loader:
            right += (net(x).argmax(1) == y).sum().item()
            n += len(y)
    return right / max(1, n)


def train_one_epoch(net, loader, opt, sched, criterion) -> float:
    net.train()
    total = n = 0.0
    for x, y in loader:
        loss = criterion(net(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        total += loss.item() * len(y)
        n += len(y)
    return total / max(1, n)


def fine_tune(
    train_items,
    val_items,
    classes,
    backbone: str = "efficientnet_lite0",
    size: int = 224,
    base_lr: float = 2e-3,
    max_epochs: int = 25,
    patience: int = 4,
    batch_size: int = 32,
    seed: int = 0,
    log=print,
) -> AnchorResult:
    from core.models.backbones import build_network

    torch.manual_seed(seed)
    np.random.seed(seed)
    t0 = time.perf_counter()
    net = build_network(backbone, len(classes))
    tf_train, tf_val = transforms(size, *IMAGENET_TO_LITE)
    g = torch.Generator().manual_seed(seed)
    train_dl = DataLoader(
        Folder(train_items, classes, tf_train),
        batch_size=batch_size,
        shuffle=True,
        num_workers=2,
        generator=g,
        persistent_workers=True,
    )
    val_dl = DataLoader(Folder(val_items, classes, tf_val), batch_size=64, num_workers=2, persistent_workers=True)
    criterion = nn.CrossEntropyLoss()
    history: list[dict] = []
    # 1) the body frozen: one one-cycle epoch on the head
    for stage in net.stages:
        stage.requires_grad_(False)
    opt = torch.optim.AdamW(net.head.parameters(), lr=base_lr, weight_decay=1e-2)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=base_lr, total_steps=len(train_dl), pct_start=0.99)
    loss = train_one_epoch(net, train_dl, opt, sched, criterion)
    acc = evaluate(net, val_dl)
    history.append({"epoch": 1, "frozen": True, "train_loss": loss, "val_acc": acc, "s": time.perf_counter() - t0})
    log(f"  anchor epoch 1 (frozen) val {acc:.3f}")
    best, best_epoch, best_state = acc, 1, {k: v.clone() for k, v in net.state_dict().items()}
    # 2) everything unfrozen, discriminative lrs, one-cycle over max_epochs; stop when val stops improving
    net.requires_grad_(True)
    lr = base_lr / 2
    opt = torch.optim.AdamW(_param_groups(net, lr), weight_decay=1e-2)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt,
        max_lr=[gr["lr"] for gr in opt.param_groups],
        total_steps=max_epochs * len(train_dl),
        pct_start=0.3,
        div_factor=5.0,
    )
    since = 0
    for epoch in range(2, max_epochs + 2):
        loss = train_one_epoch(net, train_dl, opt, sched, criterion)
        acc = evaluate(net, val_dl)
        history.append(
            {"epoch": epoch, "frozen": False, "train_loss": loss, "val_acc": acc, "s": time.perf_counter() - t0}
        )
        log(f"  anchor epoch {epoch} val {acc:.3f} ({time.perf_counter() - t0:.0f} s)")
        if acc > best + 1e-9:
            best, best_epoch, since = acc, epoch, 0
            best_state = {k: v.clone() for k, v in net.state_dict().items()}
        else:
            since += 1
            if since >= patience:
                break
    net.load_state_dict(best_state)
    return AnchorResult(best, best_epoch, len(history), time.perf_counter() - t0, history)


if __name__ == "__main__":  # python -m bench.anchor DATASET [SEED]: one anchor run, printed
    import sys

    from core.data.dataset import load_dataset

    from .common import SHARED

    name, seed = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 0
    ds = load_dataset(SHARED / name, 0.2, seed)
    tr = [(i.path, i.label) for i in ds.split_items("train")]
    va = [(i.path, i.label) for i in ds.split_items("val")]
    r = fine_tune(tr, va, ds.classes, seed=seed)
    print(
        {
            "dataset": name,
            "seed": seed,
            "best_val_acc": r.best_val_acc,
            "best_epoch": r.best_epoch,
            "epochs": r.epochs,
            "seconds": round(r.seconds, 1),
        }
    )
    _ = Image
