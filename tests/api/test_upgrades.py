"""A real `featuremaps serve`: requests that ask to switch protocols (app/upgrades.py).

Found by an API review, on uvicorn's own protocol: a POST with `Upgrade: websocket` was never
answered, and an upload with `Upgrade: h2c` (as `curl --http2` sends to an http:// address)
lost its body, which was then read as a request of its own."""

from __future__ import annotations

import contextlib
import gzip
import itertools
import json
import re
import select
import socket
import time
from collections.abc import Iterator

import httpx2 as httpx
import pytest
from websockets.sync.client import connect
from websockets.typing import Origin

from app.api import wire
from app.config import PROJECT_ROOT
from app.upgrades import refusal
from tests.api.test_shutdown import start_server, stop

PNG = (PROJECT_ROOT / "static" / "digits" / "0000_label7.png").read_bytes()  # a 7
H2C = (b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"  # as curl --http2 sends it
       b"HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n")


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    proc, base = start_server()
    yield base
    stop(proc)


def dial(url: str) -> socket.socket:
    """A connection to the server at `url`, whose reads give up after 10 s."""
    return socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=10)


def exchange(url: str, head: bytes, body: bytes = b"", pause: float = 0.0) -> bytes:
    """Everything the server sends back for `head` (its request line and headers, without
    the blank line) and `body`, sent `pause` seconds after the head, up to the connection's
    end, or what came within 10 s."""
    with dial(url) as s:
        s.sendall(head + b"\r\n")
        if pause:
            time.sleep(pause)
        s.sendall(body)
        got = b""
        try:
            while chunk := s.recv(65536):
                got += chunk
        except TimeoutError:
            got += b"<no more within 10 s>"
        except ConnectionResetError:
            got += b"<reset>"
    return got


