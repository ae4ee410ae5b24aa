"""A service over the seeds (real local embedder, real embedded Chroma) and its HTTP app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.net import uvicorn_in_thread
from fastapi import FastAPI
from fastapi.testclient import TestClient

from qa.api.app import create_app
from qa.config import Settings
from qa.service import QAService
from qa.wiring import build_service

SEEDS = Path(__file__).resolve().parents[2] / "seeds"


@pytest.fixture(scope="session")
def seeded_service(tmp_path_factory: pytest.TempPathFactory) -> QAService:
    settings = Settings(data_dir=tmp_path_factory.mktemp("api-data"), _env_file=None)
    service = build_service(settings)
    report = service.ingest_paths([SEEDS])
    assert report.failed == 0
    return service


@pytest.fixture(scope="session")
def app(seeded_service: QAService) -> FastAPI:
    return create_app(seeded_service)


@pytest.fixture(scope="session")
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def live_url(app: FastAPI) -> Iterator[str]:
    """The app served by uvicorn on a loopback socket, for real HTTP clients."""
    with uvicorn_in_thread(app) as url:
        yield url
