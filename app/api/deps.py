"""FastAPI dependencies as Annotated aliases: the engine, the settings and the gate.

They are `async def` on purpose: FastAPI runs a plain `def` dependency in a thread pool,
which cost three thread hand-offs per request for three attribute reads. They take the
HTTPConnection (what a Request and a WebSocket share) so that WS /api/v1/live can use them.

POST /api/v1/featuremaps, the one route called many times a second, reads the same three
with `served(request)` instead: a route with any dependency at all pays FastAPI's solver
about 40 us a request (a route with one and with three cost the same), a few percent of a
whole update."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from app.api.gate import InferenceGate
from app.config import Settings
from app.ml.engine import Engine


async def get_engine(request: HTTPConnection) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


async def get_settings(request: HTTPConnection) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_gate(request: HTTPConnection) -> InferenceGate:
    gate: InferenceGate = request.app.state.gate
    return gate


async def get_batch_gate(request: HTTPConnection) -> InferenceGate:
    gate: InferenceGate = request.app.state.batch_gate
    return gate


def served(request: HTTPConnection) -> tuple[Engine, Settings, InferenceGate]:
    """The engine, settings and gate without a dependency (see above)."""
    state = request.app.state
    return state.engine, state.settings, state.gate


EngineDep = Annotated[Engine, Depends(get_engine)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
GateDep = Annotated[InferenceGate, Depends(get_gate)]
BatchGateDep = Annotated[InferenceGate, Depends(get_batch_gate)]
