"""Several server workers, each listening on the port itself (`featuremaps serve --workers N`).

uvicorn's own multi-worker mode shares one listening socket among its workers, and the
worker that wakes first accepts every connection then waiting: 16 clients that connect at
once all landed on one worker in 3 of 4 trials with 2 workers, which then served them alone
(bench/server.py counts the busy workers). Here each worker binds its own sockets with
SO_REUSEPORT, and Linux spreads the connections over the listening ones. A worker's sockets
listen only once its app has started (asyncio listens when uvicorn serves them), so no
connection waits on a worker that is still loading. The parent restarts a worker that dies
(waiting longer after each quick death), and on SIGTERM, SIGINT or SIGHUP (unless it was
started with SIGHUP ignored, as by nohup) stops them all, each finishing its requests in
flight (uvicorn's graceful shutdown); a second signal, or 35 s, ends them at once. A worker
stops when the parent dies. Where SO_REUSEPORT does not spread connections (other systems
than Linux), uvicorn's own mode runs instead.

The parent itself never imports torch: the weights are checked before any worker starts, in
a process that exits (check_models). It makes a private temporary folder where the workers
show each other their metrics (app/api/metrics.py, Peers), and removes it as it stops.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import ctypes
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import uvicorn

from app.config import Settings
from app.ml.errors import FeaturemapsError

log = logging.getLogger(__name__)

# uvicorn's exit status for a worker whose app failed to start (uvicorn.config)
STARTUP_FAILURE = 3
# how long stopping workers may take before they are killed: uvicorn's 30 s of graceful
# shutdown, and a little more
STOP_S = 35.0
# a worker that lived less than this died young: the next restart waits longer
YOUNG_S = 60.0
RESTART_DELAY_S = (0.5, 30.0)  # first, longest
_PR_SET_PDEATHSIG = 1  # linux/prctl.h
_UNIX_PATH_MAX = 108  # sys/un.h: a socket's path, its final zero byte included


def spreads() -> bool:
    """Whether SO_REUSEPORT spreads connections over the sockets that share a port."""
    return sys.platform == "linux" and hasattr(socket, "SO_REUSEPORT")


def _addresses(host: str, port: int) -> list[tuple[Any, ...]]:
    """Every address to listen on for host (all of a name's; "" is every interface)."""
    found = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                               flags=socket.AI_PASSIVE)
    unique = {(family, kind, proto, address) for family, kind, proto, _, address in found}
    return sorted(unique, key=lambda a: (a[0] != socket.AF_INET, str(a[3])))


def bound_sockets(host: str, port: int, share: bool = True) -> list[socket.socket]:
    """Sockets bound to every address of host:port, not yet listening; with `share`, other
    workers' sockets may bind the same addresses (SO_REUSEPORT). An IPv6 socket takes IPv6
    alone, as asyncio binds one worker's for uvicorn (an operator's review: `--host ::`
    took IPv4 too with several workers, not with one)."""
    addresses = _addresses(host, port)
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, address in addresses:
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if share:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def check_port(host: str, port: int) -> None:
    """A FeaturemapsError (one line) when host:port cannot be listened on: a port in use,
    one this user may not bind, a host that does not resolve; bound as the sockets that will
    listen are (bound_sockets)."""
    try:
        for sock in bound_sockets(host, port, share=False):
            sock.close()
    except OSError as exc:
        where = _host_port(host, port)
        raise FeaturemapsError(f"cannot listen on {where}: {exc.strerror or exc}") from None


