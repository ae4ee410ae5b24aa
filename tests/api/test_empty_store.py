"""An empty store is said to be empty (409), not answered with "the articles don't say"."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from qa.api.app import create_app
from qa.config import Settings
from qa.errors import EmptyStoreError
from qa.wiring import build_service


@pytest.fixture(scope="module")
def empty_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("empty-data"), language_check=False, _env_file=None
    )
    with TestClient(create_app(build_service(settings))) as client:
        yield client


def test_ask_on_an_empty_store_is_409_saying_what_to_do(empty_client: TestClient) -> None:
    response = empty_client.post("/v1/ask", json={"question": "Who won the election?"})
    assert response.status_code == 409
    error = response.json()["error"]
    assert (error["type"], error["message"]) == ("empty_store", EmptyStoreError.MESSAGE)
    assert "run qa ingest PATH" in error["message"]


def test_streamed_ask_on_an_empty_store_is_409_too(empty_client: TestClient) -> None:
    response = empty_client.post("/v1/ask/stream", json={"question": "Who won the election?"})
    assert response.status_code == 409
    assert response.json()["error"]["message"] == EmptyStoreError.MESSAGE


def test_once_a_document_is_posted_questions_are_answered(empty_client: TestClient) -> None:
    posted = empty_client.post(
        "/v1/documents",
        json={"documents": [{"id": "dam", "body": "The Hoover dam opened in 1936."}]},
    )
    assert posted.status_code == 201
    response = empty_client.post("/v1/ask", json={"question": "When did the dam open?"})
    assert response.status_code == 200
