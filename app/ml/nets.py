"""The model family: the classic Keras MNIST convnet and its downsampling variants.

One builder, one set of layer names. Every variant is
conv1 [-> pool1] -> conv2 [-> pool2] -> conv3 -> flatten -> dense1(64) -> dense2(10),
and differs only in how it downsamples between the convs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, cast

import torch
import torch.nn.functional as F
from torch import nn

from app.ml.errors import UnknownName
from app.ml.names import VARIANTS, brief

LayerKind = Literal["conv", "pool"]


@dataclass(frozen=True)
class LayerSpec:
    """One feature-map layer: its name, kind and output shape (C, H, W)."""

    name: str
    kind: LayerKind
    shape: tuple[int, int, int]
    kernel: int
    stride: int
    padding: int = 0


@dataclass(frozen=True)
class VariantSpec:
    name: str
    title: str
    downsampling: str
    layers: tuple[LayerSpec, ...]


def _conv_out(size: int, kernel: int, stride: int, padding: int = 0) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def _layers(variant: str) -> tuple[LayerSpec, ...]:
    """Layer geometry of a variant, computed from a 28x28 input."""
    # (name, kind, channels, kernel, stride, padding) in forward order
    plan: list[tuple[str, LayerKind, int, int, int, int]]
    if variant in ("max", "avg"):
        plan = [
            ("conv1", "conv", 32, 3, 1, 0),
            ("pool1", "pool", 32, 2, 2, 0),
            ("conv2", "conv", 64, 3, 1, 0),
            ("pool2", "pool", 64, 2, 2, 0),
            ("conv3", "conv", 64, 3, 1, 0),
        ]
    elif variant == "blurmax":
        # max with stride 1 (kernel 2) then a 3x3 blur with stride 2 and padding 1; as one
        # sampling step this reads a 4x4 window with stride 2 starting one pixel before.
        plan = [
            ("conv1", "conv", 32, 3, 1, 0),
            ("pool1", "pool", 32, 4, 2, 1),
            ("conv2", "conv", 64, 3, 1, 0),
            ("pool2", "pool", 64, 4, 2, 1),
            ("conv3", "conv", 64, 3, 1, 0),
        ]
    elif variant == "strided":
        plan = [
            ("conv1", "conv", 32, 3, 2, 0),
            ("conv2", "conv", 64, 3, 2, 0),
            ("conv3", "conv", 64, 3, 1, 0),
        ]
    elif variant == "nopool":
        plan = [
            ("conv1", "conv", 32, 3, 1, 0),
            ("conv2", "conv", 64, 3, 1, 0),
            ("conv3", "conv", 64, 3, 1, 0),
        ]
    else:
        raise ValueError(f"unknown variant {variant!r}; expected one of {', '.join(VARIANTS)}")
    size = 28
    out: list[LayerSpec] = []
    for name, kind, channels, kernel, stride, padding in plan:
        size = _conv_out(size, kernel, stride, padding)
        out.append(LayerSpec(name, kind, (channels, size, size), kernel, stride, padding))
    return tuple(out)


_TITLES = {
    "max": ("Max pooling", "MaxPool2d(2) after conv1 and conv2"),
    "avg": ("Average pooling", "AvgPool2d(2) after conv1 and conv2"),
    "strided": ("Strided convolution", "stride 2 in conv1 and conv2, no pooling"),
    "nopool": ("No downsampling", "none: the article's model_no_max_pool"),
    "blurmax": ("Blurred max pooling",
                "max (stride 1), then a fixed 3x3 binomial blur, stride 2"),
}


def variant_spec(variant: str) -> VariantSpec:
    layers = _layers(variant)
    title, downsampling = _TITLES[variant]
    return VariantSpec(variant, title, downsampling, layers)


def check_variant_layers(variants: Sequence[str], layers: Sequence[str]) -> None:
    """UnknownName for the first layer one of the variants does not have (the engine's check
    for the API, and `featuremaps extract --layers` before anything is loaded)."""
    for variant in variants:
        names = [spec.name for spec in variant_spec(variant).layers]
        for layer in layers:
            if layer not in names:
                raise UnknownName(f"model {variant!r} has no layer {brief(layer)}; "
                                  f"its layers are {', '.join(names)}")


class ConvReLU(nn.Conv2d):
    """A Keras-style Conv2D: the ReLU is part of the layer, so its map is post-activation."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(super().forward(x))


def binomial_kernel() -> torch.Tensor:
    """The fixed 3x3 binomial low-pass filter [1,2,1]^T [1,2,1] / 16."""
    row = torch.tensor([1.0, 2.0, 1.0])
    return torch.outer(row, row) / 16.0  # (3, 3)


class BlurMaxPool(nn.Module):
    """MaxBlurPool (Zhang, ICML 2019): dense 2x2 max, then a fixed binomial blur with stride 2.

    The blur is a buffer, not a parameter: it is not learned and not counted.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels
        kernel = binomial_kernel().expand(channels, 1, 3, 3).contiguous()  # (C, 1, 3, 3)
        self.register_buffer("blur", kernel, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(x, kernel_size=2, stride=1)  # (B, C, H-1, W-1)
        x = F.pad(x, (1, 1, 1, 1), mode="reflect")
        blur = cast(torch.Tensor, self.blur)  # (C, 1, 3, 3)
        return F.conv2d(x, blur, stride=2, groups=self.channels)


class Net(nn.Module):
    """One variant of the family. `stages` names the feature-map layers in forward order."""

    def __init__(self, variant: str) -> None:
        super().__init__()
        self.variant = variant
        self.spec = variant_spec(variant)
        in_channels = 1
        for layer in self.spec.layers:
            module: nn.Module
            if layer.kind == "conv":
                module = ConvReLU(in_channels, layer.shape[0], 3, stride=layer.stride)
                in_channels = layer.shape[0]
            elif variant == "max":
                module = nn.MaxPool2d(2)
            elif variant == "avg":
                module = nn.AvgPool2d(2)
            elif variant == "blurmax":
                module = BlurMaxPool(in_channels)
            else:  # a new variant with pools, named in _layers, needs its own branch here (a
                # newcomer's review: this was blurmax's, which a new variant got silently)
                raise ValueError(f"variant {variant!r} has pools but no pooling module in Net")
            self.add_module(layer.name, module)
        c, h, w = self.spec.layers[-1].shape
        self.dense1 = nn.Linear(c * h * w, 64)
        self.dense2 = nn.Linear(64, 10)

    @property
    def stages(self) -> tuple[str, ...]:
        return tuple(layer.name for layer in self.spec.layers)

    def named_stages(self) -> Iterator[tuple[str, nn.Module]]:
        for name in self.stages:
            yield name, getattr(self, name)

    def head(self, x: torch.Tensor) -> torch.Tensor:
        """Flatten -> Dense(64, relu) -> Dense(10); returns logits (B, 10)."""
        x = torch.flatten(x, 1)  # (B, C*H*W)
        logits: torch.Tensor = self.dense2(F.relu(self.dense1(x)))
        return logits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (B, 1, 28, 28) in 0..1
        for _, module in self.named_stages():
            x = module(x)
        return self.head(x)


def build(variant: str) -> Net:
    """Build an untrained network of the given variant."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; expected one of {', '.join(VARIANTS)}")
    return Net(variant)


def param_counts(net: Net) -> dict[str, int]:
    """Trainable parameters per layer, in Keras summary order (pool layers have none)."""
    counts: dict[str, int] = {}
    for name in (*net.stages, "dense1", "dense2"):
        module = getattr(net, name)
        counts[name] = sum(p.numel() for p in module.parameters())
    return counts
