"""`make bench`: every CPU benchmark, printed as tables (python -m bench [--quick])."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

from bench import batch, soak
from bench import server as server_bench
from bench.common import ROOT, server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="shorter runs (figures are noisier)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "latest.json")
    args = parser.parse_args()
    repeat, seconds, soak_s = (300, 3.0, 15.0) if args.quick else (2000, 8.0, 60.0)
    figures: dict[str, object] = {}

    print("== server: latency, naive reference, bytes, load ==", flush=True)  # noqa: T201
    figures["server"] = out = server_bench.run(repeat, seconds, [1, 2, 4])
    print(server_bench.report(out), flush=True)  # noqa: T201

    print("\n== batch extraction (in-process) ==", flush=True)  # noqa: T201
    figures["batch"] = rows = batch.run(10_000)
    print(batch.report(rows), flush=True)  # noqa: T201
    figures["evaluate"] = evaluated = batch.run_evaluate()
    print(batch.report_evaluate(evaluated), flush=True)  # noqa: T201

    print(f"\n== soak: 64 clients, {soak_s:.0f} s, good and bad requests ==",  # noqa: T201
          flush=True)
    with server() as srv:
        figures["soak"] = s = asyncio.run(soak._soak(srv, 64, soak_s, 10, 0.3, 200_000))
    print(soak.report(s), flush=True)  # noqa: T201

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2))
    print(f"\nfigures written to {args.out.relative_to(ROOT)}; the browser benchmark is "  # noqa: T201
          "python -m bench.browser_latency")


if __name__ == "__main__":
    main()
