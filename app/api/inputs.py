"""Reading a drawing out of a request: multipart file, raw image body, or JSON pixels.

Everything here raises domain errors (app.ml.errors) with a sentence that says what was
wrong and what is accepted; app/api/errors.py turns them into 4xx responses.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from fastapi import Request
from pydantic import BeforeValidator
from python_multipart.multipart import (
    DEFAULT_MAX_HEADER_COUNT,
    DEFAULT_MAX_HEADER_SIZE,
    parse_options_header,
)
from starlette.datastructures import Headers, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection
from starlette.types import Message

from app.api.errors import LISTED, NAME_LISTS, PLUS_AS_SPACE
from app.ml import preprocess
from app.ml.errors import EmptyBody, InputError, InvalidImage, InvalidPixels
from app.ml.names import brief, cut, json_kind, repeated
from app.ml.preprocess import ARRAY_STARTS, json_text

ACCEPTED_BODIES = ("multipart/form-data (field 'file'), a raw PNG/JPEG/WebP/GIF body, "
                   "or application/json {\"pixels\": 28x28 numbers in 0..1}")
# {"pixels": [[...]]} and one level more: a 28x28x1 image, or several images, is told
# what it is by the shape check (app/ml/preprocess.py from_pixels), not that it nests deep
MAX_JSON_DEPTH = 4
MAX_JSON_BYTES = 256 * 1024  # 784 numbers written out in full take about 20 kB
INLINE_MAX_BYTES = 64 * 1024
MAX_TEXT_FIELD = 64 * 1024  # a multipart text field (none is used)
MAX_FIELDS = 8  # multipart text fields parsed before the body is refused
MAX_PREAMBLE = 64 * 1024  # text before a multipart body's first boundary (RFC 2046)
INLINE_MAX_SAMPLES = 512 * 512  # a 512x512 grey image, or 256x256 RGBA


MAX_DIGITS = 100  # no channel or scale comes near; the range checks say what is allowed


def _digits(value: object) -> object:
    """A whole number in a query is written in decimal digits alone. pydantic's lax integers
    also take "1.0", " 1", "+1" and "1_0" (which is ten), so a typo could pass as another
    channel than the one meant."""
    # a negative number goes on to the range check, which says what is allowed (an API
    # review: channel=-1 was told to write digits, which it had)
    if not isinstance(value, str):
        return value
    digits = value[1:] if value[:1] == "-" else value
    if not (digits.isascii() and digits.isdigit()):
        # scale=+1, typed into an address, arrives as ' 1' (found by an API review)
        plus = PLUS_AS_SPACE if value[:1] == " " else ""
        raise ValueError(f"should be a whole number written in digits, e.g. 3; got "
                         f"{brief(value)}{plus}")
    if len(value) > MAX_DIGITS:
        # past 4,300 digits pydantic's own words spoke of its parser's limit (a review)
        raise ValueError(f"should be a whole number of at most {MAX_DIGITS} digits; got "
                         f"{brief(value)}, {len(value):,} digits")
    return value


# after an int query parameter's Query(...): channel=, scale= (inside the union of
# `int | None`, FastAPI would write its bounds into the OpenAPI schema as "ge", not "minimum")
DIGITS = BeforeValidator(_digits)


class BadRequest(InputError):
    status_code = 400


class UnsupportedMediaType(InputError):
    status_code = 415


class PayloadTooLarge(InputError):
    status_code = 413


def listed_header(headers: Headers, name: str) -> str | None:
    """A list header (Accept, Accept-Encoding, If-None-Match) as one line: given on several,
    its values joined by commas, which RFC 9110 (5.3) says is what they mean (an API review:
    only the first line was read, and `Accept: text/plain` then `Accept:
    application/x-featuremaps` was answered JSON); None where it is not given."""
    values = headers.getlist(name)
    return ", ".join(values) if values else None


# What the server answers for these mistakes, here once: the routes raise them, and the
# OpenAPI document (app/api/routes/featuremaps.py, errors()) shows them as examples.
def unknown_parameter(key: str, allowed: Iterable[str],
                      notes: Mapping[str, str] | None = None) -> str:
    """`notes`: what a parameter the route does not take means here: one it took in an
    earlier version, and what took its place (found by an API review: a client of the old
    /shifts was told only that its flag was unknown), or one another route takes (a later
    review: `layers=` on the one-image route)."""
    said = f" ({notes[key]})" if notes and key in notes else ""
    # "accepted: none" read as a parameter called none (an API review)
    takes = ", ".join(allowed)
    takes = f"accepted: {takes}" if takes else "this route takes no query parameters"
    return f"unknown query parameter {brief(key)}; {takes}{said}"


def _option_hint(field: str, options: Iterable[str]) -> str:
    """Where a JSON field unknown to the body is one of the route's query parameters,
    `options` (an API review: a body of {"pixels": ..., "encoding": "float32"} was not told
    where encoding= goes)."""
    return f"; options go in the query, not the body (?{field}=...)" if field in options else ""


def unsupported_coding(coding: str, header: str = "Content-Encoding") -> str:
    return (f"request bodies are read as sent: {header} {brief(coding)} is not "
            "accepted; send the body uncompressed")


def unsupported_type(kind: str) -> str:
    return f"content type {brief(kind)} is not accepted; send {ACCEPTED_BODIES}"


def media_type(request: Request) -> str:
    """The request's media type, lowercased, without parameters. A body sent with a content
    coding (Content-Encoding: gzip) is refused: it is read as it arrives, and a compressed
    image would be called not an image. So is one with a transfer coding but chunked
    (Transfer-Encoding: gzip, chunked), which the server passes on undone (an API review:
    it was told that its bytes were no image, or not UTF-8)."""
    for header, plain in (("Content-Encoding", ("identity",)),
                          ("Transfer-Encoding", ("identity", "chunked"))):
        # every line of the header, not the first alone (a review: Transfer-Encoding:
        # identity, then a second line with gzip, was read as identity)
        codings = [c.strip() for line in request.headers.getlist(header)
                   for c in line.lower().split(",") if c.strip() not in ("", *plain)]
        if codings:
            raise UnsupportedMediaType(unsupported_coding(", ".join(codings), header))
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def check_query(connection: HTTPConnection, allowed: Iterable[str],
                notes: Mapping[str, str] | None = None) -> None:
    """Unknown query parameters are refused rather than silently ignored (a typo stays
    visible), and so is a parameter given twice: every parameter is a single value, and
    using only the last (as FastAPI would) hides the first, e.g. models=max&models=avg."""
    allowed = tuple(allowed)
    seen: set[str] = set()
    for key, _ in connection.query_params.multi_items():
        if key not in allowed:
            raise BadRequest(unknown_parameter(key, allowed, notes))
        if key in seen:
            raise BadRequest(f"query parameter {brief(key)} is given more than once; give it once"
                             + (f" ({key}={NAME_LISTS[key]} names several {LISTED[key]})"
                                if key in NAME_LISTS else ""))
        seen.add(key)


# a whole string, escapes and all, or one left open, to the end of the text: matched there,
# it is not tried again from each quote it holds, which took time growing with the square of
# the text's length (256 KiB of \" took 200 s with the interpreter's lock held; a review);
# a backslash may end the text too
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.?[^"\\]*)*(?:"|\Z)', re.S)
_BRACKET = re.compile(rb"[][{}]")


def _too_deep(text: bytes, limit: int) -> bool:
    """Whether a JSON text nests brackets deeper than `limit`, without parsing it (strings
    skipped, and all that follows a string left open); stops at the first bracket past the
    limit. The strings and brackets are found by regular expressions, in C: a byte-by-byte
    loop in Python took 4 ms over a 64 KiB body (found by a review), on the event loop."""
    bare = _JSON_STRING.sub(b"0", text)
    depth = 0
    for bracket in _BRACKET.findall(bare):
        if bracket in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


class _RepeatedKey(Exception):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object's members, refusing a key given twice: json.loads would keep the last
    alone, and {"preprocess": true, "preprocess": false} ran without preprocessing without
    a word (found by a review; a query parameter given twice is refused likewise)."""
    again = repeated([key for key, _ in pairs])
    if again is not None:
        raise _RepeatedKey(again)
    return dict(pairs)


