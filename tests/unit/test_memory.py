"""keep_freed_memory: a batch process reuses freed blocks instead of faulting fresh pages in."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from app import cli
from app.config import PROJECT_ROOT
from app.ml import device

# conv1 of a batch of 256 images, three times; count the minor page faults of the third call.
# Its buffers (22 MB of output among them) are over glibc's default mmap threshold, so by
# default every call maps fresh memory and faults it in page by page (about 10,800 faults of
# 4 KB here); kept, the heap settles after two calls and the third faults nothing in.
CHILD = """
import json, resource, sys
import torch
import torch.nn.functional as F
from app.ml.device import keep_freed_memory
applied = keep_freed_memory() if sys.argv[1] == "keep" else False
torch.set_num_threads(1)
x, w = torch.rand(256, 1, 28, 28), torch.rand(32, 1, 3, 3)
with torch.inference_mode():
    F.conv2d(x, w)
    F.conv2d(x, w)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    F.conv2d(x, w)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
print(json.dumps({"applied": applied, "faults": faults}))
"""


def child(mode: str) -> dict[str, object]:
    # glibc's own defaults: no MALLOC_* tuning or preloaded allocator from the environment
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MALLOC_") and k != "LD_PRELOAD"}
    out = subprocess.run([sys.executable, "-c", CHILD, mode], capture_output=True, text=True,
                         check=True, timeout=60, cwd=PROJECT_ROOT, env=env).stdout
    result: dict[str, object] = json.loads(out)
    return result


def huge_pages_always() -> bool:
    """With transparent huge pages always on, a 22 MB buffer faults in a dozen 2 MB pages, and
    glibc's default costs too few faults to tell apart."""
    try:
        return "[always]" in Path("/sys/kernel/mm/transparent_hugepage/enabled").read_text()
    except OSError:
        return False


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt")
@pytest.mark.skipif(huge_pages_always(), reason="transparent huge pages always on")
def test_kept_memory_is_reused_without_page_faults() -> None:
    default, kept = child("default"), child("keep")
    assert default["applied"] is False and kept["applied"] is True
    assert isinstance(default["faults"], int) and default["faults"] >= 5_000
    assert isinstance(kept["faults"], int) and kept["faults"] < 500


@pytest.mark.parametrize(("argv", "kept"), [
    (["extract", "out.npz"], True), (["evaluate"], True), (["train", "--variant", "max"], True),
    (["serve"], False), (["data", "fetch"], False),
])
def test_only_the_one_job_commands_keep_freed_memory(monkeypatch: pytest.MonkeyPatch,
                                                     argv: list[str], kept: bool) -> None:
    calls: list[bool] = []

    def keep_freed_memory() -> bool:
        calls.append(True)
        return True

    monkeypatch.setattr(device, "keep_freed_memory", keep_freed_memory)
    for name in ("extract", "evaluate", "train", "serve", "fetch"):
        monkeypatch.setattr(cli, f"_cmd_{name}", lambda args, settings: 0)
    assert cli.main(argv) == 0
    assert calls == ([True] if kept else [])
