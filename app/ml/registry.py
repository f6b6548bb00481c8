"""Shipped models: each is models/<variant>.safetensors plus its card models/<variant>.json.

Weights are loaded only from safetensors files whose sha256 matches the card: no pickle, ever.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from app.ml.data import sha256_file
from app.ml.errors import WeightsError
from app.ml.names import VARIANTS, cut
from app.ml.nets import Net, build

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Loaded:
    net: Net
    card: dict[str, Any]
    weights_path: Path


def card_path(models_dir: Path, variant: str) -> Path:
    return models_dir / f"{variant}.json"


def weights_path(models_dir: Path, variant: str) -> Path:
    return models_dir / f"{variant}.safetensors"


def no_cards(models_dir: Path) -> WeightsError:
    """The error for a models folder with no card to load: one that is a file, or is not
    there, said as such (a CLI review: a file was told it held no cards)."""
    if models_dir.is_dir():
        return WeightsError(f"no model cards (<variant>.json) in {models_dir}")
    said = "is not a folder" if models_dir.exists() else "does not exist"
    return WeightsError(f"{models_dir} {said}: FEATUREMAPS_MODELS_DIR names the folder of the "
                        "weights and model cards")


def shipped_variants(models_dir: Path) -> list[str]:
    """Variants with a card in models_dir, in the family's order."""
    return [v for v in VARIANTS if card_path(models_dir, v).is_file()]


# a card's figures that code reads, by kind: another type there was a traceback in the
# middle of `evaluate`, after minutes of measuring (a CLI review)
CARD_WHOLE = ("test_correct", "test_total", "params", "epochs", "seed")
CARD_SHARES = ("test_accuracy", "valid_accuracy", "shift_consistency")


def read_card(models_dir: Path, variant: str) -> dict[str, Any]:
    path = card_path(models_dir, variant)
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise WeightsError(f"model card missing: {path}") from exc
    except UnicodeDecodeError as exc:  # a review: a traceback, not this line
        raise WeightsError(f"model card unreadable: {path} (not UTF-8 text: byte "
                           f"{exc.start:,} is 0x{exc.object[exc.start]:02x})") from exc
    except (OSError, json.JSONDecodeError) as exc:
        raise WeightsError(f"model card unreadable: {path} ({exc})") from exc
    if not isinstance(card, dict) or not isinstance(card.get("weights_sha256"), str):
        raise WeightsError(f"model card {path} has no weights_sha256")
    for fields, kind, fits in ((CARD_WHOLE, "a whole number", (int,)),
                               (CARD_SHARES, "a number", (int, float))):
        for field in fields:
            value = card.get(field)
            if value is not None and (isinstance(value, bool) or not isinstance(value, fits)):
                raise WeightsError(f"model card {path}: {field} is {cut(json.dumps(value))}, "
                                   f"not {kind}")
    draws = card.get("shift_consistency_draws")
    if draws is not None and not (isinstance(draws, list) and all(map(_number, draws))):
        raise WeightsError(f"model card {path}: shift_consistency_draws is "
                           f"{cut(json.dumps(draws))}, not a list of numbers")
    # what /api/v1/models reports of the card besides (a review: a hand-edited card of the
    # wrong shapes here passed start-up, and every GET /api/v1/models was a 500)
    silent = card.get("silent_channels")
    if silent is not None and not (isinstance(silent, dict) and all(
            v is None or (isinstance(v, list) and all(_whole(c) for c in v))
            for v in silent.values())):
        raise WeightsError(f"model card {path}: silent_channels is {cut(json.dumps(silent))}, "
                           "not an object of lists of channel numbers by layer")
    training = card.get("training")
    if training is not None and not isinstance(training, dict):
        raise WeightsError(f"model card {path}: training is {cut(json.dumps(training))}, not "
                           "an object")
    for field in TRAINING_NUMBERS:
        value = (training or {}).get(field)
        if value is not None and not _number(value):
            raise WeightsError(f"model card {path}: training.{field} is "
                               f"{cut(json.dumps(value))}, not a number")
    scale = (training or {}).get("scale_range")
    if scale is not None and not (isinstance(scale, list) and len(scale) == 2
                                  and all(map(_number, scale))):
        raise WeightsError(f"model card {path}: training.scale_range is "
                           f"{cut(json.dumps(scale))}, not [low, high]")
    return card


TRAINING_NUMBERS = ("max_shift_px", "max_rotate_deg")  # the card's training, as reported


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def load(models_dir: Path, variant: str, device: torch.device | str = "cpu") -> Loaded:
    """Load one variant, refusing weights whose sha256 differs from the card's."""
    card = read_card(models_dir, variant)
    path = weights_path(models_dir, variant)
    if not path.is_file():
        raise WeightsError(f"weights file missing: {path}")
    try:
        actual = sha256_file(path)
    except OSError as exc:
        raise WeightsError(f"weights file unreadable: {path} ({exc.strerror})") from exc
    if actual != card["weights_sha256"]:
        raise WeightsError(
            f"weights file {path} has sha256 {actual[:12]}..., its card says "
            f"{str(card['weights_sha256'])[:12]}...: refusing it"
        )
    try:
        state = load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise WeightsError(f"weights file {path} is corrupt: {exc}") from exc
    net = build(variant)
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise WeightsError(f"weights file {path} does not fit variant {variant}: {first}") from exc
    net.to(device).eval()
    for p in net.parameters():
        p.requires_grad_(False)
    log.info("loaded %s from %s", variant, path.name)
    return Loaded(net, card, path)
