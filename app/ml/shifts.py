"""Integer shifts with zero fill, and how stable a classifier is under them."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from app.ml import receptive
from app.ml.nets import VariantSpec

Predict = Callable[[torch.Tensor], torch.Tensor]  # (N, 1, 28, 28) -> (N,) classes

MAX_CONSISTENCY_SHIFT = 3
# draws of random shifts a network's consistency is the median of: one draw moves it by a few
# tenths of a point, as much as the gaps between the networks (a teacher's review found the
# cards' single draw was avg's best of ten). Odd, so that the median is one draw's figure, a
# whole number of digits, which every reader rounds alike
CONSISTENCY_DRAWS = 11
DIAGONAL_SHIFTS = tuple(range(-4, 5))
GRID_SHIFTS = tuple(range(-4, 5))  # the shift lab's grid, in x and in y
NUDGES: dict[str, tuple[int, int]] = {"left": (-1, 0), "right": (1, 0), "up": (0, -1),
                                      "down": (0, 1)}


def shift(x: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """Shift (..., H, W) right by dx and down by dy pixels, filling with zeros."""
    h, w = x.shape[-2:]
    out = torch.zeros_like(x)
    if abs(dx) >= w or abs(dy) >= h:
        return out
    src_y = slice(max(0, -dy), h - max(0, dy))
    dst_y = slice(max(0, dy), h - max(0, -dy))
    src_x = slice(max(0, -dx), w - max(0, dx))
    dst_x = slice(max(0, dx), w - max(0, -dx))
    out[..., dst_y, dst_x] = x[..., src_y, src_x]
    return out


def shift_each(x: torch.Tensor, dx: torch.Tensor, dy: torch.Tensor) -> torch.Tensor:
    """Shift image i of x (N, 1, H, W) by (dx[i], dy[i]); one slice copy per distinct shift."""
    out = torch.empty_like(x)
    pairs = torch.stack([dx, dy], 1)
    for pair in torch.unique(pairs, dim=0):
        sel = (pairs == pair).all(1)
        out[sel] = shift(x[sel], int(pair[0]), int(pair[1]))
    return out


def random_shift_pairs(n: int, seed: int, max_shift: int = MAX_CONSISTENCY_SHIFT) -> torch.Tensor:
    """(n, 4) integer shifts dx1, dy1, dx2, dy2 in -max..max: the same for every model."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(-max_shift, max_shift + 1, (n, 4), generator=gen)


def consistency(predict: Predict, images: torch.Tensor, seed: int,
                batch_size: int = 1000) -> float:
    """Share of images whose predicted class is the same under two random shifts of up to 3 px
    in x and y (Zhang 2019's consistency)."""
    shifts = random_shift_pairs(len(images), seed)
    same = 0
    for start in range(0, len(images), batch_size):
        x = images[start:start + batch_size]
        s = shifts[start:start + batch_size]
        a = predict(shift_each(x, s[:, 0], s[:, 1]))
        b = predict(shift_each(x, s[:, 2], s[:, 3]))
        same += int((a == b).sum())
    return same / len(images)


def consistency_draws(predict: Predict, images: torch.Tensor, first_seed: int,
                      draws: int = CONSISTENCY_DRAWS,
                      before_each: Callable[[int], None] | None = None) -> list[float]:
    """`consistency` for seeds first_seed, first_seed + 1, ...: one figure a draw;
    `before_each(i)` is called before draw i (0-based), for progress."""
    out = []
    for i in range(draws):
        if before_each is not None:
            before_each(i)
        out.append(consistency(predict, images, first_seed + i))
    return out


def diagonal_accuracy(predict: Predict, images: torch.Tensor, labels: torch.Tensor,
                      shifts: tuple[int, ...] = DIAGONAL_SHIFTS,
                      batch_size: int = 1000) -> dict[int, float]:
    """Accuracy when every image is shifted by (d, d), for each d."""
    out: dict[int, float] = {}
    for d in shifts:
        correct = 0
        for start in range(0, len(images), batch_size):
            x = shift(images[start:start + batch_size], d, d)
            correct += int((predict(x) == labels[start:start + batch_size]).sum())
        out[d] = correct / len(images)
    return out


def jumps(spec: VariantSpec) -> list[int]:
    """Input pixels per unit of each layer, from receptive.py."""
    fields = receptive.fields(spec)
    return [fields[layer.name].jump for layer in spec.layers]


def map_change(before: np.ndarray, after: np.ndarray) -> float | None:
    """How much a layer's maps (C, H, W) changed when the input moved, compared in place:
    the same measure for every layer, so that layers can be set side by side. A layer that
    only moves along with the input still changes here, by as much as its maps move; one
    that absorbs part of the move (a pool, whose window smooths its maps) changes less.
    Returns ||after - before|| / ||before|| (relative L2), None when the maps before are all
    zero and the maps after are not (a change relative to nothing)."""
    return relative_change(before, after)


def change_shifted_back(before: np.ndarray, after: np.ndarray, nudge: tuple[int, int],
                        jump: int) -> float | None:
    """The change once the maps before are moved along with the input, for a layer whose
    units the move spans a whole number of times (jump 1: conv1 of the pooling networks,
    every conv of nopool); None elsewhere, where one pixel is a fraction of a unit. A layer
    that simply moves with the input scores 0 (equivariance); the comparison skips the
    border row or column that the shift left empty."""
    dx, dy = nudge
    if dx % jump or dy % jump:
        return None
    ux, uy = dx // jump, dy // jump
    moved = shift(torch.from_numpy(before), ux, uy).numpy()
    h, w = before.shape[-2:]
    ys = slice(max(0, uy), h + min(0, uy))
    xs = slice(max(0, ux), w + min(0, ux))
    return relative_change(moved[:, ys, xs], after[:, ys, xs])


def relative_change(a: np.ndarray, b: np.ndarray) -> float | None:
    """||a - b|| / ||a||: 0 when both are zero, None when only a is zero."""
    norm = float(np.linalg.norm(a))
    diff = float(np.linalg.norm(a - b))
    if norm == 0.0:
        return 0.0 if diff == 0.0 else None
    return diff / norm
