"""WS /api/v1/live: the page's live channel, one drawing in and its maps out per message.

A fetch from a browser costs several milliseconds of its own on top of the server's work
(6 ms for an empty GET in headless Chromium on a 2-core machine, against 1.4 ms for a
WebSocket message and its answer), which is a large share of a live update. The page
therefore sends each drawing over one WebSocket and falls back to POST /featuremaps when the
socket cannot open.

Protocol (documented in the README):
  connect   /api/v1/live?models=max,avg   (models as for POST /featuremaps; default max,avg)
  send      one binary message per drawing: a PNG, JPEG, WebP or GIF, at most the upload
            limit (FEATUREMAPS_MAX_UPLOAD_BYTES)
  receive   one binary message per drawing, in order: the binary format of app/api/wire.py,
            gzip-compressed (what POST /featuremaps sends for Accept:
            application/x-featuremaps with Accept-Encoding: gzip), encoding uint8, whose
            header carries the server's "timings" (decode and infer, ms);
            or one text message {"status": 4xx | 503, "detail": "..."} when that drawing
            could not be used; the socket stays open for the next one
  counted   in /metrics as method "WS", route /api/v1/live, one per message
  refused   a bad query is answered with such a text message and then close code 1008; a
            browser page from another origin (one not in FEATUREMAPS_ALLOWED_ORIGINS) is
            refused before the handshake completes (HTTP 403)
"""

from __future__ import annotations

import json
import logging
import time

from fastapi import APIRouter, WebSocket, WebSocketDisconnect, status

from app.api.deps import EngineDep, GateDep, SettingsDep
from app.api.errors import Overloaded, TimedOut
from app.api.inputs import INLINE_MAX_BYTES, BadRequest, Payload, PayloadTooLarge
from app.api.metrics import Metrics
from app.api.routes.featuremaps import answer, parse_models, server_timing
from app.config import Settings
from app.ml.errors import EmptyBody, InputError

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1")
ROUTE = "/api/v1/live"  # its label in /metrics


def same_origin(websocket: WebSocket, settings: Settings) -> bool:
    """Browsers send Origin with a WebSocket handshake and apply no CORS to it: a page from
    another site may only connect when its origin is allowed. Clients without an Origin
    (scripts, curl) are not browsers acting for a user, and may."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True
    if origin in settings.allowed_origins or "*" in settings.allowed_origins:
        return True
    host = websocket.headers.get("host", "")
    return origin.split("://", 1)[-1] == host


async def _error(websocket: WebSocket, code: int, detail: str) -> None:
    await websocket.send_text(json.dumps({"status": code, "detail": detail}))


@router.websocket("/live")
async def live(websocket: WebSocket, engine: EngineDep, settings: SettingsDep,
               gate: GateDep) -> None:
    if not same_origin(websocket, settings):
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION)
        return
    await websocket.accept()
    try:
        unknown = [k for k in websocket.query_params if k != "models"]
        if unknown:
            raise BadRequest(f"unknown query parameter {unknown[0]!r}; accepted: models")
        names = parse_models(engine, websocket.query_params.get("models"))
    except InputError as exc:
        await _error(websocket, exc.status_code, str(exc))
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason="bad query")
        return
    metrics: Metrics = websocket.app.state.metrics
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            start = time.perf_counter()
            body = message.get("bytes")
            try:
                if body is None:
                    raise BadRequest("send each drawing as a binary message (PNG, JPEG, WebP "
                                     "or GIF bytes), not text")
                if not body:
                    raise EmptyBody("empty message: send a PNG, JPEG, WebP or GIF")
                if len(body) > settings.max_upload_bytes:
                    raise PayloadTooLarge(
                        f"message of {len(body):,} bytes is over the upload limit of "
                        f"{settings.max_upload_bytes:,} (FEATUREMAPS_MAX_UPLOAD_BYTES)")
                out, timings = await gate.run(
                    answer, engine, settings, Payload("image", body), names, "uint8", True, True,
                    inline_when_idle=len(body) <= INLINE_MAX_BYTES)
            except InputError as exc:
                await _error(websocket, exc.status_code, str(exc))
                metrics.observe("WS", ROUTE, exc.status_code, time.perf_counter() - start)
                continue
            except (Overloaded, TimedOut) as exc:
                await _error(websocket, 503, str(exc))
                metrics.observe("WS", ROUTE, 503, time.perf_counter() - start)
                continue
            log.debug("live update: %s", server_timing(timings))
            await websocket.send_bytes(out)
            metrics.observe("WS", ROUTE, 200, time.perf_counter() - start)
    except WebSocketDisconnect:
        return
