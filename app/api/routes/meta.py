"""GET /healthz and GET /api/v1/models."""

from __future__ import annotations

from fastapi import APIRouter, Request

from app import __version__
from app.api.deps import EngineDep
from app.api.inputs import check_query
from app.api.schemas import HealthOut, ModelsOut

router = APIRouter()


@router.head("/healthz", include_in_schema=False)  # uptime checkers that only ask HEAD
@router.get("/healthz", response_model=HealthOut, tags=["operations"], summary="Liveness")
async def healthz(request: Request, engine: EngineDep) -> dict[str, object]:
    """The server is up and its models are loaded; reports the device in use."""
    check_query(request, ())
    return {"status": "ok", "device": engine.device_name, "models": list(engine.variants),
            "version": __version__}


@router.get("/api/v1/models", response_model=ModelsOut, tags=["models"],
            summary="The networks, their layers and geometry")
async def models(request: Request, engine: EngineDep) -> dict[str, object]:
    """Every loaded variant: layers with output shapes, parameter counts, receptive fields
    (size, jump, start) and the window each unit reads of the layer before; the model card's
    test accuracy and shift consistency; the weights' sha256; and the device in use."""
    check_query(request, ())
    return engine.describe()
