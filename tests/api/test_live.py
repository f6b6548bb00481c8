"""WS /api/v1/live: the page's live channel gives the same maps as POST /featuremaps, and
bad drawings get the same sentences without closing the socket."""

from __future__ import annotations

import gzip
import json
import logging
import time
from typing import Any

import numpy as np
import pytest
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect

from app.api import wire
from app.config import Settings
from tests.conftest import png_bytes, run_async

LIVE = "/api/v1/live"
BLANK_PNG = png_bytes(np.zeros((28, 28), np.uint8))


def post_binary(client: TestClient, png: bytes, models: str = "max,avg") -> dict[str, Any]:
    r = client.post(f"/api/v1/featuremaps?models={models}", content=png,
                    headers={"Content-Type": "image/png", "Accept": wire.BINARY_TYPE,
                             "Accept-Encoding": "gzip"})
    assert r.status_code == 200, r.text
    return wire.parse_binary(r.content)  # the test client has already gunzipped it


def test_a_drawing_gets_the_same_maps_as_a_post(
        client: TestClient, test_digit_pngs: dict[int, tuple[int, bytes]]) -> None:
    with client.websocket_connect(LIVE) as ws:
        for label, png in list(test_digit_pngs.values())[:4]:
            ws.send_bytes(png)
            message = ws.receive_bytes()
            assert message[:2] == b"\x1f\x8b", "gzip-compressed"
            got = wire.parse_binary(gzip.decompress(message))
            want = post_binary(client, png)
            assert set(got["timings"]) == {"decode", "infer"}
            assert got["input"] == want["input"]
            assert list(got["models"]) == ["max", "avg"]
            assert got["models"]["max"]["prediction"] == label
            for name in ("max", "avg"):
                a, b = got["models"][name], want["models"][name]
                assert a["prediction"] == b["prediction"]
                assert a["probabilities"] == b["probabilities"]
                assert [la["data"] for la in a["layers"]] == [lb["data"] for lb in b["layers"]]


def test_models_are_chosen_once_per_connection(
        client: TestClient, test_digit_pngs: dict[int, tuple[int, bytes]]) -> None:
    _, png = test_digit_pngs[0]
    with client.websocket_connect(f"{LIVE}?models=blurmax") as ws:
        ws.send_bytes(png)
        got = wire.parse_binary(gzip.decompress(ws.receive_bytes()))
    assert list(got["models"]) == ["blurmax"]
    assert [layer["name"] for layer in got["models"]["blurmax"]["layers"]] == \
        ["conv1", "pool1", "conv2", "pool2", "conv3"]


@pytest.mark.parametrize(("body", "status", "detail"), [
    (b"GIF87a" + b"\0" * 10, None, None),  # whatever POST says of the same bytes
    (b"plain text, not a picture", None, None),
    (b"", 400, "empty message: send a PNG, JPEG, WebP or GIF"),
    # found by a review: JSON pixels and an .npy were told only "not an image"
    (b'{"pixels": []}', 415, "not an image this server reads: send a PNG, JPEG, WebP or GIF; "
     "this message looks like JSON pixels, which go to POST /api/v1/featuremaps as "
     "application/json"),
    (b"\x93NUMPY\x01\x00", 415, "not an image this server reads: send a PNG, JPEG, WebP or "
     "GIF; this message is an .npy or a zip (such as an .npz), and arrays of images go to "
     "POST /api/v1/featuremaps/batch"),
])
def test_a_bad_drawing_gets_the_post_sentence_and_the_socket_stays_open(
        client: TestClient, test_digit_pngs: dict[int, tuple[int, bytes]], body: bytes,
        status: int | None, detail: str | None) -> None:
    if status is None:
        # a message has no type: what POST says of the bytes sent as no type of image
        r = client.post("/api/v1/featuremaps", content=body,
                        headers={"Content-Type": "application/octet-stream"})
        assert 400 <= r.status_code < 500
        status, detail = r.status_code, r.json()["detail"]
    label, png = test_digit_pngs[0]
    with client.websocket_connect(LIVE) as ws:
        ws.send_bytes(body)
        assert json.loads(ws.receive_text()) == {"status": status, "detail": detail}
        ws.send_bytes(png)
        got = wire.parse_binary(gzip.decompress(ws.receive_bytes()))
        assert got["models"]["max"]["prediction"] == label


