"""The command line: bad options and settings are one line and exit 2, never a traceback;
`extract` checks where it will write before it spends minutes on the maps."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app import cli
from app.ml import batch, device


@pytest.fixture(autouse=True)
def memory_as_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    """`extract` and `evaluate` tune glibc's allocator for their one process: not this one."""
    monkeypatch.setattr(device, "keep_freed_memory", lambda: None)


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of `featuremaps <argv>`, run in this process."""
    try:
        code = cli.main(argv)
    except SystemExit as exc:  # argparse's usage errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(("argv", "message"), [
    (["serve", "--port", "99999"], "--port: must be 1..65535, not 99999"),
    (["serve", "--port", "0"], "--port: must be 1..65535, not 0"),
    (["serve", "--port", "http"], "--port: must be an integer, not 'http'"),
    (["serve", "--workers", "0"], "--workers: must be 1 or more, not 0"),
    (["extract", "out.npz", "--limit", "0"], "--limit: must be 1 or more, not 0"),
    (["extract", "out.npz", "--limit", "-5"], "--limit: must be 1 or more, not -5"),
    (["evaluate", "--tolerance", "-1"], "--tolerance: must be 0 or more, not -1"),
    (["train", "--variant", "max", "--epochs", "0"], "--epochs: must be 1 or more, not 0"),
    (["train", "--variant", "max", "--batch-size", "0"],
     "--batch-size: must be 1 or more, not 0"),
    (["train", "--variant", "max", "--limit", "0"], "--limit: must be 1 or more, not 0"),
    (["train", "--variant", "max", "--lr", "0"], "--lr: must be a finite number above 0, not 0"),
    (["train", "--variant", "max", "--lr", "nan"],
     "--lr: must be a finite number above 0, not nan"),
])
def test_out_of_range_options_are_refused(argv: list[str], message: str, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    # were an option let through, `train` would start: not on the shipped weights and data
    monkeypatch.setenv("FEATUREMAPS_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("FEATUREMAPS_DATA_DIR", str(tmp_path / "data"))
    code, _, err = run(argv, capsys)
    assert code == 2
    assert err.strip().splitlines()[-1].endswith(message)


@pytest.mark.parametrize(("env", "message"), [
    ({"FEATUREMAPS_PORT": "abc"}, "FEATUREMAPS_PORT: Input should be a valid integer, unable "
                                  "to parse string as an integer"),
    ({"FEATUREMAPS_PORT": "99999"}, "FEATUREMAPS_PORT: Input should be less than or equal to "
                                    "65535"),
    ({"FEATUREMAPS_WORKERS": "0"}, "FEATUREMAPS_WORKERS: Input should be greater than or "
                                   "equal to 1"),
    ({"FEATUREMAPS_REQUEST_TIMEOUT_S": "0"}, "FEATUREMAPS_REQUEST_TIMEOUT_S: Input should be "
                                             "greater than 0"),
    ({"FEATUREMAPS_LOG_LEVEL": "bogus"}, "FEATUREMAPS_LOG_LEVEL: Input should be 'critical', "
                                         "'error', 'warning', 'info', 'debug' or 'trace'"),
])
def test_a_bad_setting_is_one_line_naming_the_variable(
        env: dict[str, str], message: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code, _, err = run(["serve"], capsys)
    assert code == 2
    assert err.strip().splitlines() == [f"featuremaps: error: bad setting: {message}"]


def test_evaluate_refuses_the_shift_options_without_shifts(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["evaluate", "--plot", "p.png", "--write-cards"], capsys)
    assert (code, err) == (2, "featuremaps: error: --plot, --write-cards: only with --shifts\n")


@pytest.mark.slow
def test_evaluate_without_models_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FEATUREMAPS_MODELS_DIR", str(tmp_path))
    code, out, err = run(["evaluate"], capsys)
    assert (code, out) == (2, "")
    assert err == f"featuremaps: error: no model cards (<variant>.json) in {tmp_path}\n"


@pytest.fixture
def no_extraction(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any extraction fails the test: the path must be refused before the work."""
    def extract(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the maps were computed before the output path was checked")

    monkeypatch.setattr(batch, "extract", extract)


@pytest.mark.slow
@pytest.mark.usefixtures("no_extraction")
def test_extract_refuses_a_folder_or_an_unwritable_path_before_the_work(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "maps.npz"
    folder.mkdir()
    code, _, err = run(["extract", str(folder), "--device", "cpu"], capsys)
    assert (code, err) == (2, f"featuremaps: error: {folder} is a folder: give a file name, "
                              f"e.g. {folder / 'maps.npz'}\n")
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    code, _, err = run(["extract", str(a_file / "maps.npz"), "--device", "cpu"], capsys)
    assert code == 2
    assert err.startswith(f"featuremaps: error: cannot write {a_file / 'maps.npz'}: ")
    assert len(err.splitlines()) == 1


@pytest.mark.slow
def test_extract_adds_the_suffix_and_reports_the_file_it_wrote(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["extract", str(tmp_path / "maps"), "--layers", "pool2", "--limit", "5",
                        "--device", "cpu"], capsys)
    assert code == 0
    written = tmp_path / "maps.npz"
    stats = json.loads(out.strip().splitlines()[-1])
    assert (stats["out"], stats["bytes"]) == (str(written), written.stat().st_size)
    assert np.load(written)["max/pool2"].shape == (5, 64, 5, 5)


@pytest.mark.slow
def test_a_failed_extraction_leaves_no_empty_file(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    def extract(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(batch, "extract", extract)
    out = tmp_path / "maps.npz"
    with pytest.raises(KeyboardInterrupt):
        cli.main(["extract", str(out), "--limit", "5", "--device", "cpu"])
    assert not out.exists()


@pytest.mark.parametrize(("value", "level"), [("WARNING", 30), ("debug", 10), ("trace", 5)])
def test_serve_logs_at_the_configured_level(value: str, level: int) -> None:
    """FEATUREMAPS_LOG_LEVEL sets the app's own loggers too (the access log among them), not
    only uvicorn's. Run in a child: pytest's own log handlers would keep basicConfig quiet."""
    probe = ("import logging, sys\n"
             "from app import cli\n"
             "cli._cmd_serve = lambda args, settings: print(\n"
             "    logging.getLogger('featuremaps.access').getEffectiveLevel()) or 0\n"
             "sys.exit(cli.main(['serve']))\n")
    env = {**os.environ, "FEATUREMAPS_LOG_LEVEL": value}
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                          text=True, timeout=60, check=True)
    assert done.stdout.strip() == str(level)
