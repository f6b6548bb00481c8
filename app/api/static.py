"""The static files (`/static`), with a `Range` header answered as the rest of the API answers.

Starlette's own file response refuses a Range it cannot read with a plain-text 400, and one
past the file's end with an empty 416. Here the first is ignored and the whole file sent, as
RFC 9110 (section 14.2) asks of a server, and the second is a 416 with a JSON `detail` and the
file's size in `Content-Range`, like every other error (app/api/errors.py).
"""

import os

from fastapi.staticfiles import StaticFiles
from starlette.datastructures import Headers
from starlette.responses import (
    FileResponse,
    JSONResponse,
    MalformedRangeHeader,
    RangeNotSatisfiable,
    Response,
)
from starlette.staticfiles import NotModifiedResponse
from starlette.types import Receive, Scope, Send

from app.ml.names import brief


class _PastTheEnd(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


class _File(FileResponse):
    @classmethod
    def _parse_range_header(cls, http_range: str, file_size: int) -> list[tuple[int, int]]:
        try:
            return super()._parse_range_header(http_range, file_size)
        except MalformedRangeHeader:
            return []  # no range the server can read: the whole file, with a 200
        except RangeNotSatisfiable as exc:
            raise _PastTheEnd(exc.max_size) from None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except _PastTheEnd as exc:  # raised before anything is sent
            wanted = Headers(scope=scope).get("range", "")
            await JSONResponse(
                {"detail": f"the range {brief(wanted)} starts past the end of this file, "
                           f"which is {exc.size:,} bytes"},
                status_code=416, headers={"Content-Range": f"bytes */{exc.size}"},
            )(scope, receive, send)


class Static(StaticFiles):
    """`StaticFiles` whose files answer a Range as above; everything else is Starlette's."""

    def file_response(self, full_path: str | os.PathLike[str], stat_result: os.stat_result,
                      scope: Scope, status_code: int = 200) -> Response:
        response = _File(full_path, status_code=status_code, stat_result=stat_result)
        if self.is_not_modified(response.headers, Headers(scope=scope)):
            return NotModifiedResponse(response.headers)
        return response
