"""Batch extraction: the chosen layers' maps for N images, quantised on the device (or, asked
for floats, cast there).

Each batch is run, quantised and packed on the device (app/ml/pack.py) and copied to the
host once (on a GPU into pinned memory, overlapped with the next batch); the host then
slices the packed block of every layer into the output arrays, which are named
`<model>/<layer>` (N, C, H, W) uint8 (float16 or float32 when asked) with `<model>/<layer>/low`
and `/high` (N, C) float32,
plus `<model>/probabilities` (N, 10) and `<model>/prediction` (N,); `featuremaps extract`
adds the split's `labels` (N,).
"""

from __future__ import annotations

import functools
import io
import math
import shutil
import time
import tokenize
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import IO, Any, NamedTuple

import numpy as np
import torch

from app.ml import files, preprocess
from app.ml.encode import DTYPE_SIZES, DTYPES_NP, Encoding
from app.ml.engine import Engine
from app.ml.errors import FeaturemapsError, ImageTooLarge, InvalidPixels, NotArrays, OutputError
from app.ml.names import brief, brief_list, repeated
from app.ml.nets import Net
from app.ml.pack import Layout, pack_on_device, pack_on_host
from app.ml.preprocess import ARRAY_STARTS, range_hint

# the shapes a batch of images may have besides (N, 28, 28): PyTorch's layout and Keras's
# (channels last, as the article's model and x_train[..., None] have it), and one image
# alone, without a channel axis or with Keras's (x_train[0] of a channels-last set)
SHAPES = ("(N, 28, 28), (N, 1, 28, 28) or (N, 28, 28, 1), or (28, 28) or (28, 28, 1) for one "
          "image")


# with preprocess=true, which crops and scales each image, any size up to the one-image
# routes' MAX_SIDE (beyond it they box-reduce a picture first, which an array is not given)
# a last axis of 2, 3 or 4 is channels, said in the rule (a CLI review: (2, 3, 3) was refused
# by words it fits, as (N, H, W); an API review: np.array() of a grey picture with alpha,
# (H, W, 2), was read as H images 2 px wide)
# a last axis of 1 is a grey channel: (40, 40, 1) is one image, not 40 of 40x1 (an API
# review asked which of the two it was)
SIZED_SHAPES = ("(N, H, W), (N, 1, H, W) or (N, H, W, 1), or (H, W) or (H, W, 1) for one "
                f"image, each side 1 to {preprocess.MAX_SIDE} (a last axis of 1 is the grey "
                "channel, so three axes ending in 1 are one image; of 2, 3 or 4, channels, "
                "grey and alpha or colour: convert to grey)")
CHANNELS = (2, 3, 4)  # grey and alpha, RGB, RGBA (or CMYK)


def _frames(shape: tuple[int, ...], any_size: bool = False) -> tuple[int, int, int] | None:
    """(N, H, W) of the images an array of `shape` holds; None if it is not one of SHAPES
    (`any_size`: SIZED_SHAPES, where a last axis of 2, 3 or 4 is channels, not 2 to 4 px)."""
    if not any_size:
        if shape in ((28, 28), (28, 28, 1)):
            return 1, 28, 28
        if (len(shape) == 3 and shape[1:] == (28, 28)) or (
                len(shape) == 4 and shape[1:] in ((1, 28, 28), (28, 28, 1))):
            return int(shape[0]), 28, 28
        return None
    if len(shape) == 2:
        n, h, w = 1, *shape
    elif len(shape) == 3 and shape[2] == 1:  # one image, channels last
        n, h, w = 1, shape[0], shape[1]
    elif len(shape) == 3 and shape[2] not in CHANNELS:
        n, h, w = shape
    elif len(shape) == 4 and shape[1] == 1:
        n, h, w = shape[0], shape[2], shape[3]
    elif len(shape) == 4 and shape[3] == 1:
        n, h, w = shape[:3]
    else:
        return None
    sides = range(1, preprocess.MAX_SIDE + 1)
    return (int(n), int(h), int(w)) if h in sides and w in sides else None


def _wrong_shape(shape: tuple[int, ...], any_size: bool = False) -> InvalidPixels:
    """The refusal of images of `shape`; 2, 3 or 4 channels, where a grey image has 1, are
    named as grey and alpha or colour (found by reviews: the shapes alone were said).
    Without `any_size`, images of another size that preprocess=true takes are told so."""
    side = (lambda hw: True) if any_size else (lambda hw: hw == (28, 28))
    last = len(shape) in (3, 4) and shape[-1] in CHANNELS and side(shape[-3:-1])
    first = len(shape) == 4 and shape[-3] in CHANNELS and side(shape[-2:])  # PyTorch's
    hint = _channels_hint(shape[-1], "last axis") if last else (
        _channels_hint(shape[-3], "channel axis") if first else "")
    if last and len(shape) == 3 and any_size and _frames((*shape, 1), any_size=True):
        # an API review: 18 images 2 px wide, (18, H, 2), were told only of channels (only
        # where that shape would be taken: a review)
        n, h, w = shape
        hint = f"{hint[:-1]}; or {n} images {w} px wide? shape them ({n}, {h}, {w}, 1))"
    if not any_size and not hint and _frames(shape, any_size=True) is not None:
        most = preprocess.MAX_SIDE
        hint = (f" (other sizes, up to {most} x {most}, with preprocess=true, which crops and "
                "scales each image as POST /api/v1/featuremaps does)")
    return InvalidPixels(f"images must have shape {SIZED_SHAPES if any_size else SHAPES}; "
                         f"got {tuple(shape)}{hint}")


def _channels_hint(channels: int, axis: str) -> str:
    """What `channels` (2, 3 or 4) along `axis` most likely are, and the fix."""
    if channels == 2:
        # np.array() of a grey picture with alpha (an API review)
        return " (2 channels: grey and alpha? convert to grey: the grey where opaque, the " \
            "paper where clear)"
    return f" ({channels} colour channels? convert to grey, e.g. their mean over the {axis})"