def test_text_and_oversize_messages_are_refused_with_a_reason(
        client: TestClient, settings: Settings) -> None:
    with client.websocket_connect(LIVE) as ws:
        ws.send_text("hello")
        assert json.loads(ws.receive_text()) == {
            "status": 400, "detail": "send each drawing as a binary message (PNG, JPEG, WebP "
                                     "or GIF bytes), not text"}
        size = settings.max_upload_bytes + 1
        ws.send_bytes(b"\x89PNG" + b"\0" * (size - 4))
        assert json.loads(ws.receive_text()) == {
            "status": 413, "detail": f"message of {size:,} bytes is over the upload limit of "
                                     f"{settings.max_upload_bytes:,} "
                                     "(FEATUREMAPS_MAX_UPLOAD_BYTES)"}


@pytest.mark.parametrize(("query", "status", "detail"), [
    ("?models=max,resnet", 422, "unknown model 'resnet' in models=; this server has "
                                "max, avg, strided, nopool, blurmax"),
    # an unknown name is named before a repeated one (found by a review: a shared parser
    # had turned the order round)
    ("?models=max,resnet,max", 422, "unknown model 'resnet' in models=; this server has "
                                    "max, avg, strided, nopool, blurmax"),
    ("?encoding=float32", 400, "unknown query parameter 'encoding'; accepted: models"),
    ("?models=max&models=avg", 400, "query parameter 'models' is given more than once; give it "
                                    "once (models=max,avg names several networks)"),
    ("?models=", 422, "query parameter 'models': expected comma-separated names in lower "
                      "case, without spaces, such as max,avg; got ''"),
    ("?models=max,,avg", 422, "query parameter 'models': expected comma-separated names in "
                              "lower case, without spaces, such as max,avg; got 'max,,avg'"),
    ("?models=max+avg", 422, "query parameter 'models': expected comma-separated names in "
                             "lower case, without spaces, such as max,avg; got 'max avg' (a + "
                             "or %20 in an address reads as a space)"),
])
def test_a_bad_query_is_explained_then_closed(client: TestClient, query: str, status: int,
                                              detail: str) -> None:
    """The same status and sentence as POST /featuremaps gives for the same query (a review
    found the socket's own words for a malformed list, without the hint about +), and
    counted in /metrics as every other answer of the socket's is (another review)."""
    counted = ws_count(client, LIVE, status)
    with client.websocket_connect(LIVE + query) as ws:
        assert json.loads(ws.receive_text()) == {"status": status, "detail": detail}
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_bytes()
    assert closed.value.code == 1008
    assert ws_count(client, LIVE, status) == counted + 1
    if "encoding" not in query:  # a query POST takes too
        posted = client.post("/api/v1/featuremaps" + query, content=BLANK_PNG,
                             headers={"Content-Type": "image/png"})
        assert (posted.status_code, posted.json()) == (status, {"detail": detail})


def ws_count(client: TestClient, route: str, status: int) -> int:
    """featuremaps_requests_total for method WS, `route` and `status`, 0 if not yet counted."""
    want = f'method="WS",route="{route}",status="{status}"'
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("featuremaps_requests_total") and want in line:
            return int(line.rsplit(" ", 1)[1])
    return 0


def test_pages_of_other_origins_are_refused(client: TestClient) -> None:
    """Refused before the handshake completes, with a status and a reason as any request gets
    (a browser's script sees only a failed socket; curl and logs see why), and counted."""
    refused_before = ws_count(client, LIVE, 403)
    with pytest.raises(WebSocketDenialResponse) as refused, \
            client.websocket_connect(LIVE, headers={"Origin": "https://elsewhere.example"}):
        pass
    assert refused.value.status_code == 403
    assert refused.value.json() == {
        "detail": "origin 'https://elsewhere.example' may not open the live channel: it is not "
                  "this site and not in FEATUREMAPS_ALLOWED_ORIGINS"}
    assert ws_count(client, LIVE, 403) == refused_before + 1
    with client.websocket_connect(LIVE, headers={"Origin": "http://testserver"}) as ws:
        ws.send_text("still open")
        assert json.loads(ws.receive_text())["status"] == 400


@pytest.mark.parametrize("path", ["/api/v1/nope", "/api/v1/featuremaps", "/", "/static/app.js",
                                  "/api/v1/live/"])
