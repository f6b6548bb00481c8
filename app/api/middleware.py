"""Pure ASGI middleware: upload limit while reading, HEAD on GET routes, security headers, CORS,
request ids with a structured access log, and request metrics. Pure ASGI (not
BaseHTTPMiddleware) so that the body is never buffered twice and the cost per request stays a
few microseconds."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.errors import RETRY_WORDS, allowed_methods, detail_body, internal_error, log_bug
from app.api.metrics import Metrics
from app.logs import ACCESS
from app.ml.names import brief

access_log = logging.getLogger(ACCESS)
# the message uvicorn cancels requests with when its graceful shutdown runs out of time
UVICORN_SHUTDOWN = "Task cancelled, timeout graceful shutdown exceeded"
# the scope's extension (a callable), set by `featuremaps serve`'s protocol (app/upgrades.py),
# that cuts a request's connection off, unanswered the rest of the way: the batch route's,
# for an answer its client does not read
CUT_OFF = "featuremaps.cut_off"
REQUEST_ID = re.compile(rb"[A-Za-z0-9._-]{1,64}")  # a client's id is echoed only if it is tame


async def _send_json(send: Send, status: int, detail: str,
                     extra: Iterable[tuple[bytes, bytes]] = ()) -> None:
    body = detail_body(detail)
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"), *extra]})
    await send({"type": "http.response.body", "body": body})


class BodyTooLarge(Exception):
    pass


class BodiesOverBudget(Exception):
    """Its message is the 503's detail."""


class BodyTimedOut(Exception):
    """Its message is the 408's detail."""


# a body's first bytes are read whatever the budget: slow clients that hold it with large
# bodies do not lock out the live updates (about 1 kB each; found by a review)
ALWAYS_READ = 64 * 1024


def over_upload_limit(limit: int, batch: bool = False) -> str:
    """The 413's words for a body over `limit`, with what the client can do (an API review:
    only the server's setting was named); the OpenAPI document quotes them."""
    if batch:
        # float64 named (an API review: np.save(x / 255) of MNIST's test set was told only
        # to split or compress what uint8 levels send in an eighth of the bytes)
        return (f"request body over the upload limit of {limit:,} bytes "
                "(FEATUREMAPS_MAX_BATCH_UPLOAD_BYTES): send float images as uint8 levels "
                "(float64 takes 8 times their bytes, float32 4), or the images in parts, or "
                "compressed (np.savez_compressed)")
    return (f"request body over the upload limit of {limit:,} bytes "
            "(FEATUREMAPS_MAX_UPLOAD_BYTES): the networks see 28x28 pixels, so a smaller "
            "image loses nothing")


def body_timed_out(timeout: float, received: int, declared: int | None) -> str:
    """The 408's words for a body still arriving after `timeout` seconds (the OpenAPI
    document quotes them)."""
    of = f" of {declared:,}" if declared is not None else ""
    return (f"request body not received within {timeout:g} s: {received:,}{of} bytes came; "
            "send it again, faster (FEATUREMAPS_BODY_TIMEOUT_S)")


