"""Pointer-to-painted latency of the drawing page, measured in a real browser.

Starts the server on a free 127.0.0.1 port (bench/common.py's server(), with every model
in models/), opens the page in Debian's Chromium through Playwright, draws one long
continuous stroke of many mouse moves, and reads the page's `fm:painted` events: for every
paint of the maps, the time of the newest pointer event it includes (`pointerTime`, the
event's timeStamp) and the time its canvases were painted (`paintedTime`).

    python -m bench.browser_latency [--moves 400] [--interval-ms 8] [--transports T,T]
                                      [--moves-from cdp|page] [--torch-threads 1,0]
                                      [--rounds N] [--json PATH]

Prints the median and p90 pointer-to-painted time in ms and the update rate (paints per
second while drawing), for the page's live WebSocket and for POST (?transport=http), one
after the other against the same server. With several --torch-threads values (the server's
FEATUREMAPS_TORCH_THREADS; 1 is the shipped setting, 0 one thread per core) each round
starts one server per value, alternating, and a summary gives the median over rounds.
The page keeps at most one request in flight and sends the newest drawing when it lands, so
the rate is bounded by the round trip and not by the mouse.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from app.ml import registry
from bench.common import ROOT, request_once, server, server_timing

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]
RECORDER = """
document.addEventListener('fm:painted', (e) => {
  (window.__fmPaints = window.__fmPaints || []).push(e.detail);
});
document.addEventListener('pointerdown', (e) => { window.__fmPointerId = e.pointerId; }, true);
"""
# In-page moves: the events a real mouse would deliver to the pad, made by a timer in the
# page, so that no test driver (Playwright's client and its Node process, CDP messages)
# shares the machine's cores during the stroke.
PAGE_MOVES = """
async ({points, interval}) => {
  const canvas = document.getElementById('pad');
  const type = 'onpointerrawupdate' in window ? 'pointerrawupdate' : 'pointermove';
  const rect = canvas.getBoundingClientRect();
  const start = performance.now();
  for (let i = 0; i < points.length; i += 1) {
    const wait = start + i * interval - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const [x, y] = points[i];
    canvas.dispatchEvent(new PointerEvent(type, {
      pointerId: window.__fmPointerId, pointerType: 'mouse', isPrimary: true, buttons: 1,
      clientX: rect.left + x * rect.width, clientY: rect.top + y * rect.height,
      bubbles: true, cancelable: true}));
  }
  return (performance.now() - start) / 1000;
}
"""


def stroke_path(n: int) -> list[tuple[float, float]]:
    """n points of a slow zigzag down the pad, in 0..1 pad coordinates."""
    points = []
    for i in range(n):
        t = i / max(1, n - 1)
        rows = 6
        y = 0.15 + 0.7 * t
        phase = (t * rows) % 2.0
        x = 0.15 + 0.7 * (phase if phase <= 1.0 else 2.0 - phase)
        points.append((x, y))
    return points


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


async def settle(page: Any, quiet_ms: int = 600, limit_s: float = 30.0) -> None:
    """Wait until no paint has landed for quiet_ms (the last drawing is on screen)."""
    deadline = time.monotonic() + limit_s
    seen = -1
    while time.monotonic() < deadline:
        count = await page.evaluate("(window.__fmPaints || []).length")
        if count == seen:
            return
        seen = count
        await page.wait_for_timeout(quiet_ms)


async def draw(page: Any, cdp: Any, box: dict[str, float], points: list[tuple[float, float]],
               interval_s: float) -> float:
    """Press, move through `points` one every interval_s, release; returns the seconds taken.

    Moves go straight to Chromium's input pipeline over CDP (Input.dispatchMouseEvent, the
    call Playwright's mouse uses) at a fixed rate, like a real mouse, without waiting for
    each to be handled first: awaiting each one paces the stroke by the page's frame rate.
    Without a CDP session (cdp None) a timer in the page dispatches them (PAGE_MOVES).
    """
    def at(x: float, y: float) -> tuple[float, float]:
        return box["x"] + x * box["width"], box["y"] + y * box["height"]

    await page.mouse.move(*at(*points[0]))
    await page.mouse.down()
    if cdp is None:  # the moves come from the page itself
        taken: float = await page.evaluate(PAGE_MOVES, {"points": points[1:],
                                                        "interval": interval_s * 1000})
        await page.mouse.up()
        return taken
    started = time.perf_counter()
    pending = []
    for i, (x, y) in enumerate(points[1:], start=1):
        delay = started + i * interval_s - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        px, py = at(x, y)
        pending.append(asyncio.ensure_future(cdp.send("Input.dispatchMouseEvent", {
            "type": "mouseMoved", "x": px, "y": py, "button": "left", "buttons": 1})))
    await asyncio.gather(*pending)
    await page.mouse.up()
    return time.perf_counter() - started


async def measure(base: str, moves: int, interval_ms: float,
                  transport: str = "websocket", moves_from: str = "cdp") -> dict[str, Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                                          headless=True)
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        await page.add_init_script(RECORDER)
        await page.goto(base + ("/?transport=http" if transport == "http" else "/"))
        await page.wait_for_selector("body[data-ready]")
        cdp = await page.context.new_cdp_session(page) if moves_from == "cdp" else None
        found = await page.locator("#pad").bounding_box()
        assert found is not None
        box = {"x": found["x"], "y": found["y"], "width": found["width"],
               "height": found["height"]}
        # warm-up: the first requests pay for connection set-up and first-use costs
        await draw(page, cdp, box, stroke_path(40), interval_ms / 1000)
        await settle(page)
        await page.click("#clear")
        await page.evaluate("window.__fmPaints = []")

        stroke_s = await draw(page, cdp, box, stroke_path(moves), interval_ms / 1000)
        await settle(page)
        paints: list[dict[str, Any]] = await page.evaluate("window.__fmPaints")
        await browser.close()

    drawn = [d for d in paints if d["source"] == "pad" and d["pointerTime"] is not None]
    if len(drawn) < 3:
        raise SystemExit(f"only {len(drawn)} paints were recorded; is the page working?")
    used = {d.get("transport") for d in drawn}
    if used != {transport}:
        raise SystemExit(f"asked for {transport}, the page used {', '.join(map(str, used))}")
    latencies = [d["paintedTime"] - d["pointerTime"] for d in drawn]
    span_ms = drawn[-1]["paintedTime"] - drawn[0]["pointerTime"]

    def stage(a: str, b: str) -> float:
        return round(float(statistics.median(d[b] - d[a] for d in drawn)), 2)

    # decode + infer: what both transports report (a socket's answer cannot carry the time
    # it took to encode itself)
    server_ms = [sum(ms for name, ms in server_timing(d["serverTiming"]).items()
                     if name in ("decode", "infer"))
                 for d in drawn if d.get("serverTiming")]
    arrived = [d for d in drawn if d.get("arrivedTime") is not None]
    return {
        "transport": transport,
        "moves_from": moves_from,
        "moves": moves,
        "interval_ms": interval_ms,
        "stroke_seconds": round(stroke_s, 3),
        "paints": len(drawn),
        "median_ms": round(statistics.median(latencies), 2),
        "p90_ms": round(percentile(latencies, 0.9), 2),
        "min_ms": round(min(latencies), 2),
        "max_ms": round(max(latencies), 2),
        "paints_per_second": round(len(drawn) / (span_ms / 1000), 1),
        "stages_median_ms": {
            "pointer_to_send": stage("pointerTime", "sentTime"),
            "encode_png": stage("sentTime", "encodedTime"),
            "round_trip": stage("encodedTime", "receivedTime"),
            "paint": stage("receivedTime", "paintedTime"),
        },
        # on the socket: from the answer's arrival to its maps decoded (gunzip + parse)
        "unzip_decode_ms": round(float(statistics.median(
            d["receivedTime"] - d["arrivedTime"] for d in arrived)), 2) if arrived else None,
        "server_ms_median": round(statistics.median(server_ms), 2) if server_ms else None,
        "server_timing_sample": drawn[len(drawn) // 2].get("serverTiming", ""),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=400, help="mouse moves in the stroke")
    parser.add_argument("--interval-ms", type=float, default=8.0,
                        help="time between mouse moves (8 ms = a 125 Hz mouse)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"],
                        help="the server's device")
    parser.add_argument("--transports", default="websocket,http",
                        help="the page's live transports to measure, one after the other on "
                             "the same server (websocket: the live socket; http: POST)")
    parser.add_argument("--moves-from", default="cdp", choices=["cdp", "page"],
                        help="cdp: mouse moves sent by this script over CDP, as Playwright's "
                             "mouse does; page: dispatched by a timer in the page, so no "
                             "driver process competes for the cores during the stroke")
    parser.add_argument("--torch-threads", default="1",
                        help="the server's intra-op threads (FEATUREMAPS_TORCH_THREADS), one "
                             "server per value, side by side: e.g. 1,0")
    parser.add_argument("--rounds", type=int, default=1,
                        help="rounds of every server setting and transport")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        raise SystemExit(f"{CHROMIUM} is missing: install Debian's chromium package")
    if args.rounds < 1:
        raise SystemExit("--rounds must be at least 1")
    models = ",".join(registry.shipped_variants(ROOT / "models"))
    settings = [int(t) for t in args.torch_threads.split(",")]
    transports = args.transports.split(",")
    runs: list[dict[str, Any]] = []
    health: dict[str, Any] = {}
    load_before = os.getloadavg()[0]
    for _ in range(args.rounds):
        for threads in settings:
            env = {"FEATUREMAPS_MODELS": models, "FEATUREMAPS_DEVICE": args.device,
                   "FEATUREMAPS_TORCH_THREADS": str(threads)}
            with server(env=env) as srv:
                health = json.loads(request_once(srv.port, "GET", "/healthz", b"", {})[2])
                for t in transports:
                    figures = asyncio.run(measure(f"http://127.0.0.1:{srv.port}", args.moves,
                                                  args.interval_ms, t, args.moves_from))
                    runs.append({"torch_threads": threads, **figures})
                    report(runs[-1])
    # the figures depend on the machine: say which, and how busy it was
    host = {"device": health["device"], "models": health["models"],
            "cpu_count": os.cpu_count(), "load_average_1min": round(load_before, 2)}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"runs": runs, "host": host}, indent=2) + "\n")
    if args.rounds > 1 or len(settings) > 1:
        sys.stdout.write("summary, median over rounds of each run's median:\n")
        for threads in settings:
            for t in transports:
                mine = [r for r in runs if r["torch_threads"] == threads and r["transport"] == t]
                medians = ", ".join(f"{r['median_ms']:.1f}" for r in mine)
                server_ms = [r["server_ms_median"] for r in mine
                             if r["server_ms_median"] is not None]
                sys.stdout.write(
                    f"  torch threads {threads} ({'one per core' if threads == 0 else threads})"
                    f", {t}: median {statistics.median(r['median_ms'] for r in mine):.1f} ms "
                    f"(runs {medians}), "
                    f"{statistics.median(r['paints_per_second'] for r in mine):.0f} paints/s"
                    + (f", server decode + infer {statistics.median(server_ms):.2f} ms"
                       if server_ms else "") + "\n")
    sys.stdout.write(f"host: {host}\n")
    return 0


def report(figures: dict[str, Any]) -> None:
    sys.stdout.write(
        f"[{figures['transport']}, torch threads {figures['torch_threads']}] pointer-to-painted "
        f"over {figures['paints']} paints ({figures['moves']} mouse moves from "
        f"{figures['moves_from']}, one every {figures['interval_ms']:g} ms): "
        f"median {figures['median_ms']:.1f} ms, p90 {figures['p90_ms']:.1f} ms; "
        f"{figures['paints_per_second']:.1f} paints/s\n"
        f"  stroke drawn in {figures['stroke_seconds']:.1f} s; "
        f"median stages (ms): {figures['stages_median_ms']}\n"
        f"  server's own decode + infer per update (median): "
        f"{figures['server_ms_median']} ms"
        + (f"; unzip + decode in the page: {figures['unzip_decode_ms']} ms"
           if figures["unzip_decode_ms"] is not None else "") + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
