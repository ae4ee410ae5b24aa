"""Request limits: body size (declared and streamed), per-document size, question length,
top_k bounds and per-caller rate limiting with Retry-After."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from qa.api.app import create_app
from qa.api.security import TokenBucket
from qa.config import Settings
from qa.service import QAService

KEY_A = "key-alpha-123"
KEY_B = "key-bravo-456"


def _client(service: QAService, tmp_path: Path, **settings: Any) -> TestClient:
    return TestClient(create_app(service, Settings(data_dir=tmp_path, _env_file=None, **settings)))


@pytest.fixture
def small(seeded_service: QAService, tmp_path: Path) -> Iterator[TestClient]:
    """Bodies up to 4 KiB, documents up to 1000 bytes."""
    with _client(seeded_service, tmp_path, max_body_bytes=4096, max_document_bytes=1000) as c:
        yield c


def _chunks(total: int, size: int = 512) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        part = min(size, total - sent)
        sent += part
        yield b" " * part


def test_declared_body_over_the_limit_is_a_413(small: TestClient) -> None:
    body = json.dumps({"query": "x" * 5000}).encode()
    response = small.post("/v1/search", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["type"] == "payload_too_large"
    assert "4096 bytes" in error["message"]


def test_streamed_body_over_the_limit_is_a_413(small: TestClient) -> None:
    # A generator body goes out chunked, with no Content-Length to check up front.
    response = small.post(
        "/v1/search", content=_chunks(10_000), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "payload_too_large"


def test_streamed_body_under_the_limit_reaches_the_route(small: TestClient) -> None:
    payload = json.dumps({"query": "Taliban", "top_k": 2}).encode()
    response = small.post(
        "/v1/search",
        content=iter([payload[:10], payload[10:]]),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 200
    assert len(response.json()["hits"]) == 2


def test_body_exactly_at_the_limit_is_accepted(small: TestClient) -> None:
    prefix = b'{"query": "Taliban", "top_k": 1}'
    body = prefix + b" " * (4096 - len(prefix))
    response = small.post("/v1/search", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 200


def test_oversized_document_is_named_and_nothing_of_the_batch_is_stored(small: TestClient) -> None:
    documents = [
        {"id": "limit-ok", "body": "A short article.\nSecond line."},
        {"id": "limit-too-big", "body": "é" * 600},  # 1200 bytes in UTF-8, 600 characters
    ]
    response = small.post("/v1/documents", json={"documents": documents})
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["type"] == "document_too_large"
    assert "documents[1]" in error["message"]
    assert "'limit-too-big'" in error["message"]
    assert "1200 bytes" in error["message"]
    for doc_id in ("limit-ok", "limit-too-big"):
        assert small.get(f"/v1/documents/{doc_id}").status_code == 404


def test_document_text_field_is_checked_too(small: TestClient) -> None:
    response = small.post("/v1/documents", json={"documents": [{"text": "x" * 1500}]})
    assert response.status_code == 413
    assert "documents[0] is 1500 bytes" in response.json()["error"]["message"]


def test_question_over_the_character_limit_is_a_422(client: TestClient) -> None:
    response = client.post("/v1/ask", json={"question": "why " * 600})
    assert response.status_code == 422
    assert "longer than 2000 characters" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("top_k", "needle"), [(0, "top_k"), (51, "between 1 and 50"), (201, "top_k")]
)
def test_top_k_out_of_bounds_is_a_422(client: TestClient, top_k: int, needle: str) -> None:
    response = client.post("/v1/search", json={"query": "Taliban", "top_k": top_k})
    assert response.status_code == 422
    assert needle in response.json()["error"]["message"]


def test_rate_limit_per_key_with_retry_after(seeded_service: QAService, tmp_path: Path) -> None:
    with _client(seeded_service, tmp_path, api_keys=[KEY_A, KEY_B], rate_limit_per_minute=3) as c:
        a = {"Authorization": f"Bearer {KEY_A}"}
        assert [c.get("/v1/documents", headers=a).status_code for _ in range(3)] == [200] * 3
        limited = c.get("/v1/documents", headers=a)
        assert limited.status_code == 429
        assert limited.json()["error"]["type"] == "rate_limited"
        # 3 per minute refill one token every 20 s.
        assert 1 <= int(limited.headers["Retry-After"]) <= 20
        # Another key has its own bucket; health checks are never limited.
        assert (
            c.get("/v1/documents", headers={"Authorization": f"Bearer {KEY_B}"}).status_code == 200
        )
        assert c.get("/healthz").status_code == 200
        assert c.get("/readyz").status_code == 200


def test_anonymous_callers_are_limited_per_address(
    seeded_service: QAService, tmp_path: Path
) -> None:
    app = create_app(
        seeded_service, Settings(data_dir=tmp_path, rate_limit_per_minute=2, _env_file=None)
    )
    with (
        TestClient(app, client=("192.0.2.1", 1000)) as first,
        TestClient(app, client=("192.0.2.2", 1000)) as second,
    ):
        assert [first.get("/v1/documents").status_code for _ in range(3)] == [200, 200, 429]
        assert second.get("/v1/documents").status_code == 200


def test_guessing_keys_is_throttled_by_address(seeded_service: QAService, tmp_path: Path) -> None:
    with _client(seeded_service, tmp_path, api_keys=[KEY_A], rate_limit_per_minute=2) as c:
        wrong = {"Authorization": "Bearer guess"}
        codes = [c.get("/v1/documents", headers=wrong).status_code for _ in range(4)]
        assert codes == [401, 401, 429, 429]
        # The real key has a bucket of its own.
        assert (
            c.get("/v1/documents", headers={"Authorization": f"Bearer {KEY_A}"}).status_code == 200
        )


def test_rate_limit_zero_turns_it_off(seeded_service: QAService, tmp_path: Path) -> None:
    with _client(seeded_service, tmp_path, rate_limit_per_minute=0) as c:
        assert {c.get("/v1/documents").status_code for _ in range(30)} == {200}


def test_token_bucket_refills_at_the_configured_rate() -> None:
    now = [1000.0]
    bucket = TokenBucket(60, clock=lambda: now[0])  # one token per second, bursts of 60
    assert all(bucket.take("k") == 0.0 for _ in range(60))
    assert bucket.take("k") == pytest.approx(1.0)
    now[0] += 0.5
    assert bucket.take("k") == pytest.approx(0.5)
    now[0] += 0.5
    assert bucket.take("k") == 0.0
    assert bucket.take("other") == 0.0
    now[0] += 3600  # a long pause refills to capacity, not beyond
    assert sum(bucket.take("k") == 0.0 for _ in range(100)) == 60
