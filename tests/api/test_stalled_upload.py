"""A real `featuremaps serve`: an upload that stops short of its end is answered 408 after
FEATUREMAPS_BODY_TIMEOUT_S, its connection closed and its share of the budget of bodies
given back, and the server goes on serving."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx2 as httpx
import numpy as np
import pytest
from PIL import Image

from tests.api.test_shutdown import free_port

# one inference in flight: a budget of bodies of one upload limit (2 MiB)
BUDGET = 2 * 1024 * 1024


@pytest.fixture
def url() -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "FEATUREMAPS_DEVICE": "cpu", "FEATUREMAPS_MODELS": "max,avg",
           "FEATUREMAPS_ACCESS_LOG": "false", "FEATUREMAPS_MAX_INFLIGHT": "1",
           "FEATUREMAPS_BODY_TIMEOUT_S": "1.5"}
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail("server did not start")
                time.sleep(0.2)
        yield base
    finally:
        proc.kill()
        proc.wait()


def noise_png() -> bytes:
    """A 512x512 grey PNG of noise: about 260 kB, over the 64 KiB every body may send."""
    pixels = np.random.default_rng(0).integers(0, 256, (512, 512), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels, "L").save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.slow
def test_a_stalled_upload_gets_408_and_frees_the_budget(url: str) -> None:
    port = int(url.rsplit(":", 1)[1])
    sent = BUDGET - 100_000
    stall = socket.create_connection(("127.0.0.1", port), timeout=10)
    stall.sendall(b"POST /api/v1/featuremaps HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
                  b"Content-Length: %d\r\n\r\n" % BUDGET + bytes(sent))
    png = noise_png()
    assert len(png) > 200_000
    # once the stalled body is held, another upload would pass the budget
    deadline = time.monotonic() + 10
    while True:
        busy = httpx.post(f"{url}/api/v1/featuremaps", content=png,
                          headers={"Content-Type": "image/png"}, timeout=10)
        if busy.status_code == 503 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert busy.status_code == 503
    assert busy.json()["detail"].startswith(f"server busy: {sent:,} bytes of other request "
                                            "bodies are being read or held")
    # the stalled upload's answer, then the end of its connection
    answer = b""
    while chunk := stall.recv(65536):
        answer += chunk
    stall.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ")
    assert b"connection: close" in head.lower()
    assert json.loads(body) == {"detail": f"request body not received within 1.5 s: {sent:,} of "
                                          f"{BUDGET:,} bytes came; send it again, faster "
                                          "(FEATUREMAPS_BODY_TIMEOUT_S)"}
    # its share is back: the same upload is read and answered
    ok = httpx.post(f"{url}/api/v1/featuremaps", content=png,
                    headers={"Content-Type": "image/png"}, timeout=10)
    assert ok.status_code == 200, ok.text
    assert set(ok.json()["models"]) == {"max", "avg"}
