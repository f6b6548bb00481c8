"""`featuremaps serve --workers N` (app/serve.py): each worker listens on the port itself,
so connections spread over the workers; a worker that dies is replaced; SIGTERM stops them
all. Found by the benchmark: with uvicorn's shared socket, 16 clients that connected at once
often all landed on one worker of two, which served them alone."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from app.config import PROJECT_ROOT
from bench.common import answering_pids, free_port, request_once, wait_for_workers

pytestmark = pytest.mark.slow

ENV = {**os.environ, "FEATUREMAPS_DEVICE": "cpu", "FEATUREMAPS_MODELS": "max",
       "FEATUREMAPS_ACCESS_LOG": "false"}


@contextlib.contextmanager
def serving(port: int) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """A server with two workers and its TMPDIR, where it makes the folder of its workers'
    metrics sockets: a short folder of its own under /tmp, as a socket's path is short
    (pytest's own temporary folders may be too long). At the end whatever is left of the
    server is killed and the folder removed."""
    tmp = Path(tempfile.mkdtemp(prefix="fm-", dir="/tmp"))
    try:
        proc = start(port, tmp)
        try:
            yield proc, tmp
        finally:
            end(proc)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def ignore_sighup() -> None:
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as nohup starts a command


def start(port: int, tmp: Path, workers: int = 2, nohup: bool = False,
          log: IO[bytes] | None = None) -> subprocess.Popen[bytes]:
    """A server with `workers` workers; `tmp`: its temporary folder (TMPDIR); `nohup`: started
    with SIGHUP ignored; `log`: where its log goes (else nowhere)."""
    env = {**ENV, "TMPDIR": str(tmp)}
    # a session of its own, so that the end of a test can stop every process of it
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port),
                             "--workers", str(workers)], env=env, cwd=PROJECT_ROOT,
                            stdout=subprocess.DEVNULL, stderr=log or subprocess.DEVNULL,
                            start_new_session=True, preexec_fn=ignore_sighup if nohup else None)
    deadline = time.monotonic() + 90
    while True:
        try:
            if request_once(port, "GET", "/healthz", b"", {})[0] == 200:
                return proc
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            end(proc)
            raise AssertionError("the server did not start")
        time.sleep(0.2)


def end(proc: subprocess.Popen[bytes] | subprocess.Popen[str]) -> None:
    """Kill whatever is left of a server started here: its parent and its workers."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def maps_torch(pid: int) -> bool:
    with open(f"/proc/{pid}/maps") as maps:
        return "libtorch" in maps.read()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def scrape(port: int) -> tuple[dict[int, int], int]:
    """From one /metrics answer: GET /api/v1/models answered, by worker pid, and how many
    workers the answer says it holds."""
    status, _, body = request_once(port, "GET", "/metrics", b"", {})
    assert status == 200
    text = body.decode()
    counts = {int(pid): int(n) for pid, n in re.findall(
        r'^featuremaps_requests_total\{pid="(\d+)",method="GET",route="/api/v1/models",'
        r'status="200"\} (\d+)$', text, re.MULTILINE)}
    pids = {int(pid) for pid in re.findall(r'^featuremaps_device_info\{pid="(\d+)"', text,
                                           re.MULTILINE)}
    reporting = re.search(r"^featuremaps_workers_reporting (\d+)$", text, re.MULTILINE)
    assert reporting is not None and int(reporting[1]) == len(pids)
    return {pid: counts.get(pid, 0) for pid in pids}, int(reporting[1])


def test_workers_share_the_connections_are_replaced_and_stop_on_sigterm() -> None:
    port = free_port()
    with serving(port) as (proc, tmp):
        # once both listen (each after loading its models), 16 connections opened at once
        # reach both: all on one worker has a chance of 2 in 65,536 a time
        first = wait_for_workers(port, 2)
        assert all(answering_pids(port, 16) == first for _ in range(5))
        # the parent only watches: it checked the weights in a process that has exited, and
        # holds no torch (it kept about 260 MB of it while the workers ran)
        assert not maps_torch(proc.pid)
        # whichever worker a scrape reaches, it holds every worker's series (found by an
        # operations review: it held its own only, so counts jumped between scrapes)
        for _ in range(10):
            assert request_once(port, "GET", "/api/v1/models", b"", {})[0] == 200
        for _ in range(6):
            counts, reporting = scrape(port)
            assert (set(counts), reporting, sum(counts.values())) == (first, 2, 10)
        # a worker killed outright is replaced, and the new one takes connections
        gone = min(first)
        os.kill(gone, signal.SIGKILL)
        now = wait_for_workers(port, 2)
        assert gone not in now and len(now & first) == 1
        # the killed one's series are gone with it, the new one's are there, and the parent
        # removed the socket file it left
        assert all(set(scrape(port)[0]) == now for _ in range(4))
        (folder,) = tmp.iterdir()
        assert {int(p.stem) for p in folder.glob("*.sock")} == now
        # a second server on the same port is refused, not let in beside these workers
        assert refusal(port) == (2, f"featuremaps: error: cannot listen on 127.0.0.1:{port}: "
                                    "Address already in use")
        # SIGTERM: every worker stops, and then the parent, by the signal as one server does
        # (tests/api/test_shutdown.py), so a supervisor reads the same status either way
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == -signal.SIGTERM
        assert not any(alive(pid) for pid in now)
        assert list(tmp.iterdir()) == []  # the parent removed its workers' folder


def test_each_worker_says_where_it_listens() -> None:
    """Found by an operator's review: with several workers, uvicorn said nothing of where
    they listened, nor when they were ready (it says so only for sockets it binds)."""
    port = free_port()
    tmp = Path(tempfile.mkdtemp(prefix="fm-", dir="/tmp"))
    try:
        with tempfile.TemporaryFile() as log:
            proc = start(port, tmp, log=log)
            try:
                pids = wait_for_workers(port, 2)
            finally:
                end(proc)
            log.seek(0)
            said = log.read().decode()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for pid in pids:
        assert f"INFO app.serve: worker {pid} listening on 127.0.0.1:{port}\n" in said, said


def test_a_sighup_that_nohup_ignores_stays_ignored() -> None:
    """Found by a review: the parent took SIGHUP over even where nohup had set it to be
    ignored, so closing the terminal stopped every worker, where one server (which leaves
    SIGHUP alone) kept serving."""
    port = free_port()
    tmp = Path(tempfile.mkdtemp(prefix="fm-", dir="/tmp"))
    try:
        proc = start(port, tmp, nohup=True)
        try:
            workers = wait_for_workers(port, 2)
            os.killpg(proc.pid, signal.SIGHUP)  # a terminal that closes: parent and workers
            time.sleep(1.0)  # the parent looks at its signals every 0.2 s
            assert proc.poll() is None and all(alive(pid) for pid in workers)
            assert request_once(port, "GET", "/healthz", b"", {})[0] == 200
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=60) == -signal.SIGTERM
        finally:
            end(proc)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_workers_stop_when_their_parent_is_killed() -> None:
    """Found by a review: a parent killed outright left its workers serving, orphaned."""
    port = free_port()
    # (killed outright, the parent leaves the empty folder of its workers' sockets in its
    # TMPDIR, which serving removes)
    with serving(port) as (proc, _):
        workers = wait_for_workers(port, 2)
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 60
        while any(alive(pid) for pid in workers):
            assert time.monotonic() < deadline, "the workers outlived their parent"
            time.sleep(0.2)


