"""Shift consistency as the median of several draws of random shifts (app/ml/shifts.py,
app/ml/evaluate.py): a teacher's review found that the cards' one draw was avg's best of ten,
and that a draw moves each network's figure by as much as the gaps between them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from app.ml import evaluate, registry, shifts
from app.ml.errors import WeightsError


def row(variant: str, draws: list[float]) -> evaluate.Row:
    r = evaluate.Row(variant, 93_322, 9_954, 10_000, 9_954, 0.9954,
                     diagonal={d: 0.9 for d in shifts.DIAGONAL_SHIFTS})
    r.consistency_draws = draws
    r.consistency = sorted(draws)[len(draws) // 2]
    return r


def test_each_draw_is_one_seed_in_turn() -> None:
    """Draw i is `consistency` with seed first + i: the same shifts for every network."""
    def one_pixel(x: torch.Tensor) -> torch.Tensor:
        return (x[:, 0, 14, 14] > 0.5).long()

    x = torch.zeros(300, 1, 28, 28)
    x[:, :, 12:17, 12:17] = 1.0
    got = shifts.consistency_draws(one_pixel, x, first_seed=7, draws=3)
    assert got == [shifts.consistency(one_pixel, x, seed) for seed in (7, 8, 9)]
    assert len(set(got)) == 3  # three draws, not one three times
    assert shifts.CONSISTENCY_DRAWS % 2 == 1  # the median is one draw's figure


def test_the_table_gives_the_median_and_the_spread_of_the_draws() -> None:
    rows = [row("max", [0.9850, 0.9869, 0.9888]), row("avg", [0.9818, 0.9838, 0.9857])]
    lines = evaluate.format_table(rows, shifts_too=True)
    assert " consistency      its draws " in lines[0]
    assert lines[2].split()[5:7] == ["98.69%", "98.50%-98.88%"]
    assert lines[3].split()[5:7] == ["98.38%", "98.18%-98.57%"]
    assert lines[-1] == ("consistency: the median of 3 draws of random shifts, the same for "
                         "every variant in a draw; its draws: the lowest and the highest")


def test_draws_ahead_counts_each_draw_for_max_and_against_it() -> None:
    rows = [row("max", [0.987, 0.986, 0.985, 0.990]), row("avg", [0.980, 0.981, 0.986, 0.990]),
            row("blurmax", [0.988, 0.987, 0.984, 0.980])]
    assert evaluate.draws_ahead(rows) == [
        "Draws of shifts in which max was more consistent, and less, than: avg 2 to 1, "
        "blurmax 2 to 2 (of 4)"]
    assert evaluate.draws_ahead([row("max", [0.987])]) == []  # one draw: nothing to count


def test_the_cards_and_the_curve_data_record_every_draw(tmp_path: Path) -> None:
    card = {"weights_sha256": "0" * 64, "shift_consistency": 0.987, "shift_seed": 0}
    (tmp_path / "max.json").write_text(json.dumps(card))
    rows = [row("max", [0.9850, 0.9869, 0.9888])]
    evaluate.write_cards(rows, tmp_path, seed=4)
    written = json.loads((tmp_path / "max.json").read_text())
    assert written["shift_consistency"] == 0.9869
    assert written["shift_consistency_draws"] == [0.9850, 0.9869, 0.9888]
    assert written["shift_seeds"] == [4, 5, 6]
    assert "shift_seed" not in written  # one draw's seed would read as the only one
    doc = evaluate.save_shift_results(rows, tmp_path / "s.json", seed=4)
    assert doc["consistency_seeds"] == [4, 5, 6]
    assert doc["variants"]["max"]["consistency"] == 0.9869
    assert doc["variants"]["max"]["consistency_draws"] == [0.9850, 0.9869, 0.9888]


@pytest.mark.parametrize("draws", ["0.98", [0.98, "0.97"], [True], {"0": 0.98}])
def test_a_card_whose_draws_are_not_numbers_is_refused(draws: object, tmp_path: Path) -> None:
    """/api/v1/models serves the draws: a card with anything else there stops at loading,
    not in the middle of a request."""
    (tmp_path / "max.json").write_text(json.dumps(
        {"weights_sha256": "0" * 64, "shift_consistency_draws": draws}))
    with pytest.raises(WeightsError, match="shift_consistency_draws is .*, not a list of numbers"):
        registry.read_card(tmp_path, "max")
