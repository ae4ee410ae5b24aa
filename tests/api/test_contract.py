"""The OpenAPI schema is the truth: schemathesis with every check (status codes, response
schemas, content types, positive and negative data, auth...) over every operation, then
stateful sequences following the schema's links; over loopback HTTP (some checks send
requests of their own), against a service of its own (seeds in a temporary store, so fuzzed
deletes touch nothing shared). Bounded to a few hundred cases; FUZZ_EXAMPLES=500 for a
deeper local run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fakes.net import uvicorn_in_thread
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from qa.api.app import create_app
from qa.config import Settings
from qa.wiring import build_service

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "20"))

pytestmark = [pytest.mark.slow, pytest.mark.contract]


def key_settings(data_dir: Path) -> Settings:
    """The one place the fuzzer's keys are set up: every request carries FUZZ_KEY."""
    return Settings(
        data_dir=data_dir,
        _env_file=None,
        api_keys=FUZZ_KEY,
        rate_limit_per_minute=0,
        language_check=False,
    )


FUZZ_KEY = "contract-fuzz-key"
AUTH = {"Authorization": f"Bearer {FUZZ_KEY}"}


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = key_settings(tmp_path_factory.mktemp("fuzz-data"))
    service = build_service(settings)
    assert service.ingest_paths([SEEDS]).failed == 0
    app = create_app(service, settings)
    with uvicorn_in_thread(app, log_level="error") as url:
        yield url


# The schema of an app built the same way whose service is never built (only the lifespan
# builds it), so collecting this module costs nothing.
schema = schemathesis.openapi.from_dict(create_app(settings=key_settings(Path("unused"))).openapi())

BOUNDED = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@schema.parametrize()
@BOUNDED
def test_every_operation_keeps_the_contract(case: schemathesis.Case[Any], base_url: str) -> None:
    case.call_and_validate(base_url=base_url, headers=AUTH, excluded_checks=excluded(case))


def excluded(case: schemathesis.Case[Any]) -> list[Any]:
    """Two rules JSON Schema cannot state: a chat request needs a user message with some
    text (OpenAI's format lets every message be optional), and a URL to ingest must be one
    the server can fetch (offline, none is: 422 saying why)."""
    if case.operation.path == "/v1/chat/completions":
        return [positive_data_acceptance]
    if isinstance(case.body, dict) and "url" in case.body:
        return [positive_data_acceptance]
    return []


def test_sequences_of_calls_keep_the_contract(base_url: str) -> None:
    class Machine(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: schemathesis.Case[Any]) -> dict[str, Any]:
            return {"base_url": base_url, "headers": AUTH}

        def validate_response(
            self,
            response: Any,
            case: schemathesis.Case[Any],
            additional_checks: Any = None,
            **kwargs: Any,
        ) -> None:
            case.validate_response(
                response,
                additional_checks=additional_checks,
                excluded_checks=excluded(case),
                transport_kwargs=kwargs or None,
                recorder=self.recorder,
            )

    Machine.run(
        settings=settings(
            max_examples=max(EXAMPLES // 2, 5),
            stateful_step_count=5,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )
