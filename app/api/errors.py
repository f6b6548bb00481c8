"""Domain errors and validation errors become JSON {"detail": "..."} responses, here alone."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.datastructures import URL
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from app.ml.errors import InputError, own_words
from app.ml.names import brief

log = logging.getLogger(__name__)


# how a 503 ends: the wait is in its Retry-After (a live socket's message says its field
# instead, app/api/routes/live.py)
RETRY_WORDS = "retry after the time in Retry-After"


class Busy(Exception):
    """The server's load, not the request, stopped it: answered 503 with Retry-After, the
    seconds the gate's jobs take (app/api/gate.py, retry_after)."""

    def __init__(self, detail: str, retry_after: int = 1) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class Overloaded(Busy):
    """Too many inferences in flight."""


class TimedOut(Busy):
    """An inference ran past the request time limit (its job keeps its slot until its
    thread ends), or waited that long for a thread (it never runs)."""


def _location(loc: tuple[object, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("query", "path", "header", "body"):
        kind = {"query": "query parameter", "path": "path parameter",
                "header": "header", "body": "body field"}[parts[0]]
        return f"{kind} {'.'.join(parts[1:]) or '(body)'!r}"
    return ".".join(parts)


# the query parameters that take a list of names, and an example of one: their pattern
# (lower-case names, commas, no spaces) is said in words, not as a regular expression
NAME_LISTS = {"models": "max,avg", "layers": "conv1,pool2"}
LISTED = {"models": "networks", "layers": "layers"}  # what NAME_LISTS' names are


# where a value given in an address holds a space a client never typed (max+avg, scale=+1)
PLUS_AS_SPACE = " (a + or %20 in an address reads as a space)"


def name_list_message(param: str, got: str) -> str:
    """What is wrong with `got`, given for a query parameter of NAME_LISTS that its pattern
    refuses: the same words for a POST's query and the live socket's."""
    # max+avg, typed into an address, arrives as 'max avg': say where the space between
    # two names came from ('max, avg' is a space the client wrote)
    plus = PLUS_AS_SPACE if re.search(r"\w \w", got) else ""
    return (f"expected comma-separated names in lower case, without spaces, such as "
            f"{NAME_LISTS[param]}; got {brief(got)}{plus}")


def _message(err: dict[str, Any]) -> str:
    loc = tuple(err.get("loc", ()))
    if err.get("type") == "string_pattern_mismatch" and loc[-1:] and loc[-1] in NAME_LISTS:
        return name_list_message(str(loc[-1]), str(err.get("input")))
    got = err.get("input")
    if err.get("type") == "literal_error" and isinstance(got, str):
        # what was given, beside what is allowed (an API review: encoding=uint8+ was told
        # to send 'uint8', which its sender believed it had)
        plus = PLUS_AS_SPACE if " " in got else ""
        return f"{own_words(err)}; got {brief(got)}{plus}"
    if err.get("type") == "bool_parsing" and isinstance(got, str):
        # a name alone, ?preprocess, is no flag here (an API review); the other words it
        # reads are named, as they are taken (a later review: yes was, beside "true or false")
        empty = f" (write {loc[-1]}=true)" if not got and loc else ""
        plus = PLUS_AS_SPACE if " " in got else ""
        return f"{own_words(err)}{empty}{plus}"
    return own_words(err)


def validation_detail(exc: RequestValidationError) -> str:
    """One readable sentence per problem, e.g. "query parameter 'scale': Input should be ..."."""
    lines = []
    for err in exc.errors():
        lines.append(f"{_location(tuple(err.get('loc', ())))}: {_message(err)}")
    return "; ".join(lines) or "invalid request"


FASTAPI_422 = "#/components/schemas/HTTPValidationError"
ERROR_OUT = "#/components/schemas/ErrorOut"


def document_422s(spec: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document `spec` with each 422 FastAPI adds on its own said as the answer
    really is: {"detail": one sentence} (validation_detail), not FastAPI's list of objects,
    whose schemas are dropped (an API review: a client generated from the document got an
    error type no answer has)."""
    for path in spec.get("paths", {}).values():
        for operation in path.values():
            if _cannot_fail_validation(operation):
                # FastAPI lists it for any parameter, even a plain string's (an API review:
                # GET /api/v1/models/{model} listed a 422 no request can get)
                operation.get("responses", {}).pop("422", None)
            for response in operation.get("responses", {}).values():
                for media in response.get("content", {}).values():
                    if media.get("schema") == {"$ref": FASTAPI_422}:
                        media["schema"] = {"$ref": ERROR_OUT}
                        response["description"] = ("a parameter of the wrong type or out of "
                                                   "range, said in one sentence")
    schemas = spec.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    return spec


UNCONSTRAINED = {"type", "title", "description", "examples"}  # a plain string's schema


def _cannot_fail_validation(operation: dict[str, Any]) -> bool:
    """Whether no request can fail FastAPI's validation of `operation`: no body, and no
    parameter but plain strings, a query's or a header's optional (a path's is there, or the
    route is not matched), X-Request-ID aside (a bad one is replaced, never refused)."""
    if "requestBody" in operation:
        return False
    return all(p.get("name") == "X-Request-ID" or (
        p.get("schema", {}).get("type") == "string" and set(p.get("schema", {})) <= UNCONSTRAINED
        and (p.get("in") == "path" or not p.get("required")))
        for p in operation.get("parameters", []))


# each error a client's request or the server's load causes, and its answer: status, detail
# and headers; in order, the first that matches answers (no two of these types are related)
_ANSWERS: dict[type[Exception], Callable[[Any], tuple[int, str, dict[str, str] | None]]] = {
    InputError: lambda exc: (exc.status_code, str(exc), None),
    RequestValidationError: lambda exc: (422, validation_detail(exc), None),
    StarletteHTTPException: lambda exc: (exc.status_code, str(exc.detail),
                                         getattr(exc, "headers", None)),
    Busy: lambda exc: (503, str(exc), {"Retry-After": str(exc.retry_after)}),
}
KNOWN_ERRORS = tuple(_ANSWERS)


def error_answer(exc: Exception) -> tuple[int, str, dict[str, str] | None] | None:
    """The status, detail and headers of the answer to an error the client's request or the
    server's load caused, or None for anything else (a bug). `error_response` sends them as
    JSON; the live socket as a message (app/api/routes/live.py)."""
    for kind, answer in _ANSWERS.items():
        if isinstance(exc, kind):
            return answer(exc)
    return None


def error_response(exc: Exception) -> JSONResponse | None:
    """The JSON answer to an error the client's request or the server's load caused, or None
    for anything else (a bug: ObservabilityMiddleware answers 500). The app's exception
    handlers (registered for KNOWN_ERRORS) and app/api/fastpath.py both answer with this."""
    answer = error_answer(exc)
    if answer is None:
        return None
    code, detail, headers = answer
    return JSONResponse({"detail": detail}, status_code=code, headers=headers)


def trailing_slash(path: str, method: str = "", allow: str = "") -> str:
    """The 404's words for a route's address given with a trailing slash, and where the
    address without it does not take the request's method, what it takes (`allow`, an Allow
    header's methods; found by an API review: a POST told to take the slash off then got
    the 405 of a GET route). They do not spell the address out: behind a proxy that takes a
    path prefix off, the path seen here lacks it, and the client would be sent to the wrong
    place."""
    said = f"no route at {brief(path)}: the address has no trailing slash"
    if allow:
        return f"{said}, and takes {allow}, not {method}"
    return f"{said}; send it without"


def allowed_methods(allow: str) -> str:
    """An Allow header's methods, with HEAD wherever GET is: HeadAsGet (middleware.py)
    answers HEAD on every GET route."""
    methods = [m.strip() for m in allow.split(",") if m.strip()]
    if "GET" in methods and "HEAD" not in methods:
        methods.append("HEAD")
    return ", ".join(methods)


def method_not_allowed(method: str, allow: str) -> str:
    """The 405's words: the methods the address takes (the Allow header's), and where PUT
    came from, as curl -T sends it (found by a review: 'Method Not Allowed' alone)."""
    said = f"{method} is not allowed at this address; it takes {allow or 'no other method'}"
    return said + (" (curl -T sends a PUT: send the file with --data-binary @file)"
                   if method == "PUT" and "POST" in allow else "")


def no_route(path: str) -> str:
    """The 404's words for an address nothing answers (found by a review: 'Not Found' alone,
    for a layer's picture asked for without its .png). Like trailing_slash's, they spell
    out no other address, which a proxy's path prefix would make wrong."""
    if path.startswith("/static/"):
        return f"no file at {brief(path)}"
    if re.fullmatch(r".*/api/v1/featuremaps/[^/]+/[^/.]+", path):
        return f"no route at {brief(path)}: a layer's picture is at this address with .png added"
    return f"no route at {brief(path)}: the API's /docs page lists its routes"


_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")  # those a route here may take


def _without_slash(app: FastAPI, request: Request) -> tuple[dict[str, Any], str] | None:
    """The request's scope with its path's trailing slashes taken off, where that path is
    one of the app's routes (for any method), and the methods it takes as an Allow header
    says them where the request's is not among them (else ''); None where it is no route."""
    path = request.scope["path"]
    if len(path) < 2 or not path.endswith("/"):
        return None
    # an HTTP scope: the live channel's catch-all socket route matches no such scope
    bare = {**request.scope, "path": path.rstrip("/") or "/"}

    def taken(method: str) -> bool:  # routes' public matching: FastAPI nests its own routers
        return any(route.matches({**bare, "method": method})[0] == Match.FULL
                   for route in app.router.routes)

    if taken(request.method):
        return bare, ""
    methods = [method for method in _METHODS if taken(method)]
    return (bare, allowed_methods(", ".join(methods))) if methods else None


def install(app: FastAPI) -> None:
    """The app's answers to errors. A route's address with a trailing slash: a GET or HEAD
    is redirected to the address without it where that takes it (FastAPI's 307, which a
    browser follows, and whose Location a proxy that strips a path prefix rewrites:
    docs/production.md); any other method gets a 404 that says to take the slash off, where
    the redirect made a POST's client send its body twice, or, as curl does without -L,
    left it an empty answer."""
    app.router.redirect_slashes = False

    async def _known(request: Request, exc: Exception) -> Response:
        bare = None
        if isinstance(exc, StarletteHTTPException) and exc.status_code == 404:
            bare = _without_slash(app, request)
        # redirected only where the address takes the method (a review: a GET of
        # /api/v1/featuremaps/ was sent on to the 405 of a POST route)
        if bare is not None and request.method in ("GET", "HEAD") and not bare[1]:
            return RedirectResponse(str(URL(scope=bare[0])), status_code=307)
        if bare is not None:
            said = trailing_slash(request.url.path, request.method, bare[1])
            return JSONResponse({"detail": said}, status_code=404)
        # the router's own 404 and 405, in words (a route's own 404s have theirs)
        if isinstance(exc, StarletteHTTPException) and exc.detail == "Not Found":
            return JSONResponse({"detail": no_route(request.url.path)}, status_code=404)
        if isinstance(exc, StarletteHTTPException) and exc.status_code == 405:
            allow = allowed_methods((exc.headers or {}).get("Allow", ""))
            return JSONResponse({"detail": method_not_allowed(request.method, allow)},
                                status_code=405, headers={**(exc.headers or {}), "Allow": allow})
        response = error_response(exc)
        assert response is not None, exc  # registered for KNOWN_ERRORS only
        return response

    for kind in KNOWN_ERRORS:
        app.add_exception_handler(kind, _known)

    # A bug anywhere below is answered by ObservabilityMiddleware (app/api/middleware.py), so
    # that its 500 carries the request id and security headers like every other answer; this
    # is the last resort, for one in that middleware itself.
    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log_bug(request.method, request.url.path)
        return internal_error()


def detail_body(detail: str) -> bytes:
    """An error's JSON body as every answer writes it, starlette's JSONResponse among them:
    compact, UTF-8 (where it is written below the app: the upload limit, a refused upgrade)."""
    return json.dumps({"detail": detail}, ensure_ascii=False, separators=(",", ":")).encode()


INTERNAL_ERROR = "internal server error"  # a bug's detail, wherever it is answered


def internal_error() -> JSONResponse:
    """The answer to a bug: nothing about it goes to the client but that it happened."""
    return JSONResponse({"detail": INTERNAL_ERROR}, status_code=500)


def log_bug(method: str, path: str) -> None:
    """Log the exception being handled, with its traceback."""
    log.exception("unhandled error on %s %s", method, path)