class BodyLimitMiddleware:
    """Refuses bodies over `limit` bytes: by Content-Length before reading, and by counting
    while reading (chunked uploads), so an oversize body is never held in memory whole. A
    declared size is refused when the route first asks for the body, so the router has named
    the route (the metrics count the 413 under it) and a wrong path or method is answered
    as such.

    `budgets`: the bytes of bodies a worker may read or hold at once, per limit (`""` for
    `limit`, a path of `overrides` for its own). Every route reads its whole body before its
    gate can refuse it, so without them 16 connections sending batch bodies slowly held 512
    MB (found by a review). Each part of a body counts as it arrives, until its request
    ends; a part that would pass the budget is answered 503 with Retry-After, unless no
    other body holds any (a body at the limit is always read) or the body is still within
    its first ALWAYS_READ bytes. Counted as they arrive, not as declared: a review's 64
    connections that declared 2 MiB and sent nothing had every upload refused.

    `timeout`: seconds a body that may pass ALWAYS_READ (declared larger, or sent chunked)
    has to arrive whole, from the route's first read (a deadline for the whole body, not a
    gap between reads); one still coming is answered 408 and its connection closed, so an
    upload that stalls gives its share of the budget back instead of holding it for as
    long as the client keeps the connection open. Smaller bodies are not timed: they are
    read whatever the budget holds, and the timer costs about 4 us a read, on the live
    update's path."""

    def __init__(self, app: ASGIApp, limit: int, overrides: dict[str, int] | None = None,
                 budgets: dict[str, int] | None = None, timeout: float | None = None,
                 retry_after: dict[str, Callable[[], int]] | None = None) -> None:
        self.app = app
        self.limit = limit
        self.overrides = overrides or {}
        self.budgets = budgets or {}
        self.timeout = timeout
        # per budget, the seconds its 503 says to wait (the gate that the bodies it holds go
        # to: an API review, a batch refused here was told 1 s while the batches ahead of it
        # ran 30 s, and its gate told a small batch 16 s); 1 where none is given
        self.retry_after = retry_after or {}
        self.held = dict.fromkeys(self.budgets, 0)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # with or without a trailing slash, which the router redirects: the 307 must not be
        # preceded by a 413 under the wrong limit
        path = scope["path"].rstrip("/")
        limit = self.overrides.get(path, self.limit)
        group = path if path in self.overrides else ""
        budget = self.budgets.get(group)
        declared: int | None = None
        chunked = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _send_json(send, 400, "Content-Length is not a number")
                    return
            elif name == b"transfer-encoding":
                chunked = True
        received = 0
        charged = 0  # of the budget
        started = False
        # a request with neither header has no body (a GET): nothing to time
        timed = self.timeout is not None and (
            declared > ALWAYS_READ if declared is not None else chunked)
        deadline: float | None = None  # set at the first read of a timed body

        async def timed_receive() -> Message:
            nonlocal deadline, timed
            assert self.timeout is not None
            if deadline is None:
                deadline = asyncio.get_running_loop().time() + self.timeout
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise BodyTimedOut(body_timed_out(self.timeout, received, declared)) from None
            # the body is in (or its client gone): later reads wait for a disconnect, for as
            # long as the answer takes (found by a review: a batch's watcher for a client
            # that left died at the deadline, and a slow download was cut off)
            if not message.get("more_body", False):
                timed = False
            return message

        async def limited_receive() -> Message:
            nonlocal received, charged
            if declared is not None and declared > limit:  # none of it is read
                raise BodyTooLarge
            message = await (timed_receive() if timed else receive())
            if message["type"] == "http.request":
                size = len(message.get("body", b""))
                if budget is not None and size:
                    held = self.held[group]
                    if held > charged and held + size > budget \
                            and received + size > ALWAYS_READ:
                        raise BodiesOverBudget(
                            f"server busy: {held - charged:,} bytes of other request bodies "
                            f"are being read or held, and {size:,} more of this one would "
                            f"pass {budget:,}; {RETRY_WORDS}")
                    self.held[group] = held + size
                    charged += size
                received += size
                if received > limit:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if declared is not None and declared > limit:
                    # answered without the body (a 404, a bad query): the server would read
                    # and discard all that was declared to keep the connection; it closes it
                    message = {**message,
                               "headers": [*message.get("headers", []), (b"connection", b"close")]}
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await _send_json(send, 413, over_upload_limit(limit, path in self.overrides))
        except BodiesOverBudget as exc:
            if not started:
                wait = self.retry_after.get(group, lambda: 1)()
                await _send_json(send, 503, str(exc), [(b"retry-after", str(wait).encode())])
        except BodyTimedOut as exc:
            if not started:
                await _send_json(send, 408, str(exc))
        finally:
            if charged:
                self.held[group] -= charged


