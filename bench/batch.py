"""Batch extraction on this machine (python -m bench.batch): images per second, in-process,
for every map of both networks, and for pool2 alone, quantised to uint8."""

from __future__ import annotations

import argparse
import json
import time

from app.config import Settings
from app.ml import data
from app.ml.batch import extract
from app.ml.device import configure_threads
from app.ml.engine import Engine
from bench.common import table


def run(n: int, batch_size: int) -> list[dict[str, object]]:
    settings = Settings(device="cpu", models=["max", "avg"])
    configure_threads(0, 1)
    engine = Engine.load(settings)
    images = data.load(settings.data_dir).images("test")[:n]
    rows = []
    for layers in (None, ["pool2"]):
        extract(engine, images[:batch_size], ["max", "avg"], layers, batch_size)  # warm-up
        t0 = time.perf_counter()
        out = extract(engine, images, ["max", "avg"], layers, batch_size)
        seconds = time.perf_counter() - t0
        size = sum(a.nbytes for a in out.values())
        rows.append({"layers": "all" if layers is None else ",".join(layers), "images": n,
                     "seconds": seconds, "images_per_s": n / seconds,
                     "mb_per_s": size / seconds / 1e6, "device": engine.device_name})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--json")
    args = parser.parse_args()
    rows = run(args.images, args.batch_size)
    print(table([[r["layers"], r["images"], f"{r['seconds']:.2f}",  # noqa: T201
                  f"{r['images_per_s']:,.0f}", f"{r['mb_per_s']:.0f}", r["device"]]
                 for r in rows],
                ["layers", "images", "seconds", "images/s", "MB/s out", "device"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
