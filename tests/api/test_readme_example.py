"""The README's Python example and the /docs page's examples, run as a reader would run
them, against a real server."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

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


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl (scripts/system-deps.sh)")
def test_the_readmes_curl_lines_print_the_answers_and_write_the_picture(tmp_path: Path) -> None:
    """The API section's shell block, run by bash as a reader pastes it, from a folder that
    holds the page's digits as the repository's root does (the picture is written there)."""
    blocks = [b for b in re.findall(r"```sh\n(.*?)```", (PROJECT_ROOT / "README.md").read_text(),
                                    flags=re.DOTALL) if "/api/v1/featuremaps" in b]
    assert len(blocks) == 1, "the README has one shell block of API examples"
    (tmp_path / "static").symlink_to(PROJECT_ROOT / "static")
    with server(env={"FEATUREMAPS_MODELS": "max,avg"}) as srv:
        script = blocks[0].replace("http://127.0.0.1:8000/", f"http://127.0.0.1:{srv.port}/")
        out = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path,
                             text=True, capture_output=True, timeout=60, check=True).stdout
    assert out == "{'max': 7, 'avg': 7}\n"
    with Image.open(tmp_path / "pool1.png") as picture:
        # max's pool1: 32 channels of 13x13, 8 across, at scale 8 with 1 px between
        assert (picture.format, picture.size) == ("PNG", (8 * 13 * 8 + 7, 4 * 13 * 8 + 3))


@pytest.mark.slow
def test_the_docs_pages_examples_run_against_a_server() -> None:
    """Found by an API review: /docs had no example of a request; its description now has
    two curl lines and a Python batch, run here as a reader would, on a real server."""
    from app.main import DESCRIPTION

    python = re.findall(r"```python\n(.*?)```", DESCRIPTION, flags=re.DOTALL)
    shell = re.findall(r"```sh\n(.*?)```", DESCRIPTION, flags=re.DOTALL)
    assert len(python) == len(shell) == 1
    digit = PROJECT_ROOT / "static" / "digits" / "0000_label7.png"
    with server(env={"FEATUREMAPS_MODELS": "max,avg"}) as srv:
        here = f"http://127.0.0.1:{srv.port}/"
        out = subprocess.run([sys.executable, "-c", python[0].replace(
            "http://127.0.0.1:8000/", here)], cwd=PROJECT_ROOT, text=True, capture_output=True,
            timeout=60, check=True).stdout
        assert re.fullmatch(r"\(4, 64, 5, 5\) \[\d \d \d \d\]\n", out), out
        # each curl line as curl would send it: its address, and its body as its flags say
        for command in shell[0].replace("\\\n", " ").splitlines():
            url = re.search(r"'?(http://127\.0\.0\.1:8000/\S+?)'?(\s|$)", command)
            assert url is not None, command
            address = url[1].replace("http://127.0.0.1:8000/", here)
            if "-F file=@digit.png" in command:
                got = api_post_multipart(address, digit.read_bytes())
                assert got["models"]["max"]["prediction"] == 7
            else:
                assert "--data-binary @digit.png -H 'Content-Type: image/png'" in command
                with urllib.request.urlopen(urllib.request.Request(
                        address, data=digit.read_bytes(),
                        headers={"Content-Type": "image/png"})) as answer:
                    assert answer.headers["Content-Type"] == "image/png"


def api_post_multipart(url: str, png: bytes) -> dict[str, Any]:
    """POST `png` as the multipart field 'file', as curl -F file=@digit.png does."""
    boundary = "featuremaps-example"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"digit.png\"\r\nContent-Type: image/png\r\n\r\n").encode() + png + \
        f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(url, data=body, headers={
        "Content-Type": f"multipart/form-data; boundary={boundary}"})
    with urllib.request.urlopen(request) as answer:
        got: dict[str, Any] = json.load(answer)
    return got
