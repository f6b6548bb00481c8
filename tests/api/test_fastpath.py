"""POST /api/v1/featuremaps is answered by app/api/fastpath.py, below FastAPI's routing: it must
answer every request exactly as the FastAPI route it stands in for does, good or bad."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from app.api import fastpath, wire
from app.api.fastpath import FeatureMapsFastPath, featuremaps_route
from app.api.routes import featuremaps
from app.config import Settings
from app.main import create_app
from tests.api.test_bad_input import CASES, send

PIXELS = {"pixels": [[0.0] * 28 for _ in range(28)]}
PIXELS["pixels"][10][5:20] = [0.9] * 15
# (query, headers, body): what the page, curl users and the docs send
GOOD: dict[str, tuple[str, dict[str, str], str]] = {
    "png-json": ("", {"content-type": "image/png"}, "png"),
    "png-float16-max": ("models=max&encoding=float16", {"content-type": "image/png"}, "png"),
    "png-float32-binary": ("encoding=float32&format=binary", {"content-type": "image/png"}, "png"),
    "png-accept-binary-gzip": ("models=max,avg&encoding=uint8",
                               {"content-type": "image/png", "accept": wire.BINARY_TYPE,
                                "accept-encoding": "gzip"}, "png"),
    "png-no-content-type": ("", {}, "png"),
    "png-octet-stream": ("format=json", {"content-type": "application/octet-stream"}, "png"),
    "multipart": ("models=avg", {}, "multipart"),
    "json-pixels": ("", {"content-type": "application/json"}, "json"),
}
FEATUREMAPS_CASES = [p for p in CASES
                     if json.loads(p.read_text())["path"] == "/api/v1/featuremaps"]


def without_fast_path(settings: Settings) -> FastAPI:
    """The same app with the FastAPI route alone answering (middleware is built on first use)."""
    app = create_app(settings)
    # starlette types Middleware.cls with a ParamSpec its class does not bind, which mypy
    # takes for a type no class can be
    app.user_middleware = [m for m in app.user_middleware
                           if m.cls is not FeatureMapsFastPath]  # type: ignore[comparison-overlap]
    return app


@pytest.fixture(scope="module")
def route_only(settings: Settings) -> Iterator[TestClient]:
    with TestClient(without_fast_path(settings)) as c:
        yield c


def post(client: TestClient, case: tuple[str, dict[str, str], str], png: bytes) -> Any:
    query, headers, kind = case
    url = "/api/v1/featuremaps" + (f"?{query}" if query else "")
    if kind == "multipart":
        return client.post(url, files={"file": ("digit.png", png, "image/png")})
    if kind == "json":
        return client.post(url, content=json.dumps(PIXELS).encode(), headers=headers)
    return client.post(url, content=png, headers=headers)


def comparable(r: Any) -> dict[str, Any]:
    """Everything a client sees, less what differs from one request to the next: the request
    id, the timings (in Server-Timing and, in the binary format, its header) and the binary
    header's length that follows from them."""
    binary = r.headers.get("content-type") == wire.BINARY_TYPE
    varying = {"x-request-id", "server-timing"} | ({"content-length"} if binary else set())
    headers = [(k, "*" if k in varying else v) for k, v in r.headers.multi_items()]
    if binary:
        body: Any = wire.parse_binary(r.content)
        body.pop("timings")
    elif r.headers.get("content-type") == "application/json" and r.content:  # HEAD: none
        body = r.json()
    else:
        body = r.content
    return {"status": r.status_code, "headers": headers, "body": body}


@pytest.fixture
def fast_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records each request the fast path answers (the route calls the handler from its own
    module, so only the fast path's calls are seen)."""
    calls: list[str] = []
    handler = featuremaps.respond  # the one fastpath imported

    async def spy(request: Any, **query: Any) -> Any:
        calls.append(request.url.path)
        return await handler(request, **query)

    monkeypatch.setattr(fastpath, "respond", spy)
    return calls


@pytest.mark.parametrize("name", GOOD)
def test_the_fast_path_answers_as_the_route_does(
        client: TestClient, route_only: TestClient, name: str, fast_calls: list[str],
        test_digit_pngs: dict[int, tuple[int, bytes]]) -> None:
    _, png = test_digit_pngs[3]
    fast, routed = post(client, GOOD[name], png), post(route_only, GOOD[name], png)
    assert fast.status_code == 200, fast.text
    assert fast_calls == ["/api/v1/featuremaps"]  # the fast path answered; the other app did not
    assert comparable(fast) == comparable(routed)


def test_overloaded_is_the_same_503(client: TestClient, route_only: TestClient,
                                    monkeypatch: pytest.MonkeyPatch,
                                    test_digit_pngs: dict[int, tuple[int, bytes]]) -> None:
    _, png = test_digit_pngs[3]
    answers = []
    for c in (client, route_only):
        assert isinstance(c.app, FastAPI)
        monkeypatch.setattr(c.app.state.gate, "limit", 0)  # every inference slot taken
        answers.append(comparable(post(c, GOOD["png-json"], png)))
    assert answers[0] == answers[1]
    assert answers[0]["status"] == 503
    assert ("retry-after", "1") in answers[0]["headers"]


def test_a_multipart_body_without_boundary_is_the_same_400(
        client: TestClient, route_only: TestClient) -> None:
    """Starlette's form parser raises its own HTTPException here: answered alike too."""
    answers = [comparable(c.post("/api/v1/featuremaps", content=b"--x\r\n",
                                 headers={"content-type": "multipart/form-data"}))
               for c in (client, route_only)]
    assert answers[0] == answers[1]
    assert answers[0]["status"] == 400


@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "OPTIONS"])
def test_other_methods_meet_the_router(client: TestClient, route_only: TestClient,
                                       method: str, fast_calls: list[str]) -> None:
    fast, routed = (c.request(method, "/api/v1/featuremaps") for c in (client, route_only))
    assert fast.status_code == 405
    assert fast.headers["allow"] == "POST"
    assert comparable(fast) == comparable(routed)
    assert fast_calls == []


