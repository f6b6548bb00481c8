"""Server figures, each comparison measured side by side in one run (python -m bench.server).

1. latency of POST /api/v1/featuremaps over loopback (both networks, every layer, uint8)
   against the in-process time of the two forward passes with capture alone;
2. requests per second against the naive reference server (bench/naive_server.py);
3. bytes on the wire per update, per format;
4. throughput at 16 concurrent clients, and how it scales with workers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

import numpy as np
import torch
from starlette.types import Message

from app.api import wire
from app.api.inputs import Payload
from app.api.routes.featuremaps import answer
from app.config import Settings
from app.main import create_app
from app.ml import preprocess, resample
from app.ml.capture import capture
from app.ml.device import configure_threads
from app.ml.engine import Engine
from bench.common import (
    DIGITS,
    Connection,
    build_request,
    busy_workers,
    load,
    median,
    page_drawings,
    percentile,
    server,
    server_timing,
    table,
    timeit,
)

PATH = "/api/v1/featuremaps?models=max,avg&encoding=uint8"
PAGE_CASE = "binary, the page's 112 px drawings"
FORMATS = {
    "binary+gzip": {"Accept": "application/x-featuremaps", "Accept-Encoding": "gzip"},
    "binary": {"Accept": "application/x-featuremaps"},
    "json": {},
}


def digit_requests(headers: dict[str, str], bodies: list[bytes] | None = None) -> list[bytes]:
    """The live update's request for each of `bodies` (MNIST's digits as Pillow writes
    them, DIGITS, where none are given)."""
    return [build_request("POST", PATH, body, {"Content-Type": "image/png", **headers})
            for body in (bodies or [p.read_bytes() for p in DIGITS])]


class Forward:
    """Two forward passes with capture, nothing else, with the server's thread settings."""

    def __init__(self) -> None:
        settings = Settings(device="cpu", models=["max", "avg"])
        configure_threads(settings.torch_threads, 1, settings.inference_threads)
        self.nets = Engine.load(settings).nets(["max", "avg"])
        self.xs = [torch.from_numpy(preprocess.from_image(p.read_bytes(), 10**6))
                   .reshape(1, 1, 28, 28) for p in DIGITS]
        self.i = 0

    def __call__(self) -> None:
        x = self.xs[self.i % len(self.xs)]
        self.i += 1
        with torch.inference_mode():
            for net in self.nets:
                capture(net, x)


def paired_latency(port: int, forward: Forward, raws: list[bytes], rounds: int, per_round: int,
                   stages: dict[str, list[float]] | None = None
                   ) -> tuple[list[float], list[float], list[float]]:
    """Rounds of (in-process forward, then as many requests over loopback), so that both see
    the same state of this shared machine; the ratio is taken per round. Returns every
    request latency, every forward time and the per-round ratios of medians; `stages`
    collects the server's own Server-Timing durations."""
    stages = {} if stages is None else stages
    conn = Connection(port)
    latencies: list[float] = []
    forwards: list[float] = []
    ratios: list[float] = []
    i = 0

    def one() -> None:
        nonlocal i
        status, headers, _ = conn.request(raws[i % len(raws)])
        i += 1
        assert status == 200, status
        for name, ms in server_timing(headers.get("server-timing", "")).items():
            stages.setdefault(name, []).append(ms)

    try:
        for _ in range(rounds):
            f = timeit(forward, per_round)
            r = timeit(one, per_round)
            forwards += f
            latencies += r
            ratios.append(median(r) / median(f))
    finally:
        conn.close()
    return latencies, forwards, ratios


def idle_forward_ms(forward: Forward, repeat: int, idle_s: float = 0.002) -> list[float]:
    """The same forward passes, each after `idle_s` of sleep, as a server meets them between
    requests: on this virtual machine a core that has just idled runs them far slower than
    a hot loop does."""
    out = []
    for _ in range(repeat):
        time.sleep(idle_s)
        out += timeit(forward, 1, warmup=0)
    return out


