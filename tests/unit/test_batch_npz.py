"""`featuremaps extract`'s .npz: where it goes, whether it fits, and that it is written whole
or not at all. The maps themselves are stood in for: these are about the file."""

from __future__ import annotations

import errno
import io
import os
import shutil
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.ml import batch
from app.ml.errors import FeaturemapsError, OutputError
from app.ml.nets import build
from app.ml.pack import Layout


class FakeEngine:
    device_name = "cpu"


ARRAYS: dict[str, np.ndarray] = {"max/pool2": np.ones((4, 64, 5, 5), np.uint8),
                                 "max/prediction": np.arange(4)}


@pytest.fixture
def maps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batch, "extract", lambda *args, **kwargs: dict(ARRAYS))


def extract_to(out: Path) -> dict[str, Any]:
    return batch.extract_to_npz(FakeEngine(), np.zeros((4, 28, 28), np.uint8),  # type: ignore[arg-type]
                                ["max"], ["pool2"], out)


@pytest.mark.usefixtures("maps")
def test_the_npz_is_written_and_reported(tmp_path: Path) -> None:
    stats = extract_to(tmp_path / "maps")
    out = tmp_path / "maps.npz"
    assert (stats["out"], stats["bytes"]) == (str(out), out.stat().st_size)
    assert np.array_equal(np.load(out)["max/pool2"], ARRAYS["max/pool2"])
    assert os.listdir(tmp_path) == ["maps.npz"]


@pytest.mark.usefixtures("maps")
@pytest.mark.parametrize("stop", [KeyboardInterrupt(), OSError(errno.ENOSPC, "No space left "
                                                                            "on device")])
def test_a_write_stopped_halfway_keeps_the_previous_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stop: BaseException) -> None:
    """Found by a review: the .npz was written in place, so Ctrl-C or a full disk left a
    truncated file that np.load opens, in place of the good one."""
    out = tmp_path / "maps.npz"
    np.savez(out, good=np.arange(3))
    before = out.read_bytes()

    real_savez = np.savez

    def savez(f: Any, **arrays: np.ndarray) -> None:
        if isinstance(f, io.BytesIO):  # the size measured in memory (batch.npz_size), not the file
            return real_savez(f, **arrays)  # type: ignore[arg-type]
        f.write(b"PK\x03\x04 the first member, half written")
        raise stop

    monkeypatch.setattr(np, "savez", savez)
    if isinstance(stop, KeyboardInterrupt):
        with pytest.raises(KeyboardInterrupt):
            extract_to(out)
    else:
        with pytest.raises(OutputError) as exc:
            extract_to(out)
        assert str(exc.value) == f"cannot write {out}: No space left on device"
    assert out.read_bytes() == before
    assert os.listdir(tmp_path) == ["maps.npz"]  # no temporary left


