"""POST /api/v1/shifts: the grid and the per-layer changes."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient


def test_shift_grid_shapes_and_the_zero_shift_cell(
        client: TestClient, test_digit_pngs: dict[int, tuple[int, bytes]]) -> None:
    label, png = test_digit_pngs[2]
    headers = {"content-type": "image/png"}
    r = client.post("/api/v1/shifts?models=max,avg,blurmax", content=png, headers=headers)
    assert r.status_code == 200
    body = r.json()
    assert body["shifts"] == list(range(-4, 5))
    maps = client.post("/api/v1/featuremaps?models=max,avg,blurmax&encoding=float32",
                       content=png, headers=headers).json()["models"]
    for name, net in body["models"].items():
        grid = net["grid"]
        for key in ("prediction", "probability", "reference"):
            assert len(grid[key]) == 9 and all(len(row) == 9 for row in grid[key])
        centre_class = grid["prediction"][4][4]
        assert centre_class == net["prediction"] == maps[name]["prediction"] == label
        assert grid["probability"][4][4] == pytest.approx(
            maps[name]["probabilities"][centre_class], abs=1e-5)
        assert net["probability"] == pytest.approx(grid["reference"][4][4], abs=1e-6)
        flat = [c for row in grid["prediction"] for c in row]
        assert net["consistency"] == pytest.approx(flat.count(centre_class) / 81)
        assert [la["name"] for la in net["layers"]] == ["conv1", "pool1", "conv2", "pool2",
                                                        "conv3"]
        conv1, pool1 = net["layers"][0], net["layers"][1]
        assert conv1["jump"] == 1 and conv1["shifted_back"] is True
        assert pool1["jump"] == 2 and pool1["shifted_back"] is False
        # conv1 simply moves with the input: shifted back it is unchanged
        assert all(v == pytest.approx(0.0, abs=1e-6) for v in conv1["change"].values())
        assert set(pool1["change"]) == {"left", "right", "up", "down"}
        assert all(v > 0 for v in pool1["change"].values())


def test_shifts_of_an_empty_drawing_are_valid(client: TestClient) -> None:
    r = client.post("/api/v1/shifts?models=max", json={"pixels": [[0.0] * 28] * 28})
    assert r.status_code == 200
    assert r.json()["models"]["max"]["consistency"] == 1.0


def test_the_documented_default_networks_are_the_ones_run(client: TestClient) -> None:
    op = client.get("/openapi.json").json()["paths"]["/api/v1/shifts"]["post"]
    (param,) = [p for p in op["parameters"] if p["name"] == "models"]
    assert "(default: max,avg,blurmax, those this server has)" in param["description"]
    r = client.post("/api/v1/shifts", json={"pixels": [[0.0] * 28] * 28})
    assert list(r.json()["models"]) == ["max", "avg", "blurmax"]
