"""WS /api/v1/live: the page's live channel, one drawing in and its maps out per message.

A fetch from a browser costs several milliseconds of its own on top of the server's work
(6 ms for an empty GET in headless Chromium on a 2-core machine, against 1.4 ms for a
WebSocket message and its answer), which is a large share of a live update. The page
therefore sends each drawing over one WebSocket and falls back to POST /featuremaps when the
socket cannot open.

Protocol (documented in the README):
  connect   /api/v1/live?models=max,avg   (models as for POST /featuremaps, and the same default)
  send      one binary message per drawing: a PNG, JPEG, WebP or GIF, at most the upload
            limit (FEATUREMAPS_MAX_UPLOAD_BYTES)
  receive   one binary message per drawing, in order: the binary format that POST
            /api/v1/featuremaps documents, gzip-compressed (what it sends for Accept:
            application/x-featuremaps with Accept-Encoding: gzip), encoding uint8, whose
            header carries the server's "timings" (decode and infer, ms);
            or one text message {"status": 4xx | 503, "detail": "..."} when that drawing
            could not be used (503 adds "retry_after", seconds); the socket stays open for
            the next one (after a 500 it closes with 1011)
  limits    `featuremaps serve` has uvicorn refuse messages over the upload limit while
            reading them (the socket closes); a socket idle for 10 minutes is closed (1000)
  counted   in /metrics as method "WS", route /api/v1/live, one per message and one per
            refused handshake
  refused   a bad query is answered with such a text message and then close code 1008; a
            browser page from another origin (one not in FEATUREMAPS_ALLOWED_ORIGINS) is
            refused before the handshake completes: HTTP 403 with a JSON {"detail"}, as a
            socket to any other path gets a 404, and a socket beyond
            FEATUREMAPS_MAX_SOCKETS open on the worker a 503 with Retry-After (the page
            then draws over POST); a handshake that cannot open a socket gets a JSON
            {"detail"} too, before the app: 400 (no Sec-WebSocket-Key, or one that is not
            16 bytes in base64), 426 (a Sec-WebSocket-Version but 13)
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import textwrap
import time
from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket, WebSocketDisconnect, status
from fastapi.responses import JSONResponse

from app import logs
from app.api.deps import EngineDep, GateDep, SettingsDep
from app.api.errors import INTERNAL_ERROR, RETRY_WORDS, error_answer, name_list_message
from app.api.gate import InferenceGate
from app.api.inputs import (
    LIVE_MESSAGE,
    BadRequest,
    PayloadTooLarge,
    check_query,
    image_payload,
)
from app.api.metrics import Metrics
from app.api.routes.featuremaps import (
    MODELS_PATTERN,
    InvalidParameter,
    answer,
    light,
    parse_models,
    server_timing,
)
from app.api.schemas import ErrorOut
from app.config import Settings, canonical_origin
from app.ml.engine import Engine
from app.ml.errors import EmptyBody, InputError
from app.ml.names import brief, counted

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1")
ROUTE = "/api/v1/live"  # its label in /metrics
IDLE_S = 600.0  # a socket with no drawing for this long is closed (the page reopens it)


def same_origin(websocket: WebSocket, settings: Settings) -> bool:
    """Browsers send Origin with a WebSocket handshake and apply no CORS to it: a page from
    another site may only connect when its origin is allowed. Clients without an Origin
    (scripts, curl) are not browsers acting for a user, and may. The origin's host and port
    are compared with the Host header, not its scheme: behind a proxy that ends TLS the
    server cannot tell its public scheme unless it is told (X-Forwarded-Proto from a named
    proxy). So a page of the same host name over the other scheme (http://host beside
    https://host, whose default ports both drop out) is let in: the same host serves it.
    Host names are compared in any case, and a port of 80 or 443 on either side is a
    default one (an operator's review: `Host: a.example:443`, as a proxy may send it, or
    `A.EXAMPLE`, refused the page of https://a.example)."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True
    # None where it is no origin (one with a bracketed host that is no address made the
    # handshake a 500)
    canonical = canonical_origin(origin)
    if canonical in settings.allowed_origins or "*" in settings.allowed_origins:
        return True
    page = _host_and_port(canonical.partition("://")[2]) if canonical is not None else None
    return page is not None and page == _host_and_port(websocket.headers.get("host", ""))


def _host_and_port(netloc: str) -> tuple[str, int | None] | None:
    """A Host header's (or an origin's) host name in lower case and its port, None for 80,
    443 or none; None where it cannot be read."""
    try:  # a bracketed host that is no address raises (its handshake was a 500), as does a
        # port that is no number
        parts = urlsplit(f"//{netloc}")
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname:
        return None
    return parts.hostname.lower(), None if port in (None, 80, 443) else port


async def refuse(websocket: WebSocket, code: int, detail: str, route: str,
                 headers: dict[str, str] | None = None) -> None:
    """Answers a handshake with an HTTP status and a JSON detail, as a plain request would be
    answered, where the server can send one (uvicorn can); else it is closed (1008), which
    the server answers 403. Counted in /metrics under `route` with the status sent."""
    start = time.perf_counter()
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        logs.HANDSHAKE_REFUSED.set(True)  # uvicorn's false ERROR that follows is dropped
        await websocket.send_denial_response(
            JSONResponse({"detail": detail}, status_code=code, headers=headers))
    else:
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION)
        code = status.HTTP_403_FORBIDDEN
    metrics: Metrics = websocket.app.state.metrics
    metrics.observe("WS", route, code, time.perf_counter() - start)


def _text(code: int, detail: str, **extra: object) -> str:
    return json.dumps({"status": code, "detail": detail, **extra})


def _names(websocket: WebSocket, engine: Engine) -> list[str]:
    """The networks of this connection, checked as POST /featuremaps checks its query."""
    check_query(websocket, ("models",))
    models = websocket.query_params.get("models")
    if models is not None and not re.fullmatch(MODELS_PATTERN, models):
        raise InvalidParameter(f"query parameter 'models': {name_list_message('models', models)}")
    return parse_models(engine, models)


@router.websocket("/live")
async def live(websocket: WebSocket, engine: EngineDep, settings: SettingsDep,
               gate: GateDep) -> None:
    if not same_origin(websocket, settings):
        origin = websocket.headers.get("origin")
        log.warning("refused a live socket from origin %r (host %r): not this site and not in "
                    "FEATUREMAPS_ALLOWED_ORIGINS", origin, websocket.headers.get("host"))
        await refuse(websocket, status.HTTP_403_FORBIDDEN,
                     f"origin {brief(origin or '')} may not open the live channel: it is not "
                     "this site and not in FEATUREMAPS_ALLOWED_ORIGINS", ROUTE)
        return
    metrics: Metrics = websocket.app.state.metrics
    if metrics.sockets >= settings.max_sockets:
        open_now = counted(metrics.sockets, "socket")
        log.warning("refused a live socket: %s open, FEATUREMAPS_MAX_SOCKETS", open_now)
        await refuse(websocket, status.HTTP_503_SERVICE_UNAVAILABLE,
                     f"the live channel is full: {open_now} open on this "
                     "worker (FEATUREMAPS_MAX_SOCKETS); send drawings to POST "
                     "/api/v1/featuremaps meanwhile", ROUTE, headers={"Retry-After": "10"})
        return
    metrics.sockets += 1  # on the event loop's thread alone: no lock
    try:
        await websocket.accept()
        await _serve(websocket, engine, settings, gate, metrics)
    finally:
        metrics.sockets -= 1


async def _serve(websocket: WebSocket, engine: Engine, settings: Settings,
                 gate: InferenceGate, metrics: Metrics) -> None:
    """An accepted socket's messages, until it closes or idles out."""
    try:
        try:
            start = time.perf_counter()
            names = _names(websocket, engine)
        except InputError as exc:  # counted as every other answer is, even if the client
            # has gone before it is sent (reviews)
            metrics.observe("WS", ROUTE, exc.status_code, time.perf_counter() - start)
            await websocket.send_text(_text(exc.status_code, str(exc)))
            await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason="bad query")
            return
        while True:
            try:
                message = await asyncio.wait_for(websocket.receive(), IDLE_S)
            except TimeoutError:
                await websocket.close(code=status.WS_1000_NORMAL_CLOSURE, reason="idle")
                return
            if message["type"] == "websocket.disconnect":
                return
            start = time.perf_counter()
            code, out = await _one(message.get("bytes"), engine, settings, gate, names)
            if isinstance(out, bytes):
                await websocket.send_bytes(out)
            else:
                await websocket.send_text(out)
            metrics.observe("WS", ROUTE, code, time.perf_counter() - start)
            if code == 500:
                await websocket.close(code=status.WS_1011_INTERNAL_ERROR)
                return
    except WebSocketDisconnect:
        return


