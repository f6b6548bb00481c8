"""POST /api/v1/featuremaps and POST /api/v1/featuremaps/{model}/{layer}.png."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal, TypeVar

import numpy as np
from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError

from app.api import wire
from app.api.deps import EngineDep, GateDep, SettingsDep, served
from app.api.gate import busy
from app.api.inputs import (
    BODY_FIELDS,
    DIGITS,
    MAX_JSON_BYTES,
    Payload,
    check_query,
    decode,
    listed_header,
    read_payload,
    unknown_parameter,
    unsupported_type,
)
from app.api.middleware import body_timed_out, over_upload_limit
from app.api.routes.page import sample_digits
from app.api.schemas import ErrorOut, FeatureMapsOut
from app.config import Settings, default
from app.ml.encode import Encoding
from app.ml.engine import Engine, FeatureMaps
from app.ml.errors import InputError
from app.ml.names import DEFAULT_MODELS, VARIANTS, cut, default_models, not_loaded, split_names
from app.ml.render import MAX_PIXELS, grid_layout, grid_png, largest_scale

R = TypeVar("R")  # what a route's inference returns, before encoding

router = APIRouter(prefix="/api/v1", tags=["feature maps"])

_PIXELS_SCHEMA: dict[str, Any] = {
    "type": "array", "minItems": 28, "maxItems": 28,
    "items": {"type": "array", "minItems": 28, "maxItems": 28,
              "items": {"type": "number", "minimum": 0, "maximum": 1}},
}


def _sample_seven() -> list[list[float]]:
    """The example of a JSON body: the page's sample 7 (MNIST test digit #0) as pixels."""
    seven = next(d for d in sample_digits() if d["index"] == 0)
    grey = np.frombuffer(base64.b64decode(seven["pixels"]), np.uint8).reshape(28, 28) / 255
    rows: list[list[float]] = np.round(grey, 3).tolist()
    return rows


def add_json_example(spec: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document `spec` with the sample 7 as the example of every JSON image body
    (IMAGE_BODY's): no work at import time (a review)."""
    example = {"pixels": _sample_seven()}
    for operation in (op for path in spec.get("paths", {}).values() for op in path.values()):
        json_body = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if json_body is not None and "pixels" in json_body.get("schema", {}).get("properties", {}):
            json_body["example"] = example
    return spec


BYTES: dict[str, Any] = {"schema": {"type": "string", "format": "binary"}}  # a body of bytes
IMAGE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "A drawing: light ink on dark or dark ink on light (inverted), any size; "
                       "the paper's level (its border's median) is taken off. "
                       "Images are cropped to the ink, scaled to fit 20 px and placed with the "
                       "ink's centre of mass within half a pixel of (14, 14) of 28x28, where "
                       "MNIST's digits have it (unless the 20 px box would leave the field); "
                       "JSON pixels are used as they are unless preprocess is true (the "
                       "example is MNIST test digit #0, a 7; in /docs, press Reset after "
                       "choosing application/json to load it). A body sent with no type, or as "
                       "application/x-www-form-urlencoded (curl --data-binary's and urllib's "
                       "default), is read by what it begins as: an image or JSON pixels.",
        "content": {
            "multipart/form-data": {"schema": {
                "type": "object", "required": ["file"],
                "properties": {"file": BYTES["schema"]}}},
            "image/png": BYTES, "image/jpeg": BYTES, "image/webp": BYTES, "image/gif": BYTES,
            # read by its signature as one of the four (found by an API review: a generated
            # client could send none of the raw image types above, and this one works)
            "application/octet-stream": BYTES,
            "application/json": {
                "schema": {"type": "object", "required": ["pixels"], "additionalProperties": False,
                           "properties": {"pixels": _PIXELS_SCHEMA,
                                          "preprocess": {"type": "boolean", "default": False}}},
                # its example, the sample 7's pixels, is read from the page's digits when the
                # OpenAPI document is first asked for (add_json_example), not at import
            },
        },
    }
}
RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before sending it again",
                               "schema": {"type": "integer", "minimum": 1}}}
