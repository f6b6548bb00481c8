"""The maps' colours (app/ml/render.py): the page draws with the same stops."""

from __future__ import annotations

import numpy as np

from app.ml.render import lut

# matplotlib's viridis at 0, 1/4, 1/2, 3/4 and 1, as its documentation's hex codes give them
VIRIDIS_QUARTERS = ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"]


def rgb(hex_code: str) -> list[int]:
    return [int(hex_code[i:i + 2], 16) for i in (1, 3, 5)]


def test_viridis_is_viridis_along_the_whole_scale() -> None:
    """Found by a science review: the stops were viridis at 0 to 0.7, then 1, spread evenly,
    so a unit at three quarters of its channel's top was drawn in viridis(0.6)'s teal-green.
    Levels 0 and 255 are viridis' ends, and those nearest a quarter are within a level of it."""
    table = lut("viridis").astype(int)
    assert table[0].tolist() == rgb(VIRIDIS_QUARTERS[0])
    assert table[255].tolist() == rgb(VIRIDIS_QUARTERS[4])
    for quarter, hex_code in zip((64, 128, 191), VIRIDIS_QUARTERS[1:4], strict=True):
        assert np.abs(table[quarter] - rgb(hex_code)).max() <= 1, (quarter, table[quarter])


def test_gray_runs_from_black_to_white() -> None:
    table = lut("gray")
    assert table.tolist() == [[v, v, v] for v in range(256)]
