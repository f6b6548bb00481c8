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

import numpy as np
import torch

from app.ml.capture import capture
from app.ml.encode import DTYPES, DTYPES_NP, Encoding
from app.ml.nets import LayerSpec, Net, VariantSpec


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

    # where this layer sits in the packed buffers of b images (layer-major, sample-major inside)
    def data(self, b: int) -> slice:
        """Its maps: b * C*H*W values."""
        return slice(b * self.offset, b * (self.offset + self.size))

    def lows(self, b: int) -> slice:
        """Per-channel minima: b * C floats."""
        c = self.layer.shape[0]
        return slice(b * self.low, b * self.low + b * c)

    def highs(self, b: int) -> slice:
        """Per-channel maxima: b * C floats, right after the minima."""
        c = self.layer.shape[0]
        return slice(b * self.low + b * c, b * self.low + 2 * b * c)


@dataclass(frozen=True)
class NetSlot:
    variant: str
    probs: int  # offset of the probabilities in the float tensor, for B = 1
    layers: tuple[LayerSlot, ...]

    def probabilities(self, b: int) -> slice:
        """The softmax of b images: b * 10 floats."""
        return slice(b * self.probs, b * (self.probs + 10))


@dataclass(frozen=True)
class Layout:
    """Where each network's outputs sit in the packed tensors (offsets for one image)."""

    nets: tuple[NetSlot, ...]
    data_size: int  # elements per image
    float_size: int

    def __hash__(self) -> int:
        """The generated hash walks every slot and layer spec (about 4 us here); a live update
        looks a layout up in two caches (_host_groups, wire._skeleton), so it is kept."""
        try:
            return self._hash  # type: ignore[no-any-return,attr-defined]
        except AttributeError:
            value = hash((self.nets, self.data_size, self.float_size))
            object.__setattr__(self, "_hash", value)
            return value

    def __getstate__(self) -> dict[str, object]:
        """Pickled without the kept hash: a string's hash differs from process to process."""
        return {k: v for k, v in self.__dict__.items() if k != "_hash"}

    @staticmethod
    def plan(nets: Sequence[Net | VariantSpec], layers: Sequence[str] | None = None) -> Layout:
        """The layout of `nets`' outputs; a variant's spec stands for its network where only
        the shapes are wanted (the API's documented sizes, with no weights loaded)."""
        slots: list[NetSlot] = []
        data = floats = 0
        for net in nets:
            variant = net if isinstance(net, VariantSpec) else net.spec
            probs = floats
            floats += 10
            chosen = [spec for spec in variant.layers if layers is None or spec.name in layers]
            layer_slots: list[LayerSlot] = []
            for spec in chosen:
                c = spec.shape[0]
                layer_slots.append(LayerSlot(variant.name, spec, data, floats, floats + c))
                data += c * spec.shape[1] * spec.shape[2]
                floats += 2 * c
            slots.append(NetSlot(variant.name, probs, tuple(layer_slots)))
        return Layout(tuple(slots), data, floats)


# From this many images on, both packers quantise layer by layer (fewer passes over memory)
# instead of in one fused pass over all maps (fewer calls: what a batch of one needs).
PER_LAYER_FROM = 16
# the smallest span whose 255 / span is a finite float32 (about 7.5e-37)
MIN_SPAN = np.nextafter(np.float32(255.0) / np.finfo(np.float32).max, np.float32(1.0))


def pack(nets: Sequence[Net], x: torch.Tensor, layout: Layout,
         encoding: Encoding = "uint8") -> tuple[np.ndarray, np.ndarray]:
    """x (B, 1, 28, 28) -> (data (B*data_size,), floats (B*float_size,)) on the host.

    On the CPU the maps are quantised with NumPy (a few microseconds per call where torch's
    per-op dispatch costs tens); on an accelerator everything happens on the device and the
    result is copied once.
    """
    if x.device.type == "cpu":
        return pack_on_host(nets, x, layout, encoding)
    data, floats = pack_on_device(nets, x, layout, encoding)
    return data.cpu().numpy(), floats.cpu().numpy()


