"""Smoke test of the Docker image: build it (classic builder, offline wheels), run it, and
check that it serves what the app serves in-process, as non-root, also read-only.

Run with `make test-docker` (root; installs docker.io and debootstrap when missing)."""

from __future__ import annotations

import gzip
import json
import re
import time
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
import torch
from starlette.testclient import TestClient

from tests.docker import dockerkit

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def server(built_image: dockerkit.Built, report: dict[str, Any]) -> Iterator[dockerkit.Container]:
    """The image as users run it (plus a quick health-check interval, to see it turn
    healthy without waiting 30 s)."""
    with dockerkit.container(built_image.docker, built_image.image,
                             "--health-interval=2s") as running:
        started = time.monotonic()
        running.wait_healthz()
        report["startup_to_healthz_s"] = round(time.monotonic() - started, 1)
        yield running


def post_png(url: str, png: bytes) -> Any:
    status, ctype, body = dockerkit.fetch("POST", f"{url}/api/v1/featuremaps", png,
                                         {"Content-Type": "image/png"})
    assert status == 200, body[:500]
    assert ctype.startswith("application/json")
    return json.loads(body)


def test_healthz_on_the_cpu_with_the_shipped_models(server: dockerkit.Container) -> None:
    health = server.wait_healthz(timeout=10)
    assert health["status"] == "ok"
    assert health["device"] == "cpu"
    assert health["models"] == dockerkit.shipped_variants()


def test_featuremaps_equal_the_in_process_app(
        server: dockerkit.Container, reference: TestClient,
        digits: list[tuple[str, int, bytes]]) -> None:
    """Every real digit, raw PNG body: prediction, probabilities and every layer's maps,
    low and high are identical to what the same code gives outside the container."""
    for name, _, png in digits:
        got = post_png(server.url, png)
        want = reference.post("/api/v1/featuremaps", content=png,
                              headers={"Content-Type": "image/png"})
        assert want.status_code == 200, want.text
        expected = want.json()
        assert list(got["models"]) == ["max", "avg"], name  # the endpoint's default
        for variant, net in expected["models"].items():
            served = got["models"][variant]
            assert net["layers"] and len(net["probabilities"]) == 10, (name, variant)
            assert served["prediction"] == net["prediction"], (name, variant)
            assert served["probabilities"] == net["probabilities"], (name, variant)
            assert [la["name"] for la in served["layers"]] == [la["name"] for la in net["layers"]]
            for mine, theirs in zip(served["layers"], net["layers"], strict=True):
                for key in ("kind", "shape", "encoding", "low", "high", "data"):
                    assert mine[key] == theirs[key], (name, variant, mine["name"], key)
        assert got == expected, name


def test_the_live_socket_answers_as_the_in_process_app(
        server: dockerkit.Container, reference: TestClient,
        digits: list[tuple[str, int, bytes]]) -> None:
    """The page draws over WS /api/v1/live: the image must carry a WebSocket implementation
    for uvicorn (its `standard` extra), or the page silently falls back to POST."""
    from websockets.sync.client import connect

    from app.api import wire

    with connect(server.url.replace("http://", "ws://") + "/api/v1/live", open_timeout=10,
                 compression=None) as ws:
        for name, _, png in digits:
            ws.send(png)
            answer = ws.recv(timeout=30)
            assert isinstance(answer, bytes), answer  # a text message is a refusal
            got = wire.parse_binary(gzip.decompress(answer))
            with reference.websocket_connect("/api/v1/live") as local:
                local.send_bytes(png)
                want = wire.parse_binary(gzip.decompress(local.receive_bytes()))
            for variant in ("max", "avg"):
                assert got["models"][variant]["prediction"] == \
                    want["models"][variant]["prediction"], (name, variant)
                assert [la["data"] for la in got["models"][variant]["layers"]] == \
                    [la["data"] for la in want["models"][variant]["layers"]], (name, variant)


