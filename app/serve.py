"""Several server workers, each listening on the port itself (`featuremaps serve --workers N`).

uvicorn's own multi-worker mode shares one listening socket among its workers, and the
worker that wakes first accepts every connection then waiting: 16 clients that connect at
once all landed on one worker in 3 of 4 trials with 2 workers, which then served them alone
(bench/server.py counts the busy workers). Here each worker opens its own socket with
SO_REUSEPORT, and Linux spreads the connections over the sockets. A worker loads its models
before it listens, so no connection waits on a worker that is still starting. The parent
restarts a worker that dies, and on SIGTERM or SIGINT stops them all, each finishing its
requests in flight (uvicorn's graceful shutdown). Where SO_REUSEPORT does not spread
connections (other systems than Linux), uvicorn's own mode runs instead.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
from types import FrameType
from typing import Any

from app.ml.errors import FeaturemapsError

log = logging.getLogger(__name__)

# uvicorn's exit status for a worker whose app failed to start (uvicorn.config)
STARTUP_FAILURE = 3
# connections waiting to be accepted, per worker (uvicorn's default backlog)
BACKLOG = 2048


def spreads() -> bool:
    """Whether SO_REUSEPORT spreads connections over the sockets that share a port."""
    return sys.platform == "linux" and hasattr(socket, "SO_REUSEPORT")


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket listening on host:port that other workers' sockets may share."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
        sock.listen(BACKLOG)
    except BaseException:
        sock.close()
        raise
    return sock


def _worker(options: dict[str, Any]) -> None:
    """One worker process: the models, then its own socket, then uvicorn until a signal.
    Its settings come from the environment, which the parent completed."""
    import uvicorn

    from app.config import Settings
    from app.main import app_factory
    from app.ml.engine import Engine

    try:
        settings = Settings()
        app = app_factory(settings, Engine.load(settings))
        sock = listening_socket(options["host"], options["port"])
    except Exception:
        log.exception("worker %d could not start", os.getpid())
        sys.exit(STARTUP_FAILURE)
    uvicorn.Server(uvicorn.Config(app, **options)).run(sockets=[sock])


def run_workers(count: int, options: dict[str, Any]) -> int:
    """Serve with `count` workers, `options` being uvicorn.Config's (host and port among
    them); returns the exit status."""
    import uvicorn

    if not spreads():
        uvicorn.run("app.main:app_factory", factory=True, workers=count, **options)
        return 0
    host, port = options["host"], options["port"]
    try:  # a port in use is one error line, before any worker starts
        listening_socket(host, port).close()
    except OSError as exc:
        raise FeaturemapsError(f"cannot listen on {host}:{port}: "
                               f"{exc.strerror or exc}") from None

    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stop)
    spawn = multiprocessing.get_context("spawn")

    def start() -> multiprocessing.process.BaseProcess:
        process = spawn.Process(target=_worker, args=(options,), name="featuremaps-worker")
        process.start()
        return process

    workers = [start() for _ in range(count)]
    shown = f"[{host}]" if ":" in host else host
    log.info("serving on http://%s:%d with %d workers (%s), each with its own listening "
             "socket", shown, port, count, ", ".join(str(w.pid) for w in workers))
    failed = False
    while not stopping.wait(0.5):
        for index, process in enumerate(workers):
            if process.is_alive():
                continue
            if process.exitcode == STARTUP_FAILURE:
                log.error("worker %d could not start; stopping", process.pid)
                failed = True
                stopping.set()
                break
            log.warning("worker %d exited (status %s); starting another", process.pid,
                        process.exitcode)
            workers[index] = start()
    for process in workers:
        if process.is_alive() and process.pid is not None:
            os.kill(process.pid, signal.SIGTERM)
    for process in workers:
        process.join()
    log.info("all workers stopped")
    return 1 if failed else 0
