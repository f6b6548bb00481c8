"""create_app(settings): the FastAPI app. The lifespan loads the models; nothing heavy happens
at import time."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, PlainTextResponse

from app import __version__, logs
from app.api import errors
from app.api.fastpath import FeatureMapsFastPath, featuremaps_route
from app.api.gate import InferenceGate
from app.api.inputs import check_query
from app.api.metrics import Metrics, Peers
from app.api.middleware import (
    BodyLimitMiddleware,
    CrossOrigin,
    HeadAsGet,
    ObservabilityMiddleware,
    document_request_id,
)
from app.api.routes import batch, featuremaps, live, meta, page, shifts
from app.api.static import Static
from app.config import PROJECT_ROOT, Settings
from app.ml import preprocess
from app.ml.batch import warm_up as warm_up_batches
from app.ml.device import configure_threads
from app.ml.engine import Engine
from app.ml.names import DEFAULT_MODELS, default_models

BATCH = "/api/v1/featuremaps/batch"  # the route with limits of its own

log = logging.getLogger(__name__)

DESCRIPTION = """
Feature maps of small MNIST convnets, layer by layer: the classic Keras model with max
pooling, the same with average pooling, and their variants (strided convolution, no
downsampling, blurred (anti-aliased) max pooling).

Send a drawing (multipart `file`, a raw PNG/JPEG/WebP/GIF body, or JSON `{"pixels": 28x28}`)
to `POST /api/v1/featuremaps`; get back what the networks saw, their predictions and every
conv and pool layer's maps. Errors are JSON `{"detail": "..."}` with a 4xx status, or 503
with `Retry-After` when the server is busy. A wrong method is a 405 whose `Allow` names the
right ones; every GET route answers HEAD too. Before any route, a request the server cannot
read is refused with the same JSON: HTTP it cannot parse, 400; a target (path and query)
over 16 KiB, 414; a request line and headers over 64 KiB, 431. Every answer carries
`X-Request-ID`: yours, if you send one of at most 64 letters, digits, `.`, `_` or `-`, else
a new one.

With the server on 127.0.0.1:8000 (`featuremaps serve`'s default: put your server's
address in its place) and `digit.png` a picture of a digit:

```sh
curl -F file=@digit.png http://127.0.0.1:8000/api/v1/featuremaps
curl -o pool1.png --data-binary @digit.png -H 'Content-Type: image/png' \\
     'http://127.0.0.1:8000/api/v1/featuremaps/max/pool1.png?scale=8'
```

Each map travels as uint8 levels q of its channel's range: `value = low + q / 255 * (high -
low)`. Maps of many images at once, from Python with NumPy:

```python
import io
import urllib.request

import numpy as np

images = np.zeros((4, 28, 28), np.uint8)  # your digits: light ink on black, levels 0..255
# (photos or scans, dark ink on light paper, of any one size: add &preprocess=true)
body = io.BytesIO()
np.save(body, images)
request = urllib.request.Request(
    "http://127.0.0.1:8000/api/v1/featuremaps/batch?layers=pool2", data=body.getvalue(),
    headers={"Content-Type": "application/octet-stream"})
