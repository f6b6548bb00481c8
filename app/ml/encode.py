"""Quantisation and packing of feature maps, on whatever device the maps live on.

uint8 maps quantise each channel on its own: value = low + q / 255 * (high - low), with
low and high the channel's min and max (q = 0 everywhere when low == high).
float16/float32 are little-endian raw values; low/high are given for them too.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch

Encoding = Literal["uint8", "float16", "float32"]
ENCODINGS: tuple[Encoding, ...] = ("uint8", "float16", "float32")
DTYPES: dict[Encoding, torch.dtype] = {
    "uint8": torch.uint8, "float16": torch.float16, "float32": torch.float32,
}


def channel_range(maps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, C, H, W) -> per-channel low and high, each (B, C)."""
    flat = maps.flatten(2)  # (B, C, H*W)
    return flat.amin(dim=2), flat.amax(dim=2)


def quantise(maps: torch.Tensor, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) float -> (B, C, H, W) uint8 with per-channel low/high (B, C)."""
    lo = low[..., None, None]
    span = (high - low)[..., None, None]
    scale = torch.where(span > 0, 255.0 / span, torch.zeros_like(span))
    return ((maps - lo) * scale).round_().clamp_(0, 255).to(torch.uint8)


def dequantise(q: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """The inverse: (C, H, W) uint8 with low/high (C,) -> float32 (C, H, W)."""
    lo = low.astype(np.float32)[:, None, None]
    span = (high - low).astype(np.float32)[:, None, None]
    return lo + q.astype(np.float32) / 255.0 * span


def encode(maps: torch.Tensor, encoding: Encoding) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(B, C, H, W) float -> (encoded values in the encoding's dtype, low (B, C), high (B, C))."""
    low, high = channel_range(maps)
    if encoding == "uint8":
        return quantise(maps, low, high), low, high
    return maps.to(DTYPES[encoding]), low, high
