"""A service over the seeds (real local embedder, real embedded Chroma) and its HTTP app."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def live_url(app: FastAPI) -> Iterator[str]:
    """The app served by uvicorn on a loopback socket, for real HTTP clients."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
