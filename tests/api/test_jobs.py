"""Big ingestions go to a background job over HTTP: 202 + job id, GET /v1/jobs/{id} with
state and progress; bad input and documents over a limit still fail at once (real local
embedder and embedded Chroma, a service of this module's own)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from qa.api.app import create_app
from qa.config import Settings
from qa.wiring import build_service


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("jobs-data"),
        _env_file=None,
        async_ingest_bytes=2_000,
        max_document_sentences=300,
    )
    with TestClient(create_app(build_service(settings), settings)) as test_client:
        yield test_client


def article(doc_id: str, sentences: int) -> dict[str, Any]:
    body = " ".join(f"The harbour board met for session {i} of the year." for i in range(sentences))
    return {"id": doc_id, "title": f"Article {doc_id}", "body": body}


def wait_for_job(client: TestClient, url: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(url).json()
        if job["state"] in ("succeeded", "failed"):
            return job
        assert job["state"] in ("queued", "running")
        time.sleep(0.1)
    raise AssertionError(f"{url} did not finish")


def test_a_big_body_is_ingested_by_a_job(client: TestClient) -> None:
    documents = [article("job-a", 60), article("job-b", 40)]
    response = client.post("/v1/documents", json={"documents": documents})
    assert response.status_code == 202
    accepted = response.json()
    assert accepted["state"] in ("queued", "running", "succeeded")
    assert response.headers["location"] == accepted["status_url"]
    assert accepted["status_url"] == f"/v1/jobs/{accepted['job_id']}"
    job = wait_for_job(client, accepted["status_url"])
    assert job["state"] == "succeeded", job
    assert job["progress"] == {"done": 2, "total": 2}
    assert job["error"] is None
    assert job["result"]["documents"] == 2
    assert sorted(job["result"]["doc_ids"]) == ["job-a", "job-b"]
    assert job["created_at"] <= job["started_at"] <= job["finished_at"]
    lines = client.get("/v1/documents/job-b/lines").json()["lines"]
    assert lines[0]["text"].startswith("The harbour board met for session 0")
    # The same body again: a job that stores nothing new.
    again = client.post("/v1/documents", json={"documents": documents}).json()
    assert wait_for_job(client, again["status_url"])["result"]["unchanged"] == 2


def test_a_small_body_is_still_ingested_in_the_request(client: TestClient) -> None:
    response = client.post("/v1/documents", json={"documents": [article("job-small", 3)]})
    assert response.status_code == 201
    assert response.json()["doc_ids"] == ["job-small"]


def test_bad_records_in_a_big_body_fail_at_once(client: TestClient) -> None:
    response = client.post(
        "/v1/documents",
        json={"documents": [article("job-c", 60), {"id": "job/../d", "body": "Text."}]},
    )
    assert response.status_code == 422
    assert "documents[1]: invalid document id" in response.json()["error"]["message"]
    assert client.get("/v1/documents/job-c").status_code == 404


def test_a_document_over_the_sentence_limit_is_a_413_at_once(client: TestClient) -> None:
    response = client.post("/v1/documents", json={"documents": [article("job-huge", 301)]})
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["type"] == "document_too_large"
    assert "documents[0] (id 'job-huge')" in error["message"]
    assert "QA_MAX_DOCUMENT_SENTENCES" in error["message"]
    assert client.get("/v1/documents/job-huge").status_code == 404


def test_an_unknown_job_is_a_404(client: TestClient) -> None:
    response = client.get("/v1/jobs/0123456789abcdef")
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found"
