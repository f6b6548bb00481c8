"""Feature maps as pictures: a perceptual colormap and a PNG grid of channels."""

from __future__ import annotations

import io
import math
from typing import Literal

import numpy as np
from PIL import Image

Norm = Literal["channel", "layer"]
Colormap = Literal["viridis", "gray"]

# Seventeen stops of matplotlib's viridis, its colours at 0, 1/16, ..., 1 (what
# `matplotlib.cm.viridis(i / 16)` gives), linearly interpolated in between: within 6 of 255
# levels of its 256-entry table everywhere. A science review found the nine stops before
# were its entries 0, 25, ..., 179 and 255, viridis at 0 to 0.7 and then 1, spread evenly:
# a unit at 87.5% of its channel's top had viridis(0.7)'s green, not viridis(0.875)'s.
# The page draws with the same stops (they reach it through the page's config).
VIRIDIS_STOPS: tuple[tuple[float, float, float], ...] = (
    (0.267004, 0.004874, 0.329415),
    (0.282327, 0.094955, 0.417331),
    (0.278826, 0.175490, 0.483397),
    (0.258965, 0.251537, 0.524736),
    (0.229739, 0.322361, 0.545706),
    (0.199430, 0.387607, 0.554642),
    (0.172719, 0.448791, 0.557885),
    (0.149039, 0.508051, 0.557250),
    (0.127568, 0.566949, 0.550556),
    (0.120638, 0.625828, 0.533488),
    (0.157851, 0.683765, 0.501686),
    (0.246070, 0.738910, 0.452024),
    (0.369214, 0.788888, 0.382914),
    (0.515992, 0.831158, 0.294279),
    (0.678489, 0.863742, 0.189503),
    (0.845561, 0.887322, 0.099702),
    (0.993248, 0.906157, 0.143936),
)
GAP = 1  # pixels between channels in a grid, at scale 1
COLUMNS = 8
# a picture larger than this (4096 x 2048) takes seconds and hundreds of MB to draw, on the
# thread the live updates share: every layer of the shipped networks fits at scale 8
MAX_PIXELS = 8 * 1024 * 1024


def lut(name: Colormap) -> np.ndarray:
    """(256, 3) uint8 lookup table."""
    t = np.linspace(0.0, 1.0, 256)
    if name == "gray":
        g = np.rint(t * 255).astype(np.uint8)
        return np.stack([g, g, g], axis=1)
    stops = np.asarray(VIRIDIS_STOPS)
    xs = np.linspace(0.0, 1.0, len(stops))
    rgb = np.stack([np.interp(t, xs, stops[:, k]) for k in range(3)], axis=1)
    table: np.ndarray = np.rint(rgb * 255).astype(np.uint8)
    return table


def normalise(maps: np.ndarray, norm: Norm) -> np.ndarray:
    """(C, H, W) float -> (C, H, W) uint8, scaled per channel or over the whole layer."""
    if norm == "channel":
        lo = maps.min(axis=(1, 2), keepdims=True)
        hi = maps.max(axis=(1, 2), keepdims=True)
    else:
        lo = np.full((1, 1, 1), maps.min())
        hi = np.full((1, 1, 1), maps.max())
    span = hi - lo
    scaled = np.where(span > 0, (maps - lo) / np.where(span > 0, span, 1), 0.0)
    levels: np.ndarray = np.rint(scaled * 255).astype(np.uint8)
    return levels


def grid_layout(c: int, h: int, w: int, scale: int) -> tuple[int, int, int, int, int]:
    """Rows, columns, gutter, width and height in pixels of the grid of c HxW channels."""
    cols = min(COLUMNS, c)
    rows = math.ceil(c / cols)
    gap = GAP if c > 1 else 0
    return rows, cols, gap, cols * (w * scale + gap) - gap, rows * (h * scale + gap) - gap


def largest_scale(c: int, h: int, w: int, scale: int) -> int:
    """The largest scale up to `scale` whose grid fits MAX_PIXELS (0 when none does)."""
    while scale > 0 and math.prod(grid_layout(c, h, w, scale)[3:]) > MAX_PIXELS:
        scale -= 1
    return scale


# the lines between channels: white beside viridis, which never reaches it; a blue beside
# gray, where white is every channel's top and the maps ran into the lines (an API review)
GUTTERS: dict[Colormap, tuple[int, int, int]] = {"viridis": (255, 255, 255), "gray": (64, 96, 160)}


def grid_png(maps: np.ndarray, *, scale: int = 4, norm: Norm = "channel",
             colormap: Colormap = "viridis", channel: int | None = None) -> bytes:
    """(C, H, W) float maps -> one PNG: channels left to right, top to bottom, 8 per row.
    `channel`: that one alone, coloured as in the whole grid (under norm="layer", on the
    layer's range, not its own)."""
    levels = normalise(maps, norm)
    if channel is not None:
        levels = levels[channel:channel + 1]
    c, h, w = levels.shape
    rows, cols, gap, width, height = grid_layout(c, h, w, scale)
    cell_h, cell_w = h * scale, w * scale
    canvas = np.full((height, width), 0, np.uint8)
    big = levels.repeat(scale, axis=1).repeat(scale, axis=2)  # (C, H*s, W*s), nearest
    for k in range(c):
        r, q = divmod(k, cols)
        y, x = r * (cell_h + gap), q * (cell_w + gap)
        canvas[y:y + cell_h, x:x + cell_w] = big[k]
    rgb = lut(colormap)[canvas]
    if gap:
        mask = np.ones(canvas.shape, bool)
        for k in range(c):
            r, q = divmod(k, cols)
            y, x = r * (cell_h + gap), q * (cell_w + gap)
            mask[y:y + cell_h, x:x + cell_w] = False
        rgb[mask] = GUTTERS[colormap]
    buf = io.BytesIO()
    Image.fromarray(rgb, mode="RGB").save(buf, format="PNG", optimize=False)
    return buf.getvalue()
