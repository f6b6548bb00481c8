"""Request metrics in the Prometheus text format, every series labelled with its worker's
`pid`; with `serve --workers N`, any worker's /metrics holds every worker's (Peers).

Hand-written rather than prometheus_client: a few series, and the exposition format is a
few lines of text.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import threading
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

from starlette.types import Scope

log = logging.getLogger(__name__)

# "WS": one message on WS /api/v1/live, observed by that route (no middleware sees them)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "WS"})
# seconds; a live update takes about 1 ms in the server and /healthz well under one, so the
# first bounds split the millisecond
BUCKETS = (0.00025, 0.0005, 0.001, 0.0015, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
           1.0, 2.5, 5.0, 10.0)
# name, type, help: each family's lines stay together in an answer, its workers' one after
# another
FAMILIES = (
    ("featuremaps_requests_total", "counter", "HTTP requests by method, route and status."),
    ("featuremaps_request_seconds", "histogram", "Request latency in seconds."),
    ("featuremaps_inferences_in_flight", "gauge", "Inferences running or waiting for a "
     "thread, by gate (live: every request but batches)."),
    ("featuremaps_inferences_limit", "gauge", "Inferences in flight at which a gate answers "
     "503."),
    ("featuremaps_live_sockets", "gauge", "Live sockets (WS /api/v1/live) open now."),
    ("featuremaps_live_sockets_limit", "gauge",
     "Live sockets open at once beyond which a handshake gets 503 (FEATUREMAPS_MAX_SOCKETS)."),
    ("featuremaps_device_info", "gauge", "The compute device in use."),
    ("featuremaps_refused_total", "counter", "Requests and WebSocket handshakes the server "
     "refused before the app saw them (a head over its limits or without its Host, bytes that "
     "are not HTTP/1.1, an upgrade it cannot serve, a handshake it cannot open), by kind and "
     "status; the app's own answers are in featuremaps_requests_total."),
)
Samples = dict[str, list[str]]  # a worker's sample lines by family name


class BelowApp:
    """Refusals written by the server's own protocols (app/upgrades.py), which no middleware
    sees (an operator's review: a flood of 431s or of bad handshakes left /metrics as it
    was). A worker serves one app, so the count is the process's: `BELOW_APP`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: dict[tuple[str, int], int] = defaultdict(int)

    def refused(self, kind: str, status: int) -> None:
        """One refusal: `kind` "http" or "websocket"."""
        with self._lock:
            self.counts[(kind, status)] += 1

    def items(self) -> list[tuple[tuple[str, int], int]]:
        with self._lock:
            return sorted(self.counts.items())


BELOW_APP = BelowApp()


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str, str], int] = defaultdict(int)
        self.buckets: dict[str, list[int]] = defaultdict(lambda: [0] * (len(BUCKETS) + 1))
        self.sums: dict[str, float] = defaultdict(float)
        self.counts: dict[str, int] = defaultdict(int)
        # each inference gate (live, batch): its requests in flight now, and its limit
        self.gates: dict[str, tuple[Callable[[], int], int]] = {}
        self.device = "unknown"
        self.sockets = 0  # live sockets open now (app/api/routes/live.py)
        self.socket_limit = 0
        self.pid = os.getpid()  # the label of this worker's series

    @staticmethod
    def route_label(scope: Scope) -> str:
        """The matched route's path template (bounded cardinality), or 'other'.

        Starlette's router records the matched route in the scope it was handed."""
        route = scope.get("route")
        path = getattr(route, "path", None)
        return path if isinstance(path, str) else "other"

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        if method not in METHODS:  # any string a client sends would be a new series
            method = "other"
        with self._lock:
            self.requests[(method, route, str(status))] += 1
            self.buckets[route][bisect_left(BUCKETS, seconds)] += 1
            self.sums[route] += seconds
            self.counts[route] += 1

    def samples(self) -> Samples:
        """This worker's sample lines, by family."""
        pid = self.pid
        out: Samples = {name: [] for name, _, _ in FAMILIES}
        with self._lock:
            out["featuremaps_requests_total"] = [
                f'featuremaps_requests_total{{pid="{pid}",method="{method}",route="{route}",'
                f'status="{status}"}} {n}'
                for (method, route, status), n in sorted(self.requests.items())]
            seconds = out["featuremaps_request_seconds"]
            for route in sorted(self.counts):
                cumulative = 0
                for bound, n in zip((*BUCKETS, float("inf")), self.buckets[route], strict=True):
                    cumulative += n
                    le = "+Inf" if bound == float("inf") else f"{bound:g}"
                    seconds.append(f'featuremaps_request_seconds_bucket{{pid="{pid}",'
                                   f'route="{route}",le="{le}"}} {cumulative}')
                seconds.append(f'featuremaps_request_seconds_sum{{pid="{pid}",route="{route}"}} '
                               f"{self.sums[route]:.6f}")
                seconds.append(f'featuremaps_request_seconds_count{{pid="{pid}",'
                               f'route="{route}"}} {self.counts[route]}')
        out["featuremaps_inferences_in_flight"] = [
            f'featuremaps_inferences_in_flight{{pid="{pid}",gate="{gate}"}} {inflight()}'
            for gate, (inflight, _) in self.gates.items()]
        out["featuremaps_inferences_limit"] = [
            f'featuremaps_inferences_limit{{pid="{pid}",gate="{gate}"}} {limit}'
            for gate, (_, limit) in self.gates.items()]
        out["featuremaps_live_sockets"] = [
            f'featuremaps_live_sockets{{pid="{pid}"}} {self.sockets}']
        out["featuremaps_live_sockets_limit"] = [
            f'featuremaps_live_sockets_limit{{pid="{pid}"}} {self.socket_limit}']
        out["featuremaps_device_info"] = [
            f'featuremaps_device_info{{pid="{pid}",device="{self.device}"}} 1']
        out["featuremaps_refused_total"] = [
            f'featuremaps_refused_total{{pid="{pid}",kind="{kind}",status="{status}"}} {n}'
            for (kind, status), n in BELOW_APP.items()]
        return out

    def render(self, others: Sequence[Samples] = ()) -> str:
        """The exposition: this worker's samples and those of `others` (its siblings'),
        family by family, each family's own first (bench/common.py reads which worker
        answered from the first device line), and how many workers the answer holds."""
        mine = self.samples()
        lines: list[str] = []
        for name, kind, text in FAMILIES:
            lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}", *mine[name]]
            for other in others:
                lines += other.get(name, [])
        lines += ["# HELP featuremaps_workers_reporting Workers whose series this answer holds "
                  "(with several, each of them listens for the others).",
                  "# TYPE featuremaps_workers_reporting gauge",
                  f"featuremaps_workers_reporting {1 + len(others)}"]
        return "\n".join(lines) + "\n"


