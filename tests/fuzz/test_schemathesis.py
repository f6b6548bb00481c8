"""Schemathesis against the app's own OpenAPI document: no 5xx, responses match the schema.

Each operation gets a fixed budget of generated requests (derandomised, so a failure
reproduces); schemathesis's own checks run on every response.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance
from starlette.testclient import TestClient

from app.config import Settings
from app.main import create_app

OPERATIONS = [
    ("GET", "/healthz"), ("GET", "/metrics"), ("GET", "/api/v1/models"),
    ("GET", "/api/v1/models/{model}"), ("GET", "/api/v1/models/{model}/filters/{layer}"),
    ("POST", "/api/v1/featuremaps"), ("POST", "/api/v1/featuremaps/{model}/{layer}.png"),
    ("POST", "/api/v1/featuremaps/batch"), ("POST", "/api/v1/shifts"), ("GET", "/api/v1/live"),
]
EXAMPLES = 40


@pytest.fixture(scope="module")
def api_schema(settings: Settings) -> Iterator[Any]:
    app = create_app(settings.model_copy(update={"access_log": False}))
    with TestClient(app):  # runs the lifespan: models loaded
        yield schemathesis.openapi.from_asgi("/openapi.json", app)


def test_every_operation_is_fuzzed(api_schema: Any) -> None:
    listed = {(op.method.upper(), op.path) for op in
              (r.ok() for r in api_schema.get_all_operations())}
    assert listed == set(OPERATIONS)


@pytest.mark.slow
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_no_server_errors_and_responses_match_the_schema(api_schema: Any, method: str,
                                                          path: str) -> None:
    operation = api_schema[path][method]

    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def fuzz(case: schemathesis.Case[Any]) -> None:
        # positive_data_acceptance is left out on purpose: an image body is
        # `format: binary`, so any bytes are schema-valid, yet only real images are accepted.
        case.call_and_validate(excluded_checks=[positive_data_acceptance])

    fuzz()