class HeadAsGet:
    """HEAD answered on every GET route as the GET would be, less the body (RFC 9110, 9.3.2):
    FastAPI's routes answer only the methods they declare, so without this `curl -I` on any
    API route got a 405. A 405 that allows GET says that HEAD is allowed too.

    Paths under `native` (the static files) go through untouched: StaticFiles answers HEAD
    itself, from the file's size and date, without reading the file as the GET would."""

    def __init__(self, app: ASGIApp, native: tuple[str, ...] = ()) -> None:
        self.app = app
        self.native = native

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        head = scope["method"] == "HEAD"
        if head and scope["path"].startswith(self.native):
            await self.app(scope, receive, send)
            return

        async def bodiless_send(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 405:
                headers = [(name, allowed_methods(value.decode("latin-1")).encode("latin-1")
                             if name == b"allow" else value)
                           for name, value in message.get("headers", [])]
                message = {**message, "headers": headers}
            elif head and message["type"] == "http.response.body" and message.get("body"):
                message = {**message, "body": b""}
            await send(message)

        if not head:
            await self.app(scope, receive, bodiless_send)
            return
        # a copy, so that the server still knows the request as HEAD (uvicorn then expects no
        # body); the route the router matched goes back to the outer scope for the metrics
        inner = {**scope, "method": "GET"}
        try:
            await self.app(inner, receive, bodiless_send)
        finally:
            if "route" in inner:
                scope["route"] = inner["route"]


CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")
# Swagger UI (/docs, vendored) sets style attributes while rendering: it alone may use them.
DOCS_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


def document_request_id(spec: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document `spec` with X-Request-ID, which every answer carries, in every
    operation: an optional request header and a header of each response (an API review: a
    client generated from the document knew nothing of it)."""
    said = "the request's id: the client's own where it matched the pattern, else the server's"
    parameter = {"name": "X-Request-ID", "in": "header", "required": False,
                 "description": "an id for this request, 1 to 64 letters, digits, '.', '_' or "
                                "'-': echoed in the answer and logged",
                 "schema": {"type": "string", "pattern": f"^{REQUEST_ID.pattern.decode()}$"}}
    for path in spec.get("paths", {}).values():
        for operation in path.values():
            operation.setdefault("parameters", []).append(parameter)
            for response in operation.get("responses", {}).values():
                response.setdefault("headers", {})["X-Request-ID"] = {
                    "description": said, "schema": {"type": "string"}}
    return spec


def request_id(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The client's X-Request-ID among `headers` (lower-case names) when it is tame, else a
    new one."""
    for name, value in headers:
        if name == b"x-request-id" and REQUEST_ID.fullmatch(value):
            return str(value.decode())
    return os.urandom(16).hex()  # as random as uuid4().hex, cheaper


def answer_headers(answer_id: str, csp: str = CSP) -> list[tuple[bytes, bytes]]:
    """What every answer carries: its request id, the Content-Security-Policy and the
    other security headers."""
    return [(b"x-request-id", answer_id.encode()), (b"content-security-policy", csp.encode()),
            *SECURITY_HEADERS]


class ObservabilityMiddleware:
    """Request id (X-Request-ID, taken from the client when sane), security headers,
    one JSON access-log line per request, and request metrics. The outermost of the app's
    middleware, it also answers a bug below it with a logged JSON 500, and a client that
    left mid-request with nothing (logged as 499)."""

    def __init__(self, app: ASGIApp, metrics: Metrics, access_log_enabled: bool = True) -> None:
        self.app = app
        self.metrics = metrics
        self.log_enabled = access_log_enabled

    async def _handshake(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A WebSocket's handshake answer, accepted (101) or refused (403, 404), carries the
        request id and the security headers as every HTTP answer does (found by a review:
        it had none). Its metrics and log are the live route's own (app/api/routes/live.py)."""
        extra = answer_headers(request_id(scope["headers"]))

        async def tagged(message: Message) -> None:
            if message["type"] in ("websocket.accept", "websocket.http.response.start"):
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, tagged)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._handshake(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        answer_id = request_id(scope["headers"])
        path: str = scope["path"]
        csp = DOCS_CSP if path == "/docs" else CSP
        status = 500
        size = 0
        started = False

        async def wrapped_send(message: Message) -> None:
            nonlocal status, size, started
            if message["type"] == "http.response.start":
                status = message["status"]
                started = True
                headers = list(message.get("headers", []))
                headers.extend(answer_headers(answer_id, csp))
                message = {**message, "headers": headers}
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, wrapped_send)
        except ClientDisconnect:
            # the client went away while sending its request: no one to answer, and not the
            # server's fault (499, as nginx logs it), so no 500 and no traceback
            status = 499
        except asyncio.CancelledError as exc:
            # uvicorn's graceful shutdown ran out of time (a client still uploading 30 s after
            # SIGTERM) and cancelled the request. Unanswered, uvicorn would send a bare 500
            # and log a traceback at every such deploy: it is answered here, and ends. Any
            # other cancellation (a timeout or task group of an app that embeds ours) is
            # not ours to swallow.
            task = asyncio.current_task()
            if (started or task is None or task.cancelling() != 1
                    or exc.args[:1] != (UVICORN_SHUTDOWN,)):
                raise
            task.uncancel()
            await _send_json(wrapped_send, 503, "the server is shutting down; try again",
                             [(b"retry-after", b"1")])
        except Exception:
            log_bug(scope["method"], path)
            if started:
                # too late for an answer: the server closes the connection (and says the
                # response was left unfinished); the log and metrics say what happened
                status = 500
                return
            await internal_error()(scope, receive, wrapped_send)
        finally:
            elapsed = time.perf_counter() - start
            route = self.metrics.route_label(scope)
            self.metrics.observe(scope["method"], route, status, elapsed)
            if self.log_enabled and access_log.isEnabledFor(logging.INFO):
                client = scope.get("client") or ("-", 0)
                access_log.info("%s", json.dumps({
                    "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
                    "request_id": answer_id, "method": scope["method"], "path": path,
                    "route": route, "status": status, "ms": round(elapsed * 1000, 3),
                    "bytes": size, "client": client[0],
                }, separators=(",", ":")))


class CrossOrigin(CORSMiddleware):
    """FastAPI's CORS middleware (on with FEATUREMAPS_ALLOWED_ORIGINS), whose refused preflight
    says in a JSON `detail` what was refused, not `Disallowed CORS origin` in plain text.
    Whether to refuse is Starlette's call; the words name what it checks."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code != 400:
            return response
        origin = request_headers["origin"]
        method = request_headers["access-control-request-method"]
        asked = request_headers.get("access-control-request-headers")
        refused = []
        if not self.is_allowed_origin(origin=origin):
            refused.append(f"the origin {brief(origin)} is not among FEATUREMAPS_ALLOWED_ORIGINS")
        if method not in self.allow_methods:
            refused.append(f"the method {brief(method)} is not among "
                           f"{', '.join(self.allow_methods)}")
        if asked is not None and not self.allow_all_headers:
            names = [name.strip() for name in asked.lower().split(",")]
            if others := [name for name in names if name not in self.allow_headers]:
                listed = ", ".join(brief(name) for name in others[:10])
                refused.append(f"the header{'s' if len(others) > 1 else ''} {listed} "
                               f"{'are' if len(others) > 1 else 'is'} not among "
                               f"{', '.join(sorted(self.allow_headers))}")
        if ("access-control-request-private-network" in request_headers
                and not self.allow_private_network):
            refused.append("requests from a public page into a private network are not allowed")
        detail = "cross-origin request refused: " + ("; ".join(refused) or "not allowed")
        headers = {k: v for k, v in response.headers.items()
                   if k not in ("content-type", "content-length")}
        return JSONResponse({"detail": detail}, status_code=400, headers=headers)
