"""GET /: the drawing page. Everything the page's scripts need to start is passed to the
template as one JSON config block; the rest they ask the API for."""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from app.api.deps import EngineDep
from app.config import PROJECT_ROOT
from app.ml.render import VIRIDIS_STOPS

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(PROJECT_ROOT / "templates"))

DIGITS_DIR = PROJECT_ROOT / "static" / "digits"
_DIGIT_NAME = re.compile(r"^(\d+)_label(\d)\.png$")


def sample_digits() -> list[dict[str, Any]]:
    """The real MNIST test digits shipped in static/digits (NNNN_labelL.png), in label order:
    the page's buttons read 0 to 9."""
    out: list[dict[str, Any]] = []
    for path in sorted(DIGITS_DIR.glob("*.png")):
        match = _DIGIT_NAME.match(path.name)
        if match:
            out.append({"src": f"static/digits/{path.name}", "index": int(match[1]),
                        "label": int(match[2])})
    return sorted(out, key=lambda d: (d["label"], d["index"]))


@router.get("/", response_class=HTMLResponse)
async def index(request: Request, engine: EngineDep) -> HTMLResponse:
    digits = sample_digits()
    config = {
        # relative, as every address on the page: behind a proxy that serves the app under a
        # path of its own (https://host/featuremaps/ -> this server's /), they stay inside it
        "api": "api/v1",
        "models": [m for m in ("max", "avg") if m in engine.variants],
        "variants": list(engine.variants),
        "colormap": [list(stop) for stop in VIRIDIS_STOPS],
        "digits": digits,
    }
    # "</" never reaches the page inside the JSON block, so no string in it can close the tag
    config_json = json.dumps(config).replace("</", "<\\/")
    return templates.TemplateResponse(request, "index.html",
                                      {"config_json": config_json, "digits": digits})
