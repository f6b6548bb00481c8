"""Shared fixtures: settings for the shipped models, MNIST, a live TestClient."""

from __future__ import annotations

import asyncio
import importlib.util
import io
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType
from typing import Any, TypedDict, TypeVar

import numpy as np
import pytest
from PIL import Image
from starlette.testclient import TestClient

from app.config import PROJECT_ROOT, Settings
from app.ml import data
from app.ml.data import Mnist

MODELS_DIR = PROJECT_ROOT / "models"
DATA_DIR = PROJECT_ROOT / "data"
T = TypeVar("T")


class Upload(TypedDict):
    """A request's body and headers, as TestClient.post's keyword arguments (`**upload`)."""

    content: bytes
    headers: dict[str, str]


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to its end in an event loop of its own, on a thread of its own: the
    browser tests' Playwright (sync API) keeps a loop running on the main thread for the
    whole session, where asyncio.run refuses to start."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings(device="cpu", models_dir=MODELS_DIR, data_dir=DATA_DIR, access_log=False)


@pytest.fixture(scope="session")
def lock_tool() -> ModuleType:
    """scripts/lock.py, the writer of requirements.lock, as a module (its parsing, its path)."""
    spec = importlib.util.spec_from_file_location("lock", PROJECT_ROOT / "scripts" / "lock.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def mnist() -> Mnist:
    """The real MNIST cache (`featuremaps data fetch`; `make test` fetches it)."""
    return data.load(DATA_DIR)


@pytest.fixture(scope="session")
def client(settings: Settings) -> Iterator[TestClient]:
    from app.main import create_app

    with TestClient(create_app(settings)) as c:
        yield c


def png_bytes(array: np.ndarray, mode: str = "L") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array, mode=mode).save(buf, format="PNG")
    return buf.getvalue()


def digit_png(mnist: Mnist, index: int) -> bytes:
    return png_bytes(mnist.images("test")[index])


@pytest.fixture(scope="session")
def test_digit_pngs() -> dict[int, tuple[int, bytes]]:
    """The real MNIST test digits the page offers (static/digits): {index: (label, png)}."""
    out: dict[int, tuple[int, bytes]] = {}
    for path in sorted((PROJECT_ROOT / "static" / "digits").glob("*.png")):
        index, label = path.stem.split("_label")
        out[int(index)] = (int(label), path.read_bytes())
    return out