def test_multipart_upload(server: dockerkit.Container, reference: TestClient,
                          digits: list[tuple[str, int, bytes]]) -> None:
    name, _, png = digits[-1]
    boundary = "featuremaps-smoke-boundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"{name}\"\r\nContent-Type: image/png\r\n\r\n").encode()
    body += png + f"\r\n--{boundary}--\r\n".encode()
    status, _, got = dockerkit.fetch("POST", f"{server.url}/api/v1/featuremaps", body,
                                    {"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert status == 200, got[:500]
    want = reference.post("/api/v1/featuremaps", files={"file": (name, png, "image/png")})
    assert json.loads(got) == want.json()


def test_the_page_and_its_assets_are_served(server: dockerkit.Container,
                                            digits: list[tuple[str, int, bytes]]) -> None:
    status, ctype, body = dockerkit.fetch("GET", f"{server.url}/")
    assert status == 200
    assert ctype.startswith("text/html")
    assert b"<html" in body.lower()
    name, _, png = digits[0]
    status, ctype, body = dockerkit.fetch("GET", f"{server.url}/static/digits/{name}")
    assert (status, ctype, body) == (200, "image/png", png)


def test_bad_input_is_a_4xx_not_a_crash(server: dockerkit.Container) -> None:
    status, ctype, body = dockerkit.fetch("POST", f"{server.url}/api/v1/featuremaps",
                                         b"not a png", {"Content-Type": "image/png"})
    # the in-process app's answer, exactly: a route moved (a 404) or a limit (a 413) fails
    assert (status, json.loads(body)) == (415, {"detail": (
        "not an image this server reads: send a PNG, JPEG, WebP or GIF (this body is sent as "
        "image/png, but its bytes begin as none of them)")})
    assert server.wait_healthz(timeout=10)["status"] == "ok"


def test_runs_as_non_root(server: dockerkit.Container) -> None:
    docker = server.docker
    assert docker("exec", server.name, "id", "-u").stdout.strip() not in ("", "0")
    status = docker("exec", server.name, "cat", "/proc/1/status").stdout
    uids = re.search(r"^Uid:\s+(\d+)\s+(\d+)", status, re.MULTILINE)
    assert uids is not None, status
    assert uids.group(1) != "0" and uids.group(2) != "0", "the server process runs as root"
    user = server.inspect()["Config"]["User"]
    assert user and user.split(":")[0] not in ("0", "root")


def test_docker_healthcheck_turns_healthy(server: dockerkit.Container) -> None:
    assert server.wait_health_status("healthy") == "healthy", server.inspect()["State"]


def test_nothing_is_written_outside_tmp(server: dockerkit.Container,
                                        digits: list[tuple[str, int, bytes]]) -> None:
    post_png(server.url, digits[0][2])
    changed = server.docker("diff", server.name).stdout.split("\n")
    paths = [line.split(" ", 1)[1] for line in changed if line.strip()]
    assert [p for p in paths if p != "/tmp" and not p.startswith("/tmp/")] == []


def test_read_only_container(built_image: dockerkit.Built, reference: TestClient,
                             digits: list[tuple[str, int, bytes]]) -> None:
    with dockerkit.container(built_image.docker, built_image.image,
                             "--read-only", "--tmpfs", "/tmp") as ro:
        assert ro.wait_healthz()["status"] == "ok"
        _, _, png = digits[1]
        want = reference.post("/api/v1/featuremaps", content=png,
                              headers={"Content-Type": "image/png"})
        assert post_png(ro.url, png) == want.json()
        stop_promptly(built_image, ro)


def stop_promptly(built_image: dockerkit.Built, running: dockerkit.Container) -> None:
    """docker stop: SIGTERM reaches the server (PID 1), which shuts down cleanly, with status
    0, well before docker's kill."""
    started = time.monotonic()
    built_image.docker("stop", "--time", "25", running.name, timeout=60)
    stopped_in = time.monotonic() - started
    state = running.inspect()["State"]
    assert state["ExitCode"] == 0, (state, running.logs()[-2000:])
    assert stopped_in < 20, stopped_in


def test_two_workers_share_the_connections_and_stop_with_the_container(
        built_image: dockerkit.Built) -> None:
    """-e FEATUREMAPS_WORKERS=2: PID 1 is the workers' parent (app/serve.py), connections
    opened at once reach both, and docker stop ends them all promptly, with status 0."""
    from bench.common import answering_pids, wait_for_workers

    with dockerkit.container(built_image.docker, built_image.image,
                             "-e", "FEATUREMAPS_WORKERS=2") as two:
        assert two.wait_healthz()["status"] == "ok"
        pids = wait_for_workers(two.port, 2)  # the second may still be loading
        assert answering_pids(two.port, 16) == pids
        # either worker's /metrics holds both workers' series (the image's /tmp takes
        # their sockets)
        status, _, body = dockerkit.fetch("GET", f"{two.url}/metrics", timeout=10)
        metrics = body.decode()
        assert status == 200
        assert "featuremaps_workers_reporting 2\n" in metrics
        assert {int(p) for p in re.findall(r'featuremaps_device_info\{pid="(\d+)"',
                                            metrics)} == pids
        stop_promptly(built_image, two)
        logs = two.logs()
        assert "all workers stopped" in logs and "WARNING" not in logs, logs[-2000:]


def test_the_offline_image_has_cpu_only_torch(built_image: dockerkit.Built,
                                              report: dict[str, Any]) -> None:
    """The smoke test's build, from the wheels of the tests' own venv: the CPU torch. (A
    plain build takes torch from pip's own index, the CUDA build: docs/docker.md.)"""
    out = built_image.docker("run", "--rm", "--label", dockerkit.LABEL, built_image.image,
                             "python", "-c",
                             "import torch; print(torch.__version__, torch.version.cuda)",
                             timeout=120).stdout.split()
    assert out == [torch.__version__, "None"]
    assert report["image_size_bytes"] < 2_000_000_000  # a CUDA torch alone is several GB


def test_the_image_runs_the_locked_releases(built_image: dockerkit.Built,
                                            lock_tool: ModuleType) -> None:
    """The venv in the image holds exactly requirements.lock: every package at its locked
    release, and nothing more (pip aside)."""
    frozen = built_image.docker("run", "--rm", "--label", dockerkit.LABEL, built_image.image,
                                "python", "-m", "pip", "freeze", "--all", timeout=120).stdout
    locked = lock_tool.pinned_lines(lock_tool.LOCK.read_text())
    assert lock_tool.pinned_lines(frozen) == locked


def test_code_changes_reuse_the_dependency_layer(built_image: dockerkit.Built,
                                                report: dict[str, Any]) -> None:
    """The deps layer depends on pyproject.toml, requirements.lock and wheels/ only: after
    an edit to the app
    the pip install step comes from the cache and the rebuild takes seconds."""
    init = built_image.context / "app" / "__init__.py"
    init.write_text(init.read_text() + "# an edit\n")
    tag = f"{built_image.image}-rebuild"
    started = time.monotonic()
    try:
        done = built_image.docker("build", "--network", "host",
                                  "--build-arg", f"BASE_IMAGE={built_image.base}",
                                  "--build-arg", "PIP_NO_INDEX=1", "-t", tag,
                                  str(built_image.context), timeout=900)
        report["rebuild_after_code_edit_s"] = round(time.monotonic() - started, 1)
        steps = re.split(r"^Step \d+/\d+ : ", done.stdout, flags=re.MULTILINE)[1:]
        pip_steps = [s for s in steps if "pip install" in s.split("\n", 1)[0]]
        app_steps = [s for s in steps if s.startswith("COPY app/")]
        assert pip_steps and app_steps, done.stdout[-3000:]
        assert all("Using cache" in s for s in pip_steps), pip_steps
        assert all("Using cache" not in s for s in app_steps), app_steps
    finally:
        built_image.docker("rmi", tag, timeout=120, check=False)


def test_the_image_holds_only_what_it_serves(built_image: dockerkit.Built) -> None:
    """The build context held a developer's leftovers inside the copied folders
    (conftest.PLANTED: .env files, keys, bytecode): .dockerignore keeps every one out."""
    out = built_image.docker(
        "run", "--rm", "--label", dockerkit.LABEL, "--entrypoint", "sh", built_image.image,
        "-c", "ls -A /app; echo ---; find /app -name 'planted*' -o -name '.env*' "
              "-o -name '*.npz' -o -name '*.pem' -o -name '*.key'", timeout=120).stdout
    listing, found = out.split("---\n")
    assert listing.split() == ["app", "models", "static", "templates"]
    assert found.split() == []


def test_host_and_port_come_from_the_environment(built_image: dockerkit.Built) -> None:
    """Found by a review: the image's command fixed --host and --port, so -e
    FEATUREMAPS_PORT was ignored in silence; the health check follows the port too."""
    with dockerkit.container(built_image.docker, built_image.image, "-e",
                             "FEATUREMAPS_PORT=9000", "--health-interval=2s",
                             inside=9000) as moved:
        assert moved.wait_healthz()["status"] == "ok"
        assert moved.wait_health_status("healthy") == "healthy", moved.inspect()["State"]


def test_a_bad_setting_stops_start_up_with_one_line(built_image: dockerkit.Built) -> None:
    docker = built_image.docker
    # created first, then started attached: the output is the container's alone (docker run
    # adds its own warnings, e.g. about IPv4 forwarding, to stderr)
    name = docker("create", "--label", dockerkit.LABEL, "-e", "FEATUREMAPS_WORKERS=0",
                  built_image.image, timeout=120).stdout.strip()
    try:
        done = docker("start", "--attach", name, timeout=120, check=False)
    finally:
        docker("rm", "-f", name, timeout=120, check=False)
    lines = (done.stdout + done.stderr).strip().splitlines()
    assert done.returncode == 2, lines[-20:]
    assert len(lines) == 1 and lines[0].startswith("featuremaps: error: "), lines
    assert "FEATUREMAPS_WORKERS" in lines[0]


def test_the_featuremaps_command_is_there(built_image: dockerkit.Built) -> None:
    out = built_image.docker("run", "--rm", "--label", dockerkit.LABEL, built_image.image,
                             "featuremaps", "--help", timeout=120).stdout
    assert all(command in out for command in ("serve", "train", "evaluate", "extract", "data"))
