"""GET /healthz, GET /api/v1/models, GET /api/v1/models/{model} and
GET /api/v1/models/{model}/filters/{layer}."""

from __future__ import annotations

import hashlib
import weakref
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from app import __version__
from app.api import wire
from app.api.deps import EngineDep
from app.api.inputs import DIGITS, check_query, listed_header, unknown_parameter
from app.api.routes.featuremaps import MODEL_DOC, check_channel
from app.api.schemas import ErrorOut, FiltersOut, HealthOut, ModelInfo, ModelsOut
from app.ml.engine import Engine

router = APIRouter()

# every route here, and /metrics, refuses a query parameter it does not take. The body is
# named as JSON outright: a model alone would be listed under the route's own media type,
# text/plain for /metrics (ErrorOut's schema is among the document's components through the
# other routes).
def unknown_query(*params: str) -> dict[int | str, dict[str, object]]:
    """The 400 of a GET route that takes the query parameters `params`, with its answer."""
    said = "an unknown query parameter" + (", or one given twice" if params else "")
    return {400: {"description": said, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/ErrorOut"},
        "example": {"detail": unknown_parameter("x", params)}}}}}


UNKNOWN_QUERY = unknown_query()  # a route that takes none
FILTERS_QUERY = ("channel",)


NO_STORE = "no-store"  # /healthz and /metrics: always this moment's (an API review)


def not_stored() -> dict[int | str, dict[str, Any]]:
    """The OpenAPI 200 of /healthz and /metrics: its Cache-Control (a later API review: not
    documented). Made anew for each route, as `revalidated`'s."""
    return {200: {"headers": {"Cache-Control": {
        "description": f"`{NO_STORE}`: the answer is this moment's; no cache may keep it",
        "schema": {"type": "string"}}}}}


# the models routes: kept by a client or a cache, and asked again with the ETag, which
# changes only with the weights, the device or the version (an API review: the page and a
# notebook fetched the same 10 kB at every load)
REVALIDATE = "no-cache"


def revalidated() -> dict[int | str, dict[str, Any]]:
    """The OpenAPI responses of a models route: its ETag and Cache-Control on the 200 and
    the 304 (an API review: the document named neither, nor If-None-Match, which
    `REVALIDATED` adds). Made anew for each route: the document's X-Request-ID is added to
    each response's headers in place."""
    def validators() -> dict[str, object]:
        return {"ETag": {"description": "changes only with the weights, the device or the "
                                        "version: send it back as If-None-Match",
                         "schema": {"type": "string"}},
                "Cache-Control": {"description": f"`{REVALIDATE}`: keep the answer, and ask "
                                                 "again with its ETag before using it",
                                  "schema": {"type": "string"}}}
    return {200: {"headers": validators()},
            304: {"description": "not modified: the `If-None-Match` ETag is the current one "
                                 "(the weights, device and version unchanged)",
                  "headers": validators()}}


REVALIDATED: dict[str, Any] = {"parameters": [{
    "name": "If-None-Match", "in": "header", "required": False,
    "description": "the ETag of an earlier answer (or `*`; several, comma-separated): a 304 "
                   "with no body where it is still the current one",
    "schema": {"type": "string"}}]}


def etag(engine: Engine) -> str:
    """The ETag of everything the models routes answer for this engine: a hash of what
    GET /api/v1/models says (the weights' sha256, the device) and the version."""
    tag = _ETAGS.get(engine)
    if tag is None:
        said = wire.dumps({"version": __version__, **engine.describe()})
        tag = _ETAGS[engine] = f'"{hashlib.sha256(said).hexdigest()[:20]}"'
    return tag


def unchanged(request: Request, response: Response, engine: Engine) -> Response | None:
    """The 304 where the request's If-None-Match names the current ETag (or `*`); else None,
    with the ETag and Cache-Control set on `response`."""
    tag = etag(engine)
    headers = {"ETag": tag, "Cache-Control": REVALIDATE}
    asked = listed_header(request.headers, "if-none-match")
    if asked is not None:
        tags = {t.strip().removeprefix("W/") for t in asked.split(",")}
        if tag in tags or "*" in tags:
            return Response(status_code=304, headers=headers)
    response.headers.update(headers)
    return None


@router.get("/healthz", response_model=HealthOut, tags=["operations"], summary="Liveness",
            responses={**not_stored(), **UNKNOWN_QUERY})
