"""The README's Python example, run as a reader would run it, against a real server."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from app.config import PROJECT_ROOT
from bench.common import server


def readme_python() -> str:
    blocks = re.findall(r"```python\n(.*?)```", (PROJECT_ROOT / "README.md").read_text(),
                        flags=re.DOTALL)
    assert len(blocks) == 1, "the README has one Python example"
    return str(blocks[0])


@pytest.mark.slow
def test_the_readmes_python_example_prints_both_networks_maps() -> None:
    code = readme_python()
    assert "http://127.0.0.1:8000/" in code  # the address `make run` serves
    with server(env={"FEATUREMAPS_MODELS": "max,avg"}) as srv:
        code = code.replace("http://127.0.0.1:8000/", f"http://127.0.0.1:{srv.port}/")
        out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, text=True,
                             capture_output=True, timeout=60, check=True).stdout
    lines = out.splitlines()
    assert lines[0] == "max predicts 7" and lines[6] == "avg predicts 7"
    shapes = [re.match(r"  (\w+) \((\d+), (\d+), (\d+)\) max \d+\.\d\d$", line)
              for line in lines[1:6] + lines[7:12]]
    assert all(shapes), out
    assert [(m[1], int(m[2]), int(m[3])) for m in shapes if m] == 2 * [
        ("conv1", 32, 26), ("pool1", 32, 13), ("conv2", 64, 11), ("pool2", 64, 5),
        ("conv3", 64, 3)]
    # pooling keeps a window's largest value: max's pool1 peaks where its conv1 does
    assert lines[1].rsplit(" ", 1)[1] == lines[2].rsplit(" ", 1)[1]