def _not_json(name: str) -> None:
    """Python's json reads NaN, Infinity and -Infinity, which JSON does not have."""
    raise BadRequest(f"body is not valid JSON: {name} is not a JSON value (pixels are numbers "
                     "in 0..1)")


def parse_json_pixels(body: bytes, options: Iterable[str] = ()) -> tuple[Any, bool]:
    """The `pixels` array and `preprocess` flag of a JSON body; `options`: the route's query
    parameters, which a field of the body may be meant as."""
    if not body.strip():
        # 400 as for an empty image body (it was a 422): nothing was sent, nothing was invalid
        raise EmptyBody('empty JSON body: send {"pixels": 28x28 numbers in 0..1}')
    try:
        # JSON is UTF-8 (RFC 8259), which the depth check's byte scan relies on: json.loads
        # alone would also take UTF-16, where the bytes of a character can read as a quote
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"JSON body is not UTF-8 text ({exc.reason} at byte {exc.start}); "
                         "send it as UTF-8") from exc
    if _too_deep(body, MAX_JSON_DEPTH):
        raise InvalidPixels(
            f"JSON nested deeper than {MAX_JSON_DEPTH} levels; "
            'send {"pixels": 28x28 numbers in 0..1}, one image (several go to POST '
            "/api/v1/featuremaps/batch, as an .npy or .npz)"
        )
    try:
        doc = json.loads(text, parse_constant=_not_json, object_pairs_hook=_unique_keys)
    except _RepeatedKey as exc:
        raise BadRequest(f"JSON key {brief(str(exc.args[0]))} is given more than once; give it "
                         "once") from None
    except json.JSONDecodeError as exc:
        raise BadRequest(f"body is not valid JSON ({exc})") from exc
    except ValueError as exc:  # Python refuses to convert integers of over 4300 digits
        raise BadRequest("body is not valid JSON for this server: it holds an integer of "
                         "thousands of digits") from exc
    if not isinstance(doc, dict):
        raise InvalidPixels(
            f'JSON body must be an object {{"pixels": ...}}, not {json_kind(doc)}'
        )
    extra = sorted(set(doc) - set(JSON_FIELDS))
    if extra:
        raise InvalidPixels(f"unknown JSON field {brief(extra[0])}; accepted: "
                            f"{', '.join(JSON_FIELDS)}" + _option_hint(extra[0], options))
    if "pixels" not in doc:
        raise InvalidPixels('JSON body has no "pixels": send 28x28 numbers in 0..1')
    flag = doc.get("preprocess", False)
    if not isinstance(flag, bool):
        raise InvalidPixels('"preprocess" must be true or false')
    return doc["pixels"], flag