async def healthz(request: Request, engine: EngineDep, response: Response) -> dict[str, object]:
    """The server is up and its models are loaded; reports the device in use."""
    check_query(request, ())
    response.headers["Cache-Control"] = NO_STORE  # a cache in front must not answer for it
    return {"status": "ok", "device": engine.device_name, "models": list(engine.variants),
            "version": __version__}


@router.get("/api/v1/models", response_model=ModelsOut, tags=["models"],
            summary="The networks, their layers and geometry",
            responses={**revalidated(), **UNKNOWN_QUERY}, openapi_extra=REVALIDATED)
async def models(request: Request, engine: EngineDep,
                 response: Response) -> dict[str, object] | Response:
    """Every loaded variant: layers with output shapes, parameter counts, receptive fields
    (size, jump, start) and the window each unit reads of the layer before; from the model
    card, test and validation accuracy and shift consistency, the training's epochs and
    seed, and how its images were varied at random (`augmentation`: shifts, rotations,
    scaling); the weights' sha256; and the device in use. With an ETag, for If-None-Match."""
    check_query(request, ())
    return unchanged(request, response, engine) or engine.describe()


@router.get("/api/v1/models/{model}", response_model=ModelInfo, tags=["models"],
            summary="One network, its layers and geometry",
            responses={404: {"model": ErrorOut, "description": "a model this server has not "
                                                                "loaded, or no model of that name"},
                       **revalidated(), **UNKNOWN_QUERY}, openapi_extra=REVALIDATED)
async def model_info(request: Request, engine: EngineDep, response: Response,
                     model: Annotated[str, Path(description=MODEL_DOC, examples=["max"])],
                     ) -> dict[str, object] | Response:
    """One loaded variant, as `GET /api/v1/models` lists it (which also names the device in
    use)."""
    # asked for by an API review: the address a newcomer tries first got the 404 of an address
    # nothing answers. A docstring is the operation's public description: no notes in it.
    check_query(request, ())
    engine.check_models([model])  # the 404, in the words the other routes use for a model
    same = unchanged(request, response, engine)
    if same is not None:
        return same
    described: list[dict[str, object]] = engine.describe()["models"]
    return next(m for m in described if m["name"] == model)


@router.get("/api/v1/models/{model}/filters/{layer}", response_model=FiltersOut,
            tags=["models"], summary="A conv layer's learned filters and biases",
            responses={404: {"model": ErrorOut,
                             "description": "unknown model or layer, or a pooling layer"},
                       **revalidated(), **unknown_query(*FILTERS_QUERY),
                       422: {"model": ErrorOut,
                             "description": "channel= not a whole number, or out of range",
                             "content": {"application/json": {"example": {
                                 "detail": "channel 99 out of range: conv1 has channels "
                                           "0..31"}}}}},
            openapi_extra=REVALIDATED)
async def filters(request: Request, engine: EngineDep,
                  model: Annotated[str, Path(description=MODEL_DOC, examples=["max"])],
                  layer: Annotated[str, Path(description="a conv layer of that network: "
                                             "conv1, conv2 or conv3", examples=["conv1"])],
                  channel: Annotated[int | None, Query(
                      ge=0, description="only this out channel's filters and bias"), DIGITS] = None,
                  ) -> Response:
    """What each channel of a conv layer looks for: channel k's unit is
    ReLU(sum over c of weights[k][c] * the 3x3 window of input channel c, plus bias[k]).
    conv1's filters apply to the 28x28 input itself, 0 for paper and 1 for ink."""
    check_query(request, FILTERS_QUERY)
    bodies = _FILTERS.setdefault(engine, {})
    key = (model, layer, channel)
    if key not in bodies:  # a key made once was valid: an unknown name or channel never is
        weights, bias = engine.filters(model, layer)  # the 404s
        check_channel(channel, weights.shape[0], layer)
        if channel is not None:
            weights, bias = weights[channel:channel + 1], bias[channel:channel + 1]
        bodies[key] = wire.dumps({"model": model, "layer": layer, "channel": channel,
                                  "shape": list(weights.shape), "weights": weights.tolist(),
                                  "bias": bias.tolist()})
    answer = Response(bodies[key], media_type="application/json")
    return unchanged(request, answer, engine) or answer


# each answer's JSON, made once per engine (the weights never change while it serves: a deep
# layer's 37,000 numbers took milliseconds to encode on the event loop); weak, so that an
# engine that is done with (tests make many) is not kept alive by its answers
_ETAGS: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()
_FILTERS: weakref.WeakKeyDictionary[Engine, dict[tuple[str, str, int | None], bytes]] = (
    weakref.WeakKeyDictionary())
