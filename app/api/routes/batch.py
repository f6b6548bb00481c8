"""POST /api/v1/featuremaps/batch: maps of many images at once, .npy/.npz in, .npz out."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope, Send

from app.api.deps import BatchGateDep, EngineDep, SettingsDep
from app.api.gate import busy
from app.api.inputs import UnsupportedMediaType, check_query, media_type, multipart_file
from app.api.middleware import CUT_OFF, over_upload_limit
from app.api.routes.featuremaps import (
    BYTES,
    InvalidParameter,
    ModelsQuery,
    errors,
    parse_models,
)
from app.config import default
from app.ml import batch
from app.ml.encode import Encoding
from app.ml.errors import EmptyBody, NotArrays, UnknownName
from app.ml.names import brief, counted, split_names
from app.ml.nets import variant_spec
from app.ml.pack import Layout
from app.ml.preprocess import MAX_SIDE, json_text, levels, sniff

router = APIRouter(prefix="/api/v1", tags=["feature maps"])
QUERY = ("models", "layers", "preprocess", "encoding")
# what the one-image route's parameters mean here (an API review: format=json was told only
# that it was unknown)
ELSEWHERE = {"format": "a batch is answered as an .npz"}
# the default answer's layout, every map of max and avg, for the sizes the document quotes
EVERY_MAP_SPECS = [variant_spec("max"), variant_spec("avg")]
EVERY_MAP = Layout.plan(EVERY_MAP_SPECS)

IMAGES = ("an .npy of shape (N, 28, 28), (N, 1, 28, 28) or (N, 28, 28, 1), or (28, 28) or "
          "(28, 28, 1) for one image (integers 0..255, e.g. uint8, but not 0 and 1 alone, "
          "which are refused as binarised; or floats 0..1), or an .npz holding it as 'images' "
          f"(np.savez: stored or deflated members, at most {batch.MAX_NPZ_MEMBERS}), as the "
          "raw body or as a multipart field 'file'. Images are used as they are unless "
          f"preprocess=true, which takes {batch.SIZED_SHAPES} too")
BATCH_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": IMAGES[0].upper() + IMAGES[1:] + ".",
        "content": {
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            "multipart/form-data": {"schema": {
                "type": "object", "required": ["file"],
                "properties": {"file": {"type": "string", "format": "binary"}}}},
        },
    }
}

LayersQuery = Annotated[str | None, Query(
    description="comma-separated layer names (default: every layer)", examples=["pool2"],
    pattern=r"^[a-z0-9]+(,[a-z0-9]+)*$")]
# A folder of one's own photos, shrunk to 28x28 and sent as they are, got confident wrong
# answers without a word (an API review): the one-image routes prepare a picture, and a
# batch could not be asked to.
PreprocessQuery = Annotated[bool, Query(
    description="prepare each image as POST /api/v1/featuremaps prepares a picture: dark ink "
                "on light paper inverted, the paper's level taken off, the ink cropped, scaled "
                "to a 20 px box and centred by mass in 28x28, as MNIST's digits are. For "
                f"photos or scans, of any one size up to {MAX_SIDE} x {MAX_SIDE} (a digit small "
                "in its frame is read better than shrunk to 28x28 first); MNIST's own images "
                "need none, and lose their faintest pixels to it. The answer then holds "
                "`inputs` too: what "
                "the networks saw; one all 0 is blank, no ink found, its answers guesses about "
                "nothing. About 0.1 ms a 28x28 image more on a CPU core (default: false, "
                "images used as sent)")]


# An API review: activation statistics over a data set need the floats, and a batch gave
# only uint8 (within half a level of a channel's range), so it took one request an image.
BatchEncodingQuery = Annotated[Encoding, Query(
    description="the maps' type: uint8 (the default), each image's channel scaled to its own "
                "low and high, within half a level of the floats; or float16 or float32, the "
                "values themselves, at 2 or 4 times the bytes (low and high are then each "
                "channel's range)")]


def answer_too_large(images: int, layout: Layout, limit: int, inputs: bool = False,
                     encoding: Encoding = "uint8") -> str:
    """The 422's words for an answer of `images` laid out as `layout` (with their prepared
    `inputs`) over `limit` bytes, with how many would fit (found by an API review: "fewer
    images" left the count to guess); the OpenAPI document quotes them, for the 10,000 MNIST
    test images with every layer."""
    def size(n: int) -> int:
        return batch.npz_size(layout, n, inputs=inputs, encoding=encoding)

    headers = size(0)
    fit = max(0, limit - headers) // (size(1) - headers)
    while fit and size(fit) > limit:  # past 4 GiB, zip64's few bytes more
        fit -= 1
    said = (f"the answer would be {size(images):,} bytes"
            + (f" (with the prepared images, {batch.INPUT_BYTES} bytes each)" if inputs else "")
            + f", over the limit of {limit:,}")
    smaller = "" if encoding == "uint8" else f", or uint8 maps (encoding={encoding} now)"
    if fit == 0:  # a server set to a limit below one image's answer (a review)
        return (f"{said}, which one image's answer with these layers passes: ask for fewer "
                f"layers= or models={smaller}, or raise the server's "
                "FEATUREMAPS_MAX_BATCH_RESPONSE_BYTES")
    return (f"{said}: ask for fewer layers={smaller}, or for at most {counted(fit, 'image')} at "
            "a time with these")


def not_arrays(kind: str) -> str:
    """The 415's words for a body whose Content-Type says it is no .npy or .npz."""
    return (f"content type {brief(kind)} is not an .npy or .npz: send the arrays as "
            "application/octet-stream or as a multipart field 'file' (one image: POST "
            "/api/v1/featuremaps)")


def _says_not_arrays(kind: str) -> bool:
    """A JSON, image or text Content-Type: a body meant for another route. Any other is read
    by its signature (curl --data-binary sends a form's type, Python's urllib one too)."""
    json = kind == "application/json" or kind.endswith("+json")
    return json or kind.startswith(("image/", "text/"))


BATCH_DOC = (
    "Run the chosen networks (default as for POST /api/v1/featuremaps) over every image and "
    "return the chosen layers' maps, quantised per image and channel to uint8 on the "
    "device, or as floats (encoding=float16 or float32).\n\n"
    f"Send {IMAGES}.\n\n"
    "The answer is held whole before it is sent: every map of max and avg takes "
    f"{batch.bytes_per_image(EVERY_MAP):,} bytes an image as uint8 (float32: "
    f"{batch.bytes_per_image(EVERY_MAP, 'float32'):,}; the 10,000 MNIST test images: "
    f"{batch.npz_size(EVERY_MAP, 10_000) / 1e6:.0f} MB), pool2 alone "
    f"{batch.bytes_per_image(Layout.plan(EVERY_MAP_SPECS, ['pool2'])):,}, so ask for the "
    "layers= you need. The default limits (this server's are in the document's description, "
    "This server's limits): at most "
    f"{default('max_batch_images'):,} images (FEATUREMAPS_MAX_BATCH_IMAGES) in an upload of "
    f"{default('max_batch_upload_bytes') >> 20} MiB (FEATUREMAPS_MAX_BATCH_UPLOAD_BYTES), "
    "413 past either; an answer of at most "
    f"{default('max_batch_response_bytes') >> 20} MiB (FEATUREMAPS_MAX_BATCH_RESPONSE_BYTES), "
    "422 past it. `featuremaps extract` writes the same .npz from the command line, for "
    "MNIST's images or your own (--input), bounded by memory and disk alone.")


@router.post(
    "/featuremaps/batch",
    summary="Feature maps of N images as an .npz",
    description=BATCH_DOC,
    response_class=Response,
    responses={200: {"content": {"application/x-npz": BYTES},
                     "headers": {"Content-Disposition": {
                         "description": 'attachment; filename="featuremaps.npz"',
                         "schema": {"type": "string"}}},
                     "description": "an .npz (np.load) of arrays named `{model}/{layer}`, "
                                    "(N, C, H, W) uint8, with `{model}/{layer}/low` and "
                                    "`{model}/{layer}/high`, (N, C) float32: value = low + "
                                    "q/255 * (high - low) (with encoding=float16 or float32, "
                                    "the maps are the values, low and high the range of the "
                                    "float32 values, of which float16's are rounded); "
                                    "`{model}/probabilities`, (N, 10) "
                                    "float32, and `{model}/prediction`, (N,) int64; with "
                                    "preprocess=true, first `inputs`, (N, 28, 28) uint8: the "
                                    "prepared images, each pixel q/255"},
               **errors(QUERY, {
                   400: ("an empty body, bad multipart, an unknown or repeated query parameter",
                         "empty body: send an .npy or .npz of (N, 28, 28) images"),
                   413: ("over the upload limit (FEATUREMAPS_MAX_BATCH_UPLOAD_BYTES) or the "
                         "image limit (FEATUREMAPS_MAX_BATCH_IMAGES)",
                         over_upload_limit(default("max_batch_upload_bytes"), batch=True)),
                   # other Content-Types are read by the body's signature
                   415: ("a JSON, image or text Content-Type, a body sent with a "
                         "Content-Encoding, or a body that is no .npy or .npz (an image, "
                         "a torch.save file, raw bytes)", not_arrays("application/json")),
                   422: ("images of another shape, dtype or range; unknown or repeated "
                         "models= or layers= names; a preprocess= neither true nor false; an "
                         "encoding= not uint8, float16 or float32; "
                         "or an answer over the response limit "
                         "(FEATUREMAPS_MAX_BATCH_RESPONSE_BYTES)",
                         answer_too_large(10_000, EVERY_MAP, default("max_batch_response_bytes"))),
                   503: ("too many batches in flight or over the time limit; see Retry-After",
                         busy(default("max_batch_inflight"), "batch"))},
                   limit="max_batch_upload_bytes")},
    openapi_extra=BATCH_BODY,
)
async def featuremaps_batch(request: Request, engine: EngineDep, settings: SettingsDep,
                            gate: BatchGateDep, models: ModelsQuery = None,
                            layers: LayersQuery = None,
                            preprocess: PreprocessQuery = False,
                            encoding: BatchEncodingQuery = "uint8") -> Response:
    """Run the chosen networks over every image and return the chosen layers' maps."""
    check_query(request, QUERY, ELSEWHERE)
    names = parse_models(engine, models)

    def known(layer: str) -> None:
        try:
            engine.check_layers(names, [layer])
        except UnknownName as exc:  # a query value, not a path: 422 as for models=
            raise InvalidParameter(str(exc)) from exc

    # as `featuremaps extract --layers`: an unknown name first, then one given twice
    chosen = split_names(layers, "layers=", "layer", known) if layers is not None else None
    layout = engine.layout(names, chosen)
    kind = media_type(request)
    if _says_not_arrays(kind):
        raise UnsupportedMediaType(not_arrays(kind))
    if kind == "multipart/form-data":  # curl -F file=@images.npy, as elsewhere
        body = await multipart_file(request, "the .npy or .npz")
    else:
        body = await request.body()
    if not body:
        raise EmptyBody("empty body: send an .npy or .npz of (N, 28, 28) images")
    image = sniff(body)
    if image is not None:  # found by an API review: told only "neither an .npy nor an .npz"
        raise NotArrays(f"body is a {image} image, not an .npy or .npz of images: one image "
                        "goes to POST /api/v1/featuremaps")
    if json_text(body):  # sent without its type (an API review: told only "neither ...")
        raise NotArrays("body is JSON, not an .npy or .npz of images: one image's pixels go "
                        "to POST /api/v1/featuremaps")
    batch.check_kind(body)

    def fits(header: batch.Header) -> None:
        """The answer's size, known from the header's number of images; and the job's, for
        the Retry-After of a batch refused meanwhile."""
        n = header.n
        size = batch.npz_size(layout, n, inputs=preprocess, encoding=encoding)
        if size > settings.max_batch_response_bytes:
            raise InvalidParameter(answer_too_large(n, layout, settings.max_batch_response_bytes,
                                                    inputs=preprocess, encoding=encoding))
        # its kind: what an image costs depends on these (pool2 alone: a third of every map;
        # a 500 x 500 picture to prepare, 18 times a 28 x 28's), not on their order
        pixels = (1 << (header.pixels - 1).bit_length()) if preprocess else None
        gate.weigh(n, (frozenset(names), chosen and frozenset(chosen), pixels, encoding))

    def answer() -> bytes:
        """Parse (sizes checked from the headers first), extract, pack the .npz."""
        if stop.is_set():  # gone while this waited for the batch thread
            raise batch.Abandoned("no one to answer")
        images = batch.read_npy_or_npz(body, settings.max_batch_images, check=fits,
                                       any_size=preprocess)
        if not preprocess:
            return batch.npz_bytes(batch.extract(engine, images, names, chosen, stop=stop.is_set,
                                                 encoding=encoding))
        x = batch.prepared(images, stop=stop.is_set)
        maps = batch.extract(engine, x, names, chosen, stop=stop.is_set, encoding=encoding)
        return batch.npz_bytes({batch.INPUTS: levels(x), **maps})

    # Found by a review: a client that left while its maps were made (curl stopped with
    # Ctrl-C) kept a batch slot busy to the end, and was logged as a 200 of hundreds of MB.
    # The body is read, so the next message is the client leaving: the work stops at the
    # next batch, and the request is a 499 as for a client that leaves mid-upload. A request
    # answered otherwise before the work ended (the gate's time limit, a shutdown) stops it
    # too: the thread it holds is the only batch thread.
    left = threading.Event()
    stop = threading.Event()

    async def watch() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass
        left.set()
        stop.set()

    watcher = asyncio.create_task(watch())
    try:
        # its place in the gate kept until the answer is sent (HeldAnswer)
        npz = await gate.run(answer, keep=True)
    except batch.Abandoned as exc:
        raise ClientDisconnect from exc
    finally:
        watcher.cancel()
        stop.set()
    if left.is_set():
        gate.release()
        raise ClientDisconnect
    return HeldAnswer(npz, gate.release, media_type="application/x-npz",
                      headers={"Content-Disposition": 'attachment; filename="featuremaps.npz"'})


# an answer goes in pieces of this size, each written once the client has taken the one
# before (uvicorn's flow control); a piece not taken within SEND_WAIT_S ends the answer
PIECE = 1 << 20
SEND_WAIT_S = 60.0


class HeldAnswer(Response):
    """A batch's answer, whose place in the batch gate is kept until it is sent, the client
    leaves (a 499 of what was sent), or the client stops reading it (a piece waits
    SEND_WAIT_S: a 499, the connection dropped through the server's CUT_OFF,
    app/upgrades.py). A robustness review: the answer was handed to the connection whole
    and its place freed, so each client that did not read held an answer of up to 512 MiB
    outside the bound of two batches (six of 312 MB at once, with no batch in flight). Sent
    in pieces, it is held once, by this response, and the connection holds a piece at most."""

    def __init__(self, content: bytes, release: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # the body is read: the next message is the client leaving, after which the server
        # would take the pieces and drop them (a robustness review: logged as a 200 of the
        # whole answer); then the answer stops, a 499 of what was sent
        left = asyncio.ensure_future(receive())
        try:
            await send({"type": "http.response.start", "status": self.status_code,
                        "headers": self.raw_headers})
            body, self.body = self.body, b""
            for start in range(0, max(len(body), 1), PIECE):  # one, empty, for no body
                if left.done():
                    raise ClientDisconnect
                end = start + PIECE
                piece = {"type": "http.response.body", "body": body[start:end],
                         "more_body": end < len(body)}
                try:
                    await asyncio.wait_for(send(piece), SEND_WAIT_S)
                except TimeoutError:
                    cut_off = scope.get("extensions", {}).get(CUT_OFF)
                    if cut_off is not None:
                        cut_off()
                    raise ClientDisconnect from None
        finally:
            if left.done() and not left.cancelled():
                left.exception()  # taken: a receive that raised is no "never retrieved" warning
            left.cancel()
            self._release()
        if self.background is not None:  # as Starlette's Response runs them, once sent
            await self.background()
