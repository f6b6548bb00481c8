"""GPU figures (python -m bench.gpu; needs a CUDA device), each comparison in one run:

1. the interactive step in-process: both networks, every map quantised to uint8, packed and
   copied to pinned host memory, eager against the captured CUDA graph (wall clock, since
   both end in a synchronisation), and the engine's whole featuremaps() call around it;
2. batch extraction: all maps of both networks into pinned host memory, one batch at a time
   (input already on the GPU; quantised in one fused pass and layer by layer) and pipelined
   from host uint8 images (app/ml/batch.py's packed_batches), against copying the same bytes
   alone (the hardware limit for this output); the pipelined batches again in each encoding
   the batch route offers (uint8, float16, float32), at the batch size extract and the route
   use on a GPU; and extract() end to end, into one NumPy array per layer, its host copies on
   one thread against torch's threads;
3. POST /api/v1/featuremaps over loopback against a live server on the GPU and one forced
   onto the CPU of the same machine.
"""

from __future__ import annotations

import argparse
import json
from functools import partial
from typing import Any

import numpy as np
import torch

from app.config import Settings
from app.ml import preprocess
from app.ml.batch import default_batch_size, extract, packed_batches
from app.ml.encode import DTYPE_SIZES, Encoding
from app.ml.engine import CudaGraphRunner, Engine
from app.ml.pack import Layout, pack_on_device
from bench.common import (
    DIGITS,
    Connection,
    build_request,
    median,
    percentile,
    server,
    table,
    timeit,
)
from bench.server import FORMATS, digit_requests

MODELS = ["max", "avg"]


def say(text: str) -> None:
    print(text, flush=True)  # noqa: T201


def cuda_ms(call: Any, repeat: int, warmup: int = 5) -> list[float]:
    """GPU time per call between two events on the current stream (calls that do not sync)."""
    for _ in range(warmup):
        call()
    torch.cuda.synchronize()
    out = []
    for _ in range(repeat):
        start = torch.cuda.Event(enable_timing=True)  # type: ignore[no-untyped-call]
        end = torch.cuda.Event(enable_timing=True)  # type: ignore[no-untyped-call]
        start.record()
        call()
        end.record()
        end.synchronize()
        out.append(start.elapsed_time(end))
    return out


def summary(values: list[float]) -> dict[str, float]:
    return {"p50_ms": median(values), "p99_ms": percentile(values, 99)}


def interactive(engine: Engine, repeat: int) -> dict[str, dict[str, float]]:
    nets = engine.nets(MODELS)
    layout = Layout.plan(nets)
    x28 = preprocess.from_image(DIGITS[0].read_bytes(), 10**6)
    host_x = torch.from_numpy(x28).reshape(1, 1, 28, 28).pin_memory()
    host_data = torch.empty(layout.data_size, dtype=torch.uint8).pin_memory()
    host_floats = torch.empty(layout.float_size, dtype=torch.float32).pin_memory()

    def eager() -> None:
        with torch.inference_mode():
            x = host_x.to(engine.device, non_blocking=True)
            d, f = pack_on_device(nets, x, layout)
            host_data.copy_(d, non_blocking=True)
            host_floats.copy_(f, non_blocking=True)
            torch.cuda.synchronize()

    runner = CudaGraphRunner(nets, layout, engine.device)
    return {
        "eager": summary(timeit(eager, repeat, warmup=50)),
        "cuda graph": summary(timeit(lambda: runner.run(x28), repeat, warmup=50)),
        "engine.featuremaps() (graph)": summary(
            timeit(lambda: engine.featuremaps(x28, MODELS, "uint8"), repeat, warmup=50)),
    }


