"""A corrupt conversation database (qa.sqlite3): the service starts degraded instead of not
at all. Search and questions without a conversation work, /readyz says what is wrong, and
conversation routes answer 503 naming the file and how to recover."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e.cli import run_qa
from fastapi.testclient import TestClient

from qa.api.app import create_app
from qa.config import Settings
from qa.wiring import build_service

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
QUESTION = "How many Afghan soldiers crossed into Tajikistan?"
GARBAGE = b"this is not an SQLite database\n" * 100


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("degraded")
    (data / "qa.sqlite3").write_bytes(GARBAGE)
    return data


@pytest.fixture(scope="module")
def client(data_dir: Path) -> Iterator[TestClient]:
    settings = Settings(data_dir=data_dir, language_check=False, _env_file=None)
    service = build_service(settings)  # before: sqlite3.DatabaseError, nothing served
    assert service.ingest_paths([SEEDS]).failed == 0
    with TestClient(create_app(service)) as test_client:
        yield test_client


def test_readyz_names_the_file_and_the_fix(client: TestClient, data_dir: Path) -> None:
    ready = client.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "degraded"
    problem = body["checks"]["conversations"]
    assert str(data_dir / "qa.sqlite3") in problem
    assert "move the file aside" in problem and "qa.sqlite3.corrupt" in problem
    assert body["checks"]["chroma"] == "ok"


def test_search_and_stateless_questions_still_work(client: TestClient) -> None:
    assert client.post("/v1/search", json={"query": QUESTION}).json()["hits"]
    answer = client.post("/v1/ask", json={"question": QUESTION})
    assert answer.status_code == 200, answer.text
    assert answer.json()["answerable"] and answer.json()["conversation_id"] is None
    chat = client.post(
        "/v1/chat/completions",
        json={"model": "qa", "messages": [{"role": "user", "content": QUESTION}]},
    )
    assert chat.status_code == 200


def test_conversation_routes_say_what_is_wrong(client: TestClient, data_dir: Path) -> None:
    for response in (
        client.post("/v1/ask", json={"question": QUESTION, "conversation_id": "c1"}),
        client.get("/v1/feedback"),
    ):
        assert response.status_code == 503
        message = response.json()["error"]["message"]
        assert str(data_dir / "qa.sqlite3") in message and "mv " in message
    assert (data_dir / "qa.sqlite3").read_bytes() == GARBAGE  # nothing overwritten


def test_cli_feedback_export_is_one_line_naming_the_file(data_dir: Path) -> None:
    result = run_qa(data_dir, "feedback", "export")
    assert result.returncode == 3
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert str(data_dir / "qa.sqlite3") in result.stderr
