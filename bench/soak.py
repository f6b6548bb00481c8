"""Load and soak: 64 concurrent clients for 60 s against a live `featuremaps serve` on
loopback, mixing good requests with the bad-input corpus (python -m bench.soak).

Reports: requests by kind and status, zero 5xx on good requests (the check), latency
percentiles of good requests, and the server's resident memory after warm-up and at the end
(growth must stay under 10%). Bounded: at most --max-requests, at most --seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from pathlib import Path
from typing import Any

from bench.common import DIGITS, ROOT, Server, build_request, percentile, server, table

CORPUS = ROOT / "tests" / "data" / "bad"


def good_requests() -> list[bytes]:
    out = []
    for p in DIGITS:
        png = p.read_bytes()
        out.append(build_request("POST", "/api/v1/featuremaps", png, {
            "Content-Type": "image/png", "Accept": "application/x-featuremaps",
            "Accept-Encoding": "gzip"}))
        out.append(build_request("POST", "/api/v1/featuremaps?models=max", png,
                                 {"Content-Type": "image/png"}))
    pixels = json.dumps({"pixels": [[0.0] * 28 for _ in range(28)]}).encode()
    out.append(build_request("POST", "/api/v1/featuremaps?encoding=float16", pixels,
                             {"Content-Type": "application/json"}))
    out.append(build_request("POST", "/api/v1/shifts?models=max,avg", DIGITS[0].read_bytes(),
                             {"Content-Type": "image/png"}))
    out.append(build_request("GET", "/api/v1/models", b"", {}))
    return out


def bad_requests() -> list[bytes]:
    out = []
    for path in sorted(CORPUS.glob("*.json")):
        case = json.loads(path.read_text())
        if "multipart" in case or "body_size" in case:
            continue  # the lean client sends plain bodies only
        body = (CORPUS / case["body_file"]).read_bytes()
        url = case["path"] + (f"?{case['query']}" if case["query"] else "")
        headers = {"Content-Type": case["content_type"]} if case["content_type"] else {}
        out.append(build_request("POST", url, body, headers))
    return out


async def _client(port: int, stop: float, rng: random.Random, good: list[bytes],
                  bad: list[bytes], bad_share: float, stats: dict[str, Any],
                  budget: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    while time.perf_counter() < stop and budget[0] > 0:
        budget[0] -= 1
        kind = "bad" if rng.random() < bad_share else "good"
        raw = rng.choice(bad if kind == "bad" else good)
        t0 = time.perf_counter()
        try:
            writer.write(raw)
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1])
            headers = {k.strip().lower(): v.strip() for k, _, v in
                       (line.partition(":") for line in lines[1:] if line)}
            await reader.readexactly(int(headers.get("content-length", "0")))
            if headers.get("connection", "").lower() == "close":
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except (ConnectionError, asyncio.IncompleteReadError):
            status = -1
            writer.close()
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        ms = (time.perf_counter() - t0) * 1000
        key = f"{kind} {status}"
        stats["counts"][key] = stats["counts"].get(key, 0) + 1
        if kind == "good":
            stats["good_ms"].append(ms)
    writer.close()


async def _soak(srv: Server, clients: int, seconds: float, warmup: float, bad_share: float,
                max_requests: int) -> dict[str, Any]:
    good, bad = good_requests(), bad_requests()
    stats: dict[str, Any] = {"counts": {}, "good_ms": []}
    budget = [max_requests]
    # warm-up at full load, then the measured run
    await asyncio.gather(*(_client(srv.port, time.perf_counter() + warmup, random.Random(k),
                                   good, bad, bad_share, {"counts": {}, "good_ms": []}, budget)
                           for k in range(clients)))
    rss_start = srv.rss_kib()
    samples = [rss_start]
    stop = time.perf_counter() + seconds
    budget[0] = max_requests
    t0 = time.perf_counter()

    async def sample() -> None:
        while time.perf_counter() < stop:
            await asyncio.sleep(2)
            samples.append(srv.rss_kib())

    await asyncio.gather(sample(), *(_client(srv.port, stop, random.Random(1000 + k), good, bad,
                                             bad_share, stats, budget)
                                     for k in range(clients)))
    elapsed = time.perf_counter() - t0
    rss_end = srv.rss_kib()
    good_ms = stats["good_ms"]
    counts = stats["counts"]
    return {
        "clients": clients, "seconds": round(elapsed, 1), "counts": counts,
        "requests": sum(counts.values()), "rps": sum(counts.values()) / elapsed,
        "good_5xx": sum(v for k, v in counts.items() if k.startswith("good 5")),
        "good_errors": sum(v for k, v in counts.items()
                           if k.startswith("good") and not k.endswith(" 200")),
        "bad_5xx": sum(v for k, v in counts.items() if k.startswith("bad 5")),
        "good_p50_ms": percentile(good_ms, 50), "good_p99_ms": percentile(good_ms, 99),
        "good_max_ms": max(good_ms) if good_ms else float("nan"),
        "rss_after_warmup_mib": rss_start / 1024, "rss_end_mib": rss_end / 1024,
        "rss_peak_mib": max(samples) / 1024,
        "rss_growth": (rss_end - rss_start) / rss_start,
    }


def report(r: dict[str, Any]) -> str:
    rows = [[k, v] for k, v in sorted(r["counts"].items())]
    return "\n".join([
        f"{r['clients']} clients for {r['seconds']} s on loopback: {r['requests']:,} requests, "
        f"{r['rps']:.0f}/s",
        table(rows, ["kind status", "requests"]),
        f"good requests: p50 {r['good_p50_ms']:.1f} ms, p99 {r['good_p99_ms']:.1f} ms, "
        f"max {r['good_max_ms']:.1f} ms; 5xx on good requests: {r['good_5xx']}; "
        f"5xx on bad requests: {r['bad_5xx']}",
        f"server memory: {r['rss_after_warmup_mib']:.1f} MiB after warm-up, "
        f"{r['rss_end_mib']:.1f} MiB at the end (peak {r['rss_peak_mib']:.1f}), "
        f"growth {100 * r['rss_growth']:+.1f}%",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--warmup", type=float, default=10)
    parser.add_argument("--bad-share", type=float, default=0.3)
    parser.add_argument("--max-requests", type=int, default=200_000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with server(workers=args.workers) as srv:
        result = asyncio.run(_soak(srv, args.clients, args.seconds, args.warmup, args.bad_share,
                                   args.max_requests))
    print(report(result))  # noqa: T201
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    ok = result["good_5xx"] == 0 and result["rss_growth"] < 0.10
    print("PASS" if ok else "FAIL")  # noqa: T201


if __name__ == "__main__":
    main()
