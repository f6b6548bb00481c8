"""Receptive-field and pooling-window geometry of every layer, from the layer specs alone.

Conventions (index coordinates on the 28x28 input): unit i of a layer is centred on input
position start + i * jump and sees `size` pixels on each axis around it, i.e. input pixels
ceil(centre - (size - 1) / 2) .. centre + (size - 1) / 2, clipped to the image. A pool or
conv unit i reads units i * stride - padding .. i * stride - padding + kernel - 1 of the
layer before it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from app.ml.nets import LayerSpec, VariantSpec


@dataclass(frozen=True)
class Field:
    size: int  # receptive field side on the input, pixels
    jump: int  # input pixels between neighbouring units
    start: float  # input position of unit 0's centre

    def span(self, index: int, limit: int = 28) -> tuple[int, int]:
        """Inclusive input pixel range seen by unit `index` on one axis, clipped to the image."""
        centre = self.start + index * self.jump
        lo = math.ceil(centre - (self.size - 1) / 2)
        hi = math.floor(centre + (self.size - 1) / 2)
        return max(0, lo), min(limit - 1, hi)


@dataclass(frozen=True)
class Window:
    """Which units of the previous layer one unit reads (on each axis)."""

    kernel: int
    stride: int
    padding: int

    def span(self, index: int, limit: int) -> tuple[int, int]:
        lo = index * self.stride - self.padding
        return max(0, lo), min(limit - 1, lo + self.kernel - 1)


def fields(spec: VariantSpec) -> dict[str, Field]:
    """Receptive field of each feature-map layer of a variant."""
    size, jump, start = 1, 1, 0.0
    out: dict[str, Field] = {}
    for layer in spec.layers:
        start = start + ((layer.kernel - 1) / 2 - layer.padding) * jump
        size = size + (layer.kernel - 1) * jump
        jump = jump * layer.stride
        out[layer.name] = Field(size, jump, start)
    return out


def window(layer: LayerSpec) -> Window:
    return Window(layer.kernel, layer.stride, layer.padding)


def describe(spec: VariantSpec) -> list[dict[str, object]]:
    """JSON-ready geometry for /api/v1/models: field per layer and window into the layer before."""
    out: list[dict[str, object]] = []
    prev = "input"
    for layer in spec.layers:
        f = fields(spec)[layer.name]
        w = window(layer)
        out.append({
            "name": layer.name,
            "receptive_field": {"size": f.size, "jump": f.jump, "start": f.start},
            "reads": {"layer": prev, "kernel": w.kernel, "stride": w.stride, "padding": w.padding},
        })
        prev = layer.name
    return out
