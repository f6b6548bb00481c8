"""The digits max and avg answer differently (static/digits/max-avg.json): what the shipped
networks measure, and offered by the page only with the weights they were measured on."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from app.ml import disagree, registry
from app.ml.data import Mnist
from tests.conftest import MODELS_DIR

SHIPPED = Path(__file__).resolve().parents[2] / "static" / "digits" / disagree.FILE_NAME
# each network's weights' sha256, as the loaded model cards give them to the page
WEIGHTS = {v: registry.read_card(MODELS_DIR, v)["weights_sha256"] for v in ("max", "avg", "nopool")}


@pytest.mark.slow
def test_the_shipped_file_is_what_the_shipped_networks_answer(mnist: Mnist) -> None:
    """Every test digit the two answer differently, and no other: 31 that max alone gets
    right and 15 that avg alone does (evaluate's paired counts), and 5 that neither does."""
    record = disagree.build(MODELS_DIR, mnist)
    assert record == json.loads(SHIPPED.read_text())
    assert disagree.counts(record) == {"max_only": 31, "avg_only": 15, "neither": 5}
    assert record["digits"][0]["index"] == 18  # the page's sample 3, which avg calls a 5
    # and of the validation set the counts alone: evaluate's 22 to 23 (the README's)
    assert record["valid"] == {"total": 10_000, "max_only": 22, "avg_only": 23, "neither": 3}


def test_the_page_offers_the_shipped_file_with_the_shipped_weights() -> None:
    assert disagree.offer(SHIPPED, WEIGHTS) == {
        "split": "test", "total": 10_000, "count": 51, "max_only": 31, "avg_only": 15,
        "neither": 5, "p": 0.0259,  # 31 to 15: an exact two-sided sign test
        # the validation set's counts alone, and both sets' test (evaluate's paired counts)
        "valid": {"total": 10_000, "max_only": 22, "avg_only": 23, "neither": 3, "p": 1.0},
        "both_p": 0.1418}


WHERE = ("the validation set, a second 10,000 digits that training neither learned from nor "
         "was tuned on,")


@pytest.mark.parametrize(("test", "valid", "said"), [
    ((31, 15, 0.0259), (22, 23, 1.0, 0.1418),
     f"unusual: p = 0.03 (an exact sign test). But {WHERE} does not repeat it: max 22 to avg 23 "
     "(p = 1.00). Over both sets, 53 to 38 (p = 0.14)."),
    ((40, 10, 0.0000), (30, 20, 0.2, 0.0001),
     f"unusual: p < 0.01 (an exact sign test). On {WHERE} it leans the same way: max 30 to avg "
     "20 (p = 0.20). Over both sets, 70 to 30 (p < 0.01)."),
    ((20, 24, 0.6511), (20, 20, 1.0, 0.7),
     f"common: p = 0.65 (an exact sign test). But {WHERE} does not repeat it: max 20 to avg 20 "
     "(p = 1.00). Over both sets, 40 to 44 (p = 0.70)."),
    ((20, 24, 0.6511), None, "common: p = 0.65 (an exact sign test)."),
])
def test_the_verdict_reads_each_split_by_its_sign_test(
        test: tuple[int, int, float], valid: tuple[int, int, float, float] | None,
        said: str) -> None:
    offered: dict[str, Any] = {"split": "test", "max_only": test[0], "avg_only": test[1],
                               "p": test[2]}
    if valid is not None:
        offered["valid"] = {"total": 10_000, "max_only": valid[0], "avg_only": valid[1],
                            "neither": 0, "p": valid[2]}
        offered["both_p"] = valid[3]
    assert disagree.verdict(offered) == (
        f"Were the two equally good, a split at least this uneven would be {said} Each "
        "network was trained once, so neither shows one way of downsampling to be the more "
        "accurate.")


def test_a_file_without_the_validation_counts_is_offered_without_them(tmp_path: Path) -> None:
    """As the file was written before it held them: the note then reads the test split alone."""
    path = _edited(tmp_path / disagree.FILE_NAME, lambda r: r.pop("valid"))
    offered = disagree.offer(path, WEIGHTS)
    assert offered is not None and "valid" not in offered and "both_p" not in offered
    assert disagree.verdict(offered).startswith(
        "Were the two equally good, a split at least this uneven would be unusual: p = 0.03 "
        "(an exact sign test). Each network")


def test_it_is_not_offered_with_other_weights_or_without_a_network() -> None:
    other = hashlib.sha256(b"other weights").hexdigest()
    assert disagree.offer(SHIPPED, {**WEIGHTS, "avg": other}) is None
    assert disagree.offer(SHIPPED, {"max": WEIGHTS["max"], "nopool": WEIGHTS["nopool"]}) is None


@pytest.mark.parametrize("text", [None, "{", '{"split": "test"}', "[]", "null"])
def test_a_missing_or_unreadable_file_is_not_offered(tmp_path: Path, text: str | None) -> None:
    path = tmp_path / disagree.FILE_NAME
    if text is not None:
        path.write_text(text)
    assert disagree.offer(path, WEIGHTS) is None


def _edited(path: Path, change: Any) -> Path:
    record = json.loads(SHIPPED.read_text())
    change(record)
    path.write_text(json.dumps(record))
    return path


@pytest.mark.parametrize("change", [
    # found by a review: a string total made the page's template raise, a 500 on every
    # page load after (the offer is cached)
    lambda r: r.update(total="10000"),
    lambda r: r.update(total=0),  # the page divides by it (found by a review)
    lambda r: r.update(split=None),
    lambda r: r.update(digits={}),
    lambda r: r["weights_sha256"].pop("avg"),
    lambda r: r["digits"][3].pop("pixels"),  # the page's atob would fail on it
    lambda r: r["digits"][3].update(pixels=r["digits"][3]["pixels"][:-4]),
    lambda r: r["digits"][0].update(label=10),
    lambda r: r["digits"][0].update(max="3"),
    lambda r: r["digits"].append(None),
    lambda r: r.update(valid=[22, 23]),  # the validation set's counts, which the note reads
    lambda r: r["valid"].update(max_only=-1),
    lambda r: r["valid"].pop("total"),
])
def test_a_file_unlike_the_one_written_is_not_offered(tmp_path: Path, change: Any) -> None:
    assert disagree.offer(_edited(tmp_path / disagree.FILE_NAME, change), WEIGHTS) is None
    # the same file as written is offered: the edit, not the copy, is what was refused
    assert disagree.offer(_edited(tmp_path / "copy.json", lambda r: None), WEIGHTS) is not None