SERVER_TIMING = {"Server-Timing": {"description": "the server's decode, infer, encode and "
                                                  "queue times, ms",
                                   "schema": {"type": "string"}}}
# what may vary in POST /featuremaps's answer, as its headers say (an API review: the
# document named Server-Timing alone)
NEGOTIATED = {
    "Vary": {"description": "`Accept, Accept-Encoding` where format= is not given (the format "
                            "follows Accept, its gzip Accept-Encoding); `Accept-Encoding` for "
                            "format=binary; none for format=json",
             "schema": {"type": "string"}},
    "Content-Encoding": {"description": "`gzip` for the binary format where Accept-Encoding "
                                        "allows it; the JSON format is never compressed",
                         "schema": {"type": "string", "enum": ["gzip"]}},
}
QUERY = ("models", "encoding", "format")  # POST /featuremaps's query parameters
# what a query parameter of the batch route means here (an API review: told only that
# layers= is unknown)
ELSEWHERE = {"layers": "this route answers every layer; layers= chooses them on POST "
                       "/api/v1/featuremaps/batch", **BODY_FIELDS}
PNG_QUERY = ("channel", "scale", "norm", "colormap")  # and the .png route's


def errors(params: Sequence[str], own: dict[int, tuple[str, str]] | None = None,
           limit: str = "max_upload_bytes") -> dict[int | str, dict[str, Any]]:
    """The error statuses of a route that takes a body and the query parameters `params`:
    what each means and one answer of it, as a server words it with the default settings
    (this server's own are in the document's description: app/main.py `limits`)
    (found by a review: every status showed the schema's one example, an unknown model, which
    is a 422); `own`: a route's own {status: (meaning, answer)}; `limit`: the setting of its
    upload limit."""
    upload, pixels = default(limit), default("max_image_pixels")
    timeout = default("body_timeout_s")
    statuses = {
        400: ("malformed request (bad JSON or a key given twice in it, bad multipart, unknown "
              "or repeated query parameter)", unknown_parameter("model", params)),
        408: ("a body over 64 KiB (or sent chunked) that has not arrived whole within "
              f"FEATUREMAPS_BODY_TIMEOUT_S ({timeout:g} s by default); the connection is closed",
              body_timed_out(timeout, upload // 2, upload)),
        413: (f"body over the upload limit ({upload >> 20} MiB by default, "
              f"FEATUREMAPS_MAX_UPLOAD_BYTES), a JSON body over {MAX_JSON_BYTES >> 10} KiB, "
              f"or image over the pixel limit ({pixels:,} by default, "
              "FEATUREMAPS_MAX_IMAGE_PIXELS)",
              over_upload_limit(upload)),
        415: ("not an image format or content type the server reads",
              unsupported_type("text/plain")),
        422: ("well-formed but unusable: an image truncated or corrupt, pixels of another "
              "shape or range, a JSON field the body does not take, bad parameter values, "
              "unknown models= names",
              not_loaded("maxx", VARIANTS, " in models=")),
        503: ("too many requests in flight or over the time limit; see Retry-After",
              busy(default("max_inflight"))),
        **(own or {}),
    }
    return {code: {"model": ErrorOut, "description": text,
                   "content": {"application/json": {"example": {"detail": example}}},
                   **({"headers": RETRY_AFTER} if code == 503 else {})}
            for code, (text, example) in statuses.items()}

MODELS_PATTERN = r"^[a-z]+(,[a-z]+)*$"
# a name in a path: what the values are, as /docs cannot list them (they are the server's)
MODEL_DOC = "a network this server has, e.g. max (GET /api/v1/models lists them)"
LAYER_DOC = ("a layer of that network: conv1, pool1, conv2, pool2 or conv3 (strided and "
             "nopool have no pool layers)")


def models_doc(default: tuple[str, ...], note: str = "") -> str:
    """The description of a route's models= parameter, naming the networks it runs unasked."""
    return f"comma-separated networks to run (default: {','.join(default)}{note})"


# a Python client's review: the document gave max,avg alone, where a server without them
# runs others (names.default_models)
MODELS_DOC = models_doc(DEFAULT_MODELS, ", those of them this server has, else its first two")
ENCODING_DOC = "uint8 (per-channel quantised), float16 or float32 (little-endian)"
FORMAT_DOC = ("json (default) or binary (application/x-featuremaps, what the page uses); "
              "without format=, an Accept that names application/x-featuremaps with q > 0 "
              "and ranks JSON no higher selects binary")
ModelsQuery = Annotated[str | None, Query(description=MODELS_DOC, examples=["max,avg"],
                                          pattern=MODELS_PATTERN)]
EncodingQuery = Annotated[Encoding, Query(description=ENCODING_DOC)]
FormatQuery = Annotated[Literal["json", "binary"] | None, Query(description=FORMAT_DOC)]

# POST /featuremaps runs for every update of a drawing. FastAPI re-inspects a Literal or
# pattern-constrained query annotation on every request (about 90 us of the route's own
# 330: bench/server.py, in-process), so this route declares its parameters as plain
# strings, documented with the strict types' own schemas, and checks them itself against those
# types (a TypeAdapter takes 0.3 us), with FastAPI's 422 and its messages.
_STRICT: dict[str, TypeAdapter[Any]] = {
    "models": TypeAdapter(ModelsQuery), "encoding": TypeAdapter(EncodingQuery),
    "format": TypeAdapter(FormatQuery)}
# each plain parameter's schema is its strict type's, as that type's adapter writes it
PlainModels = Annotated[str | None, Query(description=MODELS_DOC,
                                          json_schema_extra=_STRICT["models"].json_schema())]
PlainEncoding = Annotated[str, Query(description=ENCODING_DOC,
                                     json_schema_extra=_STRICT["encoding"].json_schema())]
PlainFormat = Annotated[str | None, Query(description=FORMAT_DOC,
                                          json_schema_extra=_STRICT["format"].json_schema())]


def strict_query(**values: object) -> list[Any]:
    """The values checked against _STRICT, in order; all problems at once, as FastAPI
    reports them."""
    out: list[Any] = []
    errors: list[Any] = []
    for name, value in values.items():
        try:
            out.append(_STRICT[name].validate_python(value))
        except ValidationError as exc:
            errors += [{**e, "loc": ("query", name, *e["loc"])} for e in exc.errors()]
    if errors:
        raise RequestValidationError(errors)
    return out


class InvalidParameter(InputError):
    status_code = 422


def parse_models(engine: Engine, models: str | None,
                 default: tuple[str, ...] = DEFAULT_MODELS) -> list[str]:
    """The networks named in models=, or the default ones this server has loaded."""
    if models is None:
        return default_models(engine.variants, default)

    def known(name: str) -> None:
        if name not in engine.variants:
            raise InvalidParameter(not_loaded(name, engine.variants, " in models="))

    return split_names(models, "models=", "network", known)  # as `featuremaps extract`


LIVE_MAX_NETS = 2  # networks in a request light enough for the event loop (light)


def light(payload: Payload, names: Sequence[str], encoding: str) -> bool:
    """Whether a request is a live update's work, about a millisecond, and may run on the
    event loop when nothing else is queued: a small body (Payload.small), at most two
    networks, uint8. Found by a review: five networks in float32 JSON, 8 to 10 ms, ran there
    too, and stalled every other connection for as long."""
    return payload.small and len(names) <= LIVE_MAX_NETS and encoding == "uint8"


def server_timing(timings: dict[str, float], start: float) -> str:
    """The Server-Timing header of an answer whose stages (decode, infer, encode) took
    `timings` ms, begun at perf_counter() `start`. The rest of the time is added to
    `timings` as "queue": waiting for an inference thread, and the hand-offs."""
    timings["queue"] = (time.perf_counter() - start) * 1000 - sum(timings.values())
    return ", ".join(f"{name};dur={ms:.3f}" for name, ms in timings.items())


def staged(payload: Payload, settings: Settings, infer: Callable[[np.ndarray], R],
           encode: Callable[[R, dict[str, float]], bytes]) -> tuple[bytes, dict[str, float]]:
    """Decode the payload, infer, encode: the CPU work of one answer, each stage timed (ms,
    for Server-Timing). `encode` gets the decode and infer times (the binary format carries
    them)."""
    t0 = time.perf_counter()
    x28 = decode(payload, settings.max_image_pixels)
    t1 = time.perf_counter()
    result = infer(x28)
    t2 = time.perf_counter()
    timings = {"decode": (t1 - t0) * 1000, "infer": (t2 - t1) * 1000}
    body = encode(result, timings)
    timings["encode"] = (time.perf_counter() - t2) * 1000
    return body, timings


def answer(engine: Engine, settings: Settings, payload: Payload, names: list[str],
           encoding: Encoding, binary: bool, gzip: bool) -> tuple[bytes, dict[str, float]]:
    """All the CPU work of one update (POST here, or a message on WS /api/v1/live), run
    through the gate. Returns the body and its stage times in ms."""

    def encode(result: FeatureMaps, timings: dict[str, float]) -> bytes:
        body = wire.to_binary(result, timings) if binary else wire.to_json(result)
        return wire.compress(body) if gzip else body

    return staged(payload, settings, lambda x28: engine.featuremaps(x28, names, encoding),
                  encode)


def too_large_picture(model: str, layer: str, shown: int, h: int, w: int, scale: int) -> str:
    """The 422's words for a .png whose `shown` channels of h x w at `scale` pass
    MAX_PIXELS, naming the largest scale that fits (the OpenAPI document quotes them)."""
    *_, width, height = grid_layout(shown, h, w, scale)
    best = largest_scale(shown, h, w, scale)  # at least 1: scale 1 fits every layer
    return (f"scale={scale} would make a {width}x{height} picture ({width * height:,} pixels); "
            f"the limit is {MAX_PIXELS:,} pixels: use scale={best} or less for {model} {layer}, "
            "or one channel=")


def check_channel(channel: int | None, channels: int, layer: str) -> None:
    """InvalidParameter for a channel= the layer does not have."""
    if channel is not None and channel >= channels:
        raise InvalidParameter(f"channel {cut(str(channel))} out of range: {layer} has channels "
                               f"0..{channels - 1}")


@router.post(
    "/featuremaps",
    summary="Feature maps of every conv and pool layer",
    response_model=FeatureMapsOut,
    responses={200: {"content": {wire.BINARY_TYPE: BYTES},
                     "headers": {**SERVER_TIMING, **NEGOTIATED},
                     "description": "JSON as below; or, for format=binary (or an Accept that "
                                    "prefers application/x-featuremaps), the same content "
                                    "without base64 or numbers as text, gzip-compressed when "
                                    "Accept-Encoding allows:\n\n```\n" + wire.BINARY_FORMAT
                                    + "```"},
               **errors(QUERY)},
    openapi_extra=IMAGE_BODY,
)
async def featuremaps(
    request: Request,
    models: PlainModels = None, encoding: PlainEncoding = "uint8", format: PlainFormat = None,
) -> Response:
    """Run the chosen networks on a drawing and return the 28x28 input they saw, each
    network's prediction and probabilities, and every conv and pool layer's maps."""
    return await respond(request, models, encoding, format)


async def respond(request: Request, models: str | None, encoding: str,
                  format: str | None) -> Response:
    """POST /featuremaps once its query parameters are read: what the route above runs, and
    what app/api/fastpath.py runs for the same request without FastAPI's routing."""
    # values first, then unknown or repeated names: the order of FastAPI's own routes, whose
    # parameters are validated before their handler runs
    models, encoding, format = strict_query(models=models, encoding=encoding, format=format)
    check_query(request, QUERY, ELSEWHERE)
    engine, settings, gate = served(request)
    names = parse_models(engine, models)
    payload = await read_payload(request, QUERY)
    binary = format == "binary" or (
        format is None and wire.prefers_binary(listed_header(request.headers, "accept") or ""))
    gzip = binary and wire.accepts_gzip(listed_header(request.headers, "accept-encoding") or "")

    start = time.perf_counter()
    # a live update is about a millisecond of work: when nothing else is queued it runs right
    # here, without two thread hand-offs (see InferenceGate.run)
    body, timings = await gate.run(answer, engine, settings, payload, names, encoding, binary,
                                   gzip, inline_when_idle=light(payload, names, encoding))
    headers = {"Server-Timing": server_timing(timings, start)}
    if format is None:  # negotiated: the format depends on Accept, then gzip on the other
        headers["Vary"] = "Accept, Accept-Encoding"
    elif binary:  # format=binary: only whether it is gzipped varies
        headers["Vary"] = "Accept-Encoding"
    if gzip:
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type=wire.BINARY_TYPE if binary else "application/json",
                    headers=headers)


@router.post(
    "/featuremaps/{model}/{layer}.png",
    summary="One layer's maps as a PNG grid",
    response_class=Response,
    responses={200: {"content": {"image/png": BYTES},
                     "description": "channels in a grid, 8 per row",
                     "headers": {"X-Prediction": {
                         "description": "the network's prediction for the drawing, 0..9",
                         "schema": {"type": "integer", "minimum": 0, "maximum": 9}},
                         "X-Blank": {
                             "description": "true when no ink survived preprocessing: the "
                                            "prediction is a guess about nothing",
                             "schema": {"type": "boolean"}}}},
               404: {"model": ErrorOut, "description": "unknown model or layer in the path"},
               **errors(PNG_QUERY, {422: (
                   "well-formed but invalid values (channel= out of range, a scale= whose "
                   "picture passes the pixel limit, pixels shape/range)",
                   too_large_picture("max", "conv1", 32, 26, 26, 32))})},
    openapi_extra=IMAGE_BODY,
)
async def layer_png(
    request: Request, engine: EngineDep, settings: SettingsDep, gate: GateDep,
    model: Annotated[str, Path(description=MODEL_DOC, examples=["max"])],
    layer: Annotated[str, Path(description=LAYER_DOC, examples=["pool1"])],
    channel: Annotated[int | None, Query(ge=0, description="only this channel"), DIGITS] = None,
    scale: Annotated[int, Query(ge=1, le=32, description=(
        f"pixels per map unit; the picture may have at most {MAX_PIXELS:,} pixels, and a 422 "
        f"names the largest scale that fits (19 for every channel of max's conv1)")),
        DIGITS] = 8,
    norm: Annotated[Literal["channel", "layer"], Query(
        description="scale colours per channel or over the whole layer")] = "channel",
    colormap: Annotated[Literal["viridis", "gray"], Query(
        description="viridis (dark purple to yellow, as on the page) or gray (black to "
                    "white)")] = "viridis",
) -> Response:
    """The chosen layer's maps for a drawing, as one PNG: a picture from curl."""
    check_query(request, PNG_QUERY, BODY_FIELDS)
    engine.check_models([model])
    engine.check_layers([model], [layer])
    channels, h, w = engine.layer_shape(model, layer)
    check_channel(channel, channels, layer)
    shown = 1 if channel is not None else channels
    if largest_scale(shown, h, w, scale) < scale:
        raise InvalidParameter(too_large_picture(model, layer, shown, h, w, scale))
    payload = await read_payload(request, PNG_QUERY)

    def picture() -> tuple[bytes, int, bool]:
        result = engine.featuremaps(decode(payload, settings.max_image_pixels), [model],
                                    "float32")
        maps = next(item for item in result.nets[0].layers if item.name == layer)
        png = grid_png(np.asarray(maps.data.reshape(maps.shape), np.float32), scale=scale,
                       norm=norm, colormap=colormap, channel=channel)
        return png, result.nets[0].prediction, wire.is_blank(result.input)

    png, prediction, blank = await gate.run(picture)
    # X-Blank: the JSON answer's input.blank, which a picture cannot say (an API review: a
    # photo whose ink was lost got a prediction, and nothing told a curl user why)
    return Response(png, media_type="image/png", headers={
        "X-Prediction": str(prediction), "X-Blank": "true" if blank else "false"})
