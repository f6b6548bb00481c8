"""Shared pieces of the benchmarks: a server subprocess, a lean HTTP/1.1 client, statistics."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
DIGITS = sorted((ROOT / "static" / "digits").glob("*.png"))
PAD = 112  # px a side of the PNG the page sends for a drawing


def page_png(levels: np.ndarray) -> bytes:
    """`levels` (H, W) uint8 as the page's png.js writes a drawing: 8-bit grey, every row
    stored unfiltered. (The page deflates with fixed codes; zlib's stream here inflates to
    the same rows.)"""
    h, w = levels.shape
    rows = np.zeros((h, w + 1), np.uint8)
    rows[:, 1:] = levels

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (len(data).to_bytes(4, "big") + kind + data
                + zlib.crc32(kind + data).to_bytes(4, "big"))

    header = w.to_bytes(4, "big") + h.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows.tobytes())) + chunk(b"IEND", b""))


def page_drawings() -> list[bytes]:
    """DIGITS as the page sends them once drawn on its pad: scaled to PAD px, light on
    black, in the page's own PNG form."""
    return [page_png(np.asarray(Image.open(p).convert("L").resize(
        (PAD, PAD), Image.Resampling.BILINEAR))) for p in DIGITS]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    port: int
    pid: int

    def rss_kib(self) -> int:
        """Resident memory of the server process and its children (workers), KiB."""
        total = 0
        for pid in [self.pid, *_children(self.pid)]:
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            except FileNotFoundError:
                pass
        return total

    def cpu_seconds(self) -> dict[int, float]:
        """CPU time (user + system) used so far by each process that serves: the workers
        when there are any, else the server process itself."""
        pids = _children(self.pid) or [self.pid]
        tick = os.sysconf("SC_CLK_TCK")
        out = {}
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except FileNotFoundError:
                continue
            out[pid] = (int(fields[11]) + int(fields[12])) / tick  # utime, stime
        return out


def busy_workers(before: dict[int, float], after: dict[int, float]) -> int:
    """How many processes did a share of the work between two cpu_seconds() readings: a
    tenth or more of the busiest one's CPU time."""
    used = [after[pid] - before.get(pid, 0.0) for pid in after]
    top = max(used, default=0.0)
    return sum(1 for u in used if top > 0 and u >= 0.1 * top)


def _children(pid: int) -> list[int]:
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except FileNotFoundError:
        return []
    out = [int(k) for k in kids]
    for k in list(out):
        out += _children(k)
    return out


@contextmanager
def server(args: Sequence[str] = (), env: dict[str, str] | None = None,
           module: str = "app.cli", workers: int = 1) -> Iterator[Server]:
    """A `featuremaps serve` (or another module's app) on a free loopback port.

    Its logs (stderr) go to a temporary file, shown if it fails to start: a pipe nobody
    reads would stall a server that logs more than the pipe holds, and reading one while
    the server still runs would never return."""
    port = free_port()
    cmd = [sys.executable, "-m", module, "serve", "--host", "127.0.0.1", "--port", str(port),
           "--workers", str(workers), *args]
    full_env = {**os.environ, "FEATUREMAPS_ACCESS_LOG": "false", "FEATUREMAPS_DEVICE": "cpu",
                "FEATUREMAPS_LOG_LEVEL": "warning", **(env or {})}
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(cmd, env=full_env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=log)
        try:
            deadline = time.monotonic() + 90
            while True:
                try:
                    status, _, _ = request_once(port, "GET", "/healthz", b"", {})
                    if status == 200:
                        break
                except OSError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    err = log.read().decode(errors="replace")
                    raise RuntimeError(f"server did not start: {err[-2000:]}")
                time.sleep(0.2)
            # each worker listens once its models are loaded: a load started at the first
            # answer would keep its connections on the workers ready by then
            if module == "app.cli" and workers > 1:
                wait_for_workers(port, workers, deadline - time.monotonic())
            yield Server(port, proc.pid)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def answering_pids(port: int, clients: int) -> set[int]:
    """The processes that answer `clients` connections opened at once to a featuremaps
    server (each /metrics answer holds every worker's series, the answering worker's
    first: its device line is the first)."""
    connections = [Connection(port) for _ in range(clients)]
    try:
        pids = set()
        for conn in connections:
            _, _, body = conn.request(build_request("GET", "/metrics", b"", {}))
            found = re.search(rb'^featuremaps_device_info{pid="(\d+)"', body, re.MULTILINE)
            if found is None:
                raise RuntimeError("/metrics names no pid")
            pids.add(int(found[1]))
        return pids
    finally:
        for conn in connections:
            conn.close()