async def no_socket_here(websocket: WebSocket) -> None:
    """A WebSocket handshake on any other path: a 404 that names the live channel (Starlette
    would close it with a bare 403). Counted as route "other", as an unknown HTTP path is."""
    await refuse(websocket, status.HTTP_404_NOT_FOUND,
                 f"no WebSocket at {brief(websocket.url.path)}; the live channel is {ROUTE}",
                 "other")


PROTOCOL = textwrap.dedent((__doc__ or "").split("Protocol (documented in the README):\n", 1)[-1])
OVER_HTTP = (f"{ROUTE} is a WebSocket: connect with a WebSocket client (ws://<host>{ROUTE}), "
             "not a plain HTTP request; the protocol is at /docs")


@router.get(
    "/live",
    summary="The live channel: a WebSocket (connect to it; a plain GET gets 426)",
    description="The page sends each drawing over this WebSocket and receives its maps; "
                "OpenAPI cannot describe a WebSocket, so it is documented here. A plain "
                "HTTP GET is answered 426 Upgrade Required.\n\n```\n" + PROTOCOL + "```",
    status_code=status.HTTP_426_UPGRADE_REQUIRED,
    response_class=JSONResponse,
    tags=["feature maps"],
    responses={426: {"model": ErrorOut, "description": "not a WebSocket handshake",
                     "content": {"application/json": {"example": {"detail": OVER_HTTP}}}}},
)
async def live_over_http() -> JSONResponse:
    return JSONResponse(
        {"detail": OVER_HTTP}, status_code=status.HTTP_426_UPGRADE_REQUIRED,
        headers={"Upgrade": "websocket", "Connection": "upgrade"})  # RFC 9110, 15.5.22


