"""Fuzzing the image decoding path with a fixed budget: whatever the bytes, the answer is a
valid 28x28 input or a domain error (a 4xx), never anything else."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from app.ml import preprocess
from app.ml.errors import InputError

LIMIT = 4096 * 4096
BUDGET = settings(max_examples=400, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))


def check(data: bytes, *, whole: bool = False) -> None:
    """`data` read as a 28x28 input or refused with a 4xx; `whole`: an image Pillow wrote
    whole, which must be read (a test audit: a decoder that refused everything passed)."""
    try:
        x = preprocess.from_image(data, LIMIT)
    except InputError as exc:
        assert not whole, f"a whole image was refused: {exc}"
        assert 400 <= exc.status_code < 500
        assert str(exc) and "\n" not in str(exc)
        return
    assert x.shape == (28, 28) and x.dtype == np.float32
    assert np.isfinite(x).all() and x.min() >= 0.0 and x.max() <= 1.0


@st.composite
def images(draw: st.DrawFn) -> bytes:
    fmt = draw(st.sampled_from(["PNG", "JPEG", "GIF", "WEBP"]))
    mode = draw(st.sampled_from(["L", "RGB", "RGBA", "P", "1", "LA", "I;16"]))
    w = draw(st.integers(1, 48))
    h = draw(st.integers(1, 48))
    seed = draw(st.integers(0, 2**32 - 1))
    pixels = np.random.default_rng(seed).integers(0, 256, (h, w), dtype=np.uint8)
    image = Image.fromarray(pixels, "L")
    image = image.convert(mode) if mode != "I;16" else image.convert("I").convert("I;16")
    buf = io.BytesIO()
    try:
        image.save(buf, format=fmt)
    except (OSError, ValueError, KeyError):  # a mode the format cannot hold
        image.convert("RGB").save(buf, format=fmt)
    return buf.getvalue()


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(images()))
    for _ in range(draw(st.integers(1, 8))):
        action = draw(st.sampled_from(["flip", "truncate", "insert", "delete"]))
        i = draw(st.integers(0, max(0, len(data) - 1)))
        if action == "flip" and data:
            data[i] ^= draw(st.integers(1, 255))
        elif action == "truncate":
            del data[i:]
        elif action == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=16))
        elif action == "delete" and data:
            del data[i:i + draw(st.integers(1, 16))]
    return bytes(data)


@pytest.mark.slow
@BUDGET
@given(st.binary(max_size=2048))
def test_random_bytes(data: bytes) -> None:
    check(data)


@pytest.mark.slow
@BUDGET
@given(images())
def test_valid_images_of_every_mode(data: bytes) -> None:
    check(data, whole=True)


@pytest.mark.slow
@BUDGET
@given(mutated())
def test_mutated_images(data: bytes) -> None:
    check(data)
