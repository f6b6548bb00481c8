"""POST /api/v1/shifts: the shift lab."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from app.api import wire
from app.api.deps import EngineDep, GateDep, SettingsDep
from app.api.inputs import ARRAYS_NO_SHIFTS, BODY_FIELDS, check_query, read_payload
from app.api.routes.featuremaps import (
    IMAGE_BODY,
    MODELS_PATTERN,
    SERVER_TIMING,
    errors,
    models_doc,
    parse_models,
    server_timing,
    staged,
)
from app.api.schemas import ShiftsOut
from app.ml.engine import ShiftResult

router = APIRouter(prefix="/api/v1", tags=["shift lab"])
QUERY = ("models",)
# what an earlier version took, and what took its place
RETIRED = {"shifted_back": "shifted_back is no longer taken: each layer's answer holds change "
                           "and, where its units are one pixel apart, change_shifted_back"}
# what the maps' parameters of the other routes mean here: the shift lab answers no maps
# (the last note of an API review: encoding= on /shifts was told only that it was unknown)
NO_MAPS = "the shift lab answers no maps, only predictions and each layer's change, in JSON"
MAPS_ELSEWHERE = {
    "encoding": f"{NO_MAPS}; encoding= sets the maps' number type on POST "
                "/api/v1/featuremaps",
    "format": f"{NO_MAPS}; format= sets the maps' wire format on POST /api/v1/featuremaps",
    "layers": "the shift lab measures every layer; layers= chooses the maps of POST "
              "/api/v1/featuremaps/batch",
}

SHIFT_MODELS = ("max", "avg", "blurmax")
ShiftModelsQuery = Annotated[str | None, Query(
    description=models_doc(SHIFT_MODELS, ", those of them this server has, else its first two"),
    examples=["max,avg"],
    pattern=MODELS_PATTERN)]


def _rounded(value: Any) -> Any:
    """A change or share, or a dict of them, to 6 decimals (None stays None)."""
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return None if value is None else round(value, 6)


def to_dict(result: ShiftResult) -> dict[str, Any]:
    return {
        "input": wire.input_dict(result.input, "uint8"),
        "shifts": list(result.shifts),
        "models": {
            net.variant: {
                "prediction": net.prediction,
                "probability": wire.significant(net.probability),
                # k/81, to 6 decimals as every other share here (an API review: 17 digits)
                "consistency": _rounded(net.consistency),
                "grid": {
                    "prediction": net.classes.tolist(),
                    "probability": [wire.probabilities(row) for row in net.top],
                    "reference": [wire.probabilities(row) for row in net.reference],
                },
                "layers": [
                    {"name": layer.name, "jump": layer.jump,
                     "change": _rounded(layer.change), "mean": _rounded(layer.mean),
                     "change_shifted_back": _rounded(layer.change_shifted_back),
                     "mean_shifted_back": _rounded(layer.mean_shifted_back)}
                    for layer in net.layers
                ],
            }
            for net in result.nets
        },
    }


@router.post("/shifts", summary="Predictions over a grid of shifts, and map changes per layer",
             response_model=ShiftsOut,
             responses={200: {"headers": SERVER_TIMING}, **errors(QUERY)},
             openapi_extra=IMAGE_BODY)
async def shifts(request: Request, engine: EngineDep, settings: SettingsDep, gate: GateDep,
                 models: ShiftModelsQuery = None) -> Response:
    """For each chosen network (default: max, avg and blurmax, those this server has, else
    the first two it has): the predicted class and its probability for every shift of the
    28x28 input by -4..4 px in x and y (zero fill; a positive dx moves it right, a
    positive dy down; grid[dy + 4][dx + 4], so rows are dy and columns dx), and per layer
    the relative L2 change of the maps when the input moves one pixel left, right, up or down,
    compared in place (`change`, the same measure for every layer); for the layers whose units
    are one pixel apart (jump 1: conv1 of the pooling networks, every conv of nopool), also
    the change once the maps are moved along with the input (`change_shifted_back`: 0 for a
    layer that simply moves with it; the row or column the move empties is left out)."""
    check_query(request, QUERY, RETIRED | MAPS_ELSEWHERE | BODY_FIELDS)
    names = parse_models(engine, models, default=SHIFT_MODELS)
    payload = await read_payload(request, QUERY, arrays=ARRAYS_NO_SHIFTS)

    start = time.perf_counter()
    body, timings = await gate.run(
        staged, payload, settings, lambda x28: engine.shifts(x28, names),
        lambda result, _: wire.dumps(to_dict(result)))
    return Response(body, media_type="application/json",
                    headers={"Server-Timing": server_timing(timings, start)})