def refusal(port: int, workers: int = 2) -> tuple[int, str]:
    """Exit status and stderr of `serve --workers N` on a port already taken (the stderr's
    last line, for a server that had started)."""
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port),
                             "--workers", str(workers)], env=ENV, cwd=PROJECT_ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:  # it started serving: stop it and its workers
        end(proc)
        raise AssertionError("a second server started on a port in use") from None
    return proc.returncode, err.strip()


def test_ipv6_is_bound_alone_by_the_check_and_by_every_worker() -> None:
    """Found by a review: the check bound `::` dual-stack, as the workers did, so with one
    worker (asyncio, IPv6-only sockets) `--host ::` beside a server on 0.0.0.0 was refused,
    though uvicorn would have listened; and an operator's review: with several workers `::`
    took IPv4 too, with one it did not. Every IPv6 socket is IPv6-only, as asyncio's."""
    from app import serve
    from app.ml.errors import FeaturemapsError

    if not socket.has_ipv6:
        pytest.skip("no IPv6 here")
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        try:
            serve.check_port("::", port)
        except FeaturemapsError as exc:
            if "Address already in use" in str(exc):
                raise
            pytest.skip(f"no IPv6 here: {exc}")
    sockets = serve.bound_sockets("::", 0)  # a worker's
    try:
        assert [s.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) for s in sockets] == [1]
    finally:
        for sock in sockets:
            sock.close()


TAKEN_WHILE_LOADING = """
import logging, socket, sys
from app import cli, serve
from app.ml.engine import Engine

port, load, taken = int(sys.argv[1]), Engine.load, socket.socket()

def load_then_taken(settings):
    engine = load(settings)
    if taken.getsockname()[1] == 0:  # the first load: another process takes the port
        taken.bind(("127.0.0.1", port))
        taken.listen()
    return engine

Engine.load = staticmethod(load_then_taken)
print("serve:", cli.main(["serve", "--port", str(port)]), file=sys.stderr, flush=True)
try:
    serve._worker({"host": "127.0.0.1", "port": port}, None)
except SystemExit as exc:
    print("worker:", exc.code, file=sys.stderr)
"""


def test_a_port_taken_while_the_models_load_is_one_error_line() -> None:
    """Found by a CLI review: a port taken after the first check, while the models loaded
    (seconds), was uvicorn's own ERROR line after its start-up and exit 3 with one worker,
    and each worker's traceback with several. Here another socket takes it as they load,
    in a process of its own (serve configures logging and threads)."""
    from app import serve

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEATUREMAPS_")}
    with subprocess.Popen(
            [sys.executable, "-c", TAKEN_WHILE_LOADING, str(port)], cwd=PROJECT_ROOT,
            env={**env, "FEATUREMAPS_MODELS": "max", "FEATUREMAPS_DEVICE": "cpu",
                 "FEATUREMAPS_LOG_LEVEL": "warning"},
            stderr=subprocess.PIPE, text=True) as proc:
        _, err = proc.communicate(timeout=120)
    assert err.strip().splitlines() == [
        f"featuremaps: error: cannot listen on 127.0.0.1:{port}: Address already in use",
        "serve: 2",
        f"ERROR app.serve: worker {proc.pid} could not start: cannot listen on "
        f"127.0.0.1:{port}: Address already in use",
        f"worker: {serve.STARTUP_FAILURE}"], err


@pytest.mark.parametrize("workers", [1, 2])
def test_a_port_in_use_is_one_error_line(workers: int) -> None:
    """With one worker (the default, `make run`), uvicorn found the port in use after the
    models had loaded, logged an ERROR among its start-up lines and exited 3 (found by a
    review); the port is now checked first, as with several."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert refusal(port, workers) == (
            2, f"featuremaps: error: cannot listen on 127.0.0.1:{port}: Address already in use")
