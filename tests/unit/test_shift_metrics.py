"""Anti-aliased pooling and the shift-consistency metric (the shift lab)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from app.ml import shifts
from app.ml.nets import BlurMaxPool, build


def test_blurpool_is_dense_max_then_a_fixed_binomial_blur_with_stride_2() -> None:
    torch.manual_seed(3)
    x = torch.rand(2, 4, 11, 11)
    got = BlurMaxPool(4)(x)
    # independently: numpy max over 2x2 windows with stride 1, reflect pad 1, 3x3 blur, stride 2
    a = x.numpy()
    dense = np.maximum.reduce([a[..., :-1, :-1], a[..., 1:, :-1], a[..., :-1, 1:], a[..., 1:, 1:]])
    padded = np.pad(dense, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="reflect")
    k = np.outer([1, 2, 1], [1, 2, 1]) / 16.0
    out_side = (padded.shape[-1] - 3) // 2 + 1
    want = np.zeros((2, 4, out_side, out_side))
    for i in range(out_side):
        for j in range(out_side):
            win = padded[..., 2 * i:2 * i + 3, 2 * j:2 * j + 3]
            want[..., i, j] = (win * k).sum(axis=(-1, -2))
    assert got.shape == (2, 4, 5, 5)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-6, atol=1e-6)


def test_the_blur_is_fixed_and_not_a_parameter() -> None:
    net = build("blurmax")
    assert sum(p.numel() for p in net.parameters()) == 93_322
    assert all("blur" not in name for name in net.state_dict())  # not in the weights file
    net.train()
    net(torch.rand(8, 1, 28, 28)).sum().backward()
    assert net.pool1.blur.grad is None  # a buffer: never learned


def test_shift_moves_content_and_fills_zeros() -> None:
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    right_down = shifts.shift(x, 1, 2)[0, 0]
    assert right_down.tolist() == [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 1, 2], [0, 4, 5, 6]]
    assert shifts.shift(x, -4, 0).abs().sum() == 0


def centred_blobs(n: int, seed: int = 0) -> torch.Tensor:
    """Random images with ink only in the central 20x20 box: any shift of <= 4 px keeps it."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, 1, 28, 28), np.float32)
    x[:, :, 4:24, 4:24] = rng.random((n, 1, 20, 20)) > 0.6
    return torch.from_numpy(x)


def test_an_exactly_shift_invariant_model_has_consistency_one() -> None:
    def by_ink(x: torch.Tensor) -> torch.Tensor:  # class from the amount of ink: shift-proof
        return (x.sum(dim=(1, 2, 3)) / 20).long() % 10

    assert shifts.consistency(by_ink, centred_blobs(500), seed=0) == 1.0


def test_a_model_that_reads_one_pixel_has_low_consistency() -> None:
    def one_pixel(x: torch.Tensor) -> torch.Tensor:
        return (x[:, 0, 14, 14] > 0.5).long()

    assert shifts.consistency(one_pixel, centred_blobs(500), seed=0) < 0.7


def test_consistency_uses_the_same_shifts_for_every_model() -> None:
    a = shifts.random_shift_pairs(100, seed=5)
    assert torch.equal(a, shifts.random_shift_pairs(100, seed=5))
    assert a.min() == -3 and a.max() == 3


def test_diagonal_accuracy_of_an_ink_detector_is_flat() -> None:
    images = centred_blobs(50)
    labels = torch.ones(50, dtype=torch.long)

    def any_ink(x: torch.Tensor) -> torch.Tensor:
        return (x.sum(dim=(1, 2, 3)) > 0).long()

    curve = shifts.diagonal_accuracy(any_ink, images, labels)
    assert list(curve) == list(range(-4, 5))
    assert all(v == 1.0 for v in curve.values())


def test_maps_that_move_with_the_input_change_in_place_but_not_shifted_back() -> None:
    rng = np.random.default_rng(1)
    before = np.zeros((3, 10, 10), np.float32)
    before[:, 2:8, 2:8] = rng.random((3, 6, 6))
    after = shifts.shift(torch.from_numpy(before), 1, 0).numpy()
    in_place = float(np.linalg.norm(after - before) / np.linalg.norm(before))
    assert in_place > 0.5
    assert shifts.map_change(before, after) == pytest.approx(in_place)
    assert shifts.change_shifted_back(before, after, (1, 0), jump=1) == 0.0
    # the move compared against the wrong direction is no zero
    assert shifts.change_shifted_back(before, after, (-1, 0), jump=1) > 0.5
    # with a jump of 2 a one-pixel nudge is half a unit: nothing to shift back by
    assert shifts.change_shifted_back(before, after, (1, 0), jump=2) is None
    # two pixels are one unit of a jump-2 layer
    assert shifts.change_shifted_back(before, shifts.shift(torch.from_numpy(before), 1, 0)
                                      .numpy(), (2, 0), jump=2) == 0.0
    assert shifts.relative_change(np.zeros(3), np.ones(3)) is None
    assert shifts.relative_change(np.zeros(3), np.zeros(3)) == 0.0
