"""Pillow's LANCZOS resize of a float image, done as two products of matrices.

`preprocess.mnist_style` scales every crop to MNIST's 20 px box, on the live update's path.
Through Pillow that was 0.07 to 0.12 ms for the page's 112x112 drawings, most of it making
an Image of the array and an array of the result; the same arithmetic as matrices takes a
fraction of that (docs/speed.md). It follows Resample.c of the Pillow release that
requirements.lock pins (13.0): the same filter, the same weights, each pass summed in
double and stored in float32, and the same choice of which pass goes first. Only the order
in which a matrix product adds a pass's terms differs from Pillow's one by one: a value
in some hundreds of thousands then differs from Pillow's, by a few units in a float32's
last place (a review found up to 20 in a crop scaled up, 3e-8 at most), and none of the
28x28 inputs the networks are given differs by a level (tests/unit/test_resample.py).
"""

from __future__ import annotations

import functools

import numpy as np
from PIL import Image

SUPPORT = 3.0  # Lanczos-3: the filter is zero beyond three of its units either side
CACHED_SIDE = 128  # px: the weights for sides up to this are kept (the page's are 112)


def _weights(size: int, new: int) -> np.ndarray:
    """(new, size) float64: row i holds the weights that make output pixel i of the input's
    `size` pixels. A shrink widens the filter by its scale; each row's weights are
    normalised to sum to 1, as Pillow's are."""
    scale = size / new
    stretch = max(scale, 1.0)
    support = SUPPORT * stretch
    centres = (np.arange(new) + 0.5) * scale
    # each output pixel reads the input pixels from `first` up to `last` (as Pillow rounds:
    # adding a half, then truncating towards zero)
    first = np.maximum((centres - support + 0.5).astype(np.int64), 0)
    last = np.minimum((centres + support + 0.5).astype(np.int64), size)
    pixels = np.arange(size)
    x = (pixels - centres[:, None] + 0.5) * (1.0 / stretch)
    read = (pixels >= first[:, None]) & (pixels < last[:, None]) & (x >= -SUPPORT) & (x < SUPPORT)
    # np.sinc is Pillow's sin(pi x) / (pi x), and 1 at 0
    taps = np.where(read, np.sinc(x) * np.sinc(x / SUPPORT), 0.0)
    total = np.cumsum(taps, axis=1)[:, -1:]  # added in order, as Pillow adds them
    out: np.ndarray = np.divide(taps, total, out=taps, where=total != 0.0)
    out.flags.writeable = False  # shared by every caller, through the cache
    return out


_cached_weights = functools.lru_cache(maxsize=512)(_weights)


def weights(size: int, new: int) -> np.ndarray:
    """`_weights`, kept for sides up to CACHED_SIDE: a drawing's crop changes size with
    each stroke, and at most 512 pairs of at most 20 KB each are held."""
    if size > CACHED_SIDE:
        return _weights(size, new)
    return _cached_weights(size, new)


def lanczos(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """`image` (H, W) float32 resized to (height, width), as Pillow's
    Image.resize((width, height), LANCZOS) resizes an image of mode F."""
    h, w = image.shape
    across, down = w != width, h != height
    # Pillow 13 runs the vertical pass first where the height shrinks by more than twice
    # as many pixels as the width does
    across_first = not (h - height > 0 and h - height > (w - width) * 2)
    out = image
    if across and across_first:
        out = (out @ weights(w, width).T).astype(np.float32)
    if down:
        out = (weights(h, height) @ out).astype(np.float32)
    if across and not across_first:
        out = (out @ weights(w, width).T).astype(np.float32)
    return out if out is not image else image.copy()


def through_pillow(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """What `lanczos` stands in for, by Pillow itself: the tests hold `lanczos` to it, and
    the bench times both (bench/server.py)."""
    resized = Image.fromarray(image, mode="F").resize((width, height), Image.Resampling.LANCZOS)
    return np.asarray(resized, dtype=np.float32)
