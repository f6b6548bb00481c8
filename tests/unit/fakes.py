"""Stand-ins shared by the CLI and training tests."""

from __future__ import annotations

from typing import Any

import numpy as np

from app.ml.data import Mnist


def tiny_mnist() -> Mnist:
    """Twenty blank images per split: enough for save() to measure and write a card."""
    x = {s: np.zeros((20, 28, 28), np.uint8) for s in ("train", "valid", "test")}
    y = {s: np.zeros(20, np.int64) for s in ("train", "valid", "test")}
    return Mnist(x, y, "0" * 64)


def interrupt(*args: Any, **kwargs: Any) -> Any:
    """Ctrl-C, wherever it is patched in."""
    raise KeyboardInterrupt
