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


@pytest.fixture
def server() -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    env = {**os.environ, "FEATUREMAPS_DEVICE": "cpu", "FEATUREMAPS_MODELS": "max,avg",
           "FEATUREMAPS_ACCESS_LOG": "false"}
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("server did not start")
    yield proc, url
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_finishes_the_request_in_flight(
        server: tuple[subprocess.Popen[bytes], str], signum: int) -> None:
    """SIGHUP as SIGTERM: an operator's review found one server ended at once by SIGHUP,
    the request in flight cut off, where several workers stopped gracefully."""
    proc, url = server
    images = np.random.default_rng(0).integers(0, 256, (8_000, 28, 28), dtype=np.uint8)
    buf = io.BytesIO()
    np.save(buf, images)
    result: dict[str, object] = {}

    def slow_request() -> None:
        r = httpx.post(f"{url}/api/v1/featuremaps/batch?layers=conv3", content=buf.getvalue(),
                       timeout=120)
        result["status"] = r.status_code
        result["arrays"] = np.load(io.BytesIO(r.content))["max/conv3"].shape

    thread = threading.Thread(target=slow_request)
    thread.start()
    deadline = time.monotonic() + 30
    while "featuremaps_inferences_in_flight" not in result:
        metrics = httpx.get(f"{url}/metrics", timeout=5).text
        if any(line.startswith("featuremaps_inferences_in_flight") and line.endswith(" 1")
               for line in metrics.splitlines()):
            result["featuremaps_inferences_in_flight"] = 1
        assert time.monotonic() < deadline, "the batch request never started"
        time.sleep(0.05)
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
    port = free_port()
    env = {**os.environ, "FEATUREMAPS_DEVICE": "cpu", "FEATUREMAPS_MODELS": "max",
           "FEATUREMAPS_ACCESS_LOG": "false"}
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        proc.send_signal(signal.SIGHUP)
        time.sleep(1.0)
        assert proc.poll() is None
        assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == -signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.slow
def test_a_second_sighup_ends_one_server_at_once(
        server: tuple[subprocess.Popen[bytes], str]) -> None:
    """As a second signal ends several workers at once (app/serve.py), a second SIGHUP does
    not wait for the request in flight (a review of the first version: it waited)."""
    proc, url = server
    images = np.random.default_rng(1).integers(0, 256, (20_000, 28, 28), dtype=np.uint8)
    buf = io.BytesIO()
    np.save(buf, images)
    result: dict[str, object] = {}

    def long_request() -> None:
        try:
            r = httpx.post(f"{url}/api/v1/featuremaps/batch?layers=conv3",
                           content=buf.getvalue(), timeout=120)
            result["status"] = r.status_code
        except httpx.TransportError as exc:
            result["error"] = exc

    thread = threading.Thread(target=long_request)
    thread.start()
    deadline = time.monotonic() + 30
    while not any(line.startswith("featuremaps_inferences_in_flight") and line.endswith(" 1")
                  for line in httpx.get(f"{url}/metrics", timeout=5).text.splitlines()):
        assert time.monotonic() < deadline, "the batch request never started"
        time.sleep(0.05)
    proc.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    assert proc.poll() is None  # the first waits for the request
    proc.send_signal(signal.SIGHUP)
    assert proc.wait(timeout=10) == -signal.SIGHUP
    thread.join(timeout=30)
    assert result.get("status") != 200