@pytest.mark.usefixtures("maps")
def test_a_failed_extraction_leaves_no_file(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    def extract(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(batch, "extract", extract)
    with pytest.raises(KeyboardInterrupt):
        extract_to(tmp_path / "maps.npz")
    assert os.listdir(tmp_path) == []


def test_a_folder_is_refused_before_the_suffix_is_added(tmp_path: Path) -> None:
    """Found by a review: `extract outdir` wrote outdir.npz beside the folder."""
    folder = tmp_path / "outdir"
    folder.mkdir()
    with pytest.raises(OutputError) as exc:
        batch.npz_target(folder)
    assert str(exc.value) == f"{folder} is a folder: give a file name, e.g. {folder}/maps.npz"
    assert os.listdir(tmp_path) == ["outdir"]


def test_a_file_in_the_way_is_named(tmp_path: Path) -> None:
    """Found by a review: this said 'File exists'."""
    a_file = tmp_path / "afile"
    a_file.write_text("")
    with pytest.raises(OutputError) as exc:
        batch.npz_target(a_file / "x.npz")
    assert str(exc.value) == f"cannot write {a_file / 'x.npz'}: {a_file} is not a folder"


def test_the_size_estimate_is_the_file_size() -> None:
    """What `extract` announces before it starts and the batch route holds against its
    limit: the uncompressed .npz, to the byte."""
    nets = [build("max"), build("avg")]
    layout = Layout.plan(nets, ["pool1", "conv3"])
    n, labels = 7, np.zeros(7, np.int64)
    arrays: dict[str, np.ndarray] = {"labels": labels}
    for net in ("max", "avg"):
        arrays[f"{net}/probabilities"] = np.zeros((n, 10), np.float32)
        arrays[f"{net}/prediction"] = np.zeros(n, np.int64)
        for layer, shape in (("pool1", (32, 13, 13)), ("conv3", (64, 3, 3))):
            arrays[f"{net}/{layer}"] = np.zeros((n, *shape), np.uint8)
            arrays[f"{net}/{layer}/low"] = np.zeros((n, shape[0]), np.float32)
            arrays[f"{net}/{layer}/high"] = np.zeros((n, shape[0]), np.float32)
    assert batch.npz_size(layout, n, labels.dtype) == len(batch.npz_bytes(arrays))
    # nor do the headers grow with the number of images' digits
    big = {name: np.broadcast_to(a[:1], (1_234, *a.shape[1:])) for name, a in arrays.items()}
    assert batch.npz_size(layout, 1_234, labels.dtype) == len(batch.npz_bytes(big))


class _Counter(io.RawIOBase):
    """A seekable file that keeps no bytes, only its size (zipfile seeks back to finish each
    member's header)."""

    def __init__(self) -> None:
        self.pos = self.size = 0

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        n = memoryview(b).nbytes
        self.pos += n
        self.size = max(self.size, self.pos)
        return n

    def seek(self, offset: int, whence: int = 0) -> int:
        self.pos = {0: 0, 1: self.pos, 2: self.size}[whence] + offset
        return self.pos

    def tell(self) -> int:
        return self.pos


@pytest.mark.slow
def test_past_4_gib_the_size_is_never_under_and_at_most_a_few_bytes_a_member_over() -> None:
    """A review: past 4 GiB zipfile gives its directory zip64 fields, 376 bytes more for the
    train split's every map and labels (`featuremaps extract`), which the size had missed."""
    nets = [build("max"), build("avg")]
    layout = Layout.plan(nets)
    n, labels = 60_000, np.dtype(np.int64)
    one = batch._answer_arrays(layout, 1)
    one["labels"] = np.zeros(1, labels)
    arrays = {name: np.broadcast_to(a, (n, *a.shape[1:])) for name, a in one.items()}
    sink = _Counter()
    np.savez(sink, **arrays)  # type: ignore[arg-type]
    assert sink.size > batch.ZIP64_LIMIT
    said = batch.npz_size(layout, n, labels)
    assert sink.size <= said <= sink.size + len(arrays) * batch.ZIP64_MARGIN + batch.ZIP64_END


def test_maps_that_cannot_fit_are_refused(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Every map is held in memory until written: refused at the start, not swapped or
    killed hours in."""
    out = tmp_path / "maps.npz"
    monkeypatch.setattr(batch, "available_memory", lambda: 2**30)
    batch.check_room(2**30 - batch.WORKING_MEMORY, out)
    # the maps alone would fit: the work's own memory does not (found by a review)
    with pytest.raises(FeaturemapsError) as exc:
        batch.check_room(2**30 - batch.WORKING_MEMORY + 1, out)
    with pytest.raises(FeaturemapsError) as exc:
        batch.check_room(11 * 2**30, out)
    assert str(exc.value) == ("the maps need about 11.0 GiB of memory until they are written, "
                              "and the work 256.0 MiB more; 1.0 GiB is available: use --limit, "
                              "or fewer --layers or --models")
    # float maps are told of uint8's (a review: not named)
    with pytest.raises(FeaturemapsError) as exc:
        batch.check_room(11 * 2**30, out, encoding="float32")
    assert str(exc.value).endswith("or fewer --layers or --models, or --encoding uint8 (a "
                                   "quarter of float32's bytes)")
    monkeypatch.setattr(batch, "available_memory", lambda: None)  # unknown: not checked
    free = shutil.disk_usage(tmp_path).free
    with pytest.raises(OutputError) as exc:
        batch.check_room(free + 2**40, out)
    assert str(exc.value).startswith(f"the maps need about {batch.in_units(free + 2**40)}; "
                                     f"{tmp_path} has ")


def test_available_memory_is_read_on_linux() -> None:
    memory = batch.available_memory()
    if not Path("/proc/meminfo").exists():
        assert memory is None
    else:
        assert memory is not None and 0 < memory <= os.sysconf("SC_PAGE_SIZE") * os.sysconf(
            "SC_PHYS_PAGES")


def test_a_containers_memory_limit_counts(tmp_path: Path) -> None:
    """Found by a review: in a container with --memory, /proc/meminfo describes the host, so
    the check passed and the kernel then killed the extraction without a word."""
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       16000000 kB\nMemAvailable:    8388608 kB\n")
    limit, usage = tmp_path / "memory.max", tmp_path / "memory.current"
    limit.write_text(f"{2**30}\n")
    usage.write_text(f"{2**28}\n")
    assert batch.available_memory(meminfo, [(limit, usage)]) == 2**30 - 2**28
    limit.write_text("max\n")  # no limit: the machine's figure
    assert batch.available_memory(meminfo, [(limit, usage)]) == 8 * 2**30
    # a limit beyond the machine's memory (v1 writes one for none) leaves the machine's
    limit.write_text(f"{2**63 - 4096}\n")
    assert batch.available_memory(meminfo, [(limit, usage)]) == 8 * 2**30
    # only the control group readable: its room
    limit.write_text(f"{2**30}\n")
    assert batch.available_memory(tmp_path / "none", [(limit, usage)]) == 2**30 - 2**28
    assert batch.available_memory(tmp_path / "none", [(tmp_path / "x", usage)]) is None
    # page cache counted in the use (a large .npz just written) is given back before a kill:
    # found by a review, as a false refusal
    (tmp_path / "memory.stat").write_text(f"anon 1000\ninactive_file {2**27}\nactive_file 5\n")
    assert batch.available_memory(meminfo, [(limit, usage)]) == 2**30 - 2**28 + 2**27


def test_preparing_a_batch_stops_between_images_when_its_client_has_gone() -> None:
    """The batch route's preprocess=true asks, every PREPARED_PER_CHECK images, whether its
    client is still there, as the extraction asks between batches."""
    asked: list[int] = []

    def stop() -> bool:
        asked.append(1)
        return len(asked) > 1

    with pytest.raises(batch.Abandoned, match="^stopped after preparing 256 of 300 images$"):
        batch.prepared(np.zeros((300, 28, 28), np.uint8), stop)
    assert batch.prepared(np.zeros((3, 28, 28), np.uint8), lambda: False).shape == (3, 28, 28)


def test_float_maps_are_weighed_in_the_work_of_each_batch() -> None:
    """A review: float32 maps ran 455 MB past the memory check, which counted each batch's
    packed block as uint8; on a GPU two pinned buffers hold it."""
    layout = Layout.plan([build("max"), build("avg")])
    uint8 = batch.working_memory(layout, 2_048, 256)
    assert batch.working_memory(layout, 2_048, 256, "float32") - uint8 == 3 * 2_048 * 73_920
    assert batch.working_memory(layout, 2_048, 256, "float16") - uint8 == 2_048 * 73_920
    assert (batch.working_memory(layout, 4_096, 4_096, "float32", pinned=True)
            == batch.WORKING_MEMORY + 2 * 3 * 4_096 * 73_920)


def test_an_npy_file_is_mapped_and_only_its_first_images_read(tmp_path: Path) -> None:
    """`featuremaps extract --input --limit` (a review: a million images read whole, 1.8 GB,
    for 10): the header is checked as a body's, the count it declares handed to `check`
    before any data are read, and only the first `limit` images are copied out."""
    images = np.random.default_rng(0).integers(0, 256, (10_000, 28, 28), dtype=np.uint8)
    path = tmp_path / "many.npy"
    np.save(path, images)
    told: list[batch.Header] = []
    tracemalloc.start()
    first = batch.npy_file(path, limit=10, check=told.append)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    np.testing.assert_array_equal(first, images[:10])
    header = batch.Header(10_000, 784, np.dtype(np.uint8))
    assert told == [header] and peak < 1_000_000  # the file is 7.8 MB

    # as (N, H, W), whatever order or channel axis the file has
    np.save(path, np.asfortranarray(images[:4, :, :, None]))
    np.testing.assert_array_equal(batch.npy_file(path), images[:4])
    np.save(path, images[0])
    np.testing.assert_array_equal(batch.npy_file(path, limit=5), images[:1])
    # and what the header says is weighed against the file, as for a body
    path.write_bytes(path.read_bytes() + bytes(3))
    with pytest.raises(FeaturemapsError, match="784 bytes of data; 3 more follow it"):
        batch.npy_file(path)


def test_an_npz_member_is_inflated_only_as_far_as_its_first_images(tmp_path: Path) -> None:
    """A review: `extract --input x.npz --limit 10` inflated every image of the member. With
    a limit, only the first images' bytes are inflated and read (np.save's C order), the
    header checked whole as before."""
    images = np.random.default_rng(0).integers(0, 256, (10_000, 28, 28), dtype=np.uint8)
    for save in (np.savez, np.savez_compressed):
        buf = io.BytesIO()
        save(buf, images=images)
        body = buf.getvalue()
        told: list[batch.Header] = []
        tracemalloc.start()
        first = batch.read_npy_or_npz(body, 2**31, told.append, limit=10)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        np.testing.assert_array_equal(first, images[:10])
        header = batch.Header(10_000, 784, np.dtype(np.uint8))
        assert told == [header] and peak < 1_000_000, save  # 7.8 MB whole
        np.testing.assert_array_equal(batch.read_npy_or_npz(body, 2**31, limit=20_000), images)
    # a Fortran-order array's first images are not its first bytes: read whole, and only
    # the first kept (a review: an image past --limit was checked, and refused), its header
    # saying so for the memory check
    odd = images[:50].astype(np.int64)
    odd[40, 0, 0] = 300
    buf = io.BytesIO()
    np.savez(buf, images=np.asfortranarray(odd))
    told.clear()
    first = batch.read_npy_or_npz(buf.getvalue(), 2**31, told.append, limit=3)
    np.testing.assert_array_equal(first, images[:3])
    assert told == [batch.Header(50, 784, np.dtype(np.int64), fortran=True)]


def test_the_input_images_held_are_counted_as_they_will_be_held() -> None:
    """A review: `extract --input --preprocess` did not count the pictures it inflates and
    prepares. Their bytes read (twice while copied), as the networks take them, and
    prepared."""
    photos = batch.Header(10_000, 1000 * 1000, np.dtype(np.uint8))
    assert batch.input_memory(photos, 10_000, prepared=True) == (2 * 10_000 * 10**6
                                                                 + 4 * 10_000 * 784)
    floats = batch.Header(1_000, 784, np.dtype(np.float64))
    assert batch.input_memory(floats, 100) == 2 * 100 * 784 * 8 + 4 * 100 * 784
    assert batch.input_memory(floats, 100, prepared=True) == (2 * 100 * 784 * 8
                                                              + 4 * 100 * 784
                                                              + 4 * 100 * 784)
    # float32 is taken as it is; a Fortran-order file is read whole
    assert batch.input_memory(batch.Header(1_000, 784, np.dtype(np.float32)), 100) == (
        2 * 100 * 784 * 4)
    assert batch.input_memory(batch.Header(1_000, 784, np.dtype(np.uint8), True), 100) == (
        2 * 1_000 * 784)
    levels = batch.Header(5, 784, np.dtype(np.int64))  # taken as uint8
    assert batch.input_memory(levels, 5) == 2 * 5 * 784 * 8 + 5 * 784