ONE_FILE = "multipart body has more than one file: send exactly one, as 'file'"
TEXT_TOO_LARGE = (f"multipart text field over {MAX_TEXT_FIELD // 1024} KiB: text fields are "
                  "not read; send the file part named 'file' alone (curl -F file=@path)")


CHARSET = re.compile(rb';\s*charset\s*=\s*("[^"]*"|[^;]*)', re.IGNORECASE)


# python-multipart's words for a body whose first boundary line is not what it names
FIRST_BOUNDARY_ERRORS = ("Expected boundary character", "Did not find CR at end of boundary",
                         "Did not find LF at end of boundary")


def no_boundary_line(body: bytes, boundary: bytes, within: int | None = None) -> str:
    """Why a multipart `body` (the first `within` bytes of it, where given) has no line of
    its `boundary` to open its first part, which the parser called "Invalid multipart
    data": a line of it, or the line before, ends otherwise than by CRLF; else there is
    none. The same words however long the body (a review: one past the preamble's limit
    was told it had a preamble, a short one the parser's words)."""
    opening = brief("--" + boundary.decode("latin-1"))
    endings = {b"\n": "an LF alone", b"\r": "a CR alone"}
    lines = re.finditer(rb"(\r\n|\r|\n|\A)--%s(\r\n|--|[ \t]+\r?\n|\r|\n)"
                        % re.escape(boundary), body[:within])
    for line in lines:
        before, after = line.groups()
        if after not in (b"\r\n", b"--"):
            ending = endings.get(after, "spaces")
            return (f"multipart body's boundary line {opening} ends in {ending}, not CRLF: end "
                    "each boundary and header line with CRLF (as curl -F file=@path sends them)")
        if after == b"\r\n" and before in endings:
            return (f"multipart body's line before its boundary line {opening} ends in "
                    f"{endings[before]}, not CRLF: end each line with CRLF (as curl -F "
                    "file=@path sends them)")
    said = (f"multipart body has no line {opening} (the boundary its Content-Type names, "
            "alone on a line ended by CRLF) to open a part")
    if within is None:
        return f"{said}: its parts use another boundary, or it has none"
    return (f"{said} in its first {within:,} bytes: its parts use another boundary, or text "
            "before its first boundary (a preamble, which is not read) is longer than that")


