"""FeatureMaps -> bytes on the wire: the REST JSON format and the page's binary format.

JSON (application/json), as in the design:
  {"input": {"shape": [28, 28], "encoding": E, "blank": false, "data": b64},
   "models": {"max": {"prediction": 7, "probabilities": [...],
                      "layers": [{"name", "kind", "shape", "encoding", "low", "high",
                                  "data": b64}]}}}

Binary (application/x-featuremaps, what the page uses): the same content without base64
or float text, usually sent gzip-compressed; its layout is BINARY_FORMAT, below, which the
OpenAPI document shows too.
"""

from __future__ import annotations

import base64
import functools
import json
import re
import struct
from collections.abc import Callable
from typing import Any

import numpy as np
from isal import isal_zlib

from app.ml import preprocess
from app.ml.encode import DTYPE_SIZES, Encoding
from app.ml.engine import FeatureMaps
from app.ml.pack import Layout

BINARY_TYPE = "application/x-featuremaps"
MAGIC = b"FMAP"
# the header's "version": a change a reader could misread (a field moved or given another
# meaning) takes the next number, so an old page or client says so rather than misdraw
BINARY_VERSION = 1
# the binary format's layout, here and in the OpenAPI document: one reading /docs has no
# source file to open
BINARY_FORMAT = """\
bytes 0..3   magic b"FMAP"
bytes 4..7   header length N, uint32 little-endian
bytes 8..    header: N bytes of UTF-8 JSON, the JSON format's skeleton where every
             "data", "low", "high" and "probabilities" is replaced by
             {"offset": byte offset into the payload, "length": bytes}, plus, at its top
             level beside "input" and "models", "version": 1, the layout described here
             (a reader refuses another), and "timings": the server's decode and infer
             times in ms
then         zero padding up to the next multiple of 4 counted from byte 0: the
             payload starts at 8 + N rounded up to a multiple of 4, and every offset
             counts from the payload's first byte. The payload holds the input (28*28
             in the encoding), the packed float32 buffer and the packed maps, each
             starting on a 4-byte boundary; read each array at its own offset, as the
             order within them may change within version 1. Every number in it is
             little-endian: float32 probabilities, lows and highs, and the input and
             maps in the encoding (float16, float32, or uint8 at one byte a value).
"""


def encode_input(x28: np.ndarray, encoding: Encoding) -> np.ndarray:
    """The 28x28 input in the response's encoding; uint8 means value = q / 255."""
    out: np.ndarray
    if encoding == "uint8":
        out = preprocess.levels(x28)
    else:
        out = x28.astype(np.float16 if encoding == "float16" else np.float32)
    return out


def _b64_bytes(arr: np.ndarray) -> bytes:
    return base64.b64encode(np.ascontiguousarray(arr).data)


def _b64(arr: np.ndarray) -> str:
    return _b64_bytes(arr).decode("ascii")


def _floats(arr: np.ndarray) -> list[float]:
    floats: list[float] = arr.astype(np.float64).round(7).tolist()
    return floats


def significant(value: float) -> float:
    """A probability as JSON writes it: to 7 significant digits, about float32's own. To 7
    decimal places, a digit's unlikely classes were written as 0 (their log -inf), where the
    binary format carries 3.7e-11 (found by an API review)."""
    return float(f"{value:.7g}")


def probabilities(arr: np.ndarray) -> list[float]:
    """A 1-D array of probabilities, each as `significant` writes it."""
    return [significant(p) for p in arr.tolist()]


def to_json_dict(result: FeatureMaps,
                 blob: Callable[[np.ndarray], str] | None = None) -> dict[str, Any]:
    """The JSON format as a dict; `blob` turns an array into its "data" string (base64)."""
    blob = blob or _b64
    models: dict[str, Any] = {}
    for net in result.nets:
        models[net.variant] = {
            "prediction": net.prediction,
            "probabilities": probabilities(net.probabilities),
            "layers": [
                {"name": layer.name, "kind": layer.kind, "shape": list(layer.shape),
                 "encoding": layer.encoding, "low": _floats(layer.low),
                 "high": _floats(layer.high), "data": blob(layer.data)}
                for layer in net.layers
            ],
        }
    return {"input": input_dict(result.input, result.encoding, blob), "models": models}


