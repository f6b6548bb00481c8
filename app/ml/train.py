"""Training: fixed seed, light affine augmentation, one-cycle learning rate, AdamW.

Model selection never looks at the test set: the card's validation accuracy comes from the
10,000 held-out training images, and the test accuracy is measured once, at the end.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import platform
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save as save_tensors
from tqdm import tqdm

from app.ml import files, registry
from app.ml.data import Mnist
from app.ml.nets import Net, build, param_counts

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 12
    batch_size: int = 128
    max_lr: float = 3e-3
    weight_decay: float = 1e-4
    seed: int = 20261127
    # augmentation: uniform in +/- these bounds, drawn per image
    max_shift_px: float = 2.5
    max_rotate_deg: float = 12.0
    scale_range: tuple[float, float] = (0.85, 1.10)
    augment: bool = True
    limit: int | None = None  # train on the first N images only (smoke tests)


@dataclass
class EpochLog:
    epoch: int
    loss: float
    train_accuracy: float
    valid_accuracy: float
    lr: float
    seconds: float


@dataclass
class TrainResult:
    net: Net
    history: list[EpochLog] = field(default_factory=list)
    seconds: float = 0.0


def seed_everything(seed: int) -> torch.Generator:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, 28, 28) -> float32 (N, 1, 28, 28) in 0..1."""
    return torch.from_numpy(images).float().div_(255.0).unsqueeze(1)


def augment(x: torch.Tensor, cfg: TrainConfig, gen: torch.Generator) -> torch.Tensor:
    """Random small rotation, scale and shift of each image, by one batched grid sample."""
    n = x.shape[0]
    angle = (torch.rand(n, generator=gen) * 2 - 1) * math.radians(cfg.max_rotate_deg)
    lo, hi = cfg.scale_range
    scale = lo + torch.rand(n, generator=gen) * (hi - lo)
    # shifts in normalised coordinates: one pixel is 2/28
    shift = (torch.rand(n, 2, generator=gen) * 2 - 1) * cfg.max_shift_px * 2 / 28
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1
    )  # (N, 2, 3): output -> input sampling grid
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


@torch.no_grad()
def accuracy(net: Net, images: np.ndarray, labels: np.ndarray, batch_size: int = 1000,
             device: torch.device | None = None) -> tuple[int, int]:
    """(correct, total) of net on uint8 images."""
    device = device or torch.device("cpu")
    net.eval()
    correct = 0
    for start in range(0, len(images), batch_size):
        x = to_tensor(images[start:start + batch_size]).to(device)
        pred = net(x).argmax(1).cpu()
        correct += int((pred == torch.from_numpy(labels[start:start + batch_size])).sum())
    return correct, len(images)


def train(variant: str, data: Mnist, cfg: TrainConfig, *, progress: bool = True,
          on_epoch: Callable[[EpochLog], None] | None = None) -> TrainResult:
    gen = seed_everything(cfg.seed)
    net = build(variant)
    x_all = to_tensor(data.images("train"))
    y_all = torch.from_numpy(data.labels("train"))
    if cfg.limit is not None:
        x_all, y_all = x_all[: cfg.limit], y_all[: cfg.limit]
    n = len(x_all)
    steps_per_epoch = math.ceil(n / cfg.batch_size)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.max_lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=cfg.max_lr, epochs=cfg.epochs, steps_per_epoch=steps_per_epoch
    )
    result = TrainResult(net)
    started = time.perf_counter()
    for epoch in range(1, cfg.epochs + 1):
        t0 = time.perf_counter()
        net.train()
        order = torch.randperm(n, generator=gen)
        total_loss, total_correct, seen = 0.0, 0, 0
        bar = tqdm(range(steps_per_epoch), desc=f"{variant} epoch {epoch}/{cfg.epochs}",
                   disable=not progress, leave=True, unit="step")
        for step in bar:
            idx = order[step * cfg.batch_size:(step + 1) * cfg.batch_size]
            x, y = x_all[idx], y_all[idx]
            if cfg.augment:
                x = augment(x, cfg, gen)
            logits = net(x)  # (B, 10)
            loss = F.cross_entropy(logits, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
            sched.step()
            total_loss += loss.item() * len(y)
            total_correct += int((logits.detach().argmax(1) == y).sum())
            seen += len(y)
            if step % 20 == 0 or step == steps_per_epoch - 1:
                bar.set_postfix(loss=f"{total_loss / seen:.4f}", acc=f"{total_correct / seen:.4f}")
        v_correct, v_total = accuracy(net, data.images("valid"), data.labels("valid"))
        entry = EpochLog(epoch, total_loss / seen, total_correct / seen, v_correct / v_total,
                         float(sched.get_last_lr()[0]), time.perf_counter() - t0)
        result.history.append(entry)
        log.info("%s epoch %d: loss %.4f train acc %.4f valid acc %.4f (%.0fs)", variant,
                 epoch, entry.loss, entry.train_accuracy, entry.valid_accuracy, entry.seconds)
        if on_epoch is not None:
            on_epoch(entry)
    result.seconds = time.perf_counter() - started
    net.eval()
    return result


def save(result: TrainResult, data: Mnist, cfg: TrainConfig, models_dir: Path) -> dict[str, Any]:
    """Write models/<variant>.safetensors and its card models/<variant>.json.

    Everything is computed first (the test pass takes a while); then both files are written
    beside their names and renamed onto them, the weights first and the card, which holds
    their sha256, last (app/ml/files.py). An interrupt or a full disk before the renames
    leaves the old pair as it was. A process stopped between the two renames (a window of
    microseconds: Ctrl-C at that instant, a kill, a crash) leaves new weights beside the old
    card, never the reverse: `serve` and `evaluate` then refuse them by the sha256 check
    rather than load weights their card does not describe, and a new variant's weights
    without a card are not listed at all. Training again repairs either. An OSError is
    raised as OutputError."""
    net = result.net
    variant = net.variant
    state = {k: v.detach().contiguous().cpu() for k, v in net.state_dict().items()}
    blob = save_tensors(state, metadata={"variant": variant, "format": "pt"})
    correct, total = accuracy(net, data.images("test"), data.labels("test"))
    counts = param_counts(net)
    weights = registry.weights_path(models_dir, variant)
    card: dict[str, Any] = {
        "variant": variant,
        "title": net.spec.title,
        "downsampling": net.spec.downsampling,
        "test_accuracy": correct / total,
        "test_correct": correct,
        "test_total": total,
        "valid_accuracy": result.history[-1].valid_accuracy if result.history else None,
        "epochs": cfg.epochs,
        "seed": cfg.seed,
        "training": {k: v for k, v in asdict(cfg).items() if k not in ("epochs", "seed")},
        "training_seconds": round(result.seconds, 1),
        "history": [asdict(h) for h in result.history],
        "params": sum(counts.values()),
        "params_per_layer": counts,
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "weights_file": weights.name,
        "weights_sha256": hashlib.sha256(blob).hexdigest(),
        "data_sha256": data.sha256,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    files.check_folder(models_dir)
    with files.replacing(weights, registry.card_path(models_dir, variant)) as (w, c):
        w.write_bytes(blob)
        c.write_text(json.dumps(card, indent=2) + "\n")
        # they ship and are read by others (the server's user): a new pair is readable by all
        # whatever the umask; a pair replaced keeps its files' modes (files.replacing)
        w.chmod(0o644)
        c.chmod(0o644)
    return card