# a sibling's sample line: its family's name (a histogram's with its suffix), labels that
# begin with a pid and hold no line break, one value
_SAMPLE = {name: re.compile(rf'{name}{"(_bucket|_sum|_count)?" if kind == "histogram" else ""}'
                            r'\{pid="\d+"[^\n]*\} \S+')
           for name, kind, _ in FAMILIES}
# the most a sibling's answer may hold (one is a few kB)
MAX_ANSWER_BYTES = 1 << 20


def _valid(doc: object) -> Samples | None:
    """A sibling's answer, if it is what one sends: each line a sample of its family."""
    if not isinstance(doc, dict):
        return None
    for name, lines in doc.items():
        if name not in _SAMPLE or not isinstance(lines, list) or not all(
                isinstance(line, str) and _SAMPLE[name].fullmatch(line) for line in lines):
            return None
    return doc


class Peers:
    """The workers of one `serve --workers N` show each other their metrics, so that a
    scrape, which reaches whichever worker takes its connection, gets all of them.

    Each worker listens on a Unix socket named after its pid in a folder the parent made
    for them (private to its user, app/serve.py) and answers every connection with its
    samples as JSON; its /metrics asks every other socket there, at once, with a short time
    limit, and takes from each answer only lines that are samples of its families. A
    worker killed outright leaves its socket file behind, refusing connections, until the
    parent removes it (a refusal alone is no proof: a starting worker has bound its socket
    a moment before it listens)."""

    TIMEOUT_S = 1.0

    def __init__(self, folder: Path, metrics: Metrics, name: str | None = None) -> None:
        self.folder = folder
        self.metrics = metrics
        self.path = folder / f"{name or os.getpid()}.sock"
        self._server: asyncio.AbstractServer | None = None
        self._silent: set[str] = set()  # siblings already warned about

    async def start(self) -> None:
        try:
            self._server = await asyncio.start_unix_server(self._answer, path=str(self.path))
        except OSError as exc:  # the metrics are a help: the worker serves without them
            log.warning("worker %d cannot show its metrics to the others (%s): their "
                        "/metrics will lack its series", os.getpid(), exc.strerror or exc)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:  # a sibling that gave up waiting has closed its end: nothing to say to it
            with contextlib.suppress(ConnectionError):
                writer.write(json.dumps(self.metrics.samples()).encode())
                await writer.drain()
        finally:
            writer.close()

    async def gather(self) -> list[Samples]:
        """Every other worker's samples that came in time."""
        others = sorted(p for p in self.folder.glob("*.sock") if p != self.path)
        found = await asyncio.gather(*(self._ask(p) for p in others))
        return [samples for samples in found if samples is not None]

    async def _ask(self, path: Path) -> Samples | None:
        try:
            async with asyncio.timeout(self.TIMEOUT_S):
                reader, writer = await asyncio.open_unix_connection(str(path))
                try:
                    data = await _read_to_end(reader, MAX_ANSWER_BYTES + 1)
                finally:
                    writer.close()
        except (ConnectionRefusedError, FileNotFoundError):  # gone, starting, or stopped
            return None
        except TimeoutError:
            self._skip(path, f"no answer within {self.TIMEOUT_S:g} s")
            return None
        except OSError as exc:
            self._skip(path, exc.strerror or str(exc))
            return None
        try:
            samples = _valid(json.loads(data)) if len(data) <= MAX_ANSWER_BYTES else None
        except ValueError:
            samples = None
        if samples is None:
            self._skip(path, "an answer that is not its metrics")
        return samples

    def _skip(self, path: Path, why: str) -> None:
        """Leave a sibling out of this answer, saying why once per sibling."""
        if path.name not in self._silent:
            self._silent.add(path.name)
            log.warning("metrics of the worker at %s left out: %s", path.name, why)


async def _read_to_end(reader: asyncio.StreamReader, limit: int) -> bytes:
    """What a sibling sends until it closes, at most `limit` bytes: one read returns what has
    arrived so far, which may be part of an answer (a review)."""
    data = b""
    while len(data) < limit:
        chunk = await reader.read(limit - len(data))
        if not chunk:
            break
        data += chunk
    return data