@pytest.mark.parametrize("path, status", [("/api/v1/featuremaps", 404),
                                          ("/api/api/v1/featuremaps", 200)])
def test_under_a_root_path_the_router_decides(
        client: TestClient, route_only: TestClient, path: str, status: int,
        fast_calls: list[str], test_digit_pngs: dict[int, tuple[int, bytes]]) -> None:
    """Served under /api, the route is at /api/api/v1/featuremaps (a scope's path holds the
    root path), and /api/v1/featuremaps is another path: the router tells them apart."""
    _, png = test_digit_pngs[3]
    fast, routed = (TestClient(c.app, root_path="/api").post(
        path, content=png, headers={"content-type": "image/png"}) for c in (client, route_only))
    assert fast.status_code == status
    assert comparable(fast) == comparable(routed)
    assert fast_calls == []


def test_cors_headers_are_the_same(settings: Settings,
                                   test_digit_pngs: dict[int, tuple[int, bytes]]) -> None:
    """With allowed origins set, CORS sits outside the fast path: same preflight, same
    headers on the answer."""
    _, png = test_digit_pngs[3]
    origin = "https://teaching.example"
    cors = settings.model_copy(update={"allowed_origins": [origin]})
    answers = []
    for app in (create_app(cors), without_fast_path(cors)):
        with TestClient(app) as c:
            preflight = c.options("/api/v1/featuremaps", headers={
                "origin": origin, "access-control-request-method": "POST"})
            answer = c.post("/api/v1/featuremaps", content=png,
                            headers={"origin": origin, "content-type": "image/png"})
            answers.append((comparable(preflight), comparable(answer)))
    assert answers[0] == answers[1]
    seen_preflight, seen_answer = answers[0]
    assert seen_preflight["status"] == 200
    assert seen_answer["status"] == 200
    assert ("access-control-allow-origin", origin) in seen_answer["headers"]


@pytest.mark.parametrize("path", FEATUREMAPS_CASES, ids=[p.stem for p in FEATUREMAPS_CASES])
def test_the_fast_path_refuses_as_the_route_does(
        client: TestClient, route_only: TestClient, path: Path,
        test_digit_pngs: dict[int, tuple[int, bytes]]) -> None:
    case = json.loads(path.read_text())
    _, digit = test_digit_pngs[0]
    fast, routed = send(client, case, digit), send(route_only, case, digit)
    assert fast.status_code == case["status"]
    assert comparable(fast) == comparable(routed)


def served_ok(client: TestClient) -> int:
    """featuremaps_requests_total for POST /api/v1/featuremaps answered 200."""
    found = re.search(r'method="POST",route="/api/v1/featuremaps",status="200"\} (\d+)',
                      client.get("/metrics").text)
    return int(found.group(1)) if found else 0


def test_the_metrics_count_the_fast_paths_answers_under_the_route(
        client: TestClient, fast_calls: list[str],
        test_digit_pngs: dict[int, tuple[int, bytes]]) -> None:
    label, png = test_digit_pngs[4]
    before = served_ok(client)
    r = client.post("/api/v1/featuremaps?models=max", content=png,
                    headers={"content-type": "image/png"})
    assert r.status_code == 200
    assert r.json()["models"]["max"]["prediction"] == label
    assert fast_calls == ["/api/v1/featuremaps"]
    assert served_ok(client) == before + 1


def test_a_bug_is_a_logged_500_on_both_paths(
        client: TestClient, route_only: TestClient, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture, test_digit_pngs: dict[int, tuple[int, bytes]]) -> None:
    """An unexpected exception is not an error the client caused: the fast path leaves it to
    the app's outermost middleware, which logs it and answers the same JSON 500 as for any
    route, with the request id and security headers of every answer."""
    label, png = test_digit_pngs[4]

    def broken(*args: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(featuremaps, "answer", broken)
    answers = []
    for c in (client, route_only):
        quiet = TestClient(c.app, raise_server_exceptions=False)  # the app is already started
        answers.append(comparable(post(quiet, GOOD["png-json"], png)))
    assert answers[0] == answers[1]
    assert answers[0]["status"] == 500
    assert answers[0]["body"] == {"detail": "internal server error"}
    headers = dict(answers[0]["headers"])
    assert headers["x-request-id"] == "*" and headers["x-content-type-options"] == "nosniff"
    assert "default-src 'self'" in headers["content-security-policy"]
    assert caplog.text.count("RuntimeError: a bug") == 2
    monkeypatch.undo()
    r = post(client, GOOD["png-json"], png)
    assert r.status_code == 200
    assert r.json()["models"]["max"]["prediction"] == label


def test_a_request_fastapi_telemetry_follows_goes_to_the_router() -> None:
    """FastAPI's own OpenTelemetry instrumentation (on when a tracer or meter provider is
    configured) learns the route from its router: such requests are left to it."""
    route = featuremaps_route()
    passed_on: list[dict[str, Any]] = []

    async def router(scope: Any, receive: Any, send: Any) -> None:
        passed_on.append(scope)

    fast = FeatureMapsFastPath(router, route)
    scope = {"type": "http", "method": "POST", "path": route.path, "root_path": "",
             "query_string": b"", "headers": []}
    asyncio.run(fast({**scope, "fastapi.telemetry": object()}, None, None))  # type: ignore[arg-type]
    assert len(passed_on) == 1
    assert "route" not in passed_on[0]
