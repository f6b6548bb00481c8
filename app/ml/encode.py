"""The encodings of feature maps on the wire (the quantisation itself is in app/ml/pack.py).

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
DTYPES_NP: dict[Encoding, str] = {"uint8": "uint8", "float16": "<f2", "float32": "<f4"}
DTYPE_SIZES: dict[Encoding, int] = {name: np.dtype(dtype).itemsize
                                    for name, dtype in DTYPES_NP.items()}


def dequantise(q: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """The inverse: (C, H, W) uint8 with low/high (C,) -> float32 (C, H, W)."""
    lo = low.astype(np.float32)[:, None, None]
    span = (high - low).astype(np.float32)[:, None, None]
    values: np.ndarray = lo + q.astype(np.float32) / 255.0 * span
    return values
