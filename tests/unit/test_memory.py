"""keep_freed_memory: a batch process reuses freed blocks instead of faulting fresh pages in."""

from __future__ import annotations

import json
import platform
import subprocess
import sys

import pytest

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
    out = subprocess.run([sys.executable, "-c", CHILD, mode], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    result: dict[str, object] = json.loads(out)
    return result


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt")
def test_kept_memory_is_reused_without_page_faults() -> None:
    default, kept = child("default"), child("keep")
    assert default["applied"] is False and kept["applied"] is True
    assert isinstance(default["faults"], int) and default["faults"] >= 5_000
    assert isinstance(kept["faults"], int) and kept["faults"] < 500
