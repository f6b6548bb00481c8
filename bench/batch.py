"""Batch extraction on this machine (python -m bench.batch): images per second, in-process,
for every map of both networks and for pool2 alone, quantised to uint8.

Side by side, each in a fresh process (the allocator setting is per process and cannot be
undone): how `featuremaps extract` runs on a CPU (256 images per batch, freed memory kept,
app/ml/device.py keep_freed_memory), the same without keeping freed memory (what the
server's batch endpoint does), and the earlier default of 1,024 images per batch. Then
`featuremaps evaluate` (every shipped network on the 10,000 test and the 10,000 validation
images, and its silent channels, no shifts) with and without freed memory kept, also each
in a fresh process. Last, what the batch route's preprocess=true adds: preparing each
image, against extracting the same images' pool2, in alternating rounds.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from app.config import Settings
from app.ml import data
from app.ml.batch import extract, prepared
from app.ml.device import keep_freed_memory
from bench.common import ROOT, median, table

# (label, images per batch, keep freed memory)
CONFIGS: tuple[tuple[str, int, bool], ...] = (
    ("extract CLI: 256/batch, memory kept", 256, True),
    ("256/batch, glibc default", 256, False),
    ("1,024/batch, glibc default (before)", 1024, False),
)


def measure(n: int, batch_size: int, kept: bool) -> list[dict[str, object]]:
    """In this process: every map, then pool2 alone, for n test images."""
    from app.ml.engine import Engine

    settings = Settings(device="cpu", models=["max", "avg"])  # torch's threads, as the CLI
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
                     "batch_size": batch_size, "memory_kept": kept, "seconds": seconds,
                     "images_per_s": n / seconds, "mb_per_s": size / seconds / 1e6,
                     "device": engine.device_name})
    return rows


def measure_evaluate(kept: bool) -> dict[str, object]:
    """In this process: what `featuremaps evaluate` computes, timed."""
    from app.ml import evaluate

    settings = Settings(device="cpu")
    mnist = data.load(settings.data_dir)
    t0 = time.perf_counter()
    rows = evaluate.evaluate_all(settings.models_dir, mnist, shifts_too=False)
    return {"memory_kept": kept, "networks": len(rows), "seconds": time.perf_counter() - t0}


def run_evaluate() -> list[dict[str, object]]:
    """featuremaps evaluate with freed memory kept (as the CLI runs it) and without."""
    out = []
    for keep in (True, False):
        out.append(child(["--child-evaluate"] + (["--keep-memory"] if keep else [])))
    return out


def measure_prepared(n: int = 2_000, rounds: int = 5) -> list[dict[str, object]]:
    """The batch route's preprocess=true: `prepared` on n test images as a photo holds them
    (dark ink on grey paper), at 28x28 and at 112x112 (each pixel 4x4, as large as the
    page's drawing), against extracting pool2 of the same images (both networks, the
    server's one thread), rounds alternating; medians, in ms an image."""
    import numpy as np
    import torch

    from app.ml.engine import Engine

    settings = Settings(device="cpu", models=["max", "avg"])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the server's batch thread runs
    engine = Engine.load(settings)
    images = data.load(settings.data_dir).images("test")[:n]
    photos = (200 - images.astype(np.float32) * 180 / 255).astype(np.uint8)
    large = np.kron(photos, np.ones((4, 4), np.uint8))
    steps: dict[str, Callable[[], object]] = {"prepare, 28x28": lambda: prepared(photos),
             "prepare, 112x112": lambda: prepared(large),
             "extract pool2": lambda: extract(engine, images, ["max", "avg"], ["pool2"])}
    times: dict[str, list[float]] = {name: [] for name in steps}
    try:
        for _ in range(rounds + 1):  # the first warms up
            for name, step in steps.items():
                t0 = time.perf_counter()
                step()
                times[name].append((time.perf_counter() - t0) * 1000 / n)
    finally:
        torch.set_num_threads(threads)
    extract_ms = median(times["extract pool2"][1:])
    return [{"step": name, "images": n, "ms_per_image": median(t[1:]),
             "of_extract_pool2": median(t[1:]) / extract_ms} for name, t in times.items()]


def report_prepared(rows: list[dict[str, object]]) -> str:
    return table([[r["step"], f"{r['ms_per_image']:.3f}", f"{r['of_extract_pool2']:.2f}"]
                  for r in rows], ["batch, preprocess=true", "ms an image", "x extract pool2"])


def report_evaluate(rows: list[dict[str, object]]) -> str:
    kept, default = rows
    return (f"featuremaps evaluate ({kept['networks']} networks x 10,000 test and 10,000 "
            "validation images, and each layer's silent channels on the test images): "
            f"{kept['seconds']:.1f} s with freed memory kept (as the CLI runs it), "
            f"{default['seconds']:.1f} s with glibc's default")


def child(args: list[str]) -> Any:
    """Run `python -m bench.batch <args>` in a fresh process; its last line of output, as JSON."""
    cmd = [sys.executable, "-m", "bench.batch", *args]
    try:
        done = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True,
                              timeout=1800)
    except subprocess.CalledProcessError as exc:
        sys.stderr.write(exc.stderr)
        raise
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(n: int) -> list[dict[str, object]]:
    """Every configuration in CONFIGS, each in a child process, one after the other."""
    rows: list[dict[str, object]] = []
    for label, batch_size, keep in CONFIGS:
        for row in child(["--child", "--images", str(n), "--batch-size", str(batch_size)]
                         + (["--keep-memory"] if keep else [])):
            rows.append({"config": label, **row})
    return rows


def report(rows: list[dict[str, object]]) -> str:
    return table([[r["config"], r["layers"], f"{r['images_per_s']:,.0f}",
                   f"{r['mb_per_s']:.0f}", f"{r['seconds']:.2f}"] for r in rows],
                 ["configuration", "layers", "images/s", "MB/s out", "seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--json")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--batch-size", type=int, default=256, help=argparse.SUPPRESS)
    parser.add_argument("--keep-memory", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child-evaluate", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child or args.child_evaluate:
        # the allocator setting is the child process's own, made before any work in it
        kept = keep_freed_memory() if args.keep_memory else False
        figures = measure(args.images, args.batch_size, kept) if args.child else \
            measure_evaluate(kept)
        print(json.dumps(figures))  # noqa: T201
        return
    rows = run(args.images)
    print(report(rows))  # noqa: T201
    evaluated = run_evaluate()
    print(report_evaluate(evaluated))  # noqa: T201
    ready = measure_prepared()
    print(report_prepared(ready))  # noqa: T201
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"extract": rows, "evaluate": evaluated, "prepared": ready}, f, indent=2)


if __name__ == "__main__":
    main()
