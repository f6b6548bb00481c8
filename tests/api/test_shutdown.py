"""A real `featuremaps serve`: SIGTERM lets the request in flight finish, then it exits."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import httpx2 as httpx
import numpy as np
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_server(nohup: bool = False) -> tuple[subprocess.Popen[bytes], str]:
    """A real `featuremaps serve` on a free port, once it answers /healthz; `nohup`: started
    with SIGHUP ignored, as nohup starts a command."""
    port = free_port()
    env = {**os.environ, "FEATUREMAPS_DEVICE": "cpu", "FEATUREMAPS_MODELS": "max,avg",
           "FEATUREMAPS_ACCESS_LOG": "false"}
    ignore = (lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN)) if nohup else None
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            preexec_fn=ignore)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.2)
    stop(proc)
    pytest.fail("server did not start")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


@pytest.fixture
def server() -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    proc, url = start_server()
    yield proc, url
    stop(proc)


def batch_in_flight(url: str, images: int, result: dict[str, object]) -> threading.Thread:
    """A batch of `images` random images posted on a thread of its own, returned once the
    server runs it; `result` gets its status and max/conv3's shape, or the error that ended
    it."""
    digits = np.random.default_rng(images).integers(0, 256, (images, 28, 28), dtype=np.uint8)
    buf = io.BytesIO()
    np.save(buf, digits)

    def post() -> None:
        try:
            r = httpx.post(f"{url}/api/v1/featuremaps/batch?layers=conv3",
                           content=buf.getvalue(), timeout=120)
        except httpx.TransportError as exc:
            result["error"] = exc
            return
        result["status"] = r.status_code
        if r.status_code == 200:
            result["arrays"] = np.load(io.BytesIO(r.content))["max/conv3"].shape

    thread = threading.Thread(target=post)
    thread.start()
    deadline = time.monotonic() + 30
    while not any(line.startswith("featuremaps_inferences_in_flight") and line.endswith(" 1")
                  for line in httpx.get(f"{url}/metrics", timeout=5).text.splitlines()):
        assert time.monotonic() < deadline, "the batch request never started"
        time.sleep(0.05)
    return thread


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_finishes_the_request_in_flight(
        server: tuple[subprocess.Popen[bytes], str], signum: int) -> None:
    """SIGHUP as SIGTERM: an operator's review found one server ended at once by SIGHUP,
    the request in flight cut off, where several workers stopped gracefully."""
    proc, url = server
    result: dict[str, object] = {}
    thread = batch_in_flight(url, 8_000, result)
    proc.send_signal(signum)
    thread.join(timeout=120)
    assert result["status"] == 200
    assert result["arrays"] == (8_000, 64, 3, 3)
    # uvicorn shuts down cleanly, then re-raises the signal so supervisors see the usual
    # "terminated by SIGTERM" (or SIGHUP) status
    assert proc.wait(timeout=60) == -signum
    assert proc.stdout is not None
    log = proc.stdout.read().decode()
    assert "Application shutdown complete" in log and "Finished server process" in log
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{url}/healthz", timeout=1)


@pytest.mark.slow
def test_one_server_under_nohup_keeps_serving_through_a_sighup() -> None:
    """nohup sets SIGHUP to be ignored: a closed terminal must not stop the server, as it
    does not stop several workers (tests/api/test_workers.py)."""
    proc, url = start_server(nohup=True)
    try:
        proc.send_signal(signal.SIGHUP)
        time.sleep(1.0)
        assert proc.poll() is None
        assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == -signal.SIGTERM
    finally:
        stop(proc)


@pytest.mark.slow
def test_a_second_sighup_ends_one_server_at_once(
        server: tuple[subprocess.Popen[bytes], str]) -> None:
    """As a second signal ends several workers at once (app/serve.py), a second SIGHUP does
    not wait for the request in flight (a review of the first version: it waited)."""
    proc, url = server
    result: dict[str, object] = {}
    thread = batch_in_flight(url, 20_000, result)
    proc.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    assert proc.poll() is None  # the first waits for the request
    proc.send_signal(signal.SIGHUP)
    assert proc.wait(timeout=10) == -signal.SIGHUP
    thread.join(timeout=30)
    assert result.get("status") != 200