def _shown(value: float) -> str:
    """An end of a range in four digits, or, out of 0..1, as it is where four would read as
    in range (1.0000001 is not 1). An end in range stays short: "0..254", not "0.0..254" (an
    API review)."""
    short = f"{value:.4g}" if value else "0"  # -0.0 as 0 (an API review: "found -1..-0")
    return short if 0 <= value <= 1 or not 0 <= float(short) <= 1 else repr(value)


# what a batch may hold, said where an array holds neither
KINDS = "images must be integers (levels 0..255, as uint8) or floats (0..1)"


def images_from_array(arr: np.ndarray, any_size: bool = False) -> np.ndarray:
    """(N, 28, 28) integers (levels 0..255, as uint8) or floats (0..1) -> (N, 28, 28) uint8
    or float32, checked (`any_size`: (N, H, W), SIZED_SHAPES). Any integer type counts as
    levels: an array built from Python ints is int64, and holds what a uint8 image would."""
    frames = _frames(arr.shape, any_size)
    if frames is None:
        raise _wrong_shape(arr.shape, any_size)
    arr = arr.reshape(frames)  # a view: one image, or a channel axis of 1 dropped
    if arr.shape[0] == 0:
        raise InvalidPixels("no images: the array has N = 0")
    if arr.dtype.kind not in "fiu":
        raise InvalidPixels(f"{KINDS}; got {arr.dtype}")
    if arr.dtype.kind in "iu":
        low, high = arr.min(), arr.max()
        if low < 0 or high > 255:
            # 16-bit levels (a scan, a PNG of 16 bits) named as such (an API review: told only
            # to send floats)
            sixteen = low >= 0 and high <= 65535 and arr.dtype.itemsize >= 2
            hint = ("16-bit levels? send them divided by 65535 as floats, or by 257 as uint8"
                    if sixteen and high > 4095 else "send floats for 0..1")
            raise InvalidPixels(f"integer images are levels 0..255; found {low}..{high} "
                                f"({hint})")
        # 0 and 1 alone: binarised images, or 0..1 cast to integers, which as levels are
        # black (found by a review: max was right on 3 of 20 such digits, without a word)
        if high == 1:
            raise InvalidPixels("integer images are levels 0..255, and these hold only 0 and 1 "
                                "(binarised?): send them times 255, or as floats in 0..1")
        return arr if arr.dtype == np.uint8 else arr.astype(np.uint8)
    # checked in the array's own type: float64 values beyond float32's range are finite
    if not np.isfinite(arr).all():
        raise InvalidPixels("images contain NaN or infinity; expected floats in 0..1")
    low, high = float(arr.min()), float(arr.max())
    if low < 0 or high > 1:
        raise InvalidPixels(f"float images must lie in 0..1; found {_shown(low)}..{_shown(high)}"
                            f"{range_hint(arr)}")
    return arr.astype(np.float32, copy=False)  # float32 already: no second copy (a review)


# the batch route's prepared images, first in its answer: (N, 28, 28) uint8 levels q, each
# pixel q/255 of what the networks saw (as the one-image answer's `input`)
INPUTS = "inputs"
INPUT_BYTES = 28 * 28

# images prepared between two looks at whether the client is still there (about 30 ms)
PREPARED_PER_CHECK = 256


def prepared(images: np.ndarray, stop: Callable[[], bool] | None = None) -> np.ndarray:
    """Each image prepared as the one-image routes prepare a picture (dark ink on light
    inverted, the paper's level taken off, cropped, scaled to a 20 px box and centred by
    mass, on MNIST's 256 levels): the batch route's preprocess=true. Levels q are read as
    q/255, as JSON pixels, so that an image gives what the one-image route gives for it.
    Images of any size up to the one-image routes' MAX_SIDE (SIZED_SHAPES) -> (N, 28, 28)
    float32; about 0.1 ms a 28x28 image on one core (bench/batch.py). `stop`, asked every
    PREPARED_PER_CHECK images: True ends the work with Abandoned."""
    images = images_from_array(images, any_size=True)
    out = np.empty((len(images), 28, 28), np.float32)
    for i, image in enumerate(images):
        if stop is not None and i % PREPARED_PER_CHECK == 0 and stop():
            raise Abandoned(f"stopped after preparing {i:,} of {len(images):,} images")
        grey = (image / 255.0).astype(np.float32) if image.dtype == np.uint8 else image
        out[i] = preprocess.as_picture(grey)
    return out


def _to_float(chunk: np.ndarray, device: torch.device) -> torch.Tensor:
    x = torch.from_numpy(np.ascontiguousarray(chunk)).to(device, non_blocking=True)
    if x.dtype == torch.uint8:
        x = x.float().div_(255.0)
    return x[:, None]  # (B, 1, 28, 28)


def bytes_per_image(layout: Layout, encoding: Encoding = "uint8") -> int:
    """An image's bytes in the answer: its maps in `encoding`, each channel's low and high and
    each network's probabilities as float32, each network's prediction as int64."""
    return (layout.data_size * DTYPE_SIZES[encoding] + 4 * layout.float_size
            + 8 * len(layout.nets))


