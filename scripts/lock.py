"""Write requirements.lock: the exact release of every package the app needs at run time.

    python scripts/lock.py          (or: make lock)

It installs the run-time dependencies of pyproject.toml, and nothing else, into a fresh
throw-away venv with this machine's pip settings, and writes what pip resolved. The Docker
image installs exactly these releases and `make` uses the file as pip constraints
(`-c requirements.lock`), so an image built today and one built next year run the same
releases. Run it after a change to `[project] dependencies`, or to move every package to its
newest allowed release; the tests check that the file still satisfies pyproject.toml.

The file is for Linux, CPython 3.11 (the image's), and the script refuses to run elsewhere.
It locks torch's CPU build, whose dependencies are the same on every index: where pip would
take PyPI's default (CUDA) build, with its NVIDIA libraries, it stops and says how to make
the CPU wheel reachable. torch is written without its local label (2.13.0, not 2.13.0+cpu),
so that the same file serves a CUDA image, whose NVIDIA libraries it leaves free. pip is left
out: it belongs to the venv, not to the app. setuptools is kept (torch requires it).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LOCK = REPO / "requirements.lock"
HEADER = """\
# The exact releases of the app's run-time dependencies (Linux, CPython 3.11): the Docker
# image installs them, and the Makefile uses them as pip constraints. Written by `make lock`
# (scripts/lock.py) from pyproject.toml; do not edit by hand.
"""


def canonical(name: str) -> str:
    """A package's name as indexes spell it (PEP 503): `typing_extensions` is
    `typing-extensions`."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned_lines(frozen: str) -> list[str]:
    """`pip freeze --all` output as `name==version` lines sorted by name: canonical names,
    no pip, no local labels. The lock's own lines read back unchanged."""
    pins = {}
    for line in frozen.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if "==" not in line:
            raise SystemExit(f"lock: cannot pin {line!r} (installed from a path or URL?)")
        name, version = line.split("==", 1)
        if canonical(name) != "pip":
            pins[canonical(name)] = version.split("+", 1)[0]
    return [f"{name}=={pins[name]}" for name in sorted(pins)]


def torch_build(frozen: str) -> str | None:
    """The local label of the torch in a `pip freeze` ("cpu" for 2.13.0+cpu), None if none."""
    found = re.search(r"^torch==[^+\s]+(?:\+(\S+))?$", frozen, flags=re.MULTILINE)
    return found.group(1) if found else None


def main() -> int:
    if sys.platform != "linux" or sys.version_info[:2] != (3, 11):
        raise SystemExit("lock: the lock is for the image's Linux and CPython 3.11; run it "
                         "there (make lock PYTHON=python3.11)")
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    with tempfile.TemporaryDirectory(prefix="featuremaps-lock-") as tmp:
        venv = Path(tmp) / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        python = str(venv / "bin" / "python")
        subprocess.run([python, "-m", "pip", "install", "--quiet", *deps], check=True)
        subprocess.run([python, "-m", "pip", "check"], check=True)
        frozen = subprocess.run([python, "-m", "pip", "freeze", "--all"], check=True,
                                capture_output=True, text=True).stdout
    if torch_build(frozen) != "cpu":
        raise SystemExit("lock: pip chose torch's default (CUDA) build, whose NVIDIA libraries "
                         "do not belong in the lock; make the CPU wheel reachable, e.g. "
                         "PIP_EXTRA_INDEX_URL=<PyTorch's CPU wheel index> make lock")
    pins = pinned_lines(frozen)
    LOCK.write_text(HEADER + "\n".join(pins) + "\n")
    print(f"lock: wrote {len(pins)} pins to {LOCK.name}")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