def test_a_socket_on_any_other_path_is_a_404_that_names_the_live_channel(
        client: TestClient, path: str) -> None:
    """Starlette alone closes these with a bare 403, which reads as a refused origin."""
    before = ws_count(client, "other", 404)
    with pytest.raises(WebSocketDenialResponse) as refused, client.websocket_connect(path):
        pass
    assert refused.value.status_code == 404
    assert refused.value.json() == {
        "detail": f"no WebSocket at {path!r}; the live channel is /api/v1/live"}
    assert ws_count(client, "other", 404) == before + 1


def test_an_allowed_origin_may_connect(settings: Settings) -> None:
    """Written in the setting as an operator might (capitals, a default port, a trailing
    slash: an operator's review found such an entry matched no page), as a browser sends
    it."""
    from app.main import create_app

    allowed = Settings(**{**settings.model_dump(), "models": ["max"],
                          "allowed_origins": "HTTPS://Class.Example:443/,http://b.example"})
    assert allowed.allowed_origins == ["https://class.example", "http://b.example"]
    with TestClient(create_app(allowed)) as other, \
            other.websocket_connect(LIVE + "?models=max",
                                    headers={"Origin": "https://class.example"}) as ws:
        ws.send_text("hello")
        assert json.loads(ws.receive_text())["status"] == 400


def test_origins_in_other_letters_or_long_ipv6_are_written_as_browsers_send_them(
        settings: Settings) -> None:
    """An API review: `http://bücher.example` or `http://[0:0:0:0:0:0:0:1]:8000` in the
    setting matched no page, as a browser sends `http://xn--bcher-kva.example` and
    `http://[::1]:8000` (UTS 46, as browsers apply it: ß stays, as xn--strae-oqa; ☃, which
    IDNA 2008 refuses, is taken, as browsers take it). One no browser could send, with a
    zone id or a control character, is refused at start-up (a review of this change)."""
    from app.main import create_app

    allowed = Settings(**{**settings.model_dump(), "models": ["max"], "allowed_origins": (
        "http://Bücher.Example,http://[0:0:0:0:0:0:0:1]:8000,https://straße.example,"
        "http://☃ß.net")})
    assert allowed.allowed_origins == ["http://xn--bcher-kva.example", "http://[::1]:8000",
                                       "https://xn--strae-oqa.example", "http://xn--zca921q.net"]
    for odd in ("http://[fe80::1%25eth0]", "http://a\x00ü.example"):
        with pytest.raises(ValueError, match="is no origin"):
            Settings(**{**settings.model_dump(), "allowed_origins": odd})
    with TestClient(create_app(allowed)) as other, \
            other.websocket_connect(LIVE + "?models=max",
                                    headers={"Origin": "http://xn--bcher-kva.example"}) as ws:
        ws.send_text("hello")
        assert json.loads(ws.receive_text())["status"] == 400


@pytest.mark.parametrize("headers", [{"Origin": "http://[zz::1]"},
                                     {"Origin": "http://testserver", "Host": "[zz::1]"},
                                     {"Origin": "http://[::1", "Host": "[::1"}])
def test_a_bracketed_host_that_is_no_address_is_refused_not_a_500(
        client: TestClient, headers: dict[str, str]) -> None:
    """Python's URL parser raises for a bracketed host that is no IPv6 address: such an
    Origin or Host made the handshake a 500."""
    with pytest.raises(WebSocketDenialResponse) as refused, \
            client.websocket_connect(LIVE, headers=headers):
        pass
    assert refused.value.status_code == 403
    assert refused.value.json()["detail"].startswith(f"origin {headers['Origin']!r} may not ")


@pytest.mark.parametrize(("host", "origin", "opens"), [
    ("testserver:443", "https://testserver", True),  # a proxy's Host $host:$server_port
    ("TestServer", "https://testserver", True),
    ("testserver", "https://testserver:443", True),
    ("testserver:8000", "http://testserver:8000", True),
    ("testserver:8000", "http://testserver", False),  # another port, another server
    ("testserver", "https://elsewhere.example", False),
    ("testserver:notaport", "https://testserver", False),
])
def test_the_pages_own_host_is_compared_by_name_and_port(
        client: TestClient, host: str, origin: str, opens: bool) -> None:
    """An operator's review: the origin was compared with Host as text, so `Host:
    a.example:443` or `A.EXAMPLE` refused a.example's own page, and the page fell back to
    POST. Host names in any case, and 80 or 443 as no port."""
    headers = {"Host": host, "Origin": origin}
    if opens:
        with client.websocket_connect(LIVE, headers=headers) as ws:
            ws.send_text("hello")
            assert json.loads(ws.receive_text())["status"] == 400
    else:
        with pytest.raises(WebSocketDenialResponse) as refused, \
                client.websocket_connect(LIVE, headers=headers):
            pass
        assert refused.value.status_code == 403