def packed_batches(engine: Engine, nets: Sequence[Net], layout: Layout, images: np.ndarray,
                   batch_size: int, encoding: Encoding = "uint8",
                   ) -> Iterator[tuple[int, int, np.ndarray, np.ndarray]]:
    """(start, b, data, floats) for each batch of `images`, packed as app/ml/pack.py lays out
    (the maps in `encoding`).

    The arrays are views that stay valid until the next batch is asked for. On CUDA the work
    is pipelined: while the host reads batch k, the GPU computes batch k+1 and a second stream
    copies it into the other of two pinned buffers, so the copy to the host overlaps the
    compute.
    """
    n = len(images)
    starts = range(0, n, batch_size)
    if engine.device.type != "cuda":
        for start in starts:
            x = _to_float(images[start:start + batch_size], engine.device)
            if engine.device.type == "cpu":
                data, floats = pack_on_host(nets, x, layout, encoding)
            else:
                d, f = pack_on_device(nets, x, layout, encoding)
                data, floats = d.cpu().numpy(), f.cpu().numpy()
            yield start, len(x), data, floats
        return
    dev = engine.device
    compute = torch.cuda.current_stream(dev)
    copier = torch.cuda.Stream(dev)  # type: ignore[no-untyped-call]
    pinned: list[tuple[torch.Tensor, torch.Tensor] | None] = [None, None]
    pending: tuple[torch.cuda.Event, int, int, torch.Tensor, torch.Tensor] | None = None
    for k, start in enumerate(starts):
        x = _to_float(images[start:start + batch_size], dev)
        d, f = pack_on_device(nets, x, layout, encoding)
        buf = pinned[k % 2]  # its last user, batch k-2, has been read by now
        if buf is None or buf[0].numel() < d.numel():
            buf = pinned[k % 2] = (torch.empty(d.numel(), dtype=d.dtype).pin_memory(),
                                   torch.empty(f.numel(), dtype=torch.float32).pin_memory())
        hd, hf = buf[0][:d.numel()], buf[1][:f.numel()]
        copier.wait_stream(compute)
        with torch.cuda.stream(copier):
            hd.copy_(d, non_blocking=True)
            hf.copy_(f, non_blocking=True)
        d.record_stream(copier)  # the allocator must not reuse them before the copy ran
        f.record_stream(copier)
        done = torch.cuda.Event()  # type: ignore[no-untyped-call]
        done.record(copier)
        if pending is not None:
            yield _ready(pending)
        pending = (done, start, len(x), hd, hf)
    if pending is not None:
        yield _ready(pending)


def _ready(pending: tuple[torch.cuda.Event, int, int, torch.Tensor, torch.Tensor]
           ) -> tuple[int, int, np.ndarray, np.ndarray]:
    done, start, b, hd, hf = pending
    done.synchronize()
    return start, b, hd.numpy(), hf.numpy()


def default_batch_size(engine: Engine) -> int:
    """Images per batch: on a GPU large enough that kernel launches stop mattering
    (bench/gpu.py: 4,096 gives 1.3 to 1.5 times the throughput of 1,024 on an H100 and an
    H200). Two pinned buffers of that many images' maps (about 600 MB) stay with the
    process. On a CPU 256: larger batches spend their time page-faulting fresh memory in
    (bench/batch.py)."""
    return 4096 if engine.device.type == "cuda" else 256


class Abandoned(Exception):
    """extract() stopped between batches: whoever asked for the maps is gone."""


