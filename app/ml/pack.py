"""Run networks on a batch and pack every chosen map into two flat tensors, on the device.

The layout is layer-major: for each network, for each chosen layer, a block of B*C*H*W
values (sample-major inside the block). For B = 1 this is simply every map one after the
other. Floats hold, per network: probabilities (B*10), then low (B*C) and high (B*C) of each
chosen layer. Both tensors are copied to the host in one piece each.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from app.ml.capture import capture
from app.ml.encode import DTYPES, Encoding
from app.ml.nets import LayerSpec, Net


@dataclass(frozen=True)
class LayerSlot:
    variant: str
    layer: LayerSpec
    offset: int  # into the data tensor, in elements, for B = 1
    low: int  # into the float tensor, for B = 1
    high: int

    @property
    def size(self) -> int:
        c, h, w = self.layer.shape
        return c * h * w


@dataclass(frozen=True)
class NetSlot:
    variant: str
    probs: int  # offset of the probabilities in the float tensor, for B = 1
    layers: tuple[LayerSlot, ...]


@dataclass(frozen=True)
class Layout:
    """Where each network's outputs sit in the packed tensors (offsets for one image)."""

    nets: tuple[NetSlot, ...]
    data_size: int  # elements per image
    float_size: int

    @staticmethod
    def plan(nets: Sequence[Net], layers: Sequence[str] | None = None) -> Layout:
        slots: list[NetSlot] = []
        data = floats = 0
        for net in nets:
            probs = floats
            floats += 10
            chosen = [spec for spec in net.spec.layers if layers is None or spec.name in layers]
            layer_slots: list[LayerSlot] = []
            for spec in chosen:
                c = spec.shape[0]
                layer_slots.append(LayerSlot(net.variant, spec, data, floats, floats + c))
                data += c * spec.shape[1] * spec.shape[2]
                floats += 2 * c
            slots.append(NetSlot(net.variant, probs, tuple(layer_slots)))
        return Layout(tuple(slots), data, floats)


def pack(nets: Sequence[Net], x: torch.Tensor, layout: Layout,
         encoding: Encoding = "uint8") -> tuple[torch.Tensor, torch.Tensor]:
    """x (B, 1, 28, 28) on the nets' device -> (data (B*data_size,), floats (B*float_size,)).

    Quantisation (uint8) is per sample and channel, computed for all layers of all networks
    at once: one concatenation of the maps, one per-element scale.
    """
    b = x.shape[0]
    values: list[torch.Tensor] = []  # flattened maps, layer-major
    floats: list[torch.Tensor] = []
    lows: list[torch.Tensor] = []
    highs: list[torch.Tensor] = []
    for net, slot in zip(nets, layout.nets, strict=True):
        logits, maps = capture(net, x)
        floats.append(torch.softmax(logits, dim=1).reshape(-1))  # (B*10,)
        for layer_slot in slot.layers:
            m = maps[layer_slot.layer.name]  # (B, C, H, W)
            lo, hi = torch.aminmax(m.flatten(2), dim=2)  # (B, C) each
            floats.extend((lo.reshape(-1), hi.reshape(-1)))
            lows.append(lo.reshape(-1))
            highs.append(hi.reshape(-1))
            values.append(m.reshape(-1))
    flat_floats = torch.cat(floats)
    if not values:
        return torch.empty(0, dtype=DTYPES[encoding], device=x.device), flat_floats
    flat = torch.cat(values)  # (B * data_size,)
    if encoding != "uint8":
        return flat.to(DTYPES[encoding]), flat_floats
    low = torch.cat(lows)  # (groups,)
    span = torch.cat(highs) - low
    scale = torch.where(span > 0, 255.0 / span, torch.zeros_like(span))
    repeats = group_sizes(layout, b, x.device)
    offset = torch.repeat_interleave(low * scale, repeats, output_size=flat.numel())
    scale_e = torch.repeat_interleave(scale, repeats, output_size=flat.numel())
    q = torch.addcmul(-offset, flat, scale_e).round_().clamp_(0, 255)
    return q.to(torch.uint8), flat_floats


@functools.lru_cache(maxsize=64)
def group_sizes(layout: Layout, b: int, device: torch.device) -> torch.Tensor:
    """Elements in each (layer, sample, channel) group, in packing order: H*W repeated B*C times."""
    sizes = [ls.layer.shape[1] * ls.layer.shape[2]
             for net in layout.nets for ls in net.layers for _ in range(b * ls.layer.shape[0])]
    return torch.tensor(sizes, dtype=torch.int64, device=device)
