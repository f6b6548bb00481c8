"""The static files (`/static`), with a `Range` header answered as the rest of the API answers.

Starlette's own file response refuses a Range it cannot read with a plain-text 400, and one
past the file's end with an empty 416. Here a Range is read as RFC 9110 (section 14.1) writes
it: one that is invalid (another unit, a range that ends before it starts, anything but digits)
is ignored and the whole file sent, as a server may; of a valid one, the ranges that lie past
the file's end are dropped, and only where none is left is the answer a 416, with a JSON
`detail` and the file's size in `Content-Range`, like every other error (app/api/errors.py).
"""

import os
import re

from fastapi.staticfiles import StaticFiles
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import (
    FileResponse,
    JSONResponse,
    Response,
)
from starlette.staticfiles import NotModifiedResponse
from starlette.types import Receive, Scope, Send

from app.api.inputs import listed_header
from app.ml.names import brief


class _PastTheEnd(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


DIGITS = re.compile(r"[0-9]+")  # RFC 9110's 1*DIGIT: no sign, space or underscore inside
HUGE = 10**18  # a position of more digits than this is past any file (int() refuses 4,300)


def _position(digits: str) -> int:
    return int(digits) if len(digits) <= 18 else HUGE


class _File(FileResponse):
    @classmethod
    def _parse_range_header(cls, http_range: str, file_size: int) -> list[tuple[int, int]]:
        """The (start, end) byte ranges to send, merged; [] for the whole file (an invalid
        Range, ignored). Raises `_PastTheEnd` where no range lies within the file."""
        unit, equals, spec = http_range.partition("=")
        parts = [part.strip() for part in spec.split(",")]
        if not equals or unit.strip().lower() != "bytes" or len(parts) > cls.max_ranges:
            return []
        specs = [part for part in parts if part]  # a list may hold empty elements
        if not specs:
            return []
        ranges: list[tuple[int, int]] = []
        for part in specs:
            first, dash, last = (x.strip() for x in part.partition("-"))
            if not dash or not (first or last) or any(x and not DIGITS.fullmatch(x)
                                                      for x in (first, last)):
                return []
            if first and last and _position(last) < _position(first):
                return []
            if first:  # first-last, or first- to the end
                start = _position(first)
                end = min(_position(last) + 1, file_size) if last else file_size
            else:  # -n: the last n bytes (-0: none)
                start, end = max(file_size - _position(last), 0), file_size
                if _position(last) == 0:
                    start = end
            if start < end:  # else none of the file: dropped
                ranges.append((start, end))
        if not ranges:
            raise _PastTheEnd(file_size)
        ranges.sort()
        merged = [ranges[0]]
        for start, end in ranges[1:]:
            if start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        return merged

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except _PastTheEnd as exc:  # raised before anything is sent
            wanted = Headers(scope=scope).get("range", "")
            await JSONResponse(
                {"detail": f"no range of {brief(wanted)} lies within this file, which is "
                           f"{exc.size:,} bytes"},
                status_code=416, headers={"Content-Range": f"bytes */{exc.size}"},
            )(scope, receive, send)


def _one_line_each(headers: Headers) -> Headers:
    """`headers` with If-None-Match as one line where it was given on several (Starlette's
    check reads the first alone: inputs.listed_header)."""
    if len(headers.getlist("if-none-match")) < 2:
        return headers
    joined = listed_header(headers, "if-none-match") or ""
    rest = [(k, v) for k, v in headers.raw if k != b"if-none-match"]
    return Headers(raw=[*rest, (b"if-none-match", joined.encode("latin-1"))])


class Static(StaticFiles):
    """`StaticFiles` whose files answer a Range as above, are revalidated at each use
    (`no-cache`), and where a path with an empty, . or .. segment (page.css/, page.css/.)
    names no file; everything else is Starlette's."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        # Starlette normalises page.css/ (and page.css/., page.css/x/..) to page.css and
        # served it (reviews): a folder's address, under which a page's relative links
        # would resolve wrongly. A path with an empty, . or .. segment names no file.
        if any(part in ("", ".", "..") for part in scope["path"].split("/")[1:]):
            raise HTTPException(status_code=404)
        return await super().get_response(path, scope)

    def file_response(self, full_path: str | os.PathLike[str], stat_result: os.stat_result,
                      scope: Scope, status_code: int = 200) -> Response:
        response = _File(full_path, status_code=status_code, stat_result=stat_result)
        # asked again at each use, answered 304 while unchanged: the page's modules are not
        # named by version, and without it a browser may keep them for a tenth of their age,
        # old beside new after an upgrade (an API review: no Cache-Control)
        response.headers["Cache-Control"] = "no-cache"
        if self.is_not_modified(response.headers, _one_line_each(Headers(scope=scope))):
            return NotModifiedResponse(response.headers)
        return response
