"""GET /: the drawing page. Everything the page's scripts need to start is passed to the
template as one JSON config block; the rest they ask the API for."""

from __future__ import annotations

import base64
import functools
import json
import logging
import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from PIL import Image

from app.api.deps import EngineDep, SettingsDep
from app.config import PROJECT_ROOT
from app.ml import disagree, preprocess
from app.ml.names import DEFAULT_MODELS
from app.ml.render import VIRIDIS_STOPS

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(PROJECT_ROOT / "templates"))

DIGITS_DIR = PROJECT_ROOT / "static" / "digits"
# the page's view, as its masthead toggle keeps it in a cookie (static/js/main.js): read here,
# so that a projector's page is light from its first paint, not dark until the scripts run
VIEW_COOKIE = "featuremaps-view"
_DIGIT_NAME = re.compile(r"^(\d+)_label(\d)\.png$")


@functools.cache
def sample_digits() -> list[dict[str, Any]]:
    """The real MNIST test digits shipped in static/digits (NNNN_labelL.png), in label order:
    the page's buttons read 0 to 9. Each carries its 28x28 grey levels, base64, which the
    page sends as JSON pixels, used as they are: sent as an image, a sample is prepared again
    like a drawing, which crops off faint pixels outside the ink's box in 2 of the 10 (and
    moved 7 by a pixel when that centred on 13.5, not on MNIST's (14, 14)). Read here, not in
    the browser, whose canvas may add noise to pixels read back (anti-fingerprinting)."""
    out: list[dict[str, Any]] = []
    for path in sorted(DIGITS_DIR.glob("*.png")):
        match = _DIGIT_NAME.match(path.name)
        if match:
            with Image.open(path) as image:
                if image.size != (28, 28):  # not one of the shipped files: no sample of it
                    log.warning("%s is not a 28x28 MNIST digit: left out of the samples", path)
                    continue
                grey = image.convert("L").tobytes()
            out.append({"src": f"static/digits/{path.name}", "index": int(match[1]),
                        "label": int(match[2]), "pixels": base64.b64encode(grey).decode()})
    return sorted(out, key=lambda d: (d["label"], d["index"]))


@functools.cache
def disagreements(weights: tuple[tuple[str, str], ...]) -> dict[str, Any] | None:
    """The digits max and avg answer differently, as the page offers them (the file's
    address, split and counts; the page fetches the digits when they are asked for), or None
    where they are not offered (app/ml/disagree.py). `weights`: each loaded network's
    weights' sha256, as its card gives it and loading checked."""
    offered = disagree.offer(DIGITS_DIR / disagree.FILE_NAME, dict(weights))
    return offered and {"src": f"static/digits/{disagree.FILE_NAME}", **offered}


@router.get("/", response_class=HTMLResponse)
async def index(request: Request, engine: EngineDep, settings: SettingsDep) -> HTMLResponse:
    digits = sample_digits()
    offered = disagreements(tuple((v, engine.loaded[v].card["weights_sha256"])
                                  for v in engine.variants))
    config = {
        # relative, as every address on the page: behind a proxy that serves the app under a
        # path of its own (https://host/featuremaps/ -> this server's /), they stay inside it
        "api": "api/v1",
        "models": [m for m in DEFAULT_MODELS if m in engine.variants],
        "colormap": [list(stop) for stop in VIRIDIS_STOPS],
        "digits": digits,
        "disagree": offered,
        "viewCookie": VIEW_COOKIE,
        # what an upload may be sent as it is (static/js/upload.js): the largest picture the
        # server prepares without reducing it first, and the server's upload limit
        "upload": {"maxSide": preprocess.MAX_SIDE, "maxBytes": settings.max_upload_bytes},
    }
    # "</" never reaches the page inside the JSON block, so no string in it can close the tag
    config_json = json.dumps(config).replace("</", "<\\/")
    response = templates.TemplateResponse(
        request, "index.html",
        {"config_json": config_json, "digits": digits, "disagree": offered,
         "disagree_verdict": offered and disagree.verdict(offered),
         "projector": request.cookies.get(VIEW_COOKIE) == "projector"})
    response.headers["Vary"] = "Cookie"  # a cache between keeps each view apart
    return response
