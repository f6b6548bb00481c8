"""POST /api/v1/featuremaps, the request sent for every update of a drawing, answered
without FastAPI's routing and parameter machinery.

FastAPI's part of that route (the router's walk over every route, its exception and exit-stack
middleware, parameter parsing, the response wrapper) cost about as much as the drawing's
decoding (bench/server.py, in-process). This pure-ASGI middleware, innermost but for
HeadAsGet (which its requests never reach), takes the route's requests first and runs the
same handler, `featuremaps.respond`, with the query parameters read as FastAPI reads them
(the last value of each) and errors answered by the same `errors.error_response`. So the
FastAPI route remains the one definition of the endpoint: its OpenAPI document, its checks,
its messages; this only leaves out the framework around it. Every other request passes
through untouched.
"""

from __future__ import annotations

import inspect

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.errors import error_response
from app.api.routes import featuremaps
from app.api.routes.featuremaps import respond


def featuremaps_route() -> APIRoute:
    """The FastAPI route the fast path stands in for, as its router declares it."""
    return next(r for r in featuremaps.router.routes
                if isinstance(r, APIRoute) and r.endpoint is featuremaps.featuremaps)


class FeatureMapsFastPath:
    """POST requests to `route`'s path (an exact match) answered with featuremaps.respond;
    everything else passed on. Two cases also go on to the router, which handles them
    itself: a root path (the router matches the path without it), and a request that
    FastAPI's own OpenTelemetry instrumentation follows (the router names its route)."""

    def __init__(self, app: ASGIApp, route: APIRoute) -> None:
        self.app = app
        self.route = route  # recorded in the scope as the router would: the metrics' label
        self.path = route.path
        # the route's query parameters and their defaults, from its own signature
        self.query = {name: p.default for name, p in inspect.signature(route.endpoint)
                      .parameters.items() if name != "request"}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope["path"] != self.path or scope["method"] != "POST"
                or scope.get("root_path") or scope.get("fastapi.telemetry") is not None):
            await self.app(scope, receive, send)
            return
        scope["route"] = self.route
        request = Request(scope, receive, send)
        query = request.query_params
        try:
            response = await respond(request, **{name: query.get(name, default)
                                                 for name, default in self.query.items()})
        except Exception as exc:
            error = error_response(exc)
            if error is None:
                raise  # a bug: answered 500 by ObservabilityMiddleware, as on any route
            response = error
        await response(scope, receive, send)
