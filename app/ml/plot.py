"""The shift plot for the README: test accuracy against a diagonal shift, one line per variant.

Drawn with Pillow alone (no plotting library for one chart).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from app.ml import files
from app.ml.evaluate import Row
from app.ml.shifts import DIAGONAL_SHIFTS

COLOURS = {
    "max": (31, 119, 180), "avg": (255, 127, 14), "strided": (44, 160, 44),
    "nopool": (148, 103, 189), "blurmax": (214, 39, 40),
}
W, H = 1000, 600
LEFT, RIGHT, TOP, BOTTOM = 90, 190, 60, 70


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def shift_plot(rows: Sequence[Row], path: Path) -> None:
    """Accuracy (%) on the MNIST test set when every image moves by (d, d) pixels, as a PNG
    at `path`."""
    values = [100 * v for r in rows for v in r.diagonal.values()]
    low = max(0.0, math.floor(min(values) / 10) * 10)
    high = 100.0
    img = Image.new("RGB", (W, H), "white")
    draw = ImageDraw.Draw(img)
    x0, x1, y0, y1 = LEFT, W - RIGHT, TOP, H - BOTTOM

    first, last = DIAGONAL_SHIFTS[0], DIAGONAL_SHIFTS[-1]

    def px(d: int) -> float:
        return x0 + (d - first) / (last - first) * (x1 - x0)

    def py(acc: float) -> float:
        return y1 - (acc - low) / (high - low) * (y1 - y0)

    small, label = _font(16), _font(18)
    step = 10 if high - low > 40 else 5
    for tick in range(int(low), int(high) + 1, step):
        y = py(tick)
        draw.line([(x0, y), (x1, y)], fill=(225, 225, 225))
        draw.text((x0 - 10, y), f"{tick}%", fill="black", font=small, anchor="rm")
    for d in DIAGONAL_SHIFTS:
        x = px(d)
        draw.line([(x, y0), (x, y1)], fill=(240, 240, 240))
        draw.text((x, y1 + 10), f"{d:+d}" if d else "0", fill="black", font=small, anchor="mt")
    draw.rectangle([x0, y0, x1, y1], outline="black")
    draw.text(((x0 + x1) / 2, H - 25), "diagonal shift (pixels right and down)", fill="black",
              font=label, anchor="mm")
    draw.text(((x0 + x1) / 2, 28), "MNIST test accuracy when every digit is shifted by (d, d)",
              fill="black", font=label, anchor="mm")
    for i, r in enumerate(rows):
        colour = COLOURS.get(r.variant, (0, 0, 0))
        points = [(px(d), py(100 * r.diagonal[d])) for d in DIAGONAL_SHIFTS]
        draw.line(points, fill=colour, width=3)
        for x, y in points:
            draw.ellipse([x - 4, y - 4, x + 4, y + 4], fill=colour)
        ly = y0 + 10 + 28 * i
        draw.line([(x1 + 20, ly), (x1 + 50, ly)], fill=colour, width=3)
        draw.text((x1 + 58, ly), r.variant, fill="black", font=label, anchor="lm")
    files.check_file(path, "shift-accuracy.png")
    with files.replacing(path) as (temp,):  # whole or not at all
        img.save(temp, format="PNG")