async def multipart_file(request: Request, what: str = "the image",
                         notes: Mapping[str, str] | None = None) -> bytes:
    """The one file of a multipart body, in a field named 'file'. The body's size is bounded
    by the upload limit (app/api/middleware.py); a text field is held in memory and decoded,
    so text fields, never used, are kept small.

    A body cut off before its closing boundary would lose its last part without a word, so
    the body is watched for the boundary as it streams to the parser: ending without it
    stops the parsing there (which closes the parts' temporary files). Anything may follow
    it (RFC 2046's epilogue; a review found one over 1 KiB called cut off, when only the
    body's last 1 KiB was looked through), and anything may come before the first boundary
    (its preamble, up to MAX_PREAMBLE bytes), which the parser refused: it is dropped on its
    way there. A short body without that line goes to the parser whole, which reads some
    (a CR or LF first, then anything up to a '-'); one it cannot open, and one past the
    limit, is told why (no_boundary_line), where the parser said "Invalid multipart data".
    `notes`: what a text field that is no query option is, where the route has words for
    it (check_query's notes)."""
    _, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary", b"")
    if b"boundary" in params and not boundary:  # (an API review: told of a closing '----')
        raise BadRequest("multipart body's Content-Type names an empty boundary: name the one "
                         "its parts use, 1 to 70 characters (as curl -F file=@path does)")
    closing = b"--" + boundary + b"--"
    tail = b""  # the stream's last bytes, for a boundary split between two reads
    closed = False
    # the body read until its first boundary (a bytearray: a body in 1-byte reads was copied
    # whole at each read); None once that has come, or where no boundary is named
    head: bytearray | None = bytearray() if boundary else None
    unopened = b""  # a short body handed to the parser without that boundary line
    # the first delimiter (RFC 2046): the boundary at the start or after a CRLF, then CRLF
    first = re.compile(rb"(?:\A|\r\n)(--" + re.escape(boundary) + rb"\r\n)")

    def past_preamble(body: bytes, more: bool) -> bytes:
        """`body` from its first boundary on, once that has come; b"" until then."""
        nonlocal head, unopened
        assert head is not None
        # looked for again from just before the new bytes: a delimiter split between reads
        start = max(0, len(head) - len(boundary) - 5)
        head += body
        found = first.search(head, start)
        if found and found.start() <= MAX_PREAMBLE:
            rest, head = bytes(head[found.start(1):]), None
            return rest
        if not head and not more:
            raise EmptyBody(f"empty multipart body: send {what} in a field named 'file' (as "
                            "curl -F file=@path sends it)")
        if found or len(head) > MAX_PREAMBLE + len(boundary) + 6:
            # the same words whether the line comes past the limit or not at all: they do
            # not hang on how the body was split into reads
            raise BadRequest(no_boundary_line(bytes(head), boundary, MAX_PREAMBLE))
        if not more:
            # the parser may read it all the same (it skips a CR or LF at the start, then
            # anything up to a '-'); where it cannot, no_boundary_line says why
            unopened, head = bytes(head), None
            return unopened
        return b""

    async def receive() -> Message:
        nonlocal tail, closed
        message = await request.receive()
        if message["type"] == "http.request":
            body = message.get("body", b"")
            if head is not None:
                body = past_preamble(body, message.get("more_body", False))
                message = {**message, "body": body}
            if not closed:
                closed = closing in tail + body[:len(closing)] or closing in body
                tail = (tail + body[-len(closing):])[-len(closing):]
            if not message.get("more_body", False) and not closed:
                # the same words whether the body was cut off or its parts use another
                # boundary than the header's: from the bytes alone the two look alike
                raise BadRequest(f"multipart body has no closing boundary "
                                 f"{brief(closing.decode('latin-1'))}: it is cut off, or its parts "
                                 "use another boundary than the Content-Type names")
        return message

    # a charset parameter, which multipart/form-data does not define (RFC 7578), is left
    # out: Starlette decoded the parts' header names with it (an API review: a part named
    # 'file' was said to be named '楦敬' under charset=utf-16)
    scope = {**request.scope, "headers": [
        (name, CHARSET.sub(b"", value) if name == b"content-type" else value)
        for name, value in request.scope["headers"]]}
    try:
        form = await Request(scope, receive).form(
            max_files=1, max_fields=MAX_FIELDS, max_part_size=MAX_TEXT_FIELD)
    except HTTPException as exc:  # Starlette's own 400s, but those that name its limits
        if str(exc.detail).startswith("Too many files"):
            raise BadRequest(ONE_FILE) from None
        if str(exc.detail).startswith("Part exceeded maximum size"):
            raise PayloadTooLarge(TEXT_TOO_LARGE) from None
        # the rest said nothing of what is accepted: "Missing boundary in multipart.",
        # "Invalid multipart data." (a part's lines past its first boundary, such as a header
        # line with no colon; the first boundary's own errors are told below), "Too many
        # fields"
        reason = str(exc.detail).rstrip(".")
        # python-multipart's own reason, which Starlette words as "Invalid multipart data"
        # (an API review: a file name of 4,200 characters was told to mind the boundary)
        parsed = getattr(exc.__context__, "__cause__", None)
        if unopened and str(parsed).startswith(FIRST_BOUNDARY_ERRORS):
            raise BadRequest(no_boundary_line(unopened, boundary)) from None
        if str(parsed).startswith("Maximum header"):
            raise BadRequest(
                f"multipart body could not be read: a part's headers pass the parser's limits "
                f"(at most {DEFAULT_MAX_HEADER_COUNT} headers a part, each line at most "
                f"{DEFAULT_MAX_HEADER_SIZE:,} bytes; a file name that long?): send {what} as "
                "one file part named 'file' (as curl -F file=@path sends it)") from None
        if reason.startswith("Too many fields"):
            raise BadRequest(f"multipart body has more than {MAX_FIELDS} fields: text fields "
                             f"are not read; give options in the query (?name=value) and send "
                             f"{what} as the one file part 'file'") from None
        framing = (", the body starting with the boundary its Content-Type names"
                   if reason.startswith("Missing boundary") else
                   ", each boundary and header line on its own, ended by CRLF"
                   if reason.startswith("Invalid multipart") else "")
        raise BadRequest(f"multipart body could not be read ({reason}): send {what} as one "
                         f"file part named 'file'{framing} (as curl -F file=@path "
                         "sends it)") from None
    try:
        files = [(k, v) for k, v in form.multi_items() if isinstance(v, UploadFile)]
        if not files:
            if "file" in form:
                # a client that names it filename*= alone (RFC 5987's form) was told the
                # same without a word of why (an API review)
                raise BadRequest(f"multipart field 'file' is text, not a file: send {what} as a "
                                 "file part, with a filename (curl -F file=@path); a part is a "
                                 "file by its Content-Disposition's filename=\"...\", not "
                                 "filename*=, which multipart/form-data does not use (RFC 7578)")
            raise BadRequest(f"multipart body has no file: send {what} in a field named "
                             "'file'")
        name, upload = files[0]
        if name != "file":
            raise BadRequest(f"multipart file field is {brief(name)}; name it 'file'")
        coding = upload.headers.get("content-transfer-encoding", "").strip().lower()
        if coding not in ("", "binary", "8bit", "7bit"):
            # base64 or quoted-printable: read as they are, its bytes were called no image (or
            # no array) without a word of why (an API review); RFC 7578 drops the header
            raise BadRequest(f"multipart file part 'file' is sent with Content-Transfer-"
                             f"Encoding {brief(coding)}, which multipart/form-data does not "
                             f"use (RFC 7578): send {what}'s bytes as they are (as curl -F "
                             "file=@path sends them)")
        texts = [k for k, v in form.multi_items() if not isinstance(v, UploadFile)]
        if texts and notes and texts[0] in notes:  # not a query's option either (a review:
            # -F preprocess=true was told to use the query, which then refused it)
            raise BadRequest(f"multipart text field {brief(texts[0])} is not read: "
                             + notes[texts[0]])
        if texts:  # e.g. curl -F models=max, which would have been ignored without a word
            raise BadRequest(f"multipart text field {brief(texts[0])} is not read: give options "
                             f"in the query (?name=value) and send {what} as the one file part "
                             "'file'")
        data = await upload.read()
        if not data:
            raise EmptyBody(f"multipart file part 'file' is empty: send {what} in it")
        return data
    finally:
        await form.close()


