"""The crop's resize to MNIST's 20 px box (app/ml/resample.py): Pillow's LANCZOS resize of a
float image without making an Image of the array, equal to Pillow's but for a few units in
a float32's last place, and giving the networks the same input, level for level."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from app.ml import preprocess
from app.ml.data import Mnist
from app.ml.resample import CACHED_SIDE, lanczos, weights
from app.ml.resample import through_pillow as pillow


def box(h: int, w: int) -> tuple[int, int]:
    """The (width, height) mnist_style scales a crop of h x w to."""
    scale = preprocess.BOX / max(h, w)
    return (max(1, min(preprocess.BOX, round(w * scale))),
            max(1, min(preprocess.BOX, round(h * scale))))


def test_every_value_is_pillows_to_its_last_bits_over_shapes_that_shrink_grow_and_keep_a_side(
        ) -> None:
    rng = np.random.default_rng(7)
    vertical_first = differ = values = 0
    for case in range(1500):
        h, w = (int(n) for n in rng.integers(1, 260, 2))
        image = (rng.random((h, w), dtype=np.float32) * (rng.random((h, w)) > 0.4)).astype(
            np.float32)
        if case % 3:
            width, height = box(h, w)
        else:  # any size, larger or smaller, or one side kept
            width, height = (int(n) for n in rng.integers(1, 45, 2))
            if case % 9 == 0:
                width = w
        vertical_first += h - height > 0 and h - height > (w - width) * 2
        got, want = lanczos(image, width, height), pillow(image, width, height)
        assert got.dtype == np.float32 and got.shape == want.shape == (height, width)
        # the same weights and passes; only the order of a pass's additions may differ,
        # by a few units in a float32's last place
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-7)
        differ += int(np.count_nonzero(got != want))
        values += got.size
    assert vertical_first > 100  # Pillow's other order of the passes was met, often
    assert differ <= values // 100_000  # and rarely (1 of 510,000 here)


def test_the_networks_are_given_what_pillows_resize_gave_them(
        mnist: Mnist, monkeypatch: pytest.MonkeyPatch) -> None:
    """MNIST's digits as given and at the page's pad's size, prepared with this resize and
    with Pillow's: the same 28x28 input, level for level."""
    pictures = []
    for digit in mnist.images("test")[:300]:
        grey = digit.astype(np.float32) / 255.0
        pad = np.asarray(Image.fromarray(digit).resize((112, 112), Image.Resampling.BILINEAR),
                         dtype=np.float32) / 255.0
        pictures += [grey, pad, pad[:, 20:90]]
    ours = [preprocess.mnist_style(p) for p in pictures]
    monkeypatch.setattr(preprocess, "lanczos", pillow)
    theirs = [preprocess.mnist_style(p) for p in pictures]
    assert all(np.array_equal(o, t) for o, t in zip(ours, theirs, strict=True))


def test_a_size_kept_is_a_copy_of_the_image() -> None:
    image = np.arange(12, dtype=np.float32).reshape(3, 4)
    out = lanczos(image, 4, 3)
    assert out is not image and np.array_equal(out, image)
    out[0, 0] = 99
    assert image[0, 0] == 0


@pytest.mark.parametrize("size", [5, CACHED_SIDE, CACHED_SIDE + 1])
def test_weights_sum_to_one_and_the_kept_ones_cannot_be_changed(size: int) -> None:
    w = weights(size, 3)
    assert w.shape == (3, size)
    assert np.allclose(w.sum(axis=1), 1.0)
    assert weights(size, 3) is w if size <= CACHED_SIDE else weights(size, 3) is not w
    with pytest.raises(ValueError):
        w[0, 0] = 1.0
