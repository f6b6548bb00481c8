"""Reading a drawing out of a request: multipart file, raw image body, or JSON pixels.

Everything here raises domain errors (app.ml.errors) with a sentence that says what was
wrong and what is accepted; app/api/errors.py turns them into 4xx responses.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import numpy as np
from fastapi import Request
from starlette.datastructures import UploadFile

from app.ml import preprocess
from app.ml.errors import EmptyBody, InputError, InvalidPixels

IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp", "image/gif", "application/octet-stream")
ACCEPTED_BODIES = ("multipart/form-data (field 'file'), a raw PNG/JPEG/WebP/GIF body, "
                   "or application/json {\"pixels\": 28x28 numbers in 0..1}")
MAX_JSON_DEPTH = 3  # {"pixels": [[...]]}


class BadRequest(InputError):
    status_code = 400


class UnsupportedMediaType(InputError):
    status_code = 415


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def check_query(request: Request, allowed: Iterable[str]) -> None:
    """Unknown query parameters are refused rather than silently ignored (a typo stays visible)."""
    allowed = tuple(allowed)
    for key in request.query_params:
        if key not in allowed:
            accepted = ", ".join(allowed) if allowed else "none"
            raise BadRequest(f"unknown query parameter {key!r}; accepted: {accepted}")


def _depth(text: bytes) -> int:
    """Maximum bracket nesting of a JSON text, without parsing it (strings skipped)."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in text:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def parse_json_pixels(body: bytes) -> tuple[Any, bool]:
    """The `pixels` array and `preprocess` flag of a JSON body."""
    if not body.strip():
        raise InvalidPixels('empty JSON body: send {"pixels": 28x28 numbers in 0..1}')
    if _depth(body) > MAX_JSON_DEPTH:
        raise InvalidPixels(
            f"JSON nested deeper than {MAX_JSON_DEPTH} levels; "
            'send {"pixels": 28x28 numbers in 0..1}'
        )
    try:
        doc = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest(f"body is not valid JSON ({exc})") from exc
    if not isinstance(doc, dict):
        raise InvalidPixels(
            f'JSON body must be an object {{"pixels": ...}}, not {type(doc).__name__}'
        )
    extra = sorted(set(doc) - {"pixels", "preprocess"})
    if extra:
        raise InvalidPixels(f"unknown JSON field {extra[0]!r}; accepted: pixels, preprocess")
    if "pixels" not in doc:
        raise InvalidPixels('JSON body has no "pixels": send 28x28 numbers in 0..1')
    flag = doc.get("preprocess", False)
    if not isinstance(flag, bool):
        raise InvalidPixels('"preprocess" must be true or false')
    return doc["pixels"], flag


async def _multipart_file(request: Request, max_bytes: int) -> bytes:
    async with request.form(max_files=2, max_fields=8, max_part_size=max_bytes) as form:
        files = [(k, v) for k, v in form.multi_items() if isinstance(v, UploadFile)]
        if not files:
            raise BadRequest("multipart body has no file: send the image in a field named 'file'")
        if len(files) > 1:
            raise BadRequest("multipart body has more than one file: send exactly one, as 'file'")
        name, upload = files[0]
        if name != "file":
            raise BadRequest(f"multipart file field is {name!r}; name it 'file'")
        return await upload.read()


async def read_input(request: Request, max_bytes: int, max_pixels: int) -> np.ndarray:
    """The (28, 28) float32 input the networks will see, from any accepted request body."""
    kind = media_type(request)
    if kind == "multipart/form-data":
        return preprocess.from_image(await _multipart_file(request, max_bytes), max_pixels)
    body = await request.body()
    if kind == "application/json":
        pixels, flag = parse_json_pixels(body)
        return preprocess.from_pixels(pixels, preprocess=flag)
    if kind in IMAGE_TYPES or kind == "":
        if not body:
            raise EmptyBody(f"empty body: send {ACCEPTED_BODIES}")
        return preprocess.from_image(body, max_pixels)
    raise UnsupportedMediaType(f"content type {kind!r} is not accepted; send {ACCEPTED_BODIES}")
