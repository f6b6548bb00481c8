"""FastAPI dependencies as Annotated aliases: the engine, the settings and the gate."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.api.gate import InferenceGate
from app.config import Settings
from app.ml.engine import Engine


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_gate(request: Request) -> InferenceGate:
    gate: InferenceGate = request.app.state.gate
    return gate


EngineDep = Annotated[Engine, Depends(get_engine)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
GateDep = Annotated[InferenceGate, Depends(get_gate)]
