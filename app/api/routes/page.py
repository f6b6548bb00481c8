"""GET /: the drawing page."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from app.api.deps import EngineDep
from app.config import PROJECT_ROOT
from app.ml.render import VIRIDIS_STOPS

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(PROJECT_ROOT / "templates"))


@router.get("/", response_class=HTMLResponse)
async def index(request: Request, engine: EngineDep) -> HTMLResponse:
    config = {
        "api": "/api/v1",
        "models": [m for m in ("max", "avg") if m in engine.variants],
        "variants": list(engine.variants),
        "colormap": [list(stop) for stop in VIRIDIS_STOPS],
    }
    return templates.TemplateResponse(request, "index.html",
                                      {"config_json": json.dumps(config)})
