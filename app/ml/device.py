"""Choice of compute device and of CPU threads: one place, failing loudly."""

from __future__ import annotations

import logging
import os

import torch

from app.ml.errors import DeviceError

log = logging.getLogger(__name__)

DEVICES = ("auto", "cpu", "cuda", "mps")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve(requested: str) -> torch.device:
    """`auto` picks cuda, then mps, then cpu; a forced device that is absent is an error."""
    if requested not in DEVICES:
        raise DeviceError(f"device must be one of {', '.join(DEVICES)}, not {requested!r}")
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise DeviceError("device 'cuda' was requested but torch sees no CUDA device")
    if requested == "mps" and not _mps_available():
        raise DeviceError("device 'mps' was requested but torch sees no MPS device")
    return torch.device(requested)


def prepare(device: torch.device) -> None:
    """Full float32 convolutions on CUDA: cuDNN would otherwise use TF32 on Ampere and later,
    and the maps a GPU server sends would differ from a CPU server's in the third digit. At
    batch 1 TF32 buys nothing, and batches spend their time quantising and copying the maps,
    not in the convolutions (bench/gpu.py)."""
    if device.type != "cuda":
        return
    conv = getattr(torch.backends.cudnn, "conv", None)
    if conv is not None and hasattr(conv, "fp32_precision"):
        conv.fp32_precision = "ieee"
    else:  # torch before 2.9
        torch.backends.cudnn.allow_tf32 = False


def describe(device: torch.device) -> str:
    """A human name for the device, e.g. 'cuda (NVIDIA H100 80GB HBM3)'."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type


def configure_threads(torch_threads: int, workers: int, inference_threads: int = 1) -> int:
    """Intra-op threads so that workers x inference threads x intra-op threads does not
    oversubscribe the cores."""
    cores = os.cpu_count() or 1
    threads = torch_threads if torch_threads > 0 else \
        max(1, cores // max(1, workers * inference_threads))
    torch.set_num_threads(threads)
    log.debug("torch intra-op threads: %d (%d cores, %d workers)", threads, cores, workers)
    return threads
