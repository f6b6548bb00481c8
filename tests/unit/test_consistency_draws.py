"""Shift consistency as the median of several draws of random shifts (app/ml/shifts.py,
app/ml/evaluate.py): a teacher's review found that the cards' one draw was avg's best of ten,
and that a draw moves each network's figure by as much as the gaps between them."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

import pytest
import torch

from app.ml import evaluate, registry, shifts
from app.ml.errors import WeightsError


def row(variant: str, draws: list[float], first_seed: int = 0) -> evaluate.Row:
    r = evaluate.Row(variant, 93_322, 9_954, 10_000, 9_954, 0.9954,
                     diagonal={d: 0.9 for d in shifts.DIAGONAL_SHIFTS})
    r.consistency_draws = draws
    r.seeds = list(range(first_seed, first_seed + len(draws)))
    r.consistency = statistics.median_low(draws) if draws else None
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
    rows = [row("max", [0.9850, 0.9869, 0.9888], first_seed=4)]
    evaluate.write_cards(rows, tmp_path)
    written = json.loads((tmp_path / "max.json").read_text())
    assert written["shift_consistency"] == 0.9869
    assert written["shift_consistency_draws"] == [0.9850, 0.9869, 0.9888]
    assert written["shift_seeds"] == [4, 5, 6]
    assert "shift_seed" not in written  # one draw's seed would read as the only one
    doc = evaluate.save_shift_results(rows, tmp_path / "s.json")
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


def test_a_row_without_draws_writes_none_into_its_card(tmp_path: Path) -> None:
    """A diff review: a row with a consistency and no draws wrote empty lists, which
    /api/v1/models then served where its schema says null means none."""
    (tmp_path / "max.json").write_text(json.dumps(
        {"weights_sha256": "0" * 64, "shift_consistency_draws": [0.9], "shift_seeds": [0]}))
    r = row("max", [])
    r.consistency = 0.987
    evaluate.write_cards([r], tmp_path)
    written = json.loads((tmp_path / "max.json").read_text())
    assert written["shift_consistency"] == 0.987
    assert "shift_consistency_draws" not in written and "shift_seeds" not in written


def card_row(draws: list[float], first_seed: int, card: dict[str, Any]) -> evaluate.Row:
    r = row("max", draws, first_seed)
    r.card_consistency = card.get("shift_consistency")
    r.card_draws = evaluate._card_draws(card)
    return r


CARD: dict[str, Any] = {"shift_consistency": 0.9869,
                        "shift_consistency_draws": [0.9870, 0.9867, 0.9872],
                        "shift_seeds": [0, 1, 2]}


def test_draws_are_checked_against_the_cards_draws_of_the_same_seeds() -> None:
    """A diff review: `evaluate --shifts --draws 1` compared its one draw with the card's
    median of eleven, and called the card wrong. Each draw is checked against the card's
    draw of the same seed; the median only where the draws are the card's."""
    assert evaluate.disagreements([card_row([0.9867], 1, CARD)]) == []
    assert evaluate.disagreements([card_row([0.9870, 0.9867, 0.9872], 0, CARD)]) == []
    assert evaluate.disagreements([card_row([0.9870, 0.9880, 0.9872], 0, CARD)]) == [
        "max: card says consistency 0.9869, measured 0.9872",
        "max: card says consistency for the draw of seed 1 0.9867, measured 0.9880"]
    # a seed the card has no draw of is not checked
    assert evaluate.disagreements([card_row([0.9000], 7, CARD)]) == []
    # a card from before there were several draws: its one draw, by its seed
    old = {"shift_consistency": 0.987, "shift_seed": 0}
    assert evaluate.disagreements([card_row([0.9870], 0, old)]) == []
    assert evaluate.disagreements([card_row([0.9850], 0, old)]) == [
        "max: card says consistency 0.9870, measured 0.9850",
        "max: card says consistency for the draw of seed 0 0.9870, measured 0.9850"]


def test_a_difference_of_the_tolerance_in_images_is_within_it() -> None:
    """A diff review: 0.9853 against 0.9855 is 2.00000000000089 images of 10,000 in floats,
    which a tolerance of 2 refused."""
    card = {"shift_consistency": 0.9855, "shift_consistency_draws": [0.9855], "shift_seeds": [0]}
    assert evaluate.disagreements([card_row([0.9853], 0, card)], tolerance=2) == []
    assert evaluate.disagreements([card_row([0.9852], 0, card)], tolerance=2) != []


def test_evaluate_all_records_every_draw_and_their_median(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The consistency evaluate records is the middle of its draws, each draw one seed in
    turn, not the first draw or their mean."""
    from app.config import Settings
    from tests.unit.fakes import tiny_mnist

    figures = {5: 0.95, 6: 0.99, 7: 0.90}
    monkeypatch.setattr(shifts, "consistency", lambda predict, images, seed: figures[seed])
    monkeypatch.setattr(registry, "shipped_variants", lambda models_dir: ["max"])
    said: list[str] = []
    [r] = evaluate.evaluate_all(Settings().models_dir, tiny_mnist(), shifts_too=True, seed=5,
                                draws=3, progress=said.append)
    assert (r.consistency_draws, r.seeds, r.consistency) == ([0.95, 0.99, 0.90], [5, 6, 7], 0.95)
    assert said[1:4] == [f"max (1 of 1): shift consistency, draw {i} of 3" for i in (1, 2, 3)]


def test_the_table_and_files_keep_each_diagonal_shift_and_the_test_accuracy(
        tmp_path: Path) -> None:
    """Each shift's accuracy under its own d, -4 first (a test audit: with 0.9 at every d,
    -4 and 4 swapped, the cards' keys negated and the validation accuracy written as the
    test's all passed)."""
    r = row("max", [0.9850, 0.9869, 0.9888])
    r.diagonal = {d: 0.5 + d / 100 for d in shifts.DIAGONAL_SHIFTS}  # -4: 46%, 0: 50%, 4: 54%
    assert evaluate.format_table([r], shifts_too=True)[2].endswith("46.0%/50.0%/ 54.0%")
    doc = evaluate.save_shift_results([r], tmp_path / "s.json")
    assert doc["variants"]["max"]["test_accuracy"] == 0.9954
    assert doc["variants"]["max"]["diagonal_accuracy"] == [
        0.46, 0.47, 0.48, 0.49, 0.5, 0.51, 0.52, 0.53, 0.54]
    (tmp_path / "max.json").write_text(json.dumps({"weights_sha256": "0" * 64}))
    evaluate.write_cards([r], tmp_path)
    card = json.loads((tmp_path / "max.json").read_text())
    assert card["diagonal_accuracy"] == {str(d): 0.5 + d / 100 for d in range(-4, 5)}
    assert card["diagonal_accuracy"]["-4"] == 0.46