@dataclass(frozen=True)
class Payload:
    """A request body as read off the wire (I/O only); `decode` does the CPU work later."""

    kind: Literal["image", "json"]
    body: bytes
    options: tuple[str, ...] = ()  # the route's query parameters, for a JSON body's errors

    @property
    def small(self) -> bool:
        """Cheap enough to decode on the event loop's thread: JSON pixels, or a small PNG of
        pixels alone whose header declares at most INLINE_MAX_SAMPLES (a live update is
        about 1 kB, a deflated 112x112 grey). Bytes alone would not do: a 30 kB PNG can
        declare 4096x4096, whose decoding (about 90 ms) would stall every connection; and
        other images are opened off it, as Pillow parses their metadata as it opens them
        (preprocess.plain_png_samples)."""
        if len(self.body) > INLINE_MAX_BYTES:
            return False
        if self.kind == "json":
            return True
        samples = preprocess.plain_png_samples(self.body)
        return samples is not None and samples <= INLINE_MAX_SAMPLES


# the type curl --data-binary and -d, and Python's urllib, give a body unless told otherwise
FORM = "application/x-www-form-urlencoded"


# where an .npy or .npz sent to a route of one image is pointed: the batch route's, and the
# shift lab's, which the batch route does not do (an API review: sent from /shifts to a
# route that computes no shifts)
ARRAYS_TO_BATCH = "arrays of images go to POST /api/v1/featuremaps/batch"
ARRAYS_NO_SHIFTS = ("the shift lab takes one image at a time (POST "
                    "/api/v1/featuremaps/batch gives the maps of many, without shifts)")


