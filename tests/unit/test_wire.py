"""app/api/wire.py: the JSON body assembled without json.dumps scanning the base64; the
binary body as long as its documented layout."""

from __future__ import annotations

import json
import struct
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


def test_the_binary_body_is_as_long_as_its_documented_layout(engine: Engine) -> None:
    """BINARY_FORMAT: the payload starts at 8 + N rounded up to a multiple of 4, zeros
    between. For uint8 max,avg it holds the input (784 bytes), per network 10 probabilities
    and a low and a high per channel of 32 + 32 + 64 + 64 + 64 as float32 (4,176 bytes in
    all), and the maps (36,960 bytes a network), each already a multiple of 4. Four timings,
    each one character longer than the last, make headers that need each padding, 0 to 3."""
    x = np.zeros((28, 28), np.float32)
    x[5:23, 13:16] = 1.0
    result = engine.featuremaps(x, ["max", "avg"], "uint8")
    floats = 2 * (10 + 2 * (32 + 32 + 64 + 64 + 64))
    maps = 2 * (32 * 26 * 26 + 32 * 13 * 13 + 64 * 11 * 11 + 64 * 5 * 5 + 64 * 3 * 3)
    payload = 784 + 4 * floats + maps
    assert (floats, maps, payload) == (1_044, 73_920, 78_880)
    paddings = set()
    for infer in (1.0, 1.25, 1.125, 11.125):
        body = wire.to_binary(result, {"infer": infer})
        (n,) = struct.unpack("<I", body[4:8])
        start = (8 + n + 3) // 4 * 4
        paddings.add(start - 8 - n)
        assert body[8 + n:start] == bytes(start - 8 - n)
        assert len(body) == start + payload, infer
        assert json.loads(body[8:8 + n])["timings"] == {"infer": infer}
    assert paddings == {0, 1, 2, 3}
