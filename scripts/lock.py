"""Write requirements.lock: the exact release of every package the app needs at run time.

    python scripts/lock.py          (or: make lock)

It installs the run-time dependencies of pyproject.toml, and nothing else, into a fresh
throw-away venv with this machine's pip settings, and writes what pip resolved. The Docker
image and `make` install with the file as pip constraints (`-c requirements.lock`), so an
image built today and one built next year run the same releases. Run it after a change to
`[project] dependencies`, or to move every package to its newest allowed release; the tests
check that the file still satisfies pyproject.toml.

The file is for Linux, CPython 3.11 (the image's). torch is written without its local
label (2.13.0, not 2.13.0+cpu), so that the same file constrains the CUDA build. pip is left
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
# The exact releases of the app's run-time dependencies (Linux, CPython 3.11), used as pip
# constraints by the Dockerfile and the Makefile. Written by `make lock` (scripts/lock.py)
# from pyproject.toml; do not edit by hand.
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


def main() -> int:
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    with tempfile.TemporaryDirectory(prefix="featuremaps-lock-") as tmp:
        venv = Path(tmp) / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        python = str(venv / "bin" / "python")
        subprocess.run([python, "-m", "pip", "install", "--quiet", *deps], check=True)
        subprocess.run([python, "-m", "pip", "check"], check=True)
        frozen = subprocess.run([python, "-m", "pip", "freeze", "--all"], check=True,
                                capture_output=True, text=True).stdout
    pins = pinned_lines(frozen)
    LOCK.write_text(HEADER + "\n".join(pins) + "\n")
    print(f"lock: wrote {len(pins)} pins to {LOCK.name}")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