async def read_payload(request: Request, options: tuple[str, ...] = (),
                       arrays: str = ARRAYS_TO_BATCH) -> Payload:
    """The body of a multipart, raw-image or JSON request; refuses other content types. A
    body sent as a form is read by what it begins as, an image or JSON pixels (found by an
    API review: `curl --data-binary @digit.png`, without a type, was refused as a form).
    `options`: the route's query parameters, named where a JSON body holds one; `arrays`:
    what is said of an array file sent to the route (`not_an_image`)."""
    kind = media_type(request)
    if kind == "multipart/form-data":
        # a part's own type is a guess (a browser's, from the file's name): not read
        return image_payload(await multipart_file(request, notes=BODY_FIELDS), kind, arrays)
    if kind == "application/json":
        body = await request.body()
        if not json_text(body) and _reads_as_a_file(body):
            raise UnsupportedMediaType(_file_as_json(body, arrays))
        return _json_payload(body, options)
    # any image type is read by its bytes (image/jpg and image/x-png, names in the wild, as
    # much as image/bmp, which was told that its type was the mistake where sent untyped it
    # was named: an API review), as a raw or untyped body and a form's are
    if kind.startswith("image/") or kind in ("application/octet-stream", "", FORM):
        body = await request.body()
        # white space alone (`echo | curl --data-binary @-`) is empty too where no type says
        # what it is (a review: a 415 blaming the form's type, or "not an image")
        if not body or (kind in ("", FORM) and not body.strip(preprocess.BLANK)):
            raise EmptyBody(f"empty body: send {ACCEPTED_BODIES}")
        if kind in ("", FORM) and json_text(body):
            return _json_payload(body, options)
        if kind == FORM and not _reads_as_a_file(body):  # a form's own text, name=value
            raise UnsupportedMediaType(_form_text(kind, body))
        return image_payload(body, kind, arrays)
    raise UnsupportedMediaType(unsupported_type(kind))


JSON_FIELDS = ("pixels", "preprocess")  # what a JSON body may hold
# what a JSON body's field, sent as a multipart text field or in the query, is (check_query's
# notes, on the routes that read an image or pixels)
BODY_FIELDS = {field: ('it is a field of a JSON body, {"pixels": 28x28 numbers in 0..1}, '
                       'which may add "preprocess": true; an image sent as a file is always '
                       "prepared as MNIST's digits are") for field in JSON_FIELDS}