def answers(data: bytes) -> list[tuple[int, bytes]]:
    """(status, body) of each response in `data`, by Content-Length."""
    out = []
    while data.startswith(b"HTTP/1.1 "):
        head, _, rest = data.partition(b"\r\n\r\n")
        length = int(next(line.split(b":", 1)[1] for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:")))
        out.append((int(head[9:12]), rest[:length]))
        data = rest[length:]
    assert data in (b"", b"<no more within 10 s>"), data[:200]
    return out


def post_head(length: int, upgrade: bytes) -> bytes:
    return (b"POST /api/v1/featuremaps?models=max HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: image/png\r\nContent-Length: %d\r\n" % length + upgrade)


@pytest.mark.parametrize("pause", [0.0, 0.0001, 0.3])
def test_an_upload_that_asks_for_h2c_is_refused_and_its_body_never_read_as_a_request(
        url: str, pause: float) -> None:
    # a body that is itself a request: it came back answered, 200, after a 400 "empty body"
    inner = b"GET /api/v1/models HTTP/1.1\r\nHost: x\r\n\r\n"
    got = exchange(url, post_head(len(inner), H2C), inner, pause)
    assert answers(got) == [(400, json.dumps({"detail": refusal("POST", "h2c")},
                                             separators=(",", ":")).encode())]
    assert b"connection: close" in got.lower()
    assert not got.endswith(b"<no more within 10 s>")  # closed, as it says, not held open
    assert refusal("POST", "h2c") == (
        "Upgrade: h2c is not served here (HTTP/1.1 only), and a request that asks for it loses "
        "its body: send it without Upgrade (curl: --http1.1, not --http2)")
    assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200


def head_of(got: bytes) -> dict[str, str]:
    """The headers of the one answer in `got`, by lower-case name."""
    head = got.partition(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")[1:]
    return {name.lower(): value.strip() for name, value in (line.split(":", 1) for line in head)}


def test_the_400s_answered_before_the_app_carry_what_every_answer_does(url: str) -> None:
    """Found by a docs review: the README says that every answer carries X-Request-ID and
    production.md that every response carries the security headers, but these 400s,
    written by the protocol below the app, had neither."""
    asked = b"X-Request-ID: from-the-client.1\r\n"
    for got in (exchange(url, post_head(len(PNG), H2C + asked), PNG),
                exchange(url, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + asked
                         + b"Content-Length: abc\r\n")):
        head = head_of(got)
        assert got.startswith(b"HTTP/1.1 400 ")
        assert head["x-request-id"] == "from-the-client.1"
        assert head["content-security-policy"].startswith("default-src 'self'; ")
        assert head["x-content-type-options"] == "nosniff"
        assert head["x-frame-options"] == "DENY"
        assert head["referrer-policy"] == "no-referrer"
    # an id the server makes where the client's is not one it echoes
    got = exchange(url, post_head(len(PNG), H2C + b"X-Request-ID: a b\r\n"), PNG)
    assert re.fullmatch(r"[0-9a-f]{32}", head_of(got)["x-request-id"])


def test_a_target_past_16_kib_is_a_414_that_says_so(url: str) -> None:
    """Found by an API review: a target over 65,535 bytes, which httptools cannot parse, was
    "not a valid HTTP/1.1 request: User callback error"."""
    long = b"GET /healthz?" + b"a" * 70_000 + b"=1 HTTP/1.1\r\nHost: x\r\n"
    got = exchange(url, long)
    assert answers(got) == [(414, json.dumps({"detail": (
        "the request's target (its path and query) is over 16 KiB: send the input in the "
        "body")}, separators=(",", ":")).encode())]
    assert head_of(got)["x-content-type-options"] == "nosniff"
    # at the limit, the app answers it
    query = b"/healthz?" + b"a" * (16 * 1024 - len(b"/healthz?") - 2) + b"=1"
    assert len(query) == 16 * 1024
    got = exchange(url, b"GET " + query + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n")
    assert [status for status, _ in answers(got)] == [400]
    assert b"unknown query parameter" in got
    assert httpx.get(f"{url}/healthz").status_code == 200


def read_all(s: socket.socket) -> bytes:
    """What the server sends on `s` up to the connection's end (or a reset, or 10 s)."""
    got = b""
    try:
        while chunk := s.recv(65536):
            got += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return got


def flooded(url: str, head: bytes, piece: bytes) -> tuple[int, bytes]:
    """`head`, then `piece` again and again, 4 MiB at most, in writes a reader sees apart,
    until an answer comes: (the bytes of pieces sent, what the server sent back)."""
    with dial(url) as s:
        s.sendall(head)
        sent = 0
        while sent < 4 * 1024 * 1024 and not select.select([s], [], [], 0)[0]:
            s.sendall(piece)
            sent += len(piece)
            time.sleep(0.001)
        return sent, read_all(s)


HEAD_431 = (431, json.dumps({"detail": (
    "the request's line and headers are over 64 KiB: send fewer or shorter ones")},
    separators=(",", ":")).encode())


@pytest.mark.parametrize("flood", ["one header that never ends", "header after header"])
def test_headers_past_64_kib_are_a_431_and_are_not_held(url: str, flood: str) -> None:
    """Found by an API review: uvicorn's httptools protocol bounds no head, and held all it
    was sent (84 MB for a 100 MB header). Past 64 KiB (its whole lines in the read it began
    in, then every read after) it is answered 431, and the connection read no further."""
    endless = flood == "one header that never ends"
    sent, got = flooded(url, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-ID: flood.1\r\n"
                        + (b"X-Big: " if endless else b""),
                        b"a" * 8192 if endless else b"X-A: 1\r\n" * 1024)
    # answered once 64 KiB past the first read (at most 256 KiB) were read: long before 4
    # MiB were sent (what the client sends is not what the server has read yet: the
    # kernel's buffers hold some)
    assert sent < 4 * 1024 * 1024, sent
    assert answers(got) == [HEAD_431]
    assert head_of(got)["x-request-id"] == "flood.1"
    assert httpx.get(f"{url}/healthz").status_code == 200


def head_of_size(size: int, start: bytes = b"GET /healthz", more: bytes = b"") -> bytes:
    """A request (`start`: its method and target) whose line and headers, with the blank
    line that ends them, are `size` bytes, written `Name:value` (the spaces a head may hold
    around a value are not counted: the parser leaves them out)."""
    head = (start + b" HTTP/1.1\r\nHost:x\r\nConnection:close\r\n" + more
            + b"X-Big:\r\n\r\n")
    return head.replace(b"X-Big:", b"X-Big:" + b"a" * (size - len(head)))


def send_in(s: socket.socket, data: bytes, cuts: list[int]) -> None:
    """`data` in writes a reader sees apart, cut at the offsets `cuts`."""
    for start, end in itertools.pairwise([0, *cuts, len(data)]):
        s.sendall(data[start:end])
        time.sleep(0.02)


@pytest.mark.parametrize("split", ["in one write", "in 8 KiB writes", "line, rest, last byte"])
def test_a_whole_head_is_measured_however_it_arrives(url: str, split: str) -> None:
    """Found by an API review: 100,000 bytes of headers sent in one write were served (the
    read a head began in was not counted), and 74,000 in writes of 8 KiB too. A head that
    ends is measured whole: one byte past 64 KiB is a 431, 64 KiB itself is served,
    however it is cut (a review of that change: the request line alone, then the rest but
    its last byte, then that byte, was refused at 64 KiB)."""
    for size, status in ((100_000, 431), (64 * 1024 + 1, 431), (64 * 1024, 200)):
        head = head_of_size(size)
        assert len(head) == size
        cuts = {"in one write": [],
                "in 8 KiB writes": list(range(8192, size, 8192)),
                "line, rest, last byte": [head.index(b"\r\n") + 2, size - 1]}[split]
        with dial(url) as s:
            send_in(s, head, cuts)
            got = read_all(s)
        if status == 431:
            assert answers(got) == [HEAD_431], size
        else:
            assert [code for code, _ in answers(got)] == [200], size
    assert httpx.get(f"{url}/healthz").status_code == 200


def test_a_head_of_64_kib_before_its_body_is_no_head_and_trailers_over(url: str) -> None:
    """A review found a POST whose head of 64 KiB came in two reads (its line, then the
    rest), its body in a third, told its "headers and trailers" were over 64 KiB."""
    body = json.dumps({"pixels": [[0] * 28] * 28}).encode()
    head = head_of_size(64 * 1024, b"POST /api/v1/featuremaps?models=max",
                        b"Content-Type:application/json\r\nContent-Length:%d\r\n" % len(body))
    with dial(url) as s:
        send_in(s, head + body, [head.index(b"\r\n") + 2, len(head)])
        got = read_all(s)
    assert [code for code, _ in answers(got)] == [200]


def test_a_target_past_the_limit_in_a_later_read_is_answered_once(url: str) -> None:
    """Found by a review: a target whose 16 KiB passed in a read of its own got its 414,
    then a 431 written after the connection's end; behind a request still being answered,
    the 431 alone."""
    shifts = (b"POST /api/v1/shifts HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
              b"Content-Length: %d\r\n\r\n" % len(PNG) + PNG)  # a quarter of a second
    with dial(url) as s:
        s.sendall(shifts + b"GET /healthz?")
        time.sleep(0.05)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            s.sendall(b"a" * 100_000)
        got = read_all(s)
    assert [status for status, _ in answers(got)] == [200, 414]
    assert httpx.get(f"{url}/healthz").status_code == 200


def test_trailers_past_64_kib_are_a_431(url: str) -> None:
    """Found by a review: a chunked body's trailers, which httptools reads as headers after
    the body, were held without bound (100 MB a second)."""
    sent, got = flooded(url, b"POST /api/v1/featuremaps HTTP/1.1\r\nHost: x\r\n"
                        b"Content-Type: image/png\r\nTransfer-Encoding: chunked\r\n\r\n"
                        + b"%x\r\n" % len(PNG) + PNG + b"\r\n0\r\n", b"X-T: 1\r\n" * 1024)
    assert sent < 4 * 1024 * 1024, sent  # answered: no more was read (as above)
    assert answers(got) == [(431, json.dumps({"detail": (
        "the request's headers and trailers are over 64 KiB: send fewer or shorter ones")},
        separators=(",", ":")).encode())]
    assert httpx.get(f"{url}/healthz").status_code == 200


def test_trailers_past_64_kib_in_the_read_that_ends_the_body_are_a_431(url: str) -> None:
    """Found by a robustness review: trailers of 66 to 150 KB sent in one write with the
    body's end were served, as a read that carried some of the body was not counted."""
    head = (b"POST /api/v1/featuremaps HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
    for size, status in ((66_000, 431), (150_000, 431), (60_000, 200)):
        with dial(url) as s:
            s.sendall(head + b"%x\r\n" % len(PNG) + PNG + b"\r\n0\r\n"
                      + b"X-T: " + b"a" * size + b"\r\n\r\n")
            got = read_all(s)
        assert [status for status, _ in answers(got)] == [status], size
    assert httpx.get(f"{url}/healthz").status_code == 200


def test_a_head_just_under_64_kib_with_its_chunked_bodys_end_sent_apart_is_served(
        url: str) -> None:
    """A review of the change above: the read holding only a chunked body's end, 5 bytes,
    was counted with the head, and one a few bytes under the limit became a 431."""
    pixels = json.dumps({"pixels": [[0] * 28] * 28}).encode()
    line = b"POST /api/v1/featuremaps?models=max HTTP/1.1\r\n"
    fixed = [b"Host: x", b"Content-Type: application/json", b"Transfer-Encoding: chunked",
             b"Connection: close"]
    # the head as counted: each header `Name:value` and CRLF, then the blank line
    size = len(line) + sum(len(h.replace(b": ", b":")) + 2 for h in fixed) + 2
    pad = 64 * 1024 - 2 - size - len(b"X-Pad:\r\n")
    head = line + b"".join(h + b"\r\n" for h in fixed) + b"X-Pad:" + b"p" * pad + b"\r\n\r\n"
    with dial(url) as s:
        s.sendall(head + b"%x\r\n" % len(pixels) + pixels + b"\r\n")
        time.sleep(0.2)
        s.sendall(b"0\r\n\r\n")
        got = read_all(s)
    assert [status for status, _ in answers(got)] == [200]


def test_a_chunked_upload_in_small_chunks_is_served(url: str) -> None:
    """The trailers' count takes only reads that carry none of the body: an upload of 96 KiB
    in chunks of 64 bytes, each written apart, is no head past its limit."""
    pixels = json.dumps({"pixels": [[0] * 28] * 28}).encode()
    body = pixels + b" " * (96 * 1024 - len(pixels))  # JSON may end in white space
    with dial(url) as s:
        s.sendall(b"POST /api/v1/featuremaps?models=max HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
                  b"Connection: close\r\n\r\n")
        for start in range(0, len(body), 64):
            s.sendall(b"40\r\n" + body[start:start + 64] + b"\r\n")
            time.sleep(0.0005)
        s.sendall(b"0\r\n\r\n")
        got = read_all(s)
    assert [status for status, _ in answers(got)] == [200]


def test_a_head_of_40_kib_is_served(url: str) -> None:
    with dial(url) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n")
        for _ in range(40):
            s.sendall(b"X-Pad: " + b"b" * 1014 + b"\r\n")
            time.sleep(0.001)
        s.sendall(b"\r\n")
        got = read_all(s)
    assert [status for status, _ in answers(got)] == [200]


def test_a_refused_upload_is_answered_whole_however_its_body_comes(url: str) -> None:
    """Found by a review: closed with its body unread, the connection was reset, and a
    client could lose the answer (35 of 60 with the body 50 us after the head). The body is
    read and dropped for a moment before the connection closes."""
    for _ in range(20):
        got = exchange(url, post_head(len(PNG), H2C), PNG, pause=0.0001)
        assert [status for status, _ in answers(got)] == [400], got[-40:]


def test_a_refused_upload_is_answered_after_the_requests_before_it(url: str) -> None:
    """Found by a review: the 400 was written at once, ahead of the answer to a request
    before it on the connection, whose answer was then lost."""
    good = post_head(len(PNG), b"") + b"\r\n" + PNG
    got = exchange(url, good + post_head(len(PNG), H2C), PNG)
    assert [status for status, _ in answers(got)] == [200, 400]


def test_a_post_that_asks_for_a_websocket_is_answered(url: str) -> None:
    got = exchange(url, post_head(len(PNG), b"Connection: Upgrade\r\nUpgrade: websocket\r\n"), PNG)
    assert answers(got) == [(400, json.dumps({"detail": refusal("POST", "websocket")},
                                             separators=(",", ":")).encode())]
    assert refusal("POST", "websocket") == (
        "a WebSocket opens with GET (GET /api/v1/live), not POST: send the POST without "
        "Connection: Upgrade and Upgrade: websocket")


def test_a_request_without_a_body_is_served_its_upgrade_ignored(url: str) -> None:
    """And its connection closed once it is answered: the parser reads nothing after it,
    and a request that followed went unanswered until the connection timed out (a review)."""
    then = b"\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n"
    got = exchange(url, b"GET /api/v1/models HTTP/1.1\r\nHost: x\r\n" + H2C + then)
    [(status, body)] = answers(got)
    assert status == 200 and json.loads(body)["models"][0]["name"] == "max"
    assert b"connection: close" in got.lower()
    # and the connection's end, not a wait: answers() lets a connection held open pass
    assert not got.endswith(b"<no more within 10 s>")


def test_the_live_socket_still_opens_with_get(url: str) -> None:
    host = url.removeprefix("http://")
    with connect(f"ws://{host}/api/v1/live?models=max", origin=Origin(url), open_timeout=10) as ws:
        ws.send(PNG)
        message = ws.recv(timeout=10)
    assert isinstance(message, bytes)
    assert wire.parse_binary(gzip.decompress(message))["models"]["max"]["prediction"] == 7



WS_HEAD = (b"GET /api/v1/live HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
           b"Upgrade: websocket\r\nX-Request-ID: ws.1\r\n")
WS_KEY = b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"


@pytest.mark.parametrize(("head", "status", "detail"), [
    (WS_HEAD + WS_KEY + b"Sec-WebSocket-Version: 8\r\n", 426,
     "Sec-WebSocket-Version 8: this server speaks WebSocket version 13 (RFC 6455)"),
    (WS_HEAD + WS_KEY, 426,
     "no Sec-WebSocket-Version: this server speaks WebSocket version 13 (RFC 6455)"),
    (WS_HEAD + b"Sec-WebSocket-Key: c2hvcnQ=\r\nSec-WebSocket-Version: 13\r\n", 400,
     "a WebSocket's handshake needs a Sec-WebSocket-Key of 16 random bytes in base64 "
     "(RFC 6455)"),
    (WS_HEAD + b"Sec-WebSocket-Version: 13\r\n", 400,
     "a WebSocket's handshake needs a Sec-WebSocket-Key of 16 random bytes in base64 "
     "(RFC 6455)"),
    (WS_HEAD.replace(b"HTTP/1.1", b"HTTP/1.0") + WS_KEY + b"Sec-WebSocket-Version: 13\r\n",
     400, "a WebSocket opens over HTTP/1.1, not HTTP/1.0"),
    # given twice, which the WebSocket protocol answered in plain text (a review)
    (WS_HEAD + WS_KEY + WS_KEY + b"Sec-WebSocket-Version: 13\r\n", 400,
     "Sec-WebSocket-Key is given more than once: a WebSocket's handshake gives it once"),
    (WS_HEAD + WS_KEY + b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Version: 13\r\n", 400,
     "Sec-WebSocket-Version is given more than once: a WebSocket's handshake gives it once"),
    # a later review: these three were plain text too
    (WS_HEAD + WS_KEY + b"Sec-WebSocket-Version: 13\r\nOrigin: http://x\r\nOrigin: http://x\r\n",
     400, "Origin is given more than once: a WebSocket's handshake gives it once"),
    (WS_HEAD + WS_KEY + b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ,,, a b\r\n", 400,
     "the WebSocket handshake was refused: invalid Sec-WebSocket-Protocol header: expected "
     "comma at 6 in ,,, a b"),
    (WS_HEAD + WS_KEY + b"Sec-WebSocket-Version: 13\r\nUpgrade: websocket\r\n", 426,
     "the WebSocket handshake was refused: invalid Upgrade header: websocket, websocket"),
    (WS_HEAD + WS_KEY + b"Sec-WebSocket-Version: 13\r\nContent-Length: 5\r\n", 400,
     "a WebSocket's handshake is a GET without a body: send it without Content-Length or "
     "Transfer-Encoding"),
])
def test_a_websocket_handshake_that_cannot_open_one_gets_a_json_detail(
        url: str, head: bytes, status: int, detail: str) -> None:
    """Found by an API review: uvicorn's WebSocket protocol answered these in plain text,
    without the request id and security headers every answer carries, and opened a socket
    for a handshake over HTTP/1.0. A wrong version gets 426 and the version spoken."""
    got = exchange(url, head)
    assert answers(got) == [(status, json.dumps({"detail": detail},
                                                separators=(",", ":")).encode())]
    said = head_of(got)
    assert said["x-request-id"] == "ws.1" and said["x-frame-options"] == "DENY"
    assert said["content-type"] == "application/json"
    speaks = "speaks WebSocket version 13" in detail  # a version but 13
    assert said.get("sec-websocket-version") == ("13" if speaks else None)
    # a 426 names the protocol to switch to, as RFC 9110 asks (an API review: it had none),
    # in Connection too, on the one line that says the connection closes (a review: two)
    assert said.get("upgrade") == ("websocket" if status == 426 else None)
    connection = [line for line in got.lower().split(b"\r\n") if line.startswith(b"connection:")]
    assert connection == [b"connection: upgrade, close" if status == 426 else b"connection: close"]
    assert httpx.get(f"{url}/healthz").status_code == 200


def test_a_handshake_with_long_lines_and_many_headers_opens(url: str) -> None:
    """Found by an API review: a handshake with a line over 8 KiB (a browser's large Cookie,
    a long address) or over 128 headers, which the HTTP side takes, was refused by
    websockets' own limits into a buffer never written: no answer, the connection held.
    Within the HTTP side's limits (64 KiB of head, a 16 KiB target), it opens."""
    host = url.removeprefix("http://")
    many = [(f"X-Extra-{i}", "a") for i in range(200)]
    with connect(f"ws://{host}/api/v1/live?models=max", origin=Origin(url), open_timeout=10,
                 additional_headers=[("Cookie", "c=" + "a" * 9000), *many]) as ws:
        ws.send(PNG)
        message = ws.recv(timeout=10)
    assert isinstance(message, bytes)
    assert wire.parse_binary(gzip.decompress(message))["models"]["max"]["prediction"] == 7
    # a target of 12 KiB reaches the app, which names the unknown model
    with dial(url) as s:
        s.sendall(WS_HEAD.replace(b"/api/v1/live", b"/api/v1/live?models=" + b"m" * 12000)
                  + WS_KEY + b"Sec-WebSocket-Version: 13\r\n\r\n")
        got = b""
        while b"unknown model" not in got and (chunk := s.recv(65536)):
            got += chunk
    assert got.startswith(b"HTTP/1.1 101 ") and b"unknown model 'mmm" in got


@contextlib.contextmanager
def ws_protocol() -> Iterator[tuple[object, object]]:
    """A JsonWebSocket on a stand-in transport, its connection made, as uvicorn's HTTP side
    hands it a handshake: (protocol, transport)."""
    import asyncio
    from unittest import mock

    import uvicorn
    from uvicorn.server import ServerState

    from app.upgrades import JsonWebSocket

    async def app(scope: dict, receive: object, send: object) -> None:  # type: ignore[type-arg]
        raise AssertionError("never reached")

    config = uvicorn.Config(app, log_level="critical", lifespan="off")
    config.load()
    loop = asyncio.new_event_loop()
    try:
        protocol = JsonWebSocket(config, ServerState(), {}, _loop=loop)
        transport = mock.Mock()
        transport.get_extra_info.return_value = None
        protocol.connection_made(transport)
        yield protocol, transport
    finally:
        loop.close()


def written(transport: object) -> bytes:
    return b"".join(call.args[0] for call in transport.write.call_args_list)  # type: ignore[attr-defined]


@pytest.mark.parametrize(("extra", "status", "detail"), [
    (b"X-Long: " + b"a" * 200 + b"\r\n", 431,
     "read 210 bytes, expected no more than 100 bytes"),
    # what handshake_problem refuses first on the wire, with words of its own
    (b"Content-Length: 5\r\n", 400,
     "did not receive a valid HTTP request: unsupported request body"),
])
def test_a_head_websockets_refuses_as_it_parses_is_answered_json_and_closed(
        monkeypatch: pytest.MonkeyPatch, extra: bytes, status: int, detail: str) -> None:
    """What the HTTP side keeps from the wire, should websockets refuse a head as it parses
    it: its answer (or, for a head it cannot read, its end alone) was left in a buffer
    uvicorn never writes, and the client waited. Here its line limit is lowered under a
    header's length, and a GET with a body is handed to it."""
    from websockets import http11

    monkeypatch.setattr(http11, "MAX_LINE_LENGTH", 100)
    with ws_protocol() as (protocol, transport):
        protocol.data_received(  # type: ignore[attr-defined]
            WS_HEAD + WS_KEY + b"Sec-WebSocket-Version: 13\r\n" + extra + b"\r\n")
    got = written(transport)
    assert answers(got) == [(status, json.dumps(
        {"detail": f"the WebSocket handshake was refused: {detail}"},
        separators=(",", ":")).encode())]
    assert head_of(got)["x-request-id"] != "ws.1"  # the head was never read
    transport.close.assert_called_once()  # type: ignore[attr-defined]


def test_an_app_that_raises_in_a_handshake_gets_the_500_every_bug_gets() -> None:
    """uvicorn answers an app that raised before it accepted (and logs the traceback) with
    websockets' reject, which the review of JsonWebSocket found said "the WebSocket
    handshake was refused: Internal Server Error", and logged a refusal as well."""
    with ws_protocol() as (protocol, transport):
        protocol.send_500_response()  # type: ignore[attr-defined]
    assert answers(written(transport)) == [(500, b'{"detail":"internal server error"}')]


def test_an_empty_body_written_00_is_no_body_and_a_connect_is_named(url: str) -> None:
    """Found by a review: Content-Length: 00 was taken for a body, and a CONNECT, which names
    no upgrade, was told "Upgrade:  is not served"."""
    got = exchange(url, b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 00\r\n" + H2C)
    assert [status for status, _ in answers(got)] == [200]
    assert refusal("CONNECT", "") == (
        "CONNECT is not served here (HTTP/1.1 only), and a request that asks for it loses its "
        "body: send it without Upgrade (curl: --http1.1, not --http2)")


@pytest.mark.parametrize(("head", "reason"), [
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n",
     "Invalid character in Content-Length"),
    (b"GET /healthz HTTP/1.1\r\nHost: x\x01y\r\n", "Invalid header value char"),
    (b"G@T /healthz HTTP/1.1\r\nHost: x\r\n", "Invalid method encountered"),
])
def test_bytes_that_are_not_http_get_a_json_400_that_says_why(url: str, head: bytes,
                                                              reason: str) -> None:
    """Found by an API review: uvicorn answered these itself with a plain-text "Invalid HTTP
    request received.", the one 4xx without a JSON detail, and saying nothing of why."""
    got = exchange(url, head)
    assert got.startswith(b"HTTP/1.1 400 ") and b"content-type: application/json" in got.lower()
    assert answers(got) == [(400, json.dumps(
        {"detail": f"not a valid HTTP/1.1 request: {reason}"}, separators=(",", ":")).encode())]
    assert httpx.get(f"{url}/healthz").status_code == 200  # and the server serves on


def test_an_upload_over_the_limit_sent_whole_before_reading_gets_its_413(url: str) -> None:
    """Found by an API review: Python's urllib sends the whole body before it reads the
    answer, and the 413 for a body declared over the upload limit (2 MiB here) was lost to
    "Connection reset by peer": the server closed with the body unread. The rest of the
    body is read and dropped for a moment before the connection closes."""
    size = 5_000_000
    head = (b"POST /api/v1/featuremaps HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
            b"Content-Length: %d\r\n\r\n" % size)
    for _ in range(5):
        with dial(url) as s:
            s.sendall(head)
            s.sendall(PNG[:8] + bytes(size - 8))  # as urllib does: all of it, then read
            got = b""
            while chunk := s.recv(65536):
                got += chunk
        [(status, body)] = answers(got)
        assert status == 413
        assert json.loads(body)["detail"].startswith(
            "request body over the upload limit of 2,097,152 bytes")


def test_a_request_in_line_after_a_closing_answer_is_not_started() -> None:
    """Found by a diff review: an answer that closes the connection (here the 500 of an app
    that raised) while the next request in line is still sending its body left the
    connection open to drop that body, and uvicorn then ran the next request and wrote its
    answer after the end. What was read after a closing answer is never started."""
    import threading

    import uvicorn

    from app.upgrades import UpgradeSafeHttp

    seen: list[str] = []

    async def app(scope: dict, receive: object, send: object) -> None:  # type: ignore[type-arg]
        if scope["type"] == "http":
            seen.append(scope["path"])
            raise RuntimeError("an app's bug, answered 500")

    config = uvicorn.Config(app, host="127.0.0.1", port=0, http=UpgradeSafeHttp,
                            log_level="critical", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"GET /first HTTP/1.1\r\nHost: x\r\n\r\n"
                      b"POST /second HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nabc")
            got = b""
            while chunk := s.recv(65536):
                got += chunk
        time.sleep(0.3)  # were /second started, it would be by now
        assert seen == ["/first"]
        assert got.count(b"HTTP/1.1 ") == 1 and got.startswith(b"HTTP/1.1 500 ")
    finally:
        server.should_exit = True
        thread.join(10)


def refused_counts(url: str) -> dict[tuple[str, str], int]:
    """featuremaps_refused_total by (kind, status), from the server's /metrics."""
    found = re.findall(r'featuremaps_refused_total\{pid="\d+",kind="(\w+)",status="(\d+)"\} (\d+)',
                       httpx.get(f"{url}/metrics").text)
    return {(kind, status): int(n) for kind, status, n in found}


def test_refusals_below_the_app_are_counted_in_metrics(url: str) -> None:
    """Found by an operator's review: the 400s, 414s and 431s the server's own protocols write,
    and the handshakes they refuse, left /metrics as it was, so a flood of them was not
    seen. The app's own refusals are counted where they were, and not here."""
    before = refused_counts(url)
    exchange(url, b"G@T /healthz HTTP/1.1\r\nHost: x\r\n")  # not HTTP
    exchange(url, b"GET /" + b"a" * (17 * 1024) + b" HTTP/1.1\r\nHost: x\r\n")  # 414
    exchange(url, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-A: 1\r\n" * 20_000)  # 431
    # a handshake without its Host, handshake_problem's refusals, then websockets' own
    exchange(url, b"GET /api/v1/live HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
             + WS_KEY + b"Sec-WebSocket-Version: 13\r\n")
    exchange(url, WS_HEAD + WS_KEY + b"Sec-WebSocket-Version: 13\r\nContent-Length: 5\r\n")
    exchange(url, WS_HEAD + WS_KEY + b"Sec-WebSocket-Version: 13\r\n"
             b"Sec-WebSocket-Protocol: ,,, a b\r\n")
    exchange(url, WS_HEAD + WS_KEY + b"Sec-WebSocket-Version: 13\r\nUpgrade: websocket\r\n")
    # the app's refusal of an origin it does not serve: its route's, in requests_total
    got = exchange(url, WS_HEAD + WS_KEY + b"Sec-WebSocket-Version: 13\r\n"
                   b"Origin: http://elsewhere.example\r\n")
    assert got.startswith(b"HTTP/1.1 403 ")
    after = refused_counts(url)
    grown = {key: n - before.get(key, 0) for key, n in after.items() if n != before.get(key, 0)}
    assert grown == {("http", "400"): 1, ("http", "414"): 1, ("http", "431"): 1,
                     ("websocket", "400"): 3, ("websocket", "426"): 1}


@pytest.mark.parametrize(("head", "detail"), [
    (b"GET /healthz HTTP/1.1\r\n", "a request over HTTP/1.1 names its Host (RFC 9112): this "
                                   "one names none"),
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\nHost: y\r\n", "the request names its Host twice: "
                                                          "name it once"),
    (b"GET /healthz HTTP/1.0\r\nHost: x\r\nHost: x\r\nHost: x\r\n",
     "the request names its Host 3 times: name it once"),
    (b"POST /api/v1/featuremaps HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
     b"Content-Type: application/json\r\nContent-Length: 2\r\n",
     "Content-Type is given twice: give it once, the type of the body"),
])
def test_a_head_without_its_host_or_with_two_types_is_a_400(url: str, head: bytes,
                                                            detail: str) -> None:
    """Found by an API review: a request over HTTP/1.1 with no Host, or with two, was
    served, where RFC 9112 has a server answer 400; and of two Content-Types the first was
    read, unsaid."""
    got = exchange(url, head, b"{}" if b"Content-Length: 2" in head else b"")
    assert answers(got) == [(400, json.dumps({"detail": detail}, separators=(",", ":")).encode())]
    assert httpx.get(f"{url}/healthz").status_code == 200
    # HTTP/1.0 may leave it out
    assert answers(exchange(url, b"GET /healthz HTTP/1.0\r\n"))[0][0] == 200
