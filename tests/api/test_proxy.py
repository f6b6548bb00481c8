"""A real `featuremaps serve` behind a proxy: X-Forwarded-For and X-Forwarded-Proto count
only when FEATUREMAPS_FORWARDED_ALLOW_IPS names the proxy (here the test itself, on
loopback)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from typing import Any

import pytest

from app.config import PROJECT_ROOT
from bench.common import free_port, request_once

FORWARDED = {"X-Forwarded-For": "198.51.100.7", "X-Forwarded-Proto": "https"}


def behind_proxy(allow: str | None) -> tuple[str, list[dict[str, Any]]]:
    """A server started with FEATUREMAPS_FORWARDED_ALLOW_IPS=`allow` (unset: None) gets a
    proxied request for /api/v1/models/; returns the redirect's Location and the access
    log's lines."""
    port = free_port()
    env = {**os.environ, "FEATUREMAPS_DEVICE": "cpu", "FEATUREMAPS_MODELS": "max",
           "FEATUREMAPS_ACCESS_LOG": "true"}
    env.pop("FEATUREMAPS_FORWARDED_ALLOW_IPS", None)
    if allow is not None:
        env["FEATUREMAPS_FORWARDED_ALLOW_IPS"] = allow
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
                                env=env, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=log)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    request_once(port, "GET", "/healthz", b"", {})
                    break
                except OSError:
                    assert proc.poll() is None and time.monotonic() < deadline, "no server"
                    time.sleep(0.2)
            status, headers, _ = request_once(port, "GET", "/api/v1/models/", b"", FORWARDED)
            assert status == 307
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        log.seek(0)
        # the access log's lines are bare JSON, the rest `LEVEL name: message`
        lines = [json.loads(line) for line in log.read().decode().splitlines()
                 if line.startswith("{")]
    for line in lines:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", line.pop("ts"))
    return headers["location"], lines


@pytest.mark.slow
def test_forwarded_headers_count_only_from_a_named_proxy() -> None:
    location, lines = behind_proxy("127.0.0.1")
    # the redirect keeps the public scheme, and the log names the client, not the proxy
    assert location == "https://127.0.0.1/api/v1/models"
    assert [(line["path"], line["client"]) for line in lines] == [
        ("/healthz", "127.0.0.1"), ("/api/v1/models/", "198.51.100.7")]

    # by default, or from an address not named, they are the client's word and ignored
    for allow in (None, "10.0.0.0/8"):
        location, lines = behind_proxy(allow)
        assert location == "http://127.0.0.1/api/v1/models"
        assert [line["client"] for line in lines] == ["127.0.0.1", "127.0.0.1"]
