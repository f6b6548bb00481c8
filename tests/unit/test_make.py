"""The Makefile's `make run`: where it serves (what `make -n` would run, nothing started)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app.config import PROJECT_ROOT

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def make_run(*args: str, **env: str) -> str:
    """The serve line `make run` would run, with `env` added to the environment."""
    # and none of a make this runs under (`make test PORT=...` would pass it down)
    environ = {k: v for k, v in os.environ.items() if k not in (
        "HOST", "PORT", "MAKEFLAGS", "MFLAGS", "MAKELEVEL") and not k.startswith("FEATUREMAPS_")}
    done = subprocess.run(["make", "-s", "-n", "--no-print-directory", "-C", str(PROJECT_ROOT),
                           "run", *args],
                          env={**environ, **env}, capture_output=True, text=True, check=True,
                          timeout=60)
    line = done.stdout.strip().splitlines()[-1]
    return " ".join(line.split()[1:])


def test_make_run_serves_where_it_is_told_and_else_where_the_settings_say() -> None:
    """Found by a review: `make run` passed --host 127.0.0.1 --port 8000 always, so the
    settings the README gives for where the server listens were ignored by it; then, with
    them read, a PORT exported for another end (hosting platforms do) overrode them."""
    assert make_run() == "serve"  # featuremaps serve's own settings: 127.0.0.1:8000 unset
    assert make_run(PORT="5000", HOST="myhostname", FEATUREMAPS_PORT="9000") == "serve"
    assert make_run("HOST=0.0.0.0", "PORT=8080") == "serve --host 0.0.0.0 --port 8080"
    assert make_run("PORT=8080") == "serve --port 8080"
    assert make_run("PORT=", "HOST=") == "serve"  # given empty: the settings (a review)


def test_a_python_without_ensurepip_is_told_the_package_that_gives_it(tmp_path: Path) -> None:
    """A newcomer's review: on Debian, python3 has no ensurepip without python3.X-venv, so
    both README commands stopped at `python -m venv`, and nothing installed it. Where it
    cannot be installed here (no apt-get on this PATH), the command to install it is said."""
    script = str(PROJECT_ROOT / "scripts" / "venv-deps.sh")
    bash = shutil.which("bash")
    assert bash is not None
    # the Makefile's $(PYTHON), which may be several words
    here = subprocess.run([bash, script, "env", sys.executable], capture_output=True,
                          text=True, timeout=60)
    assert (here.returncode, here.stdout, here.stderr) == (0, "", "")
    bare = tmp_path / "bin"
    bare.mkdir()
    python = bare / "python3"  # this Python, but with no ensurepip
    python.write_text('#!/bin/sh\n[ "$2" = "import ensurepip" ] && exit 1\n'
                      f'exec {sys.executable} "$@"\n')
    python.chmod(0o755)
    (bare / "id").symlink_to(shutil.which("id") or "/usr/bin/id")
    done = subprocess.run([bash, script, str(python)], env={"PATH": str(bare)},
                          capture_output=True, text=True, timeout=60)
    minor = sys.version_info[1]
    assert (done.returncode, done.stdout, done.stderr) == (
        1, "", f"{python} -m venv needs ensurepip, which Debian and Ubuntu ship in "
               f"python3.{minor}-venv: sudo apt-get install python3.{minor}-venv\n")