def extract(engine: Engine, images: np.ndarray, models: Sequence[str],
            layers: Sequence[str] | None = None,
            batch_size: int | None = None,
            stop: Callable[[], bool] | None = None,
            host_threads: int | None = None,
            encoding: Encoding = "uint8") -> dict[str, np.ndarray]:
    """Maps of the chosen layers (all when None) of the chosen networks for every image, in
    `encoding`: uint8 scaled to each channel's low and high, or the floats themselves.
    `stop`, asked before each batch: True ends the work with Abandoned. `host_threads`
    threads (default: as many as torch's intra-op setting, so that a server keeps to its
    share of the cores) copy each packed batch into the output arrays, each its own run of
    images, in a pool made for this call."""
    batch_size = batch_size or default_batch_size(engine)
    images = images_from_array(images)
    nets = engine.nets(models)
    if layers is not None:
        engine.check_layers(models, layers)
    layout = Layout.plan(nets, layers)
    n = len(images)
    out = _answer_arrays(layout, n, encoding)
    threads = max(1, host_threads or torch.get_num_threads())
    # the copies release the GIL: on a GPU they, not the device, bound an extraction (fresh
    # output memory is faulted in as it is written; bench/gpu.py); one thread copies inline
    pool = ThreadPoolExecutor(threads) if threads > 1 else None
    try:
        with torch.inference_mode():
            for start, b, data, floats in packed_batches(engine, nets, layout, images,
                                                         batch_size, encoding):
                if stop is not None and stop():
                    raise Abandoned(f"stopped after {start:,} of {n:,} images")
                unpack = partial(_unpack, out, layout, start, b, data, floats)
                if pool is None:
                    unpack(0, b)
                    continue
                step = -(-b // threads)  # images per thread, rounded up
                los = range(0, b, step)
                list(pool.map(unpack, los, [min(b, lo + step) for lo in los]))
    finally:
        if pool is not None:
            pool.shutdown()
    for slot in layout.nets:
        np.argmax(out[f"{slot.variant}/probabilities"], axis=1,
                  out=out[f"{slot.variant}/prediction"])
    return out


WARM_IMAGES = (32, 256)


def warm_up(engine: Engine, models: Sequence[str]) -> float:
    """Blank images through extract and npz_bytes, as the batch route runs them: once to warm
    the path, then timed at two sizes. Returns the seconds each image beyond the smaller
    added (every map of `models`; a review: one size's time an image counted each call's
    fixed costs, buffers and a thread pool, many times over on a GPU), what the batch gate
    takes an image to need until a batch has finished."""
    def took(n: int) -> float:
        start = time.perf_counter()
        npz_bytes(extract(engine, np.zeros((n, 28, 28), np.uint8), models))
        return time.perf_counter() - start

    small, large = WARM_IMAGES
    took(small)
    slope = (took(large) - took(small)) / (large - small)
    return slope if slope > 0 else took(large) / large  # noise: the larger's own


def _answer_arrays(layout: Layout, n: int, encoding: Encoding = "uint8"
                   ) -> dict[str, np.ndarray]:
    """The arrays `extract` fills for n images, uninitialised, in the order it names them."""
    out: dict[str, np.ndarray] = {}
    maps = np.dtype(DTYPES_NP[encoding])
    for slot in layout.nets:
        out[f"{slot.variant}/probabilities"] = np.empty((n, 10), np.float32)
        for ls in slot.layers:
            base = f"{slot.variant}/{ls.layer.name}"
            out[base] = np.empty((n, *ls.layer.shape), maps)
            out[f"{base}/low"] = np.empty((n, ls.layer.shape[0]), np.float32)
            out[f"{base}/high"] = np.empty((n, ls.layer.shape[0]), np.float32)
    for slot in layout.nets:  # last, as they are filled
        out[f"{slot.variant}/prediction"] = np.empty(n, np.int64)
    return out


def _unpack(out: dict[str, np.ndarray], layout: Layout, start: int, b: int, data: np.ndarray,
            floats: np.ndarray, lo: int, hi: int) -> None:
    """Images lo..hi of a packed batch of b (the batch's first at `start`) into `out`."""
    rows = slice(start + lo, start + hi)
    for slot in layout.nets:
        out[f"{slot.variant}/probabilities"][rows] = \
            floats[slot.probabilities(b)].reshape(b, 10)[lo:hi]
        for ls in slot.layers:
            base, c = f"{slot.variant}/{ls.layer.name}", ls.layer.shape[0]
            out[base][rows] = data[ls.data(b)].reshape(b, *ls.layer.shape)[lo:hi]
            out[f"{base}/low"][rows] = floats[ls.lows(b)].reshape(b, c)[lo:hi]
            out[f"{base}/high"][rows] = floats[ls.highs(b)].reshape(b, c)[lo:hi]


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """An uncompressed .npz (the maps are already uint8; deflate would cost more than it saves
    on a fast link)."""
    buf = io.BytesIO()
    np.savez(buf, **arrays)  # type: ignore[arg-type]
    return buf.getvalue()


class Unreadable(InvalidPixels):
    """A file that cannot be read as the .npy or .npz it begins as."""


NPY_HEADER_MAX = 10_000  # bytes of an .npy header: NumPy's own bound for one it reads
# per format version, the bytes of its header's length field and NumPy's reader of the rest;
# 3.0 differs from 2.0 only in allowing UTF-8 in the header, which no number dtype or shape
# needs: one that uses it fails to parse, as it should
NPY_HEADERS = {(1, 0): (2, np.lib.format.read_array_header_1_0),
               (2, 0): (4, np.lib.format.read_array_header_2_0),
               (3, 0): (4, np.lib.format.read_array_header_2_0)}


class Header(NamedTuple):
    """What an images .npy's header declares, checked before its data are read."""
    n: int  # images
    pixels: int  # of one image
    dtype: np.dtype[Any]
    fortran: bool = False  # its images are not its first bytes: read whole for any of them

    @property
    def image_bytes(self) -> int:
        return self.pixels * self.dtype.itemsize


HeaderCheck = Callable[[Header], None]


def _npy_header(stream: IO[bytes], max_images: int, check: HeaderCheck | None,
                any_size: bool = False, size: int | None = None,
                ) -> tuple[tuple[int, ...], bool, np.dtype[Any]]:
    """The (shape, fortran order, dtype) of the .npy that `stream` begins, read and checked
    before any allocation: a number dtype, one of SHAPES, as many data bytes as the file's
    `size` leaves after the header where it is known, N <= max_images, then `check` with its
    Header (`any_size`: SIZED_SHAPES)."""
    try:
        version = np.lib.format.read_magic(stream)
        reader = NPY_HEADERS.get(version)
        if reader is not None:
            width, read = reader
            # the header's declared length is bounded before NumPy reads it: NumPy reads all
            # it declares, up to 4 GiB in 2.0, and only then checks its own bound (a review:
            # an .npz member declaring 4 GiB of header, 4 MB deflated, had the server inflate
            # 1 GiB of it, 2 GB held, before refusing it)
            field = stream.read(width)
            length = int.from_bytes(field, "little")
            if length > NPY_HEADER_MAX:
                raise Unreadable(f"not a readable .npy header (it declares {length:,} bytes of "
                                 f"header; NumPy writes at most {NPY_HEADER_MAX:,})")
            shape, fortran, dtype = read(io.BytesIO(field + stream.read(length)))
        elif max(version) < 10:
            raise Unreadable(f"not a readable .npy header (format version "
                             f"{version[0]}.{version[1]}; NumPy writes 1.0, 2.0 and 3.0)")
        else:  # bytes no writer would put there: not worth reading as a version (an API
            # review: "format version 32.103" for the text " g")
            raise Unreadable("not a readable .npy header (the two bytes after \\x93NUMPY, "
                             f"0x{version[0]:02x} 0x{version[1]:02x}, are no format version; "
                             "NumPy writes 1.0, 2.0 and 3.0)")
    # NumPy's parser lets tokenize's and ast's errors out besides its own ValueError, and its
    # messages speak of its internals (AST nodes, allow_pickle): one plain sentence instead
    except (ValueError, SyntaxError, TypeError, tokenize.TokenError) as exc:
        raise Unreadable("not a readable .npy header: NumPy cannot parse it; write the "
                         "images with numpy.save") from exc
    if any(type(d) is not int for d in shape):  # the header parser lets (True, 28, 28) by
        raise InvalidPixels(f"not a readable .npy header (shape {shape!r} is not integers)")
    if any(d < 0 for d in shape):
        raise InvalidPixels(f"not a readable .npy header (shape {shape!r} has a negative "
                            "size)")
    if dtype.hasobject or dtype.kind not in "uif":
        raise InvalidPixels(f"{KINDS}; got {dtype}")
    if dtype.itemsize > 8:  # long double ('<f16'): its layout differs between platforms
        raise InvalidPixels(f"float images must be float16, float32 or float64; got {dtype}")
    frames = _frames(tuple(shape), any_size)
    if frames is None:
        raise _wrong_shape(tuple(shape), any_size)
    # a file cut short, or a header that lies, is said as such before its count is judged
    # (an API review: 8 images under a header of 100,000 were told to be sent in parts)
    if size is not None:
        declared, held = math.prod(shape) * dtype.itemsize, size - stream.tell()
        if declared > held:
            raise Unreadable(f".npy header declares {declared:,} bytes of data; the file "
                             f"holds {held:,}: send the whole file, as np.save wrote it")
        if declared < held:  # two np.save calls to one file, or bytes added after it
            raise Unreadable(f".npy header declares {declared:,} bytes of data; "
                             f"{held - declared:,} more follow it: one array to an .npy "
                             "(np.savez holds several)")
    n = frames[0]
    if n > max_images:
        raise ImageTooLarge(f"{n:,} images; the limit is {max_images:,} per request "
                            f"(FEATUREMAPS_MAX_BATCH_IMAGES): send them in parts of at most "
                            f"{max_images:,}")
    if check is not None:
        check(Header(n, math.prod(frames[1:]), dtype, bool(fortran) and n > 1))
    return tuple(shape), fortran, dtype


def _array_from_npy(stream: IO[bytes], size: int, max_images: int,
                    check: HeaderCheck | None, any_size: bool = False,
                    limit: int | None = None) -> np.ndarray:
    """Read one .npy from `stream` (`size` bytes): its header checked (`_npy_header`), then
    exactly as many data bytes as it declares; or, with a `limit` of images, as many as its
    first `limit` images take, where they come first (C order: np.save's)."""
    shape, fortran, dtype = _npy_header(stream, max_images, check, any_size, size)
    declared = math.prod(shape) * dtype.itemsize  # what the header's check found held
    frames = _frames(shape, any_size)
    assert frames is not None  # the header's check refused any other shape
    if limit is not None and limit < frames[0] and not fortran:
        shape = (limit, *frames[1:])  # (a review: --limit 10 inflated an .npz whole)
        declared = math.prod(shape) * dtype.itemsize
        data = stream.read(declared)
    else:
        data = stream.read(size - stream.tell())
    if len(data) != declared:  # a member that inflated to less than its directory said
        raise Unreadable(f".npy header declares {declared:,} bytes of data; the file holds "
                         f"{len(data):,}")
    arr = np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")
    if fortran and limit is not None and limit < frames[0]:  # read whole: keep the first
        # (a review: the images past --limit were checked, and one refused)
        arr = arr.reshape(frames)[:limit]
    return np.array(arr)  # a writable copy: torch.from_numpy wants one


def npy_file(path: Path, any_size: bool = False, limit: int | None = None,
             check: HeaderCheck | None = None) -> np.ndarray:
    """The images of the .npy at `path`, their header checked as a body's (`_npy_header`,
    `check` given its Header), then mapped from the file rather than read
    whole: only the first `limit` are read (`featuremaps extract --input --limit`; a review:
    a million images read whole, 1.8 GB, for 10). As (N, H, W), a channel axis of 1 dropped."""
    with open(path, "rb") as f:
        shape, fortran, dtype = _npy_header(f, 2**31, check, any_size, path.stat().st_size)
        offset = f.tell()
    frames = _frames(shape, any_size)
    assert frames is not None  # the header's check refused any other shape
    n = frames[0] if limit is None else min(frames[0], limit)
    if n == 0 or math.prod(frames) == 0:  # nothing to map (images_from_array says N = 0)
        return np.zeros((0, *frames[1:]), dtype)
    mapped = np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape,
                       order="F" if fortran else "C")
    return np.array(mapped.reshape(frames)[:n])  # a copy: the map closes with the file


NPZ_COMPRESSION = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
MAX_NPZ_MEMBERS = 64
# what MAX_NPZ_MEMBERS entries of the directory take at most: 46 bytes each, a name of up
# to 255 and extra fields (np.savez writes a zip64 one of 20)
MAX_NPZ_DIRECTORY = MAX_NPZ_MEMBERS * 512


def _npz_directory(body: bytes) -> tuple[int, int] | None:
    """The member count and directory size of the end record that zipfile will use, or None
    where it finds none (it then calls the file unreadable). Its own finder is asked, as
    any other reading of the record can pick another one than it does (a review's: a
    signature inside the record's offset, or a comment one byte longer). Where the archive
    has a zip64 end record (np.savez's past 65,535 members or 4 GB; any size from `zip -fz`
    or a zipfile forced to it), the finder puts its counts in the record: they are the real
    ones (a review's valid .npz read as 65,535 members, the 16-bit record's placeholder)."""
    record = zipfile._EndRecData(io.BytesIO(body))  # type: ignore[attr-defined]
    if record is None:
        return None
    members = max(int(record[zipfile._ECD_ENTRIES_THIS_DISK]),  # type: ignore[attr-defined]
                  int(record[zipfile._ECD_ENTRIES_TOTAL]))  # type: ignore[attr-defined]
    return members, int(record[zipfile._ECD_SIZE])  # type: ignore[attr-defined]


def read_npy_or_npz(body: bytes, max_images: int,
                    check: HeaderCheck | None = None,
                    any_size: bool = False, limit: int | None = None) -> np.ndarray:
    """The images of an .npy, or of the `images` (or only) array of an .npz. Never pickles,
    and checks every size from the headers before allocating or inflating anything;
    `check` is called with the Header (the number of images it declares...), before its
    data are read. `any_size`: images of SIZED_SHAPES (preprocess=true), not SHAPES alone.
    `limit`: only the first images are read (`featuremaps extract --limit`)."""
    try:
        return _read_npy_or_npz(body, max_images, check, any_size, limit)
    except Unreadable as exc:
        # an .npy's header ends in a line break, and an .npz's stored members hold theirs:
        # `curl -d @file` takes every one out, and the file is then unreadable (found by an
        # API review: the one-image route said so, this one did not)
        if b"\n" not in body:
            raise InvalidPixels(f"{exc}; this body holds no line break, as a file sent with "
                                "curl -d loses them: send it with --data-binary @file") from exc
        raise


def check_kind(body: bytes, size: int | None = None) -> None:
    """NotArrays for a body that begins as neither an .npy nor an .npz: checked by the route
    before the batch waits for its thread (a review: a PDF got the busy server's 503, or held
    the thread to be refused). `size`: the whole file's, where `body` is its start alone
    (`featuremaps extract --input`)."""
    # a zip starts with a member, or, holding none (np.savez() of nothing), its directory's end
    if not body.startswith(ARRAY_STARTS):
        # (a raw x.tobytes() too: an API review found no word of how to write the file)
        raise NotArrays(_packed_arrays(body, len(body) if size is None else size) or (
            "body is neither an .npy (\\x93NUMPY) nor an .npz (zip) file: write the images "
            "with np.save(f, images), or np.savez(f, images=images)"))


IDX_IMAGES = b"\x00\x00\x08\x03"  # MNIST's own files: unsigned bytes, 3 axes
IDX_LABELS = b"\x00\x00\x08\x01"  # and its labels: unsigned bytes, 1 axis


