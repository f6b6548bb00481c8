"""The naive way, as a reference: what a quick implementation of the same endpoint does.

Forward hooks collect the maps, `.tolist()` turns them into nested lists of floats, and
FastAPI serialises the dict. Same networks, same preprocessing, same maps; only the
engineering differs. Two flavours of the same endpoint: `/api/v1/featuremaps` declares its
return type, so FastAPI serialises through pydantic-core's compiled path; `/api/v1/untyped`
does not, so FastAPI walks the lists with jsonable_encoder and json.dumps, as it did for
every endpoint before that fast path existed. `/api/v1/floor` does no work at all: it reads
the body and answers 81 KB of bytes (the size of our binary answer), which is the least any
endpoint on this stack costs. Run: python -m bench.naive_server serve --port N
"""

from __future__ import annotations

import argparse
from typing import Any

import torch
import uvicorn
from fastapi import FastAPI, Request, Response

from app.config import Settings
from app.ml import preprocess, registry


def create_app() -> FastAPI:
    settings = Settings()
    nets = {v: registry.load(settings.models_dir, v).net for v in ("max", "avg")}
    app = FastAPI()

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    async def compute(request: Request) -> dict[str, Any]:
        x28 = preprocess.from_image(await request.body(), settings.max_image_pixels)
        x = torch.from_numpy(x28).reshape(1, 1, 28, 28)
        out: dict[str, Any] = {"input": x28.tolist(), "models": {}}
        for name, net in nets.items():
            maps: dict[str, Any] = {}
            hooks = [getattr(net, layer).register_forward_hook(
                lambda _m, _i, o, layer=layer, maps=maps: maps.__setitem__(layer, o[0].tolist()))
                for layer in net.stages]
            with torch.no_grad():
                probs = torch.softmax(net(x), 1)[0]
            for h in hooks:
                h.remove()
            out["models"][name] = {"prediction": int(probs.argmax()),
                                   "probabilities": probs.tolist(),
                                   "layers": [{"name": k, "data": v} for k, v in maps.items()]}
        return out

    @app.post("/api/v1/featuremaps")
    async def featuremaps(request: Request) -> dict[str, Any]:
        return await compute(request)

    async def untyped(request: Request):  # type: ignore[no-untyped-def]
        return await compute(request)

    app.post("/api/v1/untyped")(untyped)

    floor_body = bytes(81_000)

    @app.post("/api/v1/floor")
    async def floor(request: Request) -> Response:
        await request.body()
        return Response(floor_body, media_type="application/octet-stream")

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["serve"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    uvicorn.run(create_app(), host=args.host, port=args.port, log_level="warning",
                access_log=False)


if __name__ == "__main__":
    main()