def pack_on_host(nets: Sequence[Net], x: torch.Tensor, layout: Layout,
                 encoding: Encoding = "uint8", *, per_layer: bool | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """The same layout and values as pack_on_device, computed with NumPy on CPU tensors.

    As on the device, a few images are quantised in one pass over all maps (one
    concatenation, one min and max per channel with reduceat, one per-element scale: about
    15 NumPy calls where layer by layer takes about 120; beyond the forward passes, 0.09 ms
    against 0.19 for a live update, hot, on one thread), and a batch layer by layer with
    broadcast scales (no per-element copies of the scales: memory stays at the maps' own
    size).
    """
    b = x.shape[0]
    if per_layer is None:
        per_layer = b >= PER_LAYER_FROM
    dtype = np.dtype(DTYPES_NP[encoding])
    floats = np.empty(b * layout.float_size, np.float32)
    data = np.empty(b * layout.data_size, dtype) if per_layer else None
    values: list[np.ndarray] = []  # flattened maps, layer-major (the fused pass)
    for net, slot in zip(nets, layout.nets, strict=True):
        logits, maps = capture(net, x)
        floats[slot.probabilities(b)] = torch.softmax(logits, 1).numpy().ravel()
        for ls in slot.layers:
            m = maps[ls.layer.name].numpy()
            if data is None:
                values.append(m.reshape(-1))
                continue
            c, h, w = ls.layer.shape
            rows = m.reshape(b * c, h * w)
            lo, hi = rows.min(axis=1), rows.max(axis=1)
            floats[ls.lows(b)] = lo
            floats[ls.highs(b)] = hi
            out = data[ls.data(b)].reshape(b * c, h * w)
            if encoding == "uint8":
                _quantise_rows(out, rows, lo, hi)
            else:
                out[...] = rows
    if data is not None:
        return data, floats
    if b * layout.data_size == 0:  # no images or no layers: reduceat needs values
        return np.empty(0, dtype), floats
    flat = np.concatenate(values)  # a fresh array: the quantisation below works in it
    groups = _host_groups(layout, b)
    lo = np.minimum.reduceat(flat, groups.starts)
    hi = np.maximum.reduceat(flat, groups.starts)
    floats[groups.lows] = lo
    floats[groups.highs] = hi
    if encoding != "uint8":
        return flat.astype(dtype, copy=False), floats
    return _quantise_groups(flat, lo, hi, groups.sizes), floats


def _scales(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """255 / (hi - lo), and 0 for a constant channel (all its values quantise to 0).

    A span too small for 255 / span to fit in a float32 is divided as MIN_SPAN instead, so
    that no scale or scaled value is infinite or NaN: see _round_in_place."""
    span = hi - lo
    scale: np.ndarray = np.float32(255.0) / np.maximum(span, MIN_SPAN)
    scale *= span > 0  # finite, so 0 where constant
    return scale


def _round_in_place(q: np.ndarray) -> np.ndarray:
    """Scaled values made ready for a cast to uint8: + 0.5, as the cast truncates (so it
    rounds to nearest). Returns q.

    No clamp to 255 is needed (it cost more than the rest of the rounding): for lo <= m <=
    hi, both m - lo <= hi - lo and the product with scale = 255 / (hi - lo) are rounded
    monotonically, so a scaled value exceeds 255 by a few float32 ulps at most, and
    255.5 plus those still truncates to 255. A span under MIN_SPAN divided as MIN_SPAN only
    makes the values smaller."""
    q += 0.5
    return q


def _quantise_groups(flat: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                     sizes: np.ndarray) -> np.ndarray:
    """The fused pass: flat holds consecutive groups of sizes[i] values, each with its own
    lo[i] and hi[i]; returns their uint8 levels. Works in flat, which it overwrites: no
    second array of the maps' size (5 to 15 us of a live update's 500, timed against the
    two-array form in turns in one process)."""
    flat -= np.repeat(lo, sizes)
    flat *= np.repeat(_scales(lo, hi), sizes)
    return _round_in_place(flat).astype(np.uint8)


def _quantise_rows(out: np.ndarray, m: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
    """round((m - lo) * 255 / (hi - lo)) per row of m (B*C, H*W), into the uint8 rows `out`."""
    q = m - lo[:, None]
    q *= _scales(lo, hi)[:, None]
    out[...] = _round_in_place(q)


@dataclass(frozen=True)
class _HostGroups:
    starts: np.ndarray  # first element of each (layer, sample, channel) group in the data
    sizes: np.ndarray  # its H*W elements
    lows: np.ndarray  # where its minimum goes in the float buffer
    highs: np.ndarray  # and its maximum


@functools.lru_cache(maxsize=64)
def _host_groups(layout: Layout, b: int) -> _HostGroups:
    sizes = group_sizes(layout, b, torch.device("cpu")).numpy()
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.intp)
    slots = [ls for net in layout.nets for ls in net.layers]
    lows = np.concatenate([np.arange(ls.lows(b).start, ls.lows(b).stop) for ls in slots])
    highs = np.concatenate([np.arange(ls.highs(b).start, ls.highs(b).stop) for ls in slots])
    return _HostGroups(starts, sizes, lows, highs)


def pack_on_device(nets: Sequence[Net], x: torch.Tensor, layout: Layout,
                   encoding: Encoding = "uint8", *, per_layer: bool | None = None,
                   repeats: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """x (B, 1, 28, 28) on the nets' device -> (data (B*data_size,), floats (B*float_size,)),
    still on the device.

    Quantisation (uint8) is per sample and channel. For a few images it is computed for all
    layers of all networks at once (one concatenation of the maps, one per-element scale: a
    handful of kernels, which is what bounds batch 1); for a batch, layer by layer with
    broadcast scales written straight into the output (five passes over each map where the
    fused pass makes about nine, and memory is what bounds a batch). No host synchronisation
    either way, so it can be captured in a CUDA graph. `per_layer` forces one way or the
    other (the GPU benchmark compares them). `repeats`: `group_sizes(layout, B, device)`,
    passed by a caller that must own it (a CUDA graph reads its memory at every replay; the
    cache's copy may be evicted and freed).
    """
    b = x.shape[0]
    if per_layer is None:
        per_layer = b >= PER_LAYER_FROM
    per_layer = per_layer and encoding == "uint8"
    values: list[torch.Tensor] = []  # flattened maps, layer-major
    floats: list[torch.Tensor] = []
    lows: list[torch.Tensor] = []
    highs: list[torch.Tensor] = []
    data = torch.empty(b * layout.data_size, dtype=torch.uint8, device=x.device) \
        if per_layer else None
    for net, slot in zip(nets, layout.nets, strict=True):
        logits, maps = capture(net, x)
        floats.append(torch.softmax(logits, dim=1).reshape(-1))  # (B*10,)
        for layer_slot in slot.layers:
            m = maps[layer_slot.layer.name]  # (B, C, H, W)
            lo, hi = torch.aminmax(m.flatten(2), dim=2)  # (B, C) each
            floats.extend((lo.reshape(-1), hi.reshape(-1)))
            if data is not None:
                _quantise_into(data[layer_slot.data(b)], m, lo, hi)
                continue
            lows.append(lo.reshape(-1))
            highs.append(hi.reshape(-1))
            values.append(m.reshape(-1))
    flat_floats = torch.cat(floats)
    if data is not None:
        return data, flat_floats
    if not values:
        return torch.empty(0, dtype=DTYPES[encoding], device=x.device), flat_floats
    flat = torch.cat(values)  # (B * data_size,)
    if encoding != "uint8":
        return flat.to(DTYPES[encoding]), flat_floats
    low = torch.cat(lows)  # (groups,)
    scale = _device_scales(low, torch.cat(highs))
    if repeats is None:
        repeats = group_sizes(layout, b, x.device)
    low_e = torch.repeat_interleave(low, repeats, output_size=flat.numel())
    scale_e = torch.repeat_interleave(scale, repeats, output_size=flat.numel())
    # (m - low) * scale, as the NumPy path computes it: m * scale - low * scale would lose
    # the small range of a channel that sits far from zero
    q = torch.sub(flat, low_e).mul_(scale_e).add_(0.5).floor_().clamp_(0, 255)
    return q.to(torch.uint8), flat_floats


def _device_scales(lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    """As _scales: 255 / (hi - lo), a span under MIN_SPAN divided as MIN_SPAN, 0 where
    constant."""
    span = hi - lo
    return torch.where(span > 0, 255.0 / span.clamp_min(float(MIN_SPAN)),
                       torch.zeros_like(span))


def _quantise_into(out: torch.Tensor, m: torch.Tensor, lo: torch.Tensor,
                   hi: torch.Tensor) -> None:
    """round((m - lo) * 255 / (hi - lo)) per sample and channel, into the uint8 slice `out`."""
    scale = _device_scales(lo, hi)[..., None, None]
    # (m - lo) first, as the NumPy path does: m * scale - lo * scale would lose the small
    # range of a channel far from zero. + 0.5, then truncation: round to nearest.
    q = torch.sub(m, lo[..., None, None]).mul_(scale).add_(0.5).clamp_(0, 255)
    out.view(m.shape).copy_(q)  # values >= 0 truncate as floor


@functools.lru_cache(maxsize=64)
def group_sizes(layout: Layout, b: int, device: torch.device) -> torch.Tensor:
    """Elements in each (layer, sample, channel) group, in packing order: H*W repeated B*C times."""
    sizes = [ls.layer.shape[1] * ls.layer.shape[2]
             for net in layout.nets for ls in net.layers for _ in range(b * ls.layer.shape[0])]
    return torch.tensor(sizes, dtype=torch.int64, device=device)