def _idx_words(gz: bool) -> str:
    """What to do with MNIST's own file of images, gzipped or not."""
    name = "t10k-images-idx3-ubyte" + (".gz" if gz else "")
    return f"MNIST's own format, as in {name}: {_idx_read(gz)}"


def _idx_read(gz: bool) -> str:
    read = "gzip.open(path).read()" if gz else "open(path, 'rb').read()"
    return (f"read its images into an array, np.frombuffer({read}, np.uint8, "
            "offset=16).reshape(-1, 28, 28), and np.save that")


def _labels_words(gz: bool) -> str:
    """What to do with MNIST's own file of labels, sent where images go (an API review)."""
    suffix = ".gz" if gz else ""
    return (f"MNIST's own format for labels, as in t10k-labels-idx1-ubyte{suffix}: the batch "
            f"takes images; send those of t10k-images-idx3-ubyte{suffix}: {_idx_read(gz)}")


def _packed_arrays(body: bytes, size: int) -> str | None:
    """What an .npy or .npz packed another way, or MNIST's own file, is and what to do with
    it, where `body` is one (an API review: a gzipped or base64 .npy was told only how to
    write one); None for anything else. In words `featuremaps extract --input` says as they
    are."""
    if body[:2] == b"\x1f\x8b":  # gzip: what it holds, from its first bytes inflated
        inner = preprocess.gunzip_head(body, 16)
        if inner.startswith(ARRAY_STARTS):
            return ("body is an .npy or .npz compressed with gzip: gunzip it first (an .npz "
                    "may be compressed inside, as np.savez_compressed writes it, and is read)")
        if inner.startswith(IDX_IMAGES):
            return f"body is an IDX file compressed with gzip, {_idx_words(gz=True)}"
        if inner.startswith(IDX_LABELS):
            return f"body is an IDX file compressed with gzip, {_labels_words(gz=True)}"
        return None
    if body.startswith(IDX_IMAGES):
        return f"body is an IDX file, {_idx_words(gz=False)}"
    if body.startswith(IDX_LABELS):
        return f"body is an IDX file, {_labels_words(gz=False)}"
    decoded = preprocess.base64_head(body)
    if decoded and decoded[0].startswith(ARRAY_STARTS):
        return (f"body is an .npy or .npz written as base64 text"
                f"{' (a data: URL)' if decoded[1] else ''}: decode it first (base64 -d)")
    # x.tobytes() (an API review), which holds zeros (MNIST's margins) where text, a CSV or
    # base64, holds none
    counts = [f"{size // (IMAGE_BYTES * b):,} as {name}" for b, name in RAW_TYPES
              if size % (IMAGE_BYTES * b) == 0]
    if size and counts and b"\0" in body:
        return (f"body is {size:,} bytes with no header, as the raw bytes (x.tobytes()) of "
                f"28x28 images are: {' or '.join(counts)}; write them with np.save(f, images), "
                "which records their shape and type")
    return None


IMAGE_BYTES = 28 * 28  # one image's pixels
RAW_TYPES = ((1, "uint8"), (4, "float32"), (8, "float64"))  # bytes a pixel, in raw bytes


def _read_npy_or_npz(body: bytes, max_images: int, check: HeaderCheck | None,
                     any_size: bool, images: int | None) -> np.ndarray:
    limit = max_images * 28 * 28 * 8 + 4096  # the largest legitimate member
    check_kind(body)
    if body[:6] == b"\x93NUMPY":
        return _array_from_npy(io.BytesIO(body), len(body), max_images, check, any_size,
                               images)
    # np.savez writes a member per array: a directory of hundreds of thousands (a 32 MB
    # body) held the batch thread for seconds and hundreds of MB as zipfile read it. Its
    # count and size are read from the directory's end record first; zipfile reads as many
    # bytes of directory as the record says, whatever the count (a review's record of 1
    # member led to 380,000).
    directory = _npz_directory(body)
    if directory is not None:
        members, size = directory
        if members > MAX_NPZ_MEMBERS or size > MAX_NPZ_DIRECTORY:
            raise InvalidPixels(f".npz holds {members:,} members ({size:,} bytes of "
                                f"directory); at most {MAX_NPZ_MEMBERS} are read (put the "
                                "images in 'images')")
    try:
        with zipfile.ZipFile(io.BytesIO(body)) as zf:
            infos = zf.infolist()
            # zipfile bounds what it inflates by the declared size for deflate alone: a
            # bzip2 or LZMA member is inflated whole, each read, before it is cut (a review's
            # 365-byte body had the server hold 355 MB more). np.savez and savez_compressed
            # write these two.
            odd = [info for info in infos if info.compress_type not in NPZ_COMPRESSION]
            if odd:
                raise InvalidPixels(f".npz member {brief(odd[0].filename.removesuffix('.npy'))} "
                                    f"is compressed with zip method {odd[0].compress_type}; "
                                    "only stored or deflated members are read (np.savez, "
                                    "np.savez_compressed)")
            inflated = sum(info.file_size for info in infos)
            names = [info.filename for info in infos]
            # torch.save writes a zip too, which a PyTorch user sends first (a review): no
            # .npz, so a 415 as the one-image route answers it (a Python client's review: it
            # was a 422, where the route's 415 is documented for a body of another kind)
            if any(preprocess.torch_pickle(n) for n in names):
                raise NotArrays("body is a torch.save file, not an .npz; send the tensor as an "
                                ".npy: np.save(f, images.numpy())")
            if not names:
                raise InvalidPixels("the .npz holds no arrays; put the images in 'images'")
            # zipfile reads the last of two members of one name (found by a review: an .npz
            # of 3 images, then 1 under the same name, was read as 1 without a word)
            twice = repeated(names)
            if twice is not None:
                raise InvalidPixels(f".npz holds a member named "
                                    f"{brief(twice.removesuffix('.npy'))} twice; np.savez "
                                    "writes each array once")
            if "images.npy" in names:
                name = "images.npy"
            elif len(names) == 1:
                name = names[0]
            else:
                shown = brief_list([n.removesuffix(".npy") for n in names])
                raise InvalidPixels(f".npz holds {shown}; name the images array 'images'")
            with zf.open(name) as member:
                npy = member.read(6) == b"\x93NUMPY"
                # read from its header on as it inflates: the header's sizes are checked
                # before the data is inflated (a review saw 40,000 compressed zero images
                # inflated, 250 MB, before their answer was found too large)
                member.seek(0)
                if inflated > limit:
                    raise _inflates_too_far(member if npy else None, inflated, limit, len(names),
                                            max_images, check, any_size)
                if not npy:
                    raise InvalidPixels(f".npz member {brief(name.removesuffix('.npy'))} is not an "
                                        ".npy array")
                return _array_from_npy(member, zf.getinfo(name).file_size, max_images, check,
                                       any_size, images)
    # NotImplementedError: a compression method zipfile lacks; RuntimeError: an encrypted
    # member; ValueError: a directory offset before the file's start, or a name flagged UTF-8
    # that is not (UnicodeDecodeError)
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error, NotImplementedError,
            RuntimeError, ValueError) as exc:
        # and what to do about it (an API review: of all the refusals, these alone said none)
        raise Unreadable(f"body is not a readable .npz ({exc}): write it with np.savez(f, "
                         "images=images), and send it whole") from exc


def _inflates_too_far(images: IO[bytes] | None, inflated: int, limit: int, members: int,
                      max_images: int, check: HeaderCheck | None,
                      any_size: bool) -> FeaturemapsError:
    """The refusal of an .npz whose `members` would inflate to `inflated` bytes, over `limit`:
    a bound of bytes, whatever the images' size (a review: 240 float32 images of 512 x 512,
    prepared, were refused without a word of why). Where the images member (`images`, at its
    start) has a readable .npy header, that header is read first, inflated no further, so that
    too many images are said as such and uint8 ones are not told to be sent as uint8 (an API
    review: 1,000,000 compressed uint8 zeros were)."""
    fix = "uint8 levels, or fewer or smaller images"
    if images is not None:
        try:
            if _npy_header(images, max_images, check, any_size)[2] == np.uint8:
                fix = "fewer or smaller images"
        except Unreadable:
            pass
    if members > 1:
        fix = f"the images alone (the other arrays count too), or {fix}"
    return ImageTooLarge(f".npz would inflate to {inflated:,} bytes; the limit is {limit:,} "
                         f"({max_images:,} images of 28 x 28 float64): send {fix}")


def npz_target(given: str | Path, reads: dict[Path, str] | None = None) -> Path:
    """Where `featuremaps extract` will write: `given`, with .npz added when it has no such
    suffix (as np.savez would add it), checked before any work (files.output_target, with
    the files the command `reads`)."""
    return files.output_target(given, ".npz", "maps.npz", reads)


def npz_size(layout: Layout, n: int, labels: np.dtype[Any] | None = None,
             inputs: bool = False, encoding: Encoding = "uint8") -> int:
    """The bytes of the uncompressed .npz of n images' maps (`labels`: the dtype of the
    labels `featuremaps extract` adds; `inputs`: with the prepared images, INPUTS, that the
    batch route adds when it prepares them): the batch route's answer, the extract's file. Exact
    below 4 GiB; beyond, where zipfile gives its directory zip64 fields, at most
    ZIP64_MARGIN bytes a member and ZIP64_END over, never under. Found by a review: the
    route had weighed its answer by the maps alone, 8.7 kB under the .npz of every map, so a
    limit set within those bytes let an answer through."""
    per_image = (bytes_per_image(layout, encoding) + (0 if labels is None else labels.itemsize)
                 + (INPUT_BYTES if inputs else 0))
    headers, members = _npz_headers(layout, labels, inputs, encoding)
    size = headers + n * per_image
    return size if size <= ZIP64_LIMIT else size + members * ZIP64_MARGIN + ZIP64_END


# past 4 GiB a zip's central directory gives a member its sizes and offset as a zip64 field
# (4 bytes of header and 8 a value), and the directory ends with zip64 records (56 + 20)
ZIP64_LIMIT = (1 << 32) - 1
ZIP64_MARGIN = 4 + 3 * 8
ZIP64_END = 56 + 20


@functools.cache
def _npz_headers(layout: Layout, labels: np.dtype[Any] | None,
                 inputs: bool = False, encoding: Encoding = "uint8") -> tuple[int, int]:
    """The bytes of an answer's .npz besides its data, each member's .npy header and zip
    records, and its number of members. Below 4 GiB the bytes do not depend on the number of
    images: NumPy pads each header with room for that number to grow to 21 digits
    (numpy.lib.format), and the local records are zip64 whatever a member's size."""
    arrays = _answer_arrays(layout, 0, encoding)
    if inputs:
        arrays = {INPUTS: np.empty((0, 28, 28), np.uint8), **arrays}
    if labels is not None:
        arrays["labels"] = np.empty(0, labels)
    return len(npz_bytes(arrays)), len(arrays)


# the control group's limit and use (v2, then v1): in a container started with --memory,
# /proc/meminfo still describes the host, and the limit is what the kernel kills at
CGROUP_MEMORY = ((Path("/sys/fs/cgroup/memory.max"), Path("/sys/fs/cgroup/memory.current")),
                 (Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"),
                  Path("/sys/fs/cgroup/memory/memory.usage_in_bytes")))
# the page cache the kernel gives back before it kills, counted in the use above (as
# `docker stats` leaves it out): memory.stat's inactive_file (v1: total_inactive_file)
RECLAIMABLE = (b"inactive_file", b"total_inactive_file")


def _reclaimable(usage_file: Path) -> int:
    try:
        for line in (usage_file.parent / "memory.stat").read_bytes().splitlines():
            key, _, value = line.partition(b" ")
            if key in RECLAIMABLE:
                return int(value)
    except (OSError, ValueError):
        pass
    return 0