answer = np.load(io.BytesIO(urllib.request.urlopen(request).read()))
q, low, high = answer["max/pool2"], answer["max/pool2/low"], answer["max/pool2/high"]
pool2 = low[..., None, None] + q / 255 * (high - low)[..., None, None]
print(pool2.shape, answer["max/prediction"])  # (4, 64, 5, 5), one answer per image
```
"""


def _size(n: int) -> str:
    """A byte count as the limits table gives it: in MiB where it is whole ones."""
    return f"{n >> 20:,} MiB" if n and n % (1 << 20) == 0 else f"{n:,} bytes"


def limits(settings: Settings) -> str:
    """The document's table of this server's limits, from its settings: the statuses of
    each route quote the defaults, and a client reading the document of a server set
    otherwise was told them (an API review)."""
    rows = [
        ("a request body (413)", _size(settings.max_upload_bytes), "MAX_UPLOAD_BYTES"),
        ("an image's pixels (413)", f"{settings.max_image_pixels:,}", "MAX_IMAGE_PIXELS"),
        ("a body over 64 KiB still arriving (408)", f"{settings.body_timeout_s:g} s",
         "BODY_TIMEOUT_S"),
        ("inferences in flight, each worker (503)", f"{settings.max_inflight:,}", "MAX_INFLIGHT"),
        ("a request's time, its wait included (503)", f"{settings.request_timeout_s:g} s",
         "REQUEST_TIMEOUT_S"),
        ("live sockets open, each worker (503)", f"{settings.max_sockets:,}", "MAX_SOCKETS"),
        ("a batch's body (413)", _size(settings.max_batch_upload_bytes),
         "MAX_BATCH_UPLOAD_BYTES"),
        ("a batch's images (413)", f"{settings.max_batch_images:,}", "MAX_BATCH_IMAGES"),
        ("a batch's answer (422)", _size(settings.max_batch_response_bytes),
         "MAX_BATCH_RESPONSE_BYTES"),
        ("batches in flight, each worker (503)", f"{settings.max_batch_inflight:,}",
         "MAX_BATCH_INFLIGHT"),
        ("a batch's time, its wait included (503)", f"{settings.batch_timeout_s:g} s",
         "BATCH_TIMEOUT_S"),
    ]
    table = "\n".join(f"| {what} | {value} | `FEATUREMAPS_{name}` |" for what, value, name in rows)
    return ("\n## This server's limits\n\nIts settings, as it was started with them (the "
            "statuses below quote the defaults):\n\n| limit | here | setting |\n| --- | --- | "
            f"--- |\n{table}\n")


def create_app(settings: Settings | None = None, engine: Engine | None = None,
               peers: Path | None = None) -> FastAPI:
    """The app for these settings. Pass an already loaded engine to skip loading in the
    lifespan (the CLI loads once up front to fail fast with a one-line error). `peers`: the
    folder where the workers of one server show each other their metrics (app/serve.py)."""
    settings = settings or Settings()
    metrics = Metrics()
    shared = Peers(peers, metrics) if peers is not None else None
    logs.quiet_client_mistakes()  # on uvicorn's error log, which serves this app

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_threads(settings.torch_threads, settings.workers, settings.inference_threads)
        loaded = engine or Engine.load(settings)
        shown = [m for m in DEFAULT_MODELS if m in loaded.variants] or list(loaded.variants)[:1]
        loaded.warm_up(shown)
        preprocess.warm_up()
        # (the batch route's own default: the first two where the page's are not loaded)
        per_image = warm_up_batches(loaded, default_models(list(loaded.variants)))
        app.state.engine = loaded
        app.state.settings = settings
        app.state.gate = InferenceGate(settings.max_inflight, settings.request_timeout_s,
                                       settings.inference_threads)
        # batches get their own thread and a short queue, so that one never holds up the
        # live updates queued behind it
        app.state.batch_gate = InferenceGate(settings.max_batch_inflight,
                                             settings.batch_timeout_s, 1, what="batch",
                                             per_unit=per_image)
        metrics.device = loaded.device_name
        metrics.gates = {
            "live": (lambda: app.state.gate.inflight, settings.max_inflight),
            "batch": (lambda: app.state.batch_gate.inflight, settings.max_batch_inflight)}
        if shared is not None:
            await shared.start()
        yield
        if shared is not None:
            await shared.stop()
        app.state.gate.close()
        app.state.batch_gate.close()
        log.info("shutting down")

    app = FastAPI(title="featuremaps", version=__version__,
                  description=DESCRIPTION + limits(settings), lifespan=lifespan, docs_url=None,
                  redoc_url=None)
    app.state.metrics = metrics  # WS /api/v1/live counts its messages and sockets here too
    metrics.socket_limit = settings.max_sockets
    errors.install(app)
    app.include_router(meta.router)
    app.include_router(batch.router)
    app.include_router(featuremaps.router)
    app.include_router(shifts.router)
    app.include_router(live.router)
    app.include_router(page.router)

    def openapi() -> dict[str, Any]:
        """FastAPI's document, built once, with the JSON bodies' example and X-Request-ID
        added, and its own 422s in this API's words."""
        if app.openapi_schema is None:
            spec = featuremaps.add_json_example(FastAPI.openapi(app))
            app.openapi_schema = document_request_id(errors.document_422s(spec))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request) -> HTMLResponse:
        """Swagger UI from vendored files: works offline and under the strict CSP."""
        # relative to /docs, as every address on the page (static/docs/docs.js)
        return page.templates.TemplateResponse(request, "docs.html",
                                               {"openapi_url": str(app.openapi_url).lstrip("/")})

    @app.get("/metrics", response_class=PlainTextResponse, tags=["operations"],
             summary="Prometheus metrics of every worker",
             responses={**meta.not_stored(), **meta.UNKNOWN_QUERY})
    async def prometheus(request: Request) -> PlainTextResponse:
        """Requests by route and status, a latency histogram, inferences in flight, device;
        each series labelled with its worker's pid, and every worker's in one answer."""
        check_query(request, ())
        others = await shared.gather() if shared is not None else []
        return PlainTextResponse(metrics.render(others), media_type="text/plain; version=0.0.4",
                                 headers={"Cache-Control": meta.NO_STORE})

    # after every route, before the static files (which take no sockets): a socket on any
    # other path gets a 404 that says where the live channel is
    app.add_api_websocket_route("/{path:path}", live.no_socket_here)

    app.mount("/static", Static(directory=str(PROJECT_ROOT / "static")), name="static")

    # innermost, below the fast path, so that the live update never passes through it
    app.add_middleware(HeadAsGet, native=("/static/",))
    # the live update's route, answered below FastAPI's routing (app/api/fastpath.py).
    # It is the route as declared: the router is included above with no prefix or dependencies
    # of its own, which the fast path would not see.
    app.add_middleware(FeatureMapsFastPath, route=featuremaps_route())
    # a worker holds at most as many bodies at their limit as its gates take requests
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_upload_bytes,
                       overrides={BATCH: settings.max_batch_upload_bytes},
                       budgets={"": settings.max_inflight * settings.max_upload_bytes,
                                BATCH: settings.max_batch_inflight
                                * settings.max_batch_upload_bytes},
                       timeout=settings.body_timeout_s,
                       # a budget full is its gate busy: the gate's own wait (the gates are
                       # made as the app starts, after this)
                       retry_after={"": lambda: app.state.gate.retry_after(),
                                    BATCH: lambda: app.state.batch_gate.retry_after()})
    if settings.allowed_origins:
        # outside the upload limit, so that its 413 reaches another origin's script as a 413,
        # not as a network error
        app.add_middleware(CrossOrigin, allow_origins=settings.allowed_origins,
                           # HEAD answers every GET route, and the models routes' ETag is
                           # asked again with If-None-Match (an API review: neither could be
                           # used by another origin's script)
                           allow_methods=["GET", "HEAD", "POST"],
                           allow_headers=["Content-Type", "X-Request-ID", "If-None-Match"],
                           expose_headers=["Server-Timing", "X-Request-ID", "X-Prediction",
                                           "X-Blank", "Content-Disposition", "Retry-After",
                                           "ETag"])
    app.add_middleware(ObservabilityMiddleware, metrics=metrics,
                       access_log_enabled=settings.access_log)
    return app


def app_factory(settings: Settings | None = None, engine: Engine | None = None,
                peers: Path | None = None) -> FastAPI:
    """For `uvicorn --factory app.main:app_factory` and the CLI. Sends the app's own logs
    (start-up, JSON access log) to stderr when nothing has configured logging yet."""
    settings = settings or Settings()
    logs.configure(settings.logging_level)
    return create_app(settings, engine, peers)
