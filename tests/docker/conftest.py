"""Fixtures of the Docker smoke test: the daemon, the image built once per session, the
in-process reference app, and a report (image size, build time) shown after the run and
saved to tests/artifacts/docker.json."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from app.config import PROJECT_ROOT, Settings
from tests.docker import dockerkit

ARTIFACT = PROJECT_ROOT / "tests" / "artifacts" / "docker.json"

# files a developer's working copy may hold inside the folders the image copies (outside
# them, the allow-list keeps everything out): .dockerignore's exclusions keep them out
PLANTED = ("app/.env", "app/.env.local", "static/.env.production", "app/planted.pem",
           "models/planted.key", "templates/planted.key",
           "app/__pycache__/planted.cpython-311.pyc")

# what the run measured; written out and shown in the terminal summary
REPORT: dict[str, Any] = {}


@pytest.fixture(scope="session")
def docker_daemon() -> Iterator[dockerkit.Docker]:
    if os.geteuid() != 0:
        pytest.fail("the Docker smoke test needs root (apt-get, dockerd, debootstrap)")
    started = time.monotonic()
    REPORT["_t0"] = started
    daemon = dockerkit.start_daemon()
    REPORT["daemon"] = "started by the test" if daemon.started_here else "already running"
    REPORT["daemon_start_s"] = round(time.monotonic() - started, 1)
    try:
        dockerkit.remove_stale_containers(daemon.docker)
        yield daemon.docker
    finally:
        daemon.stop()


@pytest.fixture(scope="session")
def built_image(docker_daemon: dockerkit.Docker) -> Iterator[dockerkit.Built]:
    """The image, built with the classic builder from a copy of the repository whose wheels/
    holds every wheel it needs, so the build itself needs no index."""
    started = time.monotonic()
    base, how = dockerkit.base_image(docker_daemon)
    REPORT["base_image"] = base
    REPORT["base_image_source"] = how
    REPORT["base_image_s"] = round(time.monotonic() - started, 1)

    work = Path(tempfile.mkdtemp(prefix="featuremaps-docker-ctx-"))
    try:
        ctx = work / "context"
        ctx.mkdir()
        dockerkit.copy_tracked_files(ctx)
        for name in PLANTED:  # what a working copy holds and the image must not
            (ctx / name).parent.mkdir(parents=True, exist_ok=True)
            (ctx / name).write_text("planted by the smoke test\n")
        started = time.monotonic()
        wheels = dockerkit.download_wheels(ctx)
        REPORT["wheels"] = len(wheels)
        REPORT["wheels_download_s"] = round(time.monotonic() - started, 1)

        started = time.monotonic()
        done = docker_daemon("build", "--network", "host", "--build-arg", f"BASE_IMAGE={base}",
                             "--build-arg", "PIP_NO_INDEX=1", "-t", dockerkit.IMAGE, str(ctx),
                             timeout=1800)
        REPORT["build_s"] = round(time.monotonic() - started, 1)
        log = done.stdout + done.stderr
        REPORT["build_steps_from_cache"] = log.count("Using cache")
        inspected = docker_daemon("image", "inspect", "--format", "{{.Size}}", dockerkit.IMAGE)
        size = int(inspected.stdout)
        REPORT["image"] = dockerkit.IMAGE
        REPORT["image_size_bytes"] = size
        REPORT["image_size_mb"] = round(size / 1e6)
        ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
        (ARTIFACT.parent / "docker-build.log").write_text(log)
        yield dockerkit.Built(docker_daemon, dockerkit.IMAGE, base, ctx, log)
    finally:
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="session")
def report() -> dict[str, Any]:
    """Numbers the tests measure, for the summary."""
    return REPORT


@pytest.fixture(scope="session")
def reference() -> Iterator[TestClient]:
    """The same app in this process, on the CPU, serving the shipped variants."""
    from app.main import create_app

    settings = Settings(device="cpu", models=dockerkit.shipped_variants(), access_log=False)
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture(scope="session")
def digits() -> list[tuple[str, int, bytes]]:
    """The real MNIST test digits the page offers: (file name, label, PNG)."""
    out = []
    for path in sorted((PROJECT_ROOT / "static" / "digits").glob("*.png")):
        out.append((path.name, int(path.stem.split("_label")[1]), path.read_bytes()))
    assert out, "no digits in static/digits"
    return out


def pytest_sessionfinish(session: pytest.Session) -> None:
    if "_t0" in REPORT:
        REPORT["smoke_test_total_s"] = round(time.monotonic() - REPORT.pop("_t0"), 1)
    if REPORT:
        ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
        ARTIFACT.write_text(json.dumps(REPORT, indent=2) + "\n")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not REPORT:
        return
    terminalreporter.section("docker image")
    for key, value in REPORT.items():
        terminalreporter.write_line(f"{key}: {value}")
    terminalreporter.write_line(f"(saved to {ARTIFACT.relative_to(PROJECT_ROOT)})")
