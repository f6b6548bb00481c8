"""The shipped networks reach their cards' accuracy on the real MNIST test set."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app.ml import evaluate, registry
from app.ml.data import Mnist
from tests.conftest import DATA_DIR, MODELS_DIR

TARGETS = {"max": 0.993, "avg": 0.990}


@pytest.mark.slow
def test_every_shipped_variant_matches_its_card(mnist: Mnist) -> None:
    rows = evaluate.evaluate_all(MODELS_DIR, mnist)
    assert [r.variant for r in rows] == ["max", "avg", "strided", "nopool", "blurmax"]
    assert evaluate.disagreements(rows) == []
    for r in rows:
        assert r.total == 10_000
        if r.variant in TARGETS:
            assert r.accuracy >= TARGETS[r.variant]
        card = registry.read_card(MODELS_DIR, r.variant)
        assert card["data_sha256"] == mnist.sha256  # trained on this very data


@pytest.mark.slow
def test_evaluate_exits_non_zero_when_a_card_disagrees(tmp_path: Path) -> None:
    shutil.copy(MODELS_DIR / "max.safetensors", tmp_path)
    card = json.loads((MODELS_DIR / "max.json").read_text())
    card["test_correct"] -= 50
    (tmp_path / "max.json").write_text(json.dumps(card))
    env = {**os.environ, "FEATUREMAPS_MODELS_DIR": str(tmp_path),
           "FEATUREMAPS_DATA_DIR": str(DATA_DIR)}
    proc = subprocess.run([sys.executable, "-m", "app.cli", "evaluate"], env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 1
    assert f"MISMATCH max: card says {card['test_correct']}/10000 correct" in proc.stdout
    assert proc.stdout.splitlines()[0].split() == ["variant", "params", "test", "accuracy",
                                                   "card"]


def test_a_card_whose_accuracy_disagrees_with_its_count_is_a_mismatch() -> None:
    """Found by a review: evaluate checked test_correct only, so a card with a wrong
    test_accuracy (what the table prints and /api/v1/models serves) exited 0."""
    right = evaluate.Row("max", 93_322, 9_954, 10_000, card_correct=9_954, card_accuracy=0.9954)
    assert evaluate.disagreements([right]) == []
    wrong = evaluate.Row("max", 93_322, 9_954, 10_000, card_correct=9_954, card_accuracy=0.99)
    assert evaluate.disagreements([wrong]) == [
        "max: card says test accuracy 99.00%, measured 99.54%"]
