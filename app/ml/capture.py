"""One forward pass per network that returns the logits and every named feature map."""

from __future__ import annotations

import torch

from app.ml.nets import Net


def capture(net: Net, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """x (B, 1, 28, 28) -> logits (B, 10) and {layer: (B, C, H, W)} in forward order.

    Conv maps are after ReLU (the ReLU is part of the layer), pool maps as pooled.
    """
    maps: dict[str, torch.Tensor] = {}
    for name, module in net.named_stages():
        x = module(x)
        maps[name] = x
    return net.head(x), maps