def gauge(client: TestClient, name: str) -> int:
    lines = [line for line in client.get("/metrics").text.splitlines()
             if line.startswith(name + "{")]
    assert len(lines) == 1, lines
    return int(lines[0].rsplit(" ", 1)[1])


def test_sockets_beyond_the_limit_are_refused_until_one_closes(settings: Settings) -> None:
    """Each open socket may hold a message up to the upload limit, outside the budget of
    request bodies (found by a review): FEATUREMAPS_MAX_SOCKETS bounds how many are open."""
    from app.main import create_app

    two = settings.model_copy(update={"max_sockets": 2, "models": ["max"]})
    with TestClient(create_app(two)) as c:
        assert gauge(c, "featuremaps_live_sockets_limit") == 2
        with c.websocket_connect(LIVE) as first, c.websocket_connect(LIVE) as second:
            assert gauge(c, "featuremaps_live_sockets") == 2
            with pytest.raises(WebSocketDenialResponse) as full, c.websocket_connect(LIVE):
                pass
            assert full.value.status_code == 503
            assert full.value.headers["retry-after"] == "10"
            assert full.value.json() == {"detail": (
                "the live channel is full: 2 sockets open on this worker "
                "(FEATUREMAPS_MAX_SOCKETS); send drawings to POST /api/v1/featuremaps "
                "meanwhile")}
            assert ws_count(c, LIVE, 503) == 1
            for ws in (first, second):  # both still served
                ws.send_text("hello")
                assert json.loads(ws.receive_text())["status"] == 400
        # closed, they give their places back; a bad query's socket too, once it is closed
        assert gauge(c, "featuremaps_live_sockets") == 0
        with c.websocket_connect(LIVE + "?models=nope") as bad:
            bad.receive_text()
            with pytest.raises(WebSocketDisconnect):
                bad.receive_text()
        with c.websocket_connect(LIVE) as again, c.websocket_connect(LIVE):
            again.send_text("hello")
            assert json.loads(again.receive_text())["status"] == 400
        assert gauge(c, "featuremaps_live_sockets") == 0


def test_messages_are_counted_in_the_metrics(
        client: TestClient, test_digit_pngs: dict[int, tuple[int, bytes]]) -> None:
    ok, bad = ws_count(client, LIVE, 200), ws_count(client, LIVE, 400)
    _, png = test_digit_pngs[0]
    with client.websocket_connect(LIVE) as ws:
        ws.send_bytes(png)
        ws.receive_bytes()
        ws.send_text("not a drawing")
        ws.receive_text()
    assert (ws_count(client, LIVE, 200), ws_count(client, LIVE, 400)) == (ok + 1, bad + 1)


