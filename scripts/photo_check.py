"""How photos of MNIST's test digits are read once prepared (python scripts/photo_check.py).

Each of the first N test digits (--digits, 100) is drawn as dark ink (30 of 255) on paper,
392 px wide, either filling the picture or in the middle of a page twice its width, on
plain paper at 235, on paper lit unevenly (220, 60 levels darker on one side than the
other), or with a dark band (60) 12 px wide along its left edge. Each picture goes through
the one-image routes' preparation (preprocess.from_image), and max and avg are asked what
it is. Prints how many each read right: the README's figures for pages lit unevenly or
shadowed, which the crop takes in as ink.
"""

from __future__ import annotations

import argparse
import io

import numpy as np
from PIL import Image

from app.config import Settings
from app.ml import data, preprocess
from app.ml.engine import Engine

SIDE = 392
INK = 30


def paper(kind: str, n: int) -> np.ndarray:
    if kind == "uneven light":
        return np.tile(220 + np.linspace(-30, 30, n), (n, 1))
    sheet = np.full((n, n), 235.0)
    if kind == "shadow at an edge":
        sheet[:, :12] = 60
    return sheet


def photo(digit: np.ndarray, kind: str, in_page: bool) -> bytes:
    n = 2 * SIDE if in_page else SIDE
    ink = np.zeros((n, n))
    at = (n - SIDE) // 2
    big = Image.fromarray(digit).resize((SIDE, SIDE), Image.Resampling.BICUBIC)
    ink[at:at + SIDE, at:at + SIDE] = np.asarray(big) / 255
    grey = paper(kind, n) * (1 - ink) + INK * ink
    buf = io.BytesIO()
    Image.fromarray(np.rint(grey).astype(np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--digits", type=int, default=100)
    args = parser.parse_args()
    settings = Settings(device="cpu", models=["max", "avg"])
    engine = Engine.load(settings)
    mnist = data.load(settings.data_dir)
    images, labels = mnist.images("test")[:args.digits], mnist.labels("test")[:args.digits]
    print(f"{'paper':<18} {'digit':<26} max  avg (right of {len(labels)})")  # noqa: T201
    for kind in ("plain", "uneven light", "shadow at an edge"):
        for in_page in (False, True):
            right = {"max": 0, "avg": 0}
            for digit, label in zip(images, labels, strict=True):
                x28 = preprocess.from_image(photo(digit, kind, in_page), 10**7)
                said = engine.featuremaps(x28, ["max", "avg"]).predictions()
                for net in right:
                    right[net] += int(said[net] == label)
            where = "in a page twice its width" if in_page else "filling the picture"
            print(f"{kind:<18} {where:<26} {right['max']:>3}  {right['avg']:>3}")  # noqa: T201


if __name__ == "__main__":
    main()