def _form_text(kind: str, body: bytes) -> str:
    """The 415's words for a form's own text; one of pixels= (requests' data={"pixels":
    ...}, curl -d pixels=...) is told how to send them as JSON (an API review: the answer
    listed JSON among the accepted bodies, but not that the form was the mistake)."""
    if not body.startswith(b"pixels="):
        # which may be a file of a format not named (an API review: an .ico sent with curl
        # --data-binary was told only that the form's type was the mistake)
        return (f"content type {brief(kind)} (a form's, which curl -d and --data-binary and "
                "Python's urllib give a body unless told) is not accepted, and this body "
                f"begins as none of the images this server reads; send {ACCEPTED_BODIES}")
    return (f"content type {brief(kind)} is a form's text (pixels=...), not JSON: send the "
            "pixels as JSON, with Python's requests json={'pixels': ...}, or with curl -H "
            "'Content-Type: application/json' -d '{\"pixels\": ...}'")


def _file_as_json(body: bytes, arrays: str) -> str:
    """What a file sent with JSON's type is, and where it goes (a review: a PNG was told to
    "send it as UTF-8"; an API review: so were an .npy, an .npz and a gzipped PNG, which
    sent untyped were named)."""
    image = preprocess.sniff(body)
    if image is not None:
        return (f"the body is a {image} image, sent as application/json: send it with its own "
                "Content-Type (e.g. image/png), or JSON pixels as {\"pixels\": 28x28 numbers "
                "in 0..1}")
    return ("the body, sent as application/json, is not JSON pixels, and "
            f"{not_an_image(body, 'application/json', arrays)}")


def _reads_as_a_file(body: bytes) -> bool:
    """Whether a form-typed body is a file, not a form's text: one that begins as an image,
    or as one that not_an_image has words for (arrays meant for the batch route, a PNG
    curl -d broke, an image of a format this server does not read: found by an API review,
    a BMP sent with curl --data-binary was refused as a form, as if its type were the
    mistake). Anything else is taken for a form's text, in any encoding (a review of a mend
    that took text that is not UTF-8 for a file)."""
    return (preprocess.sniff(body) is not None or body.startswith(ARRAY_STARTS)
            or _stripped_png(body) or preprocess.other_format(body) is not None
            or _gzipped_image(body) is not None or base64_image(body) is not None
            # an image's raw bytes, as curl --data-binary sends them: a form's text holds no
            # NUL (a review: told that the form's type was the mistake), unless it is UTF-16,
            # whose length is no raw image's
            or (len(body) in RAW_SIZES and b"\0" in body))


def _json_payload(body: bytes, options: tuple[str, ...]) -> Payload:
    if len(body) > MAX_JSON_BYTES:
        raise PayloadTooLarge(f"JSON body is {len(body):,} bytes; 28x28 pixels need far "
                              f"less, the limit is {MAX_JSON_BYTES:,}")
    return Payload("json", body, options)


def _stripped_png(body: bytes) -> bool:
    """A PNG whose line breaks were taken out, as `curl -d @file` sends it: its signature's
    CR LF and LF gone, \\x1a right after "PNG" (found by an API review: refused as bytes
    that begin as no image)."""
    return body.startswith(b"\x89PNG\x1a")


def base64_image(body: bytes) -> tuple[str, bool] | None:
    """The accepted format whose file `body` holds as base64 text, and whether as a data:
    URL (a canvas's toDataURL(), `base64 digit.png`: found by an API review, told only that
    it was no image), by the signature its first 16 characters decode to; None for any
    other body."""
    decoded = preprocess.base64_head(body)
    kind = preprocess.sniff(decoded[0]) if decoded else None
    return (kind, decoded[1]) if decoded and kind else None


def image_payload(body: bytes, kind: str, arrays: str = ARRAYS_TO_BATCH) -> Payload:
    """An image body as a Payload, refused as it is read where it begins as none of the
    accepted formats (an empty one is refused when it is decoded); `kind`: the type it was
    sent as, "" where none was given, multipart/form-data for a file part, LIVE_MESSAGE for
    a message on the live socket; `arrays`: what is said of an array file (`not_an_image`)."""
    if body and preprocess.sniff(body) is None:
        raise InvalidImage(not_an_image(body, kind, arrays))
    return Payload("image", body)


LIVE_MESSAGE = "live"  # not_an_image's `kind` for a message on the live socket