def batch_throughput(engine: Engine, batch: int, rounds: int) -> dict[str, float]:
    nets = engine.nets(MODELS)
    layout = Layout.plan(nets)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (8 * batch, 28, 28), dtype=np.uint8)
    x = torch.from_numpy(images[:batch]).to(engine.device).float().div_(255)[:, None]
    host = torch.empty(batch * layout.data_size, dtype=torch.uint8).pin_memory()
    host_f = torch.empty(batch * layout.float_size, dtype=torch.float32).pin_memory()
    device_bytes = torch.empty(batch * layout.data_size, dtype=torch.uint8, device=engine.device)

    def step(per_layer: bool) -> None:
        with torch.inference_mode():
            d, f = pack_on_device(nets, x, layout, per_layer=per_layer)
            host.copy_(d, non_blocking=True)
            host_f.copy_(f, non_blocking=True)

    def copy_only() -> None:
        host.copy_(device_bytes, non_blocking=True)

    def pipelined() -> None:
        with torch.inference_mode():
            for _ in packed_batches(engine, nets, layout, images, batch):
                pass

    step_ms = median(cuda_ms(lambda: step(True), rounds))
    fused_ms = median(cuda_ms(lambda: step(False), rounds))
    copy_ms = median(cuda_ms(copy_only, rounds))
    pipe_ms = median(timeit(pipelined, max(3, rounds // 4), warmup=1))
    return {"batch": batch, "images_per_s": batch / step_ms * 1000,
            "fused_images_per_s": batch / fused_ms * 1000,
            "pipelined_images_per_s": len(images) / pipe_ms * 1000,
            "copy_limit_images_per_s": batch / copy_ms * 1000,
            "gb_per_s": batch * layout.data_size / step_ms / 1e6,
            "copy_gb_per_s": batch * layout.data_size / copy_ms / 1e6}


def by_encoding(engine: Engine, batch: int, rounds: int) -> list[dict[str, Any]]:
    """Pipelined batches of all maps of both networks in each encoding, alternating, with
    the bytes an image's maps take on the host."""
    nets = engine.nets(MODELS)
    layout = Layout.plan(nets)
    images = np.random.default_rng(2).integers(0, 256, (8 * batch, 28, 28), dtype=np.uint8)
    encodings: list[Encoding] = ["uint8", "float16", "float32"]
    runs: dict[Encoding, list[float]] = {e: [] for e in encodings}

    def pipelined(encoding: Encoding) -> None:
        with torch.inference_mode():
            for _ in packed_batches(engine, nets, layout, images, batch, encoding):
                pass

    for e in encodings:  # warm-up: each encoding's pinned buffers and kernels
        pipelined(e)
    for _ in range(rounds):
        for e in encodings:
            runs[e] += timeit(partial(pipelined, e), 1, warmup=0)
    return [{"encoding": e, "batch": batch, "images_per_s": len(images) / median(ms) * 1000,
             "map_bytes": layout.data_size * DTYPE_SIZES[e],
             "gb_per_s": len(images) * layout.data_size * DTYPE_SIZES[e] / median(ms) / 1e6}
            for e, ms in runs.items()]


def extract_end_to_end(engine: Engine, n: int, batch: int) -> dict[str, Any]:
    """extract() into fresh NumPy arrays, its copies out of the pinned buffers on one host
    thread and on torch's (the default), alternating, 3 runs each."""
    images = np.random.default_rng(1).integers(0, 256, (n, 28, 28), dtype=np.uint8)
    extract(engine, images[:batch], MODELS, None, batch)  # warm-up
    runs: dict[int, list[float]] = {1: [], torch.get_num_threads(): []}
    for _ in range(3):
        for threads, times in runs.items():
            times += timeit(partial(extract, engine, images, MODELS, None, batch,
                                    host_threads=threads), 1, warmup=0)
    return {"images": n, "batch": batch,
            "images_per_s": {t: n / median(ms) * 1000 for t, ms in runs.items()}}


def served(repeat: int) -> dict[str, dict[str, Any]]:
    """p50/p99 of one client's sequential binary requests, GPU server against CPU server."""
    raws = digit_requests(FORMATS["binary"])  # max and avg, uint8, as bench/server.py sends
    out: dict[str, dict[str, Any]] = {}
    for device in ("cuda", "cpu"):
        with server(env={"FEATUREMAPS_DEVICE": device}) as srv:
            conn = Connection(srv.port)
            health = json.loads(conn.request(build_request("GET", "/healthz", b"", {}))[2])
            i = 0

            def one(conn: Connection = conn) -> None:
                nonlocal i
                status, _, _ = conn.request(raws[i % len(raws)])
                i += 1
                if status != 200:
                    raise RuntimeError(f"status {status}")

            out[device] = {"device": health.get("device"), **summary(timeit(one, repeat, 50))}
            conn.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=2000)
    parser.add_argument("--batches", default="1024,4096,8192")
    parser.add_argument("--no-server", action="store_true")
    parser.add_argument("--json")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device: these figures need a GPU")
    engine = Engine.load(Settings(device="cuda", models=MODELS))
    out: dict[str, Any] = {"device": engine.device_name, "torch": torch.__version__}
    say(f"device: {out['device']}, torch {out['torch']}")

    out["interactive"] = inter = interactive(engine, args.repeat)
    say(table([[k, f"{v['p50_ms']:.3f}", f"{v['p99_ms']:.3f}"] for k, v in inter.items()],
              ["1. interactive step (uint8, both nets, to pinned memory)", "p50 ms", "p99 ms"]))

    out["batch"] = rows = [batch_throughput(engine, int(b), 20) for b in args.batches.split(",")]
    say(table([[b["batch"], f"{b['fused_images_per_s']:,.0f}", f"{b['images_per_s']:,.0f}",
                f"{b['pipelined_images_per_s']:,.0f}", f"{b['gb_per_s']:.1f}",
                f"{b['copy_limit_images_per_s']:,.0f}", f"{b['copy_gb_per_s']:.1f}"]
               for b in rows],
              ["2. batch", "images/s fused pass", "images/s per layer", "images/s pipelined",
               "GB/s per layer", "copy-only images/s", "copy GB/s"]))
    out["encodings"] = enc = by_encoding(engine, default_batch_size(engine), 5)
    say(table([[r["encoding"], f"{r['map_bytes']:,}", f"{r['images_per_s']:,.0f}",
                f"{r['gb_per_s']:.1f}"] for r in enc],
              [f"2b. pipelined, {enc[0]['batch']:,} a batch", "map bytes/image", "images/s",
               "maps GB/s"]))
    biggest = max(int(b) for b in args.batches.split(","))
    out["extract"] = e = extract_end_to_end(engine, 8 * biggest, biggest)
    say(f"extract() end to end, {e['images']:,} images in batches of {e['batch']:,}: "
        + ", ".join(f"{v:,.0f} images/s with {t} host thread{'s' * (t > 1)}"
                    for t, v in e["images_per_s"].items()))

    if not args.no_server:
        out["server"] = srv = served(min(args.repeat, 1000))
        say(table([[k, v["device"], f"{v['p50_ms']:.2f}", f"{v['p99_ms']:.2f}"]
                   for k, v in srv.items()],
                  ["3. POST /api/v1/featuremaps, binary", "server device", "p50 ms", "p99 ms"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
