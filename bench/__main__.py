"""`make bench`: every CPU benchmark, printed as tables (python -m bench [--quick])."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from bench import batch, soak
from bench import server as server_bench
from bench.common import ROOT, server, table


def verdict(ok: bool) -> str:
    return "met" if ok else "not met"


def summary(figures: dict[str, Any]) -> str:
    """One table of the issue's CPU targets, from this run's figures: each with what was
    measured, the target and whether it was met. The browser (python -m
    bench.browser_latency) and the GPU (scripts/gpu-check.sh) have their own commands."""
    srv = figures["server"]
    lat = srv["latency"]
    naive = srv["vs_naive"]
    size = srv["bytes"]["binary+gzip"]
    load = srv["load16"]
    kept = [r for r in figures["batch"] if r["memory_kept"]]
    soak = figures["soak"]
    ratio = lat["binary"]["ratio"]
    rows = [
        ["1. POST p50 / in-process forward (binary; gzip, JSON; the page's drawings)",
         f"{ratio:.2f}; {lat['binary+gzip']['ratio']:.2f}, {lat['json']['ratio']:.2f}; "
         f"{lat[server_bench.PAGE_CASE]['ratio']:.2f} "
         f"(p50 {lat['binary']['p50_ms']:.2f} ms, p99 {lat['binary']['p99_ms']:.2f})",
         "<= 2.0", verdict(ratio <= 2.0)],
        ["2. requests/s against the naive float-JSON server",
         f"{naive['speedup']:.1f}x ({naive['ours_rps']:.0f} vs {naive['naive_rps']:.0f}/s; "
         f"{naive['speedup_vs_untyped']:.0f}x the untyped endpoint)",
         ">= 50x", verdict(naive["speedup"] >= 50)],
        ["3. bytes per live update (binary+gzip, median / max)",
         f"{size['median'] / 1000:.1f} / {size['max'] / 1000:.1f} KB", "<= 40 KB",
         verdict(size["max"] <= 40_000)],
        ["4. 16 clients, workers " + " / ".join(str(r["workers"]) for r in load),
         " / ".join(f"{r['rps']:.0f}" for r in load) + " requests/s (busy "
         + " / ".join(str(r["busy"]) for r in load) + "), "
         f"{sum(r['errors'] for r in load)} errors", "0 errors",
         verdict(all(r["errors"] == 0 for r in load))],
        ["7. batch extraction on this CPU, every map / pool2",
         " / ".join(f"{r['images_per_s']:,.0f}" for r in kept) + " images/s",
         "report", "reported"],
        ["soak: 64 clients, memory growth after warm-up",
         f"{soak['rss_growth'] * 100:+.1f}%, {soak['good_5xx'] + soak['bad_5xx']} 5xx",
         "< 10%, no 5xx",
         verdict(soak["rss_growth"] < 0.10 and soak["good_5xx"] + soak["bad_5xx"] == 0)],
    ]
    return (table(rows, ["figure", "measured", "target", ""])
            + "\n5. (browser): python -m bench.browser_latency; 6. and 7. on a GPU: "
              "scripts/gpu-check.sh")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="shorter runs (figures are noisier)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "latest.json")
    args = parser.parse_args()
    repeat, seconds, soak_s = (300, 3.0, 15.0) if args.quick else (2000, 8.0, 60.0)
    figures: dict[str, Any] = {}

    print("== server: latency, naive reference, bytes, load ==", flush=True)  # noqa: T201
    figures["server"] = out = server_bench.run(repeat, seconds, [1, 2, 4])
    print(server_bench.report(out), flush=True)  # noqa: T201

    print("\n== batch extraction (in-process) ==", flush=True)  # noqa: T201
    figures["batch"] = rows = batch.run(10_000)
    print(batch.report(rows), flush=True)  # noqa: T201
    figures["evaluate"] = evaluated = batch.run_evaluate()
    print(batch.report_evaluate(evaluated), flush=True)  # noqa: T201
    figures["prepared"] = ready = batch.measure_prepared()
    print(batch.report_prepared(ready), flush=True)  # noqa: T201

    print(f"\n== soak: 64 clients, {soak_s:.0f} s, good and bad requests ==",  # noqa: T201
          flush=True)
    with server() as srv:
        figures["soak"] = s = asyncio.run(soak._soak(srv, 64, soak_s, 10, 0.3, 200_000))
    print(soak.report(s), flush=True)  # noqa: T201

    print("\n== summary: the CPU targets ==")  # noqa: T201
    print(summary(figures))  # noqa: T201

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2))
    out = args.out.resolve()
    shown = out.relative_to(ROOT) if out.is_relative_to(ROOT) else out
    print(f"\nfigures written to {shown}")  # noqa: T201


if __name__ == "__main__":
    main()
