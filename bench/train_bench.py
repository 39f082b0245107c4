"""Training speed: our cached-feature training vs the reference tutorial's plain loop.

The plain loop is PyTorch's transfer-learning tutorial: ImageFolder + DataLoader,
full PIL decode, torchvision transforms, and the whole network's forward pass on
every image in every epoch. Same backbone (EfficientNet-Lite0), same data
(hymenoptera), same epochs and optimiser where a figure compares per-epoch cost.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from core.data.dataset import load_dataset
from core.models.backbones import UNFREEZE_CHOICES, build_network, get_spec
from core.models.features import FeatureCache
from core.training.config import Phase, TrainConfig
from core.training.train import train

from .common import SHARED, median, save


def _loaders(root: Path, augment: bool, batch_size: int = 32, seed: int = 0, size: int | None = None):
    """The tutorial's data pipeline; ``size`` None means the backbone's own input size."""
    import torchvision.transforms as T
    from torchvision.datasets import ImageFolder

    pre = get_spec("efficientnet_lite0").preprocess
    size = size or pre.size
    norm = T.Normalize(pre.mean, pre.std)
    val_tf = T.Compose([T.Resize(round(size / 0.875)), T.CenterCrop(size), T.ToTensor(), norm])
    train_tf = (
        T.Compose([T.RandomResizedCrop(size), T.RandomHorizontalFlip(), T.ToTensor(), norm]) if augment else val_tf
    )
    g = torch.Generator().manual_seed(seed)
    tr = ImageFolder(root / "train", train_tf)
    va = ImageFolder(root / "val", val_tf)
    mk = lambda ds, shuffle: torch.utils.data.DataLoader(
        ds,
        batch_size=batch_size,
        shuffle=shuffle,  # noqa: E731
        num_workers=2,
        generator=g,
    )
    return mk(tr, True), mk(va, False), tr.classes


def plain_loop(
    root: Path,
    epochs: int,
    unfreeze: str = "head only",
    augment: bool = False,
    lr: float = 1e-3,
    optimizer: str = "adam",
    seed: int = 0,
    target_acc: float | None = None,
    step_lr: int | None = None,
    size: int | None = None,
) -> dict:
    """The tutorial's loop. Returns per-epoch seconds, val accuracies and cumulative times.

    ``step_lr`` adds the tutorial's StepLR(step_size, gamma=0.1); the tutorial keeps the
    best epoch's weights, so its accuracy is max(val_acc)."""
    torch.manual_seed(seed)
    train_dl, val_dl, classes = _loaders(root, augment, seed=seed, size=size)
    net = build_network("efficientnet_lite0", len(classes))
    k = UNFREEZE_CHOICES[unfreeze]
    net.set_trainable(k)
    b = net.boundary(k)
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=lr, momentum=0.9) if optimizer == "sgd" else torch.optim.Adam(params, lr=lr)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=step_lr, gamma=0.1) if step_lr else None
    crit = nn.CrossEntropyLoss()
    secs, accs, cum = [], [], []
    t_start = time.perf_counter()
    for _ in range(epochs):
        t = time.perf_counter()
        for i, st in enumerate(net.stages):
            st.train(i >= b)
        net.head.train()
        for x, y in train_dl:
            loss = crit(net(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        if sched:
            sched.step()
        net.eval()
        correct = n = 0
        with torch.inference_mode():
            for x, y in val_dl:
                correct += (net(x).argmax(1) == y).sum().item()
                n += len(y)
        secs.append(time.perf_counter() - t)
        accs.append(correct / n)
        cum.append(time.perf_counter() - t_start)
        if target_acc is not None and accs[-1] >= target_acc - 1e-6:  # ours is a float32 mean
            break
    return {"epoch_seconds": secs, "val_acc": accs, "cumulative": cum}


def ours(root: Path, cfg: TrainConfig) -> dict:
    t = time.perf_counter()
    ds = load_dataset(root, cfg.val_fraction, cfg.seed)
    r = train(ds, cfg, FeatureCache())
    return {
        "epoch_seconds": [h["seconds"] for h in r.history],
        "val_acc": [h["val_acc"] for h in r.history],
        "final_acc": r.metrics.val_accuracy,
        "wall": time.perf_counter() - t,
    }


def per_epoch(runs: int = 3, epochs: int = 3) -> dict:
    """Figure 2: seconds per epoch after the first, head-only and last block + head."""
    root = SHARED / "hymenoptera"
    out = {}
    for unfreeze in ("head only", "last block + head"):
        plain_s, ours_s, plain_acc, ours_acc = [], [], [], []
        for r in range(runs):
            p = plain_loop(root, epochs, unfreeze, augment=False, seed=r)
            cfg = TrainConfig(
                phases=[Phase(unfreeze, epochs, 1e-3)],
                augment="none",
                views=1,
                optimizer="adam",
                schedule="constant",
                label_smoothing=0.0,
                weight_decay=0.0,
                seed=r,
            )
            o = ours(root, cfg)
            plain_s.append(median(p["epoch_seconds"][1:]))
            ours_s.append(median(o["epoch_seconds"][1:]))
            plain_acc.append(p["val_acc"][-1])
            ours_acc.append(o["val_acc"][-1])
            print(
                f"  [{unfreeze}] run {r + 1}: plain {plain_s[-1]:.2f}s/epoch acc {plain_acc[-1]:.3f} | "
                f"ours {ours_s[-1]:.3f}s/epoch acc {ours_acc[-1]:.3f}",
                flush=True,
            )
        out[unfreeze] = {
            "plain_s_per_epoch": median(plain_s),
            "ours_s_per_epoch": median(ours_s),
            "ratio": median(plain_s) / median(ours_s),
            "plain_acc": median(plain_acc),
            "ours_acc": median(ours_acc),
            "runs": runs,
            "epochs": epochs,
            "raw": {"plain": plain_s, "ours": ours_s, "plain_acc": plain_acc, "ours_acc": ours_acc},
        }
    return out


def time_to_model(runs: int = 3, tutorial_epochs: int = 25) -> dict:
    """Figure 1: our defaults vs PyTorch's transfer-learning tutorial, same backbone and data.

    The tutorial ("ConvNet as fixed feature extractor", at its own 224 px) trains the last layer for 25 epochs
    with SGD(lr=0.001, momentum=0.9), StepLR(7, 0.1), RandomResizedCrop + flip, a full
    forward pass every epoch, and keeps its best epoch. We also record when it first
    matched our accuracy, the most generous reading for the plain loop (it cannot know
    when to stop)."""
    root = SHARED / "hymenoptera"
    rows = []
    for r in range(runs):
        o = ours(root, TrainConfig(seed=r))
        p = plain_loop(root, tutorial_epochs, augment=True, lr=1e-3, optimizer="sgd", seed=r, step_lr=7, size=224)
        hit = next((k for k, a in enumerate(p["val_acc"]) if a >= o["final_acc"] - 1e-6), None)
        rows.append(
            {
                "ours_wall": o["wall"],
                "ours_acc": o["final_acc"],
                "plain_wall": p["cumulative"][-1],
                "plain_acc": max(p["val_acc"]),
                "plain_val_acc": p["val_acc"],
                "plain_time_to_our_acc": None if hit is None else p["cumulative"][hit],
            }
        )
        row = rows[-1]
        matched = "never" if hit is None else f"after epoch {hit + 1} ({row['plain_time_to_our_acc']:.0f}s)"
        print(
            f"  run {r + 1}: ours {row['ours_wall']:.1f}s acc {row['ours_acc']:.3f} | tutorial {tutorial_epochs} "
            f"epochs {row['plain_wall']:.0f}s best acc {row['plain_acc']:.3f}; matched ours {matched}",
            flush=True,
        )
    reached = [x["plain_time_to_our_acc"] for x in rows if x["plain_time_to_our_acc"] is not None]
    return {
        "ours_wall": median([x["ours_wall"] for x in rows]),
        "ours_acc": median([x["ours_acc"] for x in rows]),
        "plain_time": median([x["plain_wall"] for x in rows]),
        "plain_best_acc": median([x["plain_acc"] for x in rows]),
        "ratio": median([x["plain_wall"] / x["ours_wall"] for x in rows]),
        "ratio_to_match": median(
            [x["plain_time_to_our_acc"] / x["ours_wall"] for x in rows if x["plain_time_to_our_acc"] is not None]
        )
        if reached
        else None,
        "plain_matched_runs": len(reached),
        "runs": runs,
        "tutorial_epochs": tutorial_epochs,
        "raw": rows,
    }


def default_accuracy(runs: int = 3) -> dict:
    """`python -m core train hymenoptera` (defaults): accuracy, time, peak RSS, per seed."""
    from .common import peak_rss_mb

    rows = []
    for seed in range(runs):
        rss, wall, out = peak_rss_mb(
            ["-q", "train", str(SHARED / "hymenoptera"), "--out", f"/tmp/gs-bench-m{seed}", "--seed", str(seed)]
        )
        acc = float([x for x in out.splitlines() if x.startswith("val_accuracy")][0].split()[1])
        rows.append({"seed": seed, "val_accuracy": acc, "wall_s": wall, "peak_rss_mb": rss})
        print(f"  seed {seed}: val_accuracy {acc:.4f}, {wall:.1f}s, peak RSS {rss:.0f} MB", flush=True)
    return {
        "rows": rows,
        "median_acc": median([r["val_accuracy"] for r in rows]),
        "median_wall": median([r["wall_s"] for r in rows]),
        "median_rss": median([r["peak_rss_mb"] for r in rows]),
    }


def run_default(runs: int = 3) -> None:
    """Only the default-settings table (1 min), kept beside the rest of the last full train bench."""
    import json
    import time

    from .common import OUT

    prev = json.loads((OUT / "train.json").read_text())
    print("training: default accuracy", flush=True)
    prev["default"] = default_accuracy(runs)
    prev["default"]["measured"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    prev["default"]["command"] = "python -m bench train-default"
    (OUT / "train.json").write_text(json.dumps(prev, indent=1))


def run(runs: int = 3) -> None:
    print("training: default accuracy", flush=True)
    acc = default_accuracy(runs)
    print("training: seconds per epoch", flush=True)
    pe = per_epoch(runs)
    print("training: time to a trained model", flush=True)
    ttm = time_to_model(runs)
    save("train", {"default": acc, "per_epoch": pe, "time_to_model": ttm, "command": "python -m bench train"})
    _ = np  # numpy kept for users extending the bench
