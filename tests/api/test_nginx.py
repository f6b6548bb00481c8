"""The nginx block of docs/production.md, run as written by Debian's nginx in front of a
real `featuremaps serve`: the page and its redirects under the prefix, uploads sent as
`curl --http2` sends them (with `Upgrade: h2c`), the live socket, and /metrics kept in.
Skipped where nginx is not installed (scripts/system-deps.sh installs it for `make test`)."""

from __future__ import annotations

import gzip
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.sync.client import connect
from websockets.typing import Origin

from app.api import wire
from tests.api.test_shutdown import free_port, start_server, stop

pytestmark = pytest.mark.slow

ROOT = Path(__file__).parents[2]
DOC = ROOT / "docs" / "production.md"
DIGITS = ROOT / "static" / "digits"


def documented_block() -> tuple[str, str]:
    """The block's lines for `http { }` and for `server { }`, as the doc gives them."""
    found = re.search(r"```nginx\n(.*?)```", DOC.read_text(), re.S)
    assert found, "docs/production.md has no nginx block"
    http, _, server = found.group(1).partition("# in server { }")
    assert server, "the block says what goes in server { }"
    return http, server


def raw_request(port: int, head: str, body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    """One request as its bytes, to say exactly which headers it carries; the status, the
    headers (names in lower case) and the body nginx answers with (its connection closed
    after)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(head.encode() + b"\r\n" + body)
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    top, _, rest = data.partition(b"\r\n\r\n")
    status_line, *lines = top.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines)
    return int(status_line.split()[1]), {k.lower(): v for k, v in headers.items()}, rest


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """nginx with the documented block on a free loopback port, the server behind it."""
    nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    if nginx is None:
        pytest.skip("nginx is not installed (scripts/system-deps.sh installs Debian's)")
    proc, url = start_server()
    upstream = url.rsplit(":", 1)[1]
    port = free_port()
    http, server = documented_block()
    # the doc's server address and port, here the test server's; its own lines unchanged
    server = server.replace("http://127.0.0.1:8000/", f"http://127.0.0.1:{upstream}/")
    assert f":{upstream}/" in server, "the block proxies to 127.0.0.1:8000"
    root = tmp_path_factory.mktemp("nginx")
    temps = " ".join(f"{kind}_temp_path {root / kind};" for kind in
                     ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    conf = root / "nginx.conf"
    conf.write_text(f"""
daemon off; worker_processes 1; pid {root / 'nginx.pid'}; error_log {root / 'error.log'};
events {{ worker_connections 64; }}
http {{
  access_log off; {temps}
  {http}
  server {{
    listen 127.0.0.1:{port};
    {server}
  }}
}}
""")
    front = subprocess.Popen([nginx, "-c", str(conf), "-p", str(root)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if front.poll() is not None or time.monotonic() > deadline:
                    err = front.stderr.read().decode() if front.stderr else ""
                    pytest.fail(f"nginx did not start: {err}")
                time.sleep(0.1)
        yield port
    finally:
        front.terminate()
        front.wait(timeout=10)
        if front.stderr is not None:
            front.stderr.close()
        stop(proc)


def upload_head(port: int, length: int, *extra: str) -> str:
    lines = ["POST /featuremaps/api/v1/featuremaps?models=max HTTP/1.1",
             f"Host: 127.0.0.1:{port}", "Content-Type: image/png",
             f"Content-Length: {length}", "Connection: close", *extra]
    return "".join(f"{line}\r\n" for line in lines)


def test_an_upload_sent_as_curl_http2_sends_it_is_answered_through_the_proxy(
        proxy: int) -> None:
    """`curl --http2` to an http:// address asks to upgrade to h2c; the server refuses an
    upload that asks (its body would be lost), so the block passes on no upgrade but a
    WebSocket's (found by a review: through the proxy, such an upload was answered 400)."""
    png = (DIGITS / "0000_label7.png").read_bytes()
    for extra in ((), ("Upgrade: h2c", "HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA")):
        status, _, body = raw_request(proxy, upload_head(proxy, len(png), *extra), png)
        assert status == 200, (extra, body[:200])
        assert b'"prediction":7' in body


def test_a_post_that_asks_for_a_websocket_is_still_refused_with_the_reason(
        proxy: int) -> None:
    png = (DIGITS / "0000_label7.png").read_bytes()
    status, _, body = raw_request(proxy, upload_head(
        proxy, len(png), "Upgrade: websocket", "Sec-WebSocket-Version: 13",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="), png)
    assert status == 400
    assert b"a WebSocket opens with GET" in body


def test_the_live_socket_and_the_page_work_under_the_prefix(proxy: int) -> None:
    base = f"127.0.0.1:{proxy}/featuremaps"
    with connect(f"ws://{base}/api/v1/live?models=max,avg",
                 origin=Origin(f"http://127.0.0.1:{proxy}")) as ws:
        ws.send((DIGITS / "0000_label7.png").read_bytes())
        message = ws.recv()
    assert isinstance(message, bytes)
    maps = wire.parse_binary(gzip.decompress(message))
    assert [m["prediction"] for m in maps["models"].values()] == [7, 7]
    get = "GET /featuremaps/{} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n"
    status, _, page = raw_request(proxy, get.format("", proxy))
    assert status == 200 and b"<title>featuremaps" in page
    # the server's own redirect comes back under the prefix, and /metrics stays inside
    status, headers, _ = raw_request(proxy, get.format("docs/", proxy))
    assert status == 307
    assert headers["location"] == f"http://127.0.0.1:{proxy}/featuremaps/docs"
    assert raw_request(proxy, get.format("metrics", proxy))[0] == 404