def test_an_unexpected_error_is_a_500_message_then_a_close(
        client: TestClient, test_digit_pngs: dict[int, tuple[int, bytes]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from app.api.routes import live

    def broken(*args: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(live, "answer", broken)
    _, png = test_digit_pngs[0]
    with client.websocket_connect(LIVE) as ws:
        ws.send_bytes(png)
        assert json.loads(ws.receive_text()) == {"status": 500, "detail": "internal server error"}
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_bytes()
    assert closed.value.code == 1011
    monkeypatch.undo()
    with client.websocket_connect(LIVE) as ws:  # and the server goes on serving
        ws.send_bytes(png)
        assert wire.parse_binary(gzip.decompress(ws.receive_bytes()))["models"]


def test_a_busy_server_says_when_to_retry(
        client: TestClient, test_digit_pngs: dict[int, tuple[int, bytes]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from app.api.errors import Overloaded

    async def full(*args: object, **kwargs: object) -> None:
        raise Overloaded("server busy: 64 inferences already in flight; retry after the time "
                         "in Retry-After")

    monkeypatch.setattr(client.app.state.gate, "run", full)  # type: ignore[attr-defined]
    _, png = test_digit_pngs[0]
    with client.websocket_connect(LIVE) as ws:
        ws.send_bytes(png)
        # the wait in the message's own field, which the words name (an API review: they
        # named a header, which a message has none of)
        assert json.loads(ws.receive_text()) == {
            "status": 503, "detail": "server busy: 64 inferences already in flight; retry after "
                                     "the seconds in retry_after", "retry_after": 1}


def test_a_plain_get_is_told_to_use_a_websocket(client: TestClient) -> None:
    """A browser tab or curl on the socket's address gets a reason, not a bare 404; /docs
    carries the protocol, which OpenAPI cannot describe as an operation of its own."""
    r = client.get(LIVE)
    assert r.status_code == 426
    assert (r.headers["upgrade"], r.headers["connection"]) == ("websocket", "upgrade")
    assert r.json() == {"detail": "/api/v1/live is a WebSocket: connect with a WebSocket client "
                                  "(ws://<host>/api/v1/live), not a plain HTTP request; the "
                                  "protocol is at /docs"}
    described = client.get("/openapi.json").json()["paths"][LIVE]["get"]["description"]
    assert "send      one binary message per drawing" in described
    assert "close code 1008" in described


def test_a_server_without_denial_answers_gets_a_close_counted_as_its_403(
        client: TestClient) -> None:
    """Under an ASGI server that cannot answer a handshake with HTTP, the socket is closed
    (1008, which the server answers 403), and /metrics counts that 403, not the 404 the app
    could not send (found by a review)."""
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {"type": "websocket", "asgi": {"version": "3.0"}, "scheme": "ws", "path": "/nope",
             "raw_path": b"/nope", "root_path": "", "query_string": b"", "subprotocols": [],
             "headers": [(b"host", b"testserver")], "server": ("testserver", 80),
             "client": ("127.0.0.1", 50000)}  # and no "extensions"
    before = (ws_count(client, "other", 403), ws_count(client, "other", 404))
    run_async(client.app(scope, receive, send))  # type: ignore[arg-type]
    assert sent == [{"type": "websocket.close", "code": 1008, "reason": ""}]
    assert (ws_count(client, "other", 403), ws_count(client, "other", 404)) == \
        (before[0] + 1, before[1])


def test_uvicorn_logs_no_error_for_a_clients_mistake(settings: Settings,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    """uvicorn's default socket protocol logged "ASGI callable returned without completing
    handshake." at ERROR after each refusal it had sent, and a text frame of invalid UTF-8
    as an ERROR with a traceback: an alert on ERROR would fire at every stray socket. The
    first is dropped, the second is one WARNING line; uvicorn's own INFO lines stay."""
    import threading

    import uvicorn
    from websockets.exceptions import ConnectionClosedError, InvalidStatus
    from websockets.sync.client import connect

    from app.main import create_app
    from bench.common import free_port

    port = free_port()
    app = create_app(settings.model_copy(update={"models": ["max"]}))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run)
    with caplog.at_level(logging.INFO, logger="uvicorn.error"):
        thread.start()
        try:
            deadline = time.monotonic() + 60
            while not server.started:
                assert thread.is_alive() and time.monotonic() < deadline, "no server"
                time.sleep(0.05)
            for path, origin, code in [("/nope", None, 404),
                                       (LIVE, "https://elsewhere.example", 403)]:
                with pytest.raises(InvalidStatus) as refused:
                    connect(f"ws://127.0.0.1:{port}{path}", origin=origin,  # type: ignore[arg-type]
                            additional_headers={"X-Request-ID": f"refused-{code}"})
                assert refused.value.response.status_code == code
                # a handshake's answer carries the request id and the security headers, as
                # every HTTP answer does (found by a review: it had none)
                headers = refused.value.response.headers
                assert headers["x-request-id"] == f"refused-{code}"
                assert headers["x-content-type-options"] == "nosniff"
                assert headers["content-security-policy"].startswith("default-src 'self'")
            with connect(f"ws://127.0.0.1:{port}{LIVE}") as ws:
                assert ws.response is not None
                assert len(ws.response.headers["x-request-id"]) == 32  # one made for it
                assert ws.response.headers["x-frame-options"] == "DENY"
                ws.send(b"\xff\xfe not UTF-8", text=True)
                with pytest.raises(ConnectionClosedError) as closed:
                    ws.recv(timeout=10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1007
        finally:
            server.should_exit = True
            thread.join(30)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    warned = [r for r in caplog.records if r.levelno == logging.WARNING
              and r.name == "uvicorn.error"]
    assert [(r.getMessage(), r.exc_info) for r in warned] == [
        ("Invalid UTF-8 sequence received from client.", None)]
    assert "connection rejected (404 Not Found)" in caplog.text
    assert "connection rejected (403 Forbidden)" in caplog.text