async def _one(body: bytes | None, engine: Engine, settings: Settings, gate: InferenceGate,
               names: list[str]) -> tuple[int, bytes | str]:
    """One message's answer and its status: the maps, or a {status, detail} text."""
    try:
        if body is None:
            raise BadRequest("send each drawing as a binary message (PNG, JPEG, WebP or GIF "
                             "bytes), not text")
        if not body:
            raise EmptyBody("empty message: send a PNG, JPEG, WebP or GIF")
        if len(body) > settings.max_upload_bytes:
            raise PayloadTooLarge(
                f"message of {len(body):,} bytes is over the upload limit of "
                f"{settings.max_upload_bytes:,} (FEATUREMAPS_MAX_UPLOAD_BYTES)")
        # refused by its first bytes, in the words POST has for them (a review: JSON pixels
        # or an .npy were told only "not an image")
        payload = image_payload(body, LIVE_MESSAGE)
        start = time.perf_counter()
        out, timings = await gate.run(answer, engine, settings, payload, names, "uint8", True,
                                      True, inline_when_idle=light(payload, names, "uint8"))
    except Exception as exc:
        # answered as a POST would be (errors.py), with Retry-After as a number in the message
        said = error_answer(exc)
        if said is None:
            log.exception("unhandled error on a live socket message")
            return 500, _text(500, INTERNAL_ERROR)
        code, detail, headers = said
        retry = (headers or {}).get("Retry-After")
        if retry:  # a message has no headers: its field (an API review: told of a header)
            detail = detail.replace(RETRY_WORDS, "retry after the seconds in retry_after")
        return code, _text(code, detail, **({"retry_after": int(retry)} if retry else {}))
    if log.isEnabledFor(logging.DEBUG):
        log.debug("live update: %s", server_timing(timings, start))
    return 200, out