def _gzipped_image(body: bytes) -> str | None:
    """The accepted format of the image gzip holds in `body`, by its first bytes inflated;
    None for anything else."""
    return preprocess.sniff(preprocess.gunzip_head(body, 64))


def not_an_image(body: bytes, kind: str, arrays: str = ARRAYS_TO_BATCH) -> str:
    """Why a raw body that begins as none of the accepted formats is refused, in the
    words of what it was meant to be (found by a review: random bytes sent as image/png,
    and an .npy meant for the batch route, were both told only "not an image")."""
    said = f"not an image this server reads: send a {preprocess.ACCEPTED_TEXT}"
    # a message or a file part takes an image alone, never JSON pixels
    what = {LIVE_MESSAGE: "message", "multipart/form-data": "file part"}.get(kind)
    if body.startswith(b"PK\x03\x04") and preprocess.torch_pickle(_first_member(body)):
        # torch.save's zip, whose first member is its pickle (an API review: sent to the batch
        # route by the answer below, to be told there what it is)
        return (f"{said}{'' if what else ', or JSON pixels'}; this {what or 'body'} is a "
                "torch.save file: send images as an .npy to POST /api/v1/featuremaps/batch "
                "(np.save(f, images.numpy()))")
    if body.startswith(ARRAY_STARTS):
        return (f"{said}{'' if what else ', or JSON pixels'}; this {what or 'body'} is an .npy or "
                f"a zip (such as an .npz), and {arrays}")
    if json_text(body):  # found by a review: JSON pixels sent without its type
        if kind == LIVE_MESSAGE:  # a message has no type to set
            return (f"{said}; this message looks like JSON pixels, which go to POST "
                    "/api/v1/featuremaps as application/json")
        if kind == "multipart/form-data":  # a file part's type is not read (a later review)
            return (f"{said}; this file part looks like JSON pixels: send them as the body "
                    "itself, with Content-Type: application/json")
        return (f"{said}; this body looks like JSON pixels: send it with Content-Type: "
                "application/json")
    if _stripped_png(body):
        # curl -d is the likely cause of a body alone: a message or a file part (curl -F
        # strips nothing) was broken before it was sent
        how = "" if what else ", as curl -d does: send the file with --data-binary @file"
        return (f"{said}; this {what or 'body'} begins as a PNG whose line breaks were taken "
                f"out{how}")
    other = preprocess.other_format(body)
    if other:
        return f"{said}; this {what or 'body'} is {other}: convert it to PNG first"
    gzipped = _gzipped_image(body)
    if gzipped:  # (an API review: named on the batch route for an .npy, not here)
        return (f"{said}; this {what or 'body'} is a {gzipped} image compressed with gzip: "
                "send the image's own bytes (gunzip it first)")
    encoded = base64_image(body)
    if encoded:
        form, url = encoded
        return (f"{said}; this {what or 'body'} is a {form} written as base64 text"
                f"{' (a data: URL)' if url else ''}: send the file's own bytes, decoded")
    if kind.startswith("image/"):
        return f"{said} (this body is sent as {cut(kind)}, but its bytes begin as none of them)"
    if len(body) in RAW_SIZES and not what:  # x[0].tobytes() (an API review)
        return (f"{said}, or JSON pixels; this body is {len(body):,} bytes, as 28x28 "
                f"{RAW_SIZES[len(body)]} pixels with no header are: send them as JSON pixels, "
                "or as an .npy (np.save) to POST /api/v1/featuremaps/batch")
    return said


# the lengths of a 28x28 image's raw bytes (numpy's tobytes()), and the types that give them
RAW_SIZES = {784: "uint8", 784 * 4: "float32", 784 * 8: "float64 (or int64)"}


def _first_member(body: bytes) -> str:
    """The name of a zip's first member, from its local header (30 bytes, the name's length
    at 26)."""
    return body[30:30 + int.from_bytes(body[26:28], "little")].decode("latin-1")


def decode(payload: Payload, max_pixels: int) -> np.ndarray:
    """The (28, 28) float32 input the networks will see (CPU work: run it through the gate)."""
    if payload.kind == "json":
        pixels, flag = parse_json_pixels(payload.body, payload.options)
        return preprocess.from_pixels(pixels, preprocess=flag)
    return preprocess.from_image(payload.body, max_pixels)