def _stop_with_parent() -> None:
    """Have the kernel send this process SIGTERM when its parent dies (Linux), and stop now
    if it is gone already: workers never outlive their server."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    parent = multiprocessing.parent_process()
    if parent is not None and os.getppid() != parent.pid:
        sys.exit(0)


def _worker(options: dict[str, Any], peers: Path | None) -> None:
    """One worker process: the models, then its sockets, then uvicorn until a signal. Its
    settings come from the environment, which the parent completed."""
    _stop_with_parent()
    import uvicorn

    from app import logs
    from app.main import app_factory
    from app.ml.engine import Engine

    try:
        settings = Settings()
        logs.configure(settings.logging_level)
        app = app_factory(settings, Engine.load(settings), peers)
    except Exception:
        log.exception("worker %d could not start", os.getpid())
        sys.exit(STARTUP_FAILURE)
    try:
        sockets = bound_sockets(options["host"], options["port"])
    except OSError as exc:  # the port taken while the models loaded (a CLI review: a
        # traceback from each worker)
        log.error("worker %d could not start: cannot listen on %s: %s", os.getpid(),
                  _host_port(options["host"], options["port"]), exc.strerror or exc)
        sys.exit(STARTUP_FAILURE)
    class Listening(uvicorn.Server):
        """Says where this worker listens once it does: uvicorn says it for sockets it binds
        itself, not for those it is handed (an operator's review: with several workers
        nothing said that they were ready, nor where)."""

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            if sockets and not self.should_exit:
                log.info("worker %d listening on %s", os.getpid(),
                         ", ".join(_host_port(*s.getsockname()[:2]) for s in sockets))

    with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises Ctrl-C once it has
        Listening(uvicorn.Config(app, **options)).run(sockets=sockets)  # shut down


def _host_port(host: str, port: int) -> str:
    """An address as a URL writes it: 127.0.0.1:8000, [::1]:8000."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def run_hanging_up_gracefully(server: uvicorn.Server) -> None:
    """One server, stopped by SIGHUP as by SIGTERM: requests in flight finish, then the
    process ends by the signal (129). uvicorn itself handles SIGINT and SIGTERM alone, and a
    SIGHUP ended one server at once, where several workers stopped gracefully (found by an
    operator's review). A second SIGHUP ends it at once, as a second signal ends several
    workers. A SIGHUP that nohup set to be ignored stays ignored; and off the main thread,
    where no handler can be set (nor does uvicorn set its own), it is left as it is."""
    if (signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
            or threading.current_thread() is not threading.main_thread()):
        server.run()
        return
    hung_up: list[int] = []

    def hang_up(signum: int, frame: FrameType | None) -> None:
        if hung_up and server.should_exit:
            server.force_exit = True  # the second: requests in flight are not waited for
        hung_up.append(signum)
        server.handle_exit(signum, frame)

    before = signal.signal(signal.SIGHUP, hang_up)
    try:
        server.run()
    finally:
        signal.signal(signal.SIGHUP, before)
    # the process ends by the signal, as after SIGTERM (uvicorn raised it again as it shut
    # down, to the handler above, which is gone now)
    if hung_up:
        signal.raise_signal(signal.SIGHUP)


def _check_models(settings: Settings) -> None:
    """In a process of its own: what a worker would load, loaded on the CPU (the device is
    only resolved), quietly; a FeaturemapsError says what is wrong."""
    from app import logs
    from app.ml import device
    from app.ml.engine import Engine

    logs.configure(logging.WARNING)  # each worker logs its own loading
    device.resolve(settings.device)
    Engine.load(settings.model_copy(update={"device": "cpu"}))


def check_models(settings: Settings) -> None:
    """Fail before any worker starts, with the one-line error a single server gives, when a
    weights file is missing or corrupt or the device is absent. The check runs in a process
    that exits: loaded in the parent, torch and the models stayed in it for as long as the
    workers ran (about 260 MB of the parent's 275 MB), doing nothing."""
    spawn = multiprocessing.get_context("spawn")
    try:
        with concurrent.futures.ProcessPoolExecutor(1, mp_context=spawn) as pool:
            pool.submit(_check_models, settings).result()
    except concurrent.futures.process.BrokenProcessPool:  # killed (out of memory?) or crashed
        raise FeaturemapsError("the process that checks the models died before it could "
                               "say whether they load") from None


def run_workers(count: int, options: dict[str, Any]) -> int:
    """Serve with `count` workers, `options` being uvicorn.Config's (host and port among
    them); returns the exit status."""
    import uvicorn

    if not spreads():
        uvicorn.run("app.main:app_factory", factory=True, workers=count, **options)
        return 0
    # again: the port may have been taken while the models were checked (seconds)
    check_port(options["host"], options["port"])
    peers = _peers_folder()
    try:
        stopped_by = _supervise(count, options, peers)
    finally:
        if peers is not None:
            shutil.rmtree(peers, ignore_errors=True)
    if stopped_by in (signal.SIGTERM, signal.SIGHUP):
        # as uvicorn ends a single server once it has stopped: by the signal itself, so that a
        # supervisor reads "terminated by SIGTERM" (143) whatever the number of workers
        signal.signal(stopped_by, signal.SIG_DFL)
        signal.raise_signal(stopped_by)
    return 0


