"""GPU figures (python -m bench.gpu; needs a CUDA device):

1. the interactive step in-process: both networks, every map quantised to uint8, packed and
   copied to pinned host memory, eager against the captured CUDA graph;
2. batch extraction throughput (images/s into pinned host memory, all maps of both networks)
   against the copy bandwidth of the same bytes alone (the hardware limit for this output).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from app.config import Settings
from app.ml import preprocess
from app.ml.engine import CudaGraphRunner, Engine
from app.ml.pack import Layout, pack_on_device
from bench.common import DIGITS, median, percentile, table


def cuda_ms(call: Callable[[], object], repeat: int, warmup: int = 50) -> list[float]:
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


def interactive(engine: Engine, repeat: int) -> dict[str, dict[str, float]]:
    nets = engine.nets(["max", "avg"])
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
    results = {"eager": cuda_ms(eager, repeat), "cuda graph": cuda_ms(lambda: runner.run(x28),
                                                                      repeat)}
    return {k: {"p50_ms": median(v), "p99_ms": percentile(v, 99)} for k, v in results.items()}


def batch_throughput(engine: Engine, batch: int, rounds: int) -> dict[str, float]:
    nets = engine.nets(["max", "avg"])
    layout = Layout.plan(nets)
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.random((batch, 1, 28, 28), dtype=np.float32)).to(engine.device)
    host = torch.empty(batch * layout.data_size, dtype=torch.uint8).pin_memory()
    host_f = torch.empty(batch * layout.float_size, dtype=torch.float32).pin_memory()
    device_bytes = torch.empty(batch * layout.data_size, dtype=torch.uint8, device=engine.device)

    def step() -> None:
        with torch.inference_mode():
            d, f = pack_on_device(nets, x, layout)
            host.copy_(d, non_blocking=True)
            host_f.copy_(f, non_blocking=True)

    def copy_only() -> None:
        host.copy_(device_bytes, non_blocking=True)

    step_ms = median(cuda_ms(step, rounds, warmup=5))
    copy_ms = median(cuda_ms(copy_only, rounds, warmup=5))
    return {"batch": batch, "images_per_s": batch / step_ms * 1000,
            "copy_limit_images_per_s": batch / copy_ms * 1000,
            "gb_per_s": batch * layout.data_size / step_ms / 1e6,
            "copy_gb_per_s": batch * layout.data_size / copy_ms / 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=2000)
    parser.add_argument("--batches", default="1024,4096,8192")
    parser.add_argument("--json")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device: these figures need a GPU")
    engine = Engine.load(Settings(device="cuda", models=["max", "avg"]))
    out: dict[str, Any] = {
        "device": engine.device_name,
        "interactive": interactive(engine, args.repeat),
        "batch": [batch_throughput(engine, int(b), 20) for b in args.batches.split(",")],
    }
    print(f"device: {out['device']}")  # noqa: T201
    print(table([[k, f"{v['p50_ms']:.3f}", f"{v['p99_ms']:.3f}"]  # noqa: T201
                 for k, v in out["interactive"].items()],
                ["interactive step (uint8, both nets, to pinned memory)", "p50 ms", "p99 ms"]))
    print(table([[b["batch"], f"{b['images_per_s']:,.0f}", f"{b['gb_per_s']:.1f}",  # noqa: T201
                  f"{b['copy_limit_images_per_s']:,.0f}", f"{b['copy_gb_per_s']:.1f}"]
                 for b in out["batch"]],
                ["batch", "images/s", "GB/s", "copy-only images/s", "copy GB/s"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