def is_blank(x28: np.ndarray) -> bool:
    """Whether no ink survived preprocessing: the networks saw only zeros, and each answer
    is a guess about nothing (an empty drawing is valid input)."""
    return not x28.any()


def input_dict(x28: np.ndarray, encoding: Encoding,
               blob: Callable[[np.ndarray], str] | None = None) -> dict[str, Any]:
    return {"shape": [28, 28], "encoding": encoding, "blank": is_blank(x28),
            "data": (blob or _b64)(encode_input(x28, encoding))}


def dumps(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


# what json.dumps makes of a placeholder string "\0<i>\0"
_HOLE = re.compile(rb'"\\u0000(\d+)\\u0000"')


def to_json(result: FeatureMaps) -> bytes:
    """The same bytes as dumps(to_json_dict(result)), in two thirds of the time: json.dumps
    scans every character of a string for escapes (about 3 ns each, 250 us for the 100 kB
    of base64 of an update), and base64 never needs one. So the maps go in after the scan:
    the document is dumped with a placeholder for each, and the base64 joined in its place."""
    blobs: list[bytes] = []

    def hold(arr: np.ndarray) -> str:
        blobs.append(_b64_bytes(arr))
        return f"\0{len(blobs) - 1}\0"

    pieces = _HOLE.split(dumps(to_json_dict(result, hold)))  # text, index, text, ...
    if len(pieces) != 2 * len(blobs) + 1:  # another string looked like a placeholder
        return dumps(to_json_dict(result))
    for i in range(1, len(pieces), 2):
        pieces[i] = b'"' + blobs[int(pieces[i])] + b'"'
    return b"".join(pieces)


def _aligned(n: int) -> int:
    return (n + 3) & ~3


def to_binary(result: FeatureMaps, timings: dict[str, float] | None = None) -> bytes:
    """The binary format above (uncompressed); `timings` (ms) go into the header as is."""
    x = encode_input(result.input, result.encoding)
    floats = np.ascontiguousarray(result.floats, dtype="<f4")
    data = np.ascontiguousarray(result.data)
    floats_at, data_at, start, skeletons = _skeleton(result.layout, result.encoding,
                                                     is_blank(result.input))
    predictions = result.predictions()
    models = ",".join(f'"{variant}":{{"prediction":{predictions[variant]},{rest}'
                      for variant, rest in skeletons)
    extra = "" if not timings else ',"timings":' + json.dumps(
        {k: round(v, 3) for k, v in timings.items()}, separators=(",", ":"))
    header = f"{start}{models}}}{extra}}}".encode()
    head_len = _aligned(8 + len(header))
    parts = [
        MAGIC, struct.pack("<I", len(header)), header, b"\0" * (head_len - 8 - len(header)),
        x.tobytes(), b"\0" * (floats_at - x.nbytes),
        floats.tobytes(), b"\0" * (data_at - floats_at - floats.nbytes),
        data.tobytes(),
    ]
    return b"".join(parts)


@functools.lru_cache(maxsize=64)
def _skeleton(layout: Layout, encoding: Encoding, blank: bool
              ) -> tuple[int, int, str, tuple[tuple[str, str], ...]]:
    """What the binary header says of the input, networks and layers apart from the
    predictions: the same for every update, so it is written once. Returns where the floats
    and the maps start in the payload, the header's JSON up to the first network, and per
    network its JSON after "prediction" (closing brace included)."""
    itemsize = DTYPE_SIZES[encoding]
    input_bytes = 28 * 28 * itemsize  # the input comes first
    floats_at = _aligned(input_bytes)
    data_at = _aligned(floats_at + 4 * layout.float_size)
    start = json.dumps({"version": BINARY_VERSION,
                        "input": {"shape": [28, 28], "encoding": encoding, "blank": blank,
                                  "data": {"offset": 0, "length": input_bytes}}},
                       separators=(",", ":"))[:-1] + ',"models":{'

    def fref(offset_in_floats: int, count: int) -> dict[str, int]:
        return {"offset": floats_at + 4 * offset_in_floats, "length": 4 * count}

    skeletons = []
    for slot in layout.nets:
        rest = json.dumps({
            "probabilities": fref(slot.probs, 10),
            "layers": [
                {"name": ls.layer.name, "kind": ls.layer.kind, "shape": list(ls.layer.shape),
                 "encoding": encoding,
                 "low": fref(ls.low, ls.layer.shape[0]),
                 "high": fref(ls.high, ls.layer.shape[0]),
                 "data": {"offset": data_at + itemsize * ls.offset, "length": itemsize * ls.size}}
                for ls in slot.layers
            ],
        }, separators=(",", ":"))
        skeletons.append((slot.variant, rest[1:]))
    return floats_at, data_at, start, tuple(skeletons)


def compress(body: bytes) -> bytes:
    """gzip by ISA-L (isal), level 1: on the 10 page digits 29.8 KB median in about 0.2 ms,
    where zlib's fastest useful setting (level 1 with its run-length strategy, 28.9 KB) takes
    about 1 ms on the same machine. Most of a map is runs of ReLU zeros; ISA-L's
    vectorised matcher removes them at memory speed. The gzip header carries no
    timestamp, so equal maps give equal bytes."""
    return isal_zlib.compress(body, 1, wbits=31)  # wbits 31: gzip framing


def _qualities(header: str) -> dict[str, float]:
    """An Accept or Accept-Encoding header's names (lower case) and their q values."""
    quality: dict[str, float] = {}
    for part in header.split(","):
        name, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
                if not 0.0 <= q <= 1.0:  # RFC 9110's weights are 0 to 1: q=2 is no weight
                    q = 0.0
        quality[name.strip().lower()] = q
    return quality


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether Accept-Encoding allows gzip: named with q > 0 (or as x-gzip, which RFC 9110
    makes the same), or `*` with q > 0 and gzip not refused by name."""
    quality = _qualities(accept_encoding)
    for name in ("gzip", "x-gzip"):  # gzip's own weight first: a refusal by name stands
        if name in quality:
            return quality[name] > 0
    return quality.get("*", 0.0) > 0


def prefers_binary(accept: str) -> bool:
    """Whether Accept names the binary format with q > 0 and ranks JSON (by name, else
    through application/* or */*) no higher."""
    if "x-featuremaps" not in accept.lower():  # the common case, at no cost
        return False
    quality = _qualities(accept)
    binary = quality.get(BINARY_TYPE, 0.0)
    json = next((quality[name] for name in ("application/json", "application/*", "*/*")
                 if name in quality), 0.0)
    return binary > 0 and binary >= json


def parse_binary(body: bytes) -> dict[str, Any]:
    """Decode the binary format back into the JSON format's structure (for tests and clients)."""
    if body[:4] != MAGIC:
        raise ValueError("not a featuremaps binary response")
    (n,) = struct.unpack("<I", body[4:8])
    header: dict[str, Any] = json.loads(body[8:8 + n])
    if header.get("version") != BINARY_VERSION:
        raise ValueError(f"binary format version {header.get('version')}; this reads "
                         f"version {BINARY_VERSION}")
    payload = memoryview(body)[_aligned(8 + n):]

    def take(ref: dict[str, int]) -> bytes:
        return bytes(payload[ref["offset"]:ref["offset"] + ref["length"]])

    header["input"]["data"] = take(header["input"]["data"])
    for model in header["models"].values():
        model["probabilities"] = np.frombuffer(take(model["probabilities"]), "<f4").tolist()
        for layer in model["layers"]:
            layer["low"] = np.frombuffer(take(layer["low"]), "<f4").tolist()
            layer["high"] = np.frombuffer(take(layer["high"]), "<f4").tolist()
            layer["data"] = take(layer["data"])
    return header
