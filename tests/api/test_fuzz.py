"""Schemathesis over the app's OpenAPI schema, in process (ASGI, no network), against a
service of its own built over the seeds: no generated input may produce a 5xx."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from qa.api.app import create_app
from qa.config import Settings
from qa.wiring import build_service

SEEDS = Path(__file__).resolve().parents[2] / "seeds"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    # Its own data: fuzzed POST/DELETE /v1/documents must not touch the shared seeded service.
    settings = Settings(data_dir=tmp_path_factory.mktemp("fuzz-data"), _env_file=None)
    service = build_service(settings)
    assert service.ingest_paths([SEEDS]).failed == 0
    return create_app(service)


# The schema comes from an app whose service is never built (only the lifespan builds it),
# so collecting this module costs nothing. schemathesis.pytest.from_fixture would defer the
# whole app, but its lazy loader breaks on pytest 9 (it writes `request.node._nodeid`).
schema = schemathesis.openapi.from_dict(
    create_app(settings=Settings(data_dir=Path("unused"), _env_file=None)).openapi()
)


@schema.parametrize()
@settings(
    # FUZZ_EXAMPLES=500 for a deeper local run; CI keeps 25 per operation.
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "25")),
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_input_gets_a_server_error(case: schemathesis.Case[Any], fuzz_app: FastAPI) -> None:
    case.call_and_validate(checks=[not_a_server_error], app=fuzz_app)
