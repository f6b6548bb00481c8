"""requirements.lock: the exact releases the Docker image and `make` install. It must stay
true to pyproject.toml, hold the whole run-time closure and nothing else, and be what these
tests run on."""

from __future__ import annotations

import re
import sys
import tomllib
from importlib.metadata import PackageNotFoundError, distribution
from types import ModuleType

import pytest
from packaging.requirements import Requirement

from app.config import PROJECT_ROOT

# the lock is for the image's platform: elsewhere the venv holds other packages (colorama on
# Windows, no uvloop), and the two checks of the venv against the lock say nothing
LINUX_ONLY = pytest.mark.skipif(sys.platform != "linux", reason="the lock is for Linux")
# what a CUDA build of torch brings (PyPI's default on Linux): the lock leaves it free
CUDA_LIBRARIES = re.compile(r"^(nvidia-.*|triton|cuda-.*)$")


@pytest.fixture(scope="module")
def lock_lines(lock_tool: ModuleType) -> list[str]:
    return [line.split("#", 1)[0].strip() for line in lock_tool.LOCK.read_text().splitlines()
            if line.split("#", 1)[0].strip()]


@pytest.fixture(scope="module")
def pins(lock_lines: list[str]) -> dict[str, str]:
    return dict(line.split("==", 1) for line in lock_lines)


def project_requirements() -> list[Requirement]:
    deps = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return [Requirement(d) for d in deps]


def test_the_lock_is_exact_pins_in_its_writers_form(lock_tool: ModuleType,
                                                    lock_lines: list[str]) -> None:
    """One `name==version` per package, canonical names, sorted, no local labels: what
    `make lock` writes, so a hand edit that breaks the form shows."""
    assert lock_lines == lock_tool.pinned_lines("\n".join(lock_lines))
    assert all(line.count("==") == 1 and "+" not in line for line in lock_lines)
    assert "pip" not in {line.split("==")[0] for line in lock_lines}


def test_the_writer_pins_canonical_names_without_local_labels(lock_tool: ModuleType) -> None:
    frozen = "typing_extensions==4.16.0\ntorch==2.13.0+cpu\npip==25.3\nZope.Interface==8.0\n"
    assert lock_tool.pinned_lines(frozen) == ["torch==2.13.0", "typing-extensions==4.16.0",
                                              "zope-interface==8.0"]
    # only a CPU torch is locked: PyPI's default build would bring the NVIDIA libraries
    assert lock_tool.torch_build(frozen) == "cpu"
    assert lock_tool.torch_build("torch==2.13.0\nnvidia-cudnn-cu12==9.1\n") is None
    assert lock_tool.torch_build("torch==2.13.0+cu128\n") == "cu128"


def test_the_lock_satisfies_pyproject(pins: dict[str, str], lock_tool: ModuleType) -> None:
    for req in project_requirements():
        name = lock_tool.canonical(req.name)
        assert name in pins, f"{req} is not in requirements.lock: run `make lock`"
        assert req.specifier.contains(pins[name], prereleases=True), \
            f"requirements.lock has {name}=={pins[name]}, pyproject.toml wants {req}"


@LINUX_ONLY
def test_the_tests_run_the_locked_releases(pins: dict[str, str]) -> None:
    """The venv `make` builds installs with the lock as constraints, so the in-process app
    the Docker test compares the image with runs the image's releases."""
    wrong = {}
    for name, version in pins.items():
        try:
            installed = distribution(name).version.split("+", 1)[0]
        except PackageNotFoundError:
            installed = "missing"
        if installed != version:
            wrong[name] = (installed, version)
    assert not wrong, f"installed vs locked: {wrong} (the venv was not made by `make`)"


@LINUX_ONLY
def test_the_lock_is_the_run_time_closure(pins: dict[str, str], lock_tool: ModuleType) -> None:
    """Walking the requirements of pyproject.toml through the installed packages' metadata
    (this platform's markers, extras followed) reaches every locked package and no other:
    the lock misses nothing the image needs and carries nothing it does not. A CUDA torch's
    own libraries, where `make` installed that build, are not the lock's business."""
    reached: set[str] = set()
    todo = [(req, frozenset(req.extras)) for req in project_requirements()]
    done: set[tuple[str, frozenset[str]]] = set()
    while todo:
        req, extras = todo.pop()
        name = lock_tool.canonical(req.name)
        if (name, extras) in done or CUDA_LIBRARIES.match(name):
            continue
        done.add((name, extras))
        reached.add(name)
        for text in distribution(name).requires or []:
            dep = Requirement(text)
            if dep.marker is None or any(dep.marker.evaluate({"extra": extra})
                                         for extra in ("", *extras)):
                todo.append((dep, frozenset(dep.extras)))
    assert reached == set(pins), (sorted(reached - set(pins)), sorted(set(pins) - reached))


def test_the_package_version_is_the_project_version() -> None:
    """`featuremaps --version`, /healthz and the models route's ETag say app.__version__;
    pyproject.toml says the version pip installs. Nothing but this keeps the two in step (a
    docs review)."""
    from app import __version__

    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    assert project["version"] == __version__