def available_memory(meminfo: Path = Path("/proc/meminfo"),
                     cgroups: Sequence[tuple[Path, Path]] = CGROUP_MEMORY) -> int | None:
    """The memory that can be had without swapping or being killed: the kernel's estimate
    (MemAvailable, Linux 3.14+: free memory plus the page cache it would give back; not
    SC_AVPHYS_PAGES, free memory alone), or the room left under the control group's memory
    limit where that is smaller; None where neither can be read."""
    found: list[int] = []
    try:
        with open(meminfo, "rb") as f:
            for line in f:
                if line.startswith(b"MemAvailable:"):
                    found.append(int(line.split()[1]) * 1024)  # given in kB
                    break
    except (OSError, ValueError, IndexError):
        pass
    for limit_file, usage_file in cgroups:
        try:
            limit = limit_file.read_text().strip()
            usage = int(usage_file.read_text())
        except (OSError, ValueError):
            continue
        if limit.isdigit():  # v2 writes "max" for none; v1 a huge number, which min() passes
            found.append(max(0, int(limit) - usage + _reclaimable(usage_file)))
        break
    return min(found) if found else None


def in_units(size: int) -> str:
    """A byte count for people: 11.2 KiB, 3.4 MiB, 10.9 GiB."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20)):
        if size >= scale:
            return f"{size / scale:,.1f} {unit}"
    return f"{size / 2**10:,.1f} KiB"


# what an extraction holds besides its maps, in batches of the usual size: the data set and
# a batch's maps as floats. A review measured 130-150 MB (10,000 and 5,000 images of every
# map on a CPU); refused on the maps' size alone, a run close to the limit passed the check
# and could be killed later.
WORKING_MEMORY = 256 << 20


def input_memory(header: Header, kept: int, prepared: bool = False) -> int:
    """What `featuremaps extract --input` holds of its images besides the maps, at most: the
    `kept` first of those the `header` declares (all of them in Fortran order), read (twice
    while a read copy is made), as the networks take them (float32 for floats other than
    float32, uint8 for integers other than uint8) and prepared (float32 28 x 28,
    --preprocess; the `inputs` written are the answer's, npz_size). A review: 10,000 photos
    in an .npz were inflated to be prepared, and not counted."""
    read = 2 * (header.n if header.fortran else kept) * header.image_bytes
    target = np.dtype(np.float32 if header.dtype.kind == "f" else np.uint8)  # images_from_array's
    taken = 0 if header.dtype == target else kept * header.pixels * target.itemsize
    return read + taken + (4 * kept * INPUT_BYTES if prepared else 0)


def working_memory(layout: Layout, batch_size: int, usual: int,
                   encoding: Encoding = "uint8", pinned: bool = False) -> int:
    """What an extraction holds besides its maps, in batches of `batch_size` images of the
    networks laid out in `layout` (every map: the forward makes them all): WORKING_MEMORY,
    and for each image past the `usual` batch (default_batch_size) its every map as float32
    (a review: --batch-size 10000 took 4.5 GB where the check allowed for 256 MiB); and for
    float maps (`encoding`) each batch's packed block beyond uint8's, twice where batches are
    copied to two `pinned` buffers (a GPU's; a review: float32 ran 455 MB past the check)."""
    wider = DTYPE_SIZES[encoding] - 1
    return (WORKING_MEMORY + max(0, batch_size - usual) * 4 * layout.data_size
            + (2 if pinned else 1) * batch_size * wider * layout.data_size)


def check_room(size: int, target: Path, working: int = WORKING_MEMORY,
               encoding: Encoding = "uint8", images: int = 0) -> None:
    """Refuse an extraction whose output does not fit: `extract` holds every map in memory
    until it writes them, besides its `working` memory (working_memory) and the `images` it
    reads from a file (input_memory), then needs their room on disk (beside the file it
    replaces). Float maps (`encoding`) are told of uint8's (a review: only --limit, --layers
    and --models were named)."""
    share = {"float32": "a quarter", "float16": "half"}.get(encoding)
    fewer = "use --limit, or fewer --layers or --models" + (
        f", or --encoding uint8 ({share} of {encoding}'s bytes)" if share else "")
    memory = available_memory()
    if memory is not None and size + working + images > memory:
        smaller = ", or a smaller --batch-size" if working > WORKING_MEMORY else ""
        read = f", the images read {in_units(images)}," if images else ","
        raise FeaturemapsError(f"the maps need about {in_units(size)} of memory until they are "
                               f"written{read} and the work {in_units(working)} more; "
                               f"{in_units(memory)} is available: {fewer}{smaller}")
    try:
        free = shutil.disk_usage(target.parent).free
    except OSError:  # the write itself will say
        return
    if size > free:
        raise OutputError(f"the maps need about {in_units(size)}; {target.parent} has "
                          f"{in_units(free)} free: {fewer}")


def extract_to_npz(engine: Engine, images: np.ndarray, models: Sequence[str],
                   layers: Sequence[str] | None, out: Path, *, batch_size: int | None = None,
                   labels: np.ndarray | None = None,
                   encoding: Encoding = "uint8",
                   inputs: np.ndarray | None = None) -> dict[str, Any]:
    """`featuremaps extract`: write the maps to an .npz; returns timing figures (`seconds`
    and `images_per_second` of the maps, `write_seconds` of the file). The file
    appears whole or not at all (app/ml/files.py): a file already there is replaced only
    once the new one is complete."""
    out = npz_target(out)
    t0 = time.perf_counter()
    arrays = extract(engine, images, models, layers, batch_size, encoding=encoding)
    seconds = time.perf_counter() - t0
    if inputs is not None:  # the prepared images, first, as the batch route writes them
        arrays = {INPUTS: inputs, **arrays}
    if labels is not None:
        arrays["labels"] = labels
    t1 = time.perf_counter()
    with files.replacing(out) as (temp,), open(temp, "wb") as f:
        np.savez(f, **arrays)  # type: ignore[arg-type]
    # the write timed apart (a CLI review: the seconds, the maps' alone, read as the run's)
    written = time.perf_counter() - t1
    return {"images": len(images), "seconds": round(seconds, 3),
            "write_seconds": round(written, 3),
            "images_per_second": round(len(images) / seconds, 1), "device": engine.device_name,
            "arrays": len(arrays), "bytes": out.stat().st_size, "out": str(out)}
