"""The JSON body is assembled without json.dumps scanning the base64 (app/api/wire.py)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from app.api import wire
from app.config import Settings
from app.ml.encode import Encoding
from app.ml.engine import Engine


@pytest.fixture(scope="module")
def engine(settings: Settings) -> Engine:
    return Engine.load(settings.model_copy(update={"models": ["max", "avg", "strided"]}))


@pytest.mark.parametrize("encoding", ["uint8", "float16", "float32"])
def test_to_json_is_byte_for_byte_json_dumps(engine: Engine, encoding: Encoding) -> None:
    x = np.zeros((28, 28), np.float32)
    x[5:23, 13:16] = 1.0
    result = engine.featuremaps(x, ["strided", "max", "avg"], encoding)
    body = wire.to_json(result)
    assert body == json.dumps(wire.to_json_dict(result), separators=(",", ":")).encode()
    doc = json.loads(body)
    assert list(doc["models"]) == ["strided", "max", "avg"]
    assert doc["input"]["data"] == wire.to_json_dict(result)["input"]["data"]
    assert b"\\u0000" not in body


def test_a_string_that_looks_like_a_placeholder_is_left_alone(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """No string of ours holds a NUL today; if one did and looked like a placeholder, the
    body must still be what json.dumps makes."""
    plain = wire.to_json_dict

    def with_decoy(result: Any, blob: Any = None) -> dict[str, Any]:
        doc = plain(result, blob)
        doc["note"] = 'a "\x000\x00" and "\x001\x00'
        return doc

    monkeypatch.setattr(wire, "to_json_dict", with_decoy)
    result = engine.featuremaps(np.zeros((28, 28), np.float32), ["max"], "uint8")
    body = wire.to_json(result)
    assert body == json.dumps(with_decoy(result), separators=(",", ":")).encode()
    assert json.loads(body)["note"] == 'a "\x000\x00" and "\x001\x00'


def test_probabilities_are_written_to_7_significant_digits() -> None:
    """Found by an API review: to 7 decimal places an unlikely class was written as 0 (its
    log -inf) in /featuremaps and /shifts, where the binary format carries 3.7e-11."""
    assert wire.significant(3.7e-11) == 3.7e-11
    assert wire.significant(float(np.float32(0.9999781))) == 0.9999781
    assert wire.significant(float(np.float32(1e-7) / 3)) == 3.333333e-08