def _peers_folder() -> Path | None:
    """A new folder, private to this user, where the workers show each other their metrics
    (app/api/metrics.py, Peers); None where none can be made (a read-only /tmp), and each
    worker's /metrics then holds its own series only."""
    try:
        folder = Path(tempfile.mkdtemp(prefix="featuremaps-"))
    except OSError as exc:
        log.warning("no folder for the workers to share their metrics (%s): each worker's "
                    "/metrics holds its own only", exc.strerror or exc)
        return None
    if len(bytes(folder / f"{1 << 22}.sock")) >= _UNIX_PATH_MAX:  # the largest pid's
        log.warning("the workers cannot share their metrics: %s is too long a path for a "
                    "socket (set TMPDIR); each worker's /metrics holds its own only", folder)
        shutil.rmtree(folder, ignore_errors=True)
        return None
    return folder


def _supervise(count: int, options: dict[str, Any], peers: Path | None) -> int | None:
    """Run `count` workers until a signal or a worker that cannot start; the signal that
    stopped them (SIGINT raises KeyboardInterrupt, as Ctrl-C anywhere in the CLI does)."""
    host, port = options["host"], options["port"]
    received: list[int] = []

    def record(signum: int, frame: FrameType | None) -> None:
        received.append(signum)  # the loop below acts on it

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        # a SIGHUP that nohup (or any parent) set to be ignored stays ignored, as it does for
        # one server (run_hanging_up_gracefully; found by a review: it stopped every worker)
        if signum != signal.SIGHUP or signal.getsignal(signum) != signal.SIG_IGN:
            signal.signal(signum, record)
    spawn = multiprocessing.get_context("spawn")

    def start() -> tuple[multiprocessing.process.BaseProcess, float]:
        process = spawn.Process(target=_worker, args=(options, peers), name="featuremaps-worker")
        process.start()
        return process, time.monotonic()

    workers = [start() for _ in range(count)]
    first = {process.pid for process, _ in workers}
    log.info("starting %d workers on %s:%d (%s), each listening with its own socket once "
             "its models are loaded", count, host, port,
             ", ".join(str(process.pid) for process, _ in workers))
    young_deaths = [0] * count
    restart_at: list[float | None] = [None] * count
    failed = False
    while not received and not failed:
        time.sleep(0.2)
        now = time.monotonic()
        for index, (process, started) in enumerate(workers):
            if process.is_alive():
                continue
            if process.exitcode == STARTUP_FAILURE and process.pid in first:
                log.error("worker %d could not start; stopping", process.pid)
                failed = True
                break
            when = restart_at[index]
            if when is None:  # just found dead: wait longer after each young death
                if peers is not None:  # killed outright, it left its metrics socket
                    (peers / f"{process.pid}.sock").unlink(missing_ok=True)
                young_deaths[index] = young_deaths[index] + 1 if now - started < YOUNG_S else 0
                delay = min(RESTART_DELAY_S[1],
                            RESTART_DELAY_S[0] * 2 ** max(0, young_deaths[index] - 1))
                log.warning("worker %d exited (status %s); another starts in %.1f s",
                            process.pid, process.exitcode, delay)
                restart_at[index] = now + delay
            elif now >= when:
                workers[index] = start()
                restart_at[index] = None

    for process, _ in workers:
        if process.is_alive() and process.pid is not None:
            os.kill(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_S
    signals_then = len(received)
    for process, _ in workers:
        while process.is_alive() and time.monotonic() < deadline \
                and len(received) <= max(1, signals_then):
            process.join(0.2)
        if process.is_alive():  # a second signal, or past the graceful shutdown
            process.kill()
            process.join()
    log.info("all workers stopped")
    if failed:
        raise FeaturemapsError("a worker could not start (its log is above)")
    if received and received[0] == signal.SIGINT:
        raise KeyboardInterrupt
    return received[0] if received else None