def wait_for_workers(port: int, count: int, timeout: float = 60.0) -> set[int]:
    """The pids of a featuremaps server's `count` workers, once each has answered (a worker
    listens once its models are loaded); a connection refused or cut meanwhile is retried."""
    deadline = time.monotonic() + timeout
    seen: set[int] = set()
    while len(seen) < count:
        with suppress(OSError):
            seen |= answering_pids(port, 4 * count)
        if len(seen) >= count:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(seen)} of {count} workers answered: {sorted(seen)}")
        time.sleep(0.2)
    return seen


def build_request(method: str, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if line:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
    return status, headers


class Connection:
    """A blocking keep-alive HTTP/1.1 connection: little client overhead for latency runs."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def request(self, raw: bytes) -> tuple[int, dict[str, str], bytes]:
        self.sock.sendall(raw)
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        status, headers = _parse_head(head)
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("closed")
            rest += chunk
        self.buf = rest[length:]
        return status, headers, rest[:length]

    def close(self) -> None:
        self.sock.close()


def request_once(port: int, method: str, path: str, body: bytes,
                 headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    conn = Connection(port)
    try:
        return conn.request(build_request(method, path, body, headers))
    finally:
        conn.close()


async def _async_request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                         raw: bytes) -> tuple[int, int]:
    writer.write(raw)
    head = await reader.readuntil(b"\r\n\r\n")
    status, headers = _parse_head(head[:-4])
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    if headers.get("connection", "").lower() == "close":
        raise ConnectionResetError("server closed the connection")
    return status, len(body)


@dataclass
class LoadResult:
    requests: int
    seconds: float
    latencies_ms: list[float]
    statuses: dict[int, int]
    bytes_received: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def pct(self, q: float) -> float:
        return percentile(self.latencies_ms, q)


async def _load(port: int, raws: Sequence[bytes], clients: int, seconds: float,
                max_requests: int) -> LoadResult:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    received = 0
    stop = time.perf_counter() + seconds
    counter = 0

    async def client(k: int) -> None:
        nonlocal received, counter
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        i = k
        while time.perf_counter() < stop and counter < max_requests:
            counter += 1
            raw = raws[i % len(raws)]
            i += 1
            t0 = time.perf_counter()
            try:
                status, size = await _async_request(reader, writer, raw)
            except (ConnectionError, asyncio.IncompleteReadError):
                statuses[-1] = statuses.get(-1, 0) + 1
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            latencies.append((time.perf_counter() - t0) * 1000)
            statuses[status] = statuses.get(status, 0) + 1
            received += size
        writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(client(k) for k in range(clients)))
    elapsed = time.perf_counter() - t0
    return LoadResult(len(latencies), elapsed, latencies, statuses, received)


def load(port: int, raws: Sequence[bytes], clients: int, seconds: float,
         max_requests: int = 10**9) -> LoadResult:
    """`clients` keep-alive connections sending raws round-robin for `seconds` (bounded)."""
    return asyncio.run(_load(port, raws, clients, seconds, max_requests))


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def server_timing(header: str) -> dict[str, float]:
    """{stage: ms} from a Server-Timing text such as 'decode;dur=0.6, infer;dur=2.2' (what
    the server sends with a POST, and the page reports for both of its transports)."""
    stages = {}
    for part in header.split(","):
        name, _, dur = part.strip().partition(";dur=")
        if dur:
            stages[name] = float(dur)
    return stages


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def timeit(call: Callable[[], object], repeat: int, warmup: int = 20) -> list[float]:
    """Milliseconds per call of call(), `repeat` times after a warm-up."""
    for _ in range(warmup):
        call()
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        call()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def table(rows: Sequence[Sequence[object]], head: Sequence[str]) -> str:
    cells = [[str(c) for c in head]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
