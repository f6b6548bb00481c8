"""Choice of compute device, of CPU threads and of how a batch process keeps its memory: one
place, failing loudly."""

from __future__ import annotations

import ctypes
import logging
import os
import platform

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


# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
# glibc's documented ceiling for M_MMAP_THRESHOLD on 64-bit; newer versions accept more
_MMAP_THRESHOLD_MAX = 32 << 20


def keep_freed_memory(limit: int = 1 << 30) -> bool:
    """For a process that runs one batch job (`featuremaps extract`, `evaluate`, `train`):
    keep freed blocks of up to `limit` bytes (under 2 GiB) for reuse instead of handing them
    back to the kernel.

    A batch allocates and frees tensors of tens of MB per layer. glibc serves blocks over its
    mmap threshold with fresh mappings and unmaps them on free, so every batch page-faults all
    of them in again: conv1 of 256 images took about 10,800 minor faults and 25 ms, against
    4 ms without them (bench/batch.py shows the whole effect). The price is that the process
    keeps its peak memory until it exits, which is why the server does not do this. Threads
    other than the main one (where the CLI runs its batches) allocate from heaps of 64 MiB,
    and blocks too large for those are still mapped afresh. A glibc that refuses a threshold
    over 32 MiB gets 32 MiB. glibc only; returns whether both settings applied."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL("libc.so.6")
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    libc.mallopt.restype = ctypes.c_int
    threshold = bool(libc.mallopt(_M_MMAP_THRESHOLD, limit)) or \
        bool(libc.mallopt(_M_MMAP_THRESHOLD, min(limit, _MMAP_THRESHOLD_MAX)))
    trim = bool(libc.mallopt(_M_TRIM_THRESHOLD, limit))
    if not (threshold and trim):
        log.warning("glibc refused to keep freed memory (mmap threshold %s, trim threshold %s): "
                    "batches will page-fault their buffers in afresh",
                    "set" if threshold else "refused", "set" if trim else "refused")
    return threshold and trim