class InProcess:
    """The app's ASGI callable driven in this process, no socket: what the app adds to a
    request (its middleware, and the fast path that answers this route below FastAPI's
    routing: app/api/fastpath.py) against the same work (answer()) called directly, and an
    unknown path (middleware, then FastAPI's routing to a 404)."""

    def __init__(self) -> None:
        self.app = create_app(Settings(device="cpu", models=["max", "avg"], access_log=False))
        self.loop = asyncio.new_event_loop()
        self.bodies = [p.read_bytes() for p in DIGITS]
        self.to_app: asyncio.Queue[Message] = asyncio.Queue()
        self.from_app: asyncio.Queue[Message] = asyncio.Queue()

        async def start() -> Message:
            await self.to_app.put({"type": "lifespan.startup"})
            self.lifespan = asyncio.ensure_future(self.app(
                {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}},
                self.to_app.get, self.from_app.put))
            return await self.from_app.get()

        started = self.loop.run_until_complete(start())
        assert started["type"] == "lifespan.startup.complete", started

    def close(self) -> None:
        """The lifespan's shutdown: the app closes its gates (their threads end)."""

        async def stop() -> Message:
            await self.to_app.put({"type": "lifespan.shutdown"})
            stopped = await self.from_app.get()
            await self.lifespan
            return stopped

        stopped = self.loop.run_until_complete(stop())
        self.loop.close()
        assert stopped["type"] == "lifespan.shutdown.complete", stopped

    async def _post(self, path: str, body: bytes) -> int:
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                 "method": "POST", "scheme": "http", "path": path, "raw_path": path.encode(),
                 "query_string": b"models=max,avg&encoding=uint8", "root_path": "",
                 "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"image/png"),
                             (b"content-length", str(len(body)).encode()),
                             (b"accept", wire.BINARY_TYPE.encode())],
                 "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "state": {}}
        messages = [{"type": "http.request", "body": body, "more_body": False}]
        status = 0

        async def receive() -> Message:
            return messages.pop() if messages else {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            nonlocal status
            status = message.get("status", status)

        await self.app(scope, receive, send)
        return status

    def run(self, rounds: int, per_round: int) -> dict[str, float]:
        state = self.app.state

        async def measure() -> dict[str, float]:
            app_ms: list[float] = []
            direct_ms: list[float] = []
            unknown_ms: list[float] = []
            added: list[float] = []  # per round: app - direct
            for r in range(rounds + 1):  # round 0 warms up
                times: dict[str, list[float]] = {"app": [], "direct": [], "unknown": []}
                for i in range(per_round):
                    body = self.bodies[i % len(self.bodies)]
                    t0 = time.perf_counter()
                    answer(state.engine, state.settings, Payload("image", body), ["max", "avg"],
                           "uint8", True, False)
                    t1 = time.perf_counter()
                    status = await self._post("/api/v1/featuremaps", body)
                    t2 = time.perf_counter()
                    await self._post("/api/v1/nothing-here", body)
                    t3 = time.perf_counter()
                    assert status == 200, status
                    times["direct"].append((t1 - t0) * 1000)
                    times["app"].append((t2 - t1) * 1000)
                    times["unknown"].append((t3 - t2) * 1000)
                if r:
                    app_ms += times["app"]
                    direct_ms += times["direct"]
                    unknown_ms += times["unknown"]
                    added.append(median(times["app"]) - median(times["direct"]))
            return {"app_ms": median(app_ms), "direct_ms": median(direct_ms),
                    "added_ms": median(added), "unknown_ms": median(unknown_ms)}

        return self.loop.run_until_complete(measure())


def preparing(rounds: int, per_round: int) -> dict[str, dict[str, float]]:
    """Decoding and preparing a live update's picture in-process (preprocess.from_image),
    as the server does it and as it did through Pillow alone (Pillow's PNG decoder for
    every PNG, Pillow's resize of the crop: resample.through_pillow), in alternating
    rounds; medians in ms, for MNIST's digits as Pillow writes them and the page's
    drawings."""
    bodies = {"MNIST digits (Pillow's PNGs)": [p.read_bytes() for p in DIGITS],
              "the page's 112 px drawings": page_drawings()}
    ways: dict[str, Callable[[], contextlib.AbstractContextManager[None]]] = {
        "ours": contextlib.nullcontext, "through Pillow": _through_pillow}
    times: dict[str, dict[str, list[float]]] = {k: {w: [] for w in ways} for k in bodies}
    for _ in range(rounds):
        for kind, these in bodies.items():
            for way, context in ways.items():
                i = 0

                def one(these: list[bytes] = these) -> None:
                    nonlocal i
                    preprocess.from_image(these[i % len(these)], 10**6)
                    i += 1

                with context():
                    times[kind][way] += timeit(one, per_round)
    return {kind: {way: median(t) for way, t in ts.items()} for kind, ts in times.items()}


@contextlib.contextmanager
def _through_pillow() -> Iterator[None]:
    with mock.patch.object(preprocess, "grey_png_rows", lambda data: None), \
            mock.patch.object(preprocess, "png_rows_short", lambda data: False), \
            mock.patch.object(preprocess, "lanczos", resample.through_pillow):
        yield


def wire_sizes(port: int) -> dict[str, list[int]]:
    sizes: dict[str, list[int]] = {name: [] for name in FORMATS}
    conn = Connection(port)
    for name, headers in FORMATS.items():
        for raw in digit_requests(headers):
            status, h, body = conn.request(raw)
            assert status == 200
            sizes[name].append(len(body))
    conn.close()
    return sizes


def run(repeat: int, seconds: float, workers: list[int]) -> dict[str, Any]:
    out: dict[str, Any] = {"cores": os.cpu_count()}
    forward = Forward()
    rounds = max(5, repeat // 100)
    per_round = max(20, repeat // rounds)
    with server() as srv:
        port = srv.port
        latency: dict[str, dict[str, Any]] = {}
        # each format with MNIST's digits, and the binary one with the page's own drawings
        cases = [(name, digit_requests(h)) for name, h in FORMATS.items()]
        cases.append((PAGE_CASE, digit_requests(FORMATS["binary"], page_drawings())))
        for name, raws in cases:
            stages: dict[str, list[float]] = {}
            lat, fwd, ratios = paired_latency(port, forward, raws, rounds, per_round, stages)
            latency[name] = {"p50_ms": median(lat), "p99_ms": percentile(lat, 99),
                             "forward_ms": median(fwd), "ratio": median(ratios),
                             "server_ms": {k: median(v) for k, v in stages.items()}}
        out["forward_after_idle_ms"] = median(idle_forward_ms(forward, per_round * 2))
        out["preparing_ms"] = preparing(rounds, per_round)
        in_process = InProcess()
        try:
            out["in_process"] = in_process.run(rounds, per_round)
        finally:
            in_process.close()
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        out["forward_one_thread_ms"] = median(timeit(forward, per_round * 2))
        torch.set_num_threads(threads)
        sizes = wire_sizes(port)
        ours = load(port, digit_requests(FORMATS["binary+gzip"]), clients=4, seconds=seconds)
        ours_json = load(port, digit_requests(FORMATS["json"]), clients=4, seconds=seconds)
    out["forward_ms"] = median([v["forward_ms"] for v in latency.values()])
    out["latency"] = latency
    with server(module="bench.naive_server") as srv:
        port = srv.port
        naive_raws = [build_request("POST", "/api/v1/featuremaps", p.read_bytes(),
                                    {"Content-Type": "image/png"}) for p in DIGITS]
        untyped_raws = [build_request("POST", "/api/v1/untyped", p.read_bytes(),
                                      {"Content-Type": "image/png"}) for p in DIGITS]
        floor_raws = [build_request("POST", "/api/v1/floor", p.read_bytes(),
                                    {"Content-Type": "image/png"}) for p in DIGITS]
        conn = Connection(port)
        naive_sizes = [len(conn.request(r)[2]) for r in naive_raws]
        conn.close()
        lat, fwd, ratios = paired_latency(port, forward, floor_raws, rounds, per_round)
        out["floor"] = {"p50_ms": median(lat), "p99_ms": percentile(lat, 99),
                        "forward_ms": median(fwd), "ratio": median(ratios)}
        naive = load(port, naive_raws, clients=4, seconds=seconds)
        untyped = load(port, untyped_raws, clients=4, seconds=seconds)
    sizes["naive float JSON"] = naive_sizes
    out["bytes"] = {k: {"median": median(v), "max": max(v)} for k, v in sizes.items()}
    out["vs_naive"] = {
        "naive_rps": naive.rps, "ours_rps": ours.rps, "ours_json_rps": ours_json.rps,
        "speedup": ours.rps / naive.rps, "speedup_json": ours_json.rps / naive.rps,
        "naive_p50_ms": naive.pct(50), "errors": {k: v for k, v in naive.statuses.items()
                                                  if k != 200},
        "untyped_rps": untyped.rps, "speedup_vs_untyped": ours.rps / untyped.rps,
    }
    scaling = []
    for n in workers:
        with server(workers=n) as srv:
            before = srv.cpu_seconds()
            r = load(srv.port, digit_requests(FORMATS["binary+gzip"]), clients=16,
                     seconds=seconds)
            busy = busy_workers(before, srv.cpu_seconds())
        scaling.append({"workers": n, "rps": r.rps, "p50_ms": r.pct(50), "p99_ms": r.pct(99),
                        "requests": r.requests, "busy": busy,
                        "errors": sum(v for k, v in r.statuses.items() if k != 200)})
    out["load16"] = scaling
    return out


def report(out: dict[str, Any]) -> str:
    lines = [f"CPU cores: {out['cores']}; in-process forward + capture, both networks: "
             f"median {out['forward_ms']:.3f} ms in a hot loop, "
             f"{out['forward_after_idle_ms']:.3f} ms right after 2 ms of idle", ""]
    rows = [[name, f"{v['p50_ms']:.3f}", f"{v['p99_ms']:.3f}", f"{v['forward_ms']:.3f}",
             f"{v['ratio']:.2f}"]
            for name, v in [*out["latency"].items(), ("no work (floor)", out["floor"])]]
    lines += ["1. POST /api/v1/featuremaps over loopback, one client, sequential, in rounds "
              "paired with the in-process forward",
              table(rows, ["format", "p50 ms", "p99 ms", "forward ms",
                           "ratio (median of rounds)"]),
              "no work (floor): an endpoint on the same stack that only reads the body and "
              "answers 81 KB",
              "the same p50s against the forward as a server meets it, right after idle: "
              + ", ".join(f"{name} {lat['p50_ms'] / out['forward_after_idle_ms']:.2f}"
                          for name, lat in out["latency"].items()),
              "inside the server (Server-Timing medians, ms): " + "; ".join(
                  f"{name} " + ", ".join(f"{k} {v:.2f}" for k, v in lat["server_ms"].items())
                  for name, lat in out["latency"].items()),
              "decoding and preparing the picture in-process (medians of alternating "
              "rounds, ms), as the server does it / through Pillow alone: " + "; ".join(
                  f"{kind} {ways['ours']:.3f} / {ways['through Pillow']:.3f}"
                  for kind, ways in out["preparing_ms"].items()),
              "in-process, no socket, binary (the ASGI app called directly; medians, ms): "
              f"through the app {out['in_process']['app_ms']:.2f}, the same work called "
              f"directly {out['in_process']['direct_ms']:.2f}: the middleware and the fast "
              f"path add {out['in_process']['added_ms']:.2f} "
              f"(an unknown path, middleware and FastAPI's routing to a 404: "
              f"{out['in_process']['unknown_ms']:.2f})", ""]
    n = out["vs_naive"]
    lines += ["2. against the naive reference (4 clients, same load)",
              table([["naive float JSON", f"{n['naive_rps']:.1f}", "1.0x"],
                     ["naive, untyped (jsonable_encoder)", f"{n['untyped_rps']:.1f}",
                      f"{n['untyped_rps'] / n['naive_rps']:.2f}x"],
                     ["ours, binary+gzip", f"{n['ours_rps']:.1f}", f"{n['speedup']:.1f}x"],
                     ["ours, JSON base64", f"{n['ours_json_rps']:.1f}",
                      f"{n['speedup_json']:.1f}x"]],
                    ["server", "requests/s", "vs naive"]),
              f"ours against the untyped naive endpoint: {n['speedup_vs_untyped']:.1f}x",
              f"ceiling if a request cost only its forward: {out['cores']} cores x 1000 / "
              f"{out['forward_one_thread_ms']:.2f} ms (one thread) = "
              f"{out['cores'] * 1000 / out['forward_one_thread_ms']:,.0f} requests/s; 50x the "
              f"naive server would need {50 * n['naive_rps']:,.0f}", ""]
    rows = [[k, f"{v['median'] / 1000:.1f}", f"{v['max'] / 1000:.1f}"]
            for k, v in out["bytes"].items()]
    lines += ["3. bytes on the wire per update (10 MNIST digits, both networks, every map)",
              table(rows, ["format", "median KB", "max KB"]), ""]
    rows = [[s["workers"], s["busy"], f"{s['rps']:.0f}", f"{s['p50_ms']:.2f}",
             f"{s['p99_ms']:.2f}", s["requests"], s["errors"]] for s in out["load16"]]
    lines += ["4. 16 concurrent clients, binary+gzip (busy: the workers that did a tenth or "
              "more of the busiest one's CPU work)",
              table(rows, ["workers", "busy", "requests/s", "p50 ms", "p99 ms", "requests",
                           "errors"])]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    out = run(args.repeat, args.seconds, [int(w) for w in args.workers.split(",")])
    print(report(out))  # noqa: T201
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
