"""Start-up integrity: weights only when their sha256 matches the card; clear device errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from app.ml import device, registry
from app.ml.errors import DeviceError, WeightsError
from tests.conftest import MODELS_DIR


@pytest.fixture
def models_copy(tmp_path: Path) -> Path:
    for name in ("max.json", "max.safetensors"):
        shutil.copy(MODELS_DIR / name, tmp_path / name)
    return tmp_path


def test_a_corrupt_weights_file_is_refused_naming_the_file(models_copy: Path) -> None:
    path = models_copy / "max.safetensors"
    raw = bytearray(path.read_bytes())
    raw[-100] ^= 0xFF  # one flipped byte in a weight
    path.write_bytes(bytes(raw))
    with pytest.raises(WeightsError) as info:
        registry.load(models_copy, "max")
    message = str(info.value)
    assert str(path) in message and "refusing it" in message and "\n" not in message


def test_a_missing_weights_file_is_refused_naming_the_file(models_copy: Path) -> None:
    (models_copy / "max.safetensors").unlink()
    with pytest.raises(WeightsError, match="weights file missing: .*max.safetensors"):
        registry.load(models_copy, "max")


@pytest.mark.parametrize(("field", "value", "said"), [
    ("test_correct", "abc", 'test_correct is "abc", not a whole number'),
    ("test_correct", 9.5, "test_correct is 9.5, not a whole number"),
    ("params", True, "params is true, not a whole number"),
    ("test_accuracy", "x", 'test_accuracy is "x", not a number'),
    ("shift_consistency", [1], "shift_consistency is [1], not a number"),
    # a later CLI review: these passed start-up, and every GET /api/v1/models was a 500
    ("silent_channels", "x", "silent_channels is \"x\", not an object of lists of channel "
                             "numbers by layer"),
    ("silent_channels", {"conv1": [1.5]}, 'silent_channels is {"conv1": [1.5]}, not an object '
                                          "of lists of channel numbers by layer"),
    ("training", 3, "training is 3, not an object"),
    ("training", {"augment": True, "max_shift_px": "2"}, 'training.max_shift_px is "2", not a '
                                                          "number"),
    ("training", {"scale_range": [1]}, "training.scale_range is [1], not [low, high]"),
])
def test_a_card_field_of_another_type_is_refused_as_it_is_read(
        models_copy: Path, field: str, value: object, said: str) -> None:
    """Found by a CLI review: "test_correct": "abc" was a traceback in `evaluate`, after
    half a minute of measuring. A card is checked as it is read, by every command: the
    figures code reads, and what /api/v1/models reports of it."""
    path = models_copy / "max.json"
    card = json.loads(path.read_text())
    path.write_text(json.dumps({**card, field: value}))
    with pytest.raises(WeightsError) as info:
        registry.read_card(models_copy, "max")
    assert str(info.value) == f"model card {path}: {said}"


def test_a_card_that_is_not_utf8_is_one_line(models_copy: Path) -> None:
    """Found by a CLI review: a card beginning with a UTF-16 byte-order mark was a
    UnicodeDecodeError's traceback in every command."""
    path = models_copy / "max.json"
    path.write_bytes(b"\xff\xfe" + path.read_bytes())
    with pytest.raises(WeightsError) as info:
        registry.read_card(models_copy, "max")
    assert str(info.value) == f"model card unreadable: {path} (not UTF-8 text: byte 0 is 0xff)"


def test_weights_that_match_their_card_but_not_the_net_are_refused(models_copy: Path) -> None:
    from app.ml.data import sha256_file

    shutil.copy(MODELS_DIR / "avg.safetensors", models_copy / "strided.safetensors")
    card = (models_copy / "max.json").read_text().replace(
        registry.read_card(models_copy, "max")["weights_sha256"],
        sha256_file(models_copy / "strided.safetensors"))
    (models_copy / "strided.json").write_text(card)
    with pytest.raises(WeightsError, match="does not fit variant strided"):
        registry.load(models_copy, "strided")


@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_stops_with_one_line_and_non_zero_exit_on_corrupt_weights(
        models_copy: Path, workers: str) -> None:
    """With several workers the check runs in a process of its own (app/serve.py), and says
    the same."""
    (models_copy / "max.safetensors").write_bytes(b"not a safetensors file")
    env = {**os.environ, "FEATUREMAPS_MODELS_DIR": str(models_copy), "FEATUREMAPS_MODELS": "max",
           "FEATUREMAPS_PORT": "1", "FEATUREMAPS_DEVICE": "cpu"}
    proc = subprocess.run([sys.executable, "-m", "app.cli", "serve", "--workers", workers],
                          env=env, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("featuremaps: error: weights file ")
    assert str(models_copy / "max.safetensors") in lines[0]


def test_auto_picks_cpu_without_cuda_and_forcing_cuda_is_an_error() -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA; see tests/gpu")
    assert device.resolve("auto").type == "cpu"
    assert device.resolve("cpu").type == "cpu"
    with pytest.raises(DeviceError, match="device 'cuda' was requested but torch sees no CUDA"):
        device.resolve("cuda")
    with pytest.raises(DeviceError, match="device must be one of auto, cpu, cuda, mps"):
        device.resolve("tpu")


@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_on_an_absent_device_is_one_line(workers: str) -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA; see tests/gpu")
    env = {**os.environ, "FEATUREMAPS_MODELS": "max", "FEATUREMAPS_PORT": "1"}
    proc = subprocess.run([sys.executable, "-m", "app.cli", "serve", "--device", "cuda",
                           "--workers", workers],
                          env=env, capture_output=True, text=True, timeout=60, check=False)
    assert (proc.returncode, proc.stderr) == (
        2, "featuremaps: error: device 'cuda' was requested but torch sees no CUDA device\n")


def test_threads_never_oversubscribe_the_cores() -> None:
    before = torch.get_num_threads()
    try:
        cores = os.cpu_count() or 1
        assert device.configure_threads(0, workers=cores) == 1
        assert device.configure_threads(0, workers=1, inference_threads=cores) == 1
        assert device.configure_threads(0, workers=1) == cores
        assert device.configure_threads(3, workers=2) == 3
    finally:
        torch.set_num_threads(before)


def test_the_server_runs_each_inference_on_one_intra_op_thread_by_default(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A live request is too small to split, and a split one stalls when the browser holds a
    core (bench/browser_latency.py --torch-threads 1,0); 0 still divides the cores. (On a
    one-core machine both give 1.)"""
    from starlette.testclient import TestClient

    from app.config import Settings
    from app.main import create_app

    monkeypatch.delenv("FEATUREMAPS_TORCH_THREADS", raising=False)
    before = torch.get_num_threads()
    try:
        for threads, expected in ((None, 1), (0, os.cpu_count() or 1)):
            settings = Settings(device="cpu", models=["max"])
            if threads is not None:
                settings = settings.model_copy(update={"torch_threads": threads})
            torch.set_num_threads(7)
            app = create_app(settings)
            with TestClient(app) as client:
                assert client.get("/healthz").status_code == 200
                # on a thread of the server's own inference gate
                assert client.portal is not None
                seen = client.portal.call(app.state.gate.run, torch.get_num_threads)
                assert seen == expected
    finally:
        torch.set_num_threads(before)


def test_an_unreadable_weights_file_is_a_one_line_error(models_copy: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(path: Path) -> str:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(registry, "sha256_file", refuse)
    with pytest.raises(WeightsError, match=r"weights file unreadable: .*max.safetensors "
                                           r"\(Permission denied\)"):
        registry.load(models_copy, "max")
