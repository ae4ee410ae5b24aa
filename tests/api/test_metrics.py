"""GET /metrics (Prometheus text), per-app registries, X-Request-ID and request ids in logs."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from qa.api.app import create_app
from qa.config import LoggingSettings, Settings
from qa.observability.logs import JsonFormatter, RequestIdFilter, configure_logging
from qa.observability.metrics import (
    Metrics,
    activate,
    deactivate,
    record_llm_error,
    record_llm_tokens,
)
from qa.service import QAService

SEED_A = "000_4e774364687dacde.txt"


@pytest.fixture
def app_client(seeded_service: QAService, tmp_path: Path) -> Iterator[TestClient]:
    """A fresh app (fresh registry) over the shared seeded service."""
    with TestClient(create_app(seeded_service, Settings(data_dir=tmp_path, _env_file=None))) as c:
        yield c


def samples(client: TestClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    found = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(
    found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def test_http_latency_is_labelled_by_route_template_and_status(app_client: TestClient) -> None:
    doc_id = app_client.get("/v1/documents").json()["documents"][0]["doc_id"]
    assert app_client.get(f"/v1/documents/{doc_id}").status_code == 200
    assert app_client.get("/v1/documents/no-such-doc/lines").status_code == 404
    assert app_client.post("/v1/search", json={"query": "Taliban"}).status_code == 200
    assert app_client.post("/v1/search", json={}).status_code == 422
    found = samples(app_client)
    count = "qa_http_request_duration_seconds_count"
    assert value(found, count, method="GET", route="/v1/documents/{doc_id}", status="200") == 1
    assert (
        value(found, count, method="GET", route="/v1/documents/{doc_id}/lines", status="404") == 1
    )
    assert value(found, count, method="POST", route="/v1/search", status="200") == 1
    assert value(found, count, method="POST", route="/v1/search", status="422") == 1
    text = app_client.get("/metrics").text
    assert doc_id not in text and "no-such-doc" not in text  # raw paths never become labels


def test_unknown_paths_share_one_label(app_client: TestClient) -> None:
    for i in range(3):
        assert app_client.get(f"/nothing/here/{i}").status_code == 404
    found = samples(app_client)
    assert (
        value(
            found,
            "qa_http_request_duration_seconds_count",
            method="GET",
            route="unmatched",
            status="404",
        )
        == 3
    )


def test_retrieval_and_answer_timings_are_observed(app_client: TestClient) -> None:
    before = samples(app_client)
    assert app_client.post("/v1/search", json={"query": "Taliban"}).status_code == 200
    answer = app_client.post("/v1/ask", json={"question": "Who let Afghan soldiers in?"})
    assert answer.status_code == 200
    mode = answer.json()["mode"]
    after = samples(app_client)
    retrievals = "qa_retrieval_duration_seconds_count"
    assert value(after, retrievals) - value(before, retrievals) == 2  # search + ask's retrieval
    assert value(after, "qa_retrieval_duration_seconds_sum") > 0
    assert value(after, "qa_answer_duration_seconds_count", mode=mode) == 1
    answered = {k: v for k, v in after.items() if k[0] == "qa_answers_total"}
    assert sum(answered.values()) == 1
    labels = dict(next(iter(answered))[1])
    assert labels["mode"] == mode
    assert labels["degraded"] == str(answer.json()["degraded"]).lower()


def test_streamed_answers_are_measured_once_complete(app_client: TestClient) -> None:
    response = app_client.post("/v1/ask/stream", json={"question": "Who let Afghan soldiers in?"})
    assert response.status_code == 200
    assert "event: done" in response.text
    found = samples(app_client)
    assert (
        value(
            found,
            "qa_http_request_duration_seconds_count",
            method="POST",
            route="/v1/ask/stream",
            status="200",
        )
        == 1
    )
    assert sum(v for k, v in found.items() if k[0] == "qa_answer_duration_seconds_count") == 1


def test_ingestion_counts_documents_and_chunks(app_client: TestClient) -> None:
    body = "Metrics test article.\n\n" + "The harbour reopened after the storm. " * 40
    response = app_client.post(
        "/v1/documents", json={"documents": [{"id": "metrics-doc", "body": body}]}
    )
    try:
        assert response.status_code == 201
        report = response.json()
        found = samples(app_client)
        assert value(found, "qa_ingested_documents_total") == 1
        assert value(found, "qa_ingested_chunks_total") == report["chunks"] >= 1
    finally:
        app_client.delete("/v1/documents/metrics-doc")


def test_llm_counters_reach_the_active_app_only(app_client: TestClient) -> None:
    metrics: Metrics = app_client.app.state.metrics  # type: ignore[attr-defined]
    record_llm_tokens(50, "prompt")  # outside a request: no app is active, nothing counted
    token = activate(metrics)
    try:
        record_llm_tokens(120, "prompt")
        record_llm_tokens(30)
        record_llm_error("timeout")
        record_llm_error("timeout")
        record_llm_error("rate_limit")
    finally:
        deactivate(token)
    found = samples(app_client)
    assert value(found, "qa_llm_tokens_total", kind="prompt") == 120
    assert value(found, "qa_llm_tokens_total", kind="completion") == 30
    assert value(found, "qa_llm_errors_total", kind="timeout") == 2
    assert value(found, "qa_llm_errors_total", kind="rate_limit") == 1


def test_each_app_has_its_own_registry(seeded_service: QAService, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, _env_file=None)
    with (
        TestClient(create_app(seeded_service, settings)) as one,
        TestClient(create_app(seeded_service, settings)) as two,
    ):
        for _ in range(3):
            one.post("/v1/search", json={"query": "Taliban"})
        count = "qa_http_request_duration_seconds_count"
        assert value(samples(one), count, method="POST", route="/v1/search", status="200") == 3
        assert value(samples(two), count, method="POST", route="/v1/search", status="200") == 0


# ------------------------------------------------------------------ request ids
def test_a_request_id_is_generated_when_none_is_sent(app_client: TestClient) -> None:
    first = app_client.get("/healthz").headers["X-Request-ID"]
    second = app_client.get("/healthz").headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert first != second


def test_a_sane_incoming_request_id_is_reused(app_client: TestClient) -> None:
    response = app_client.post(
        "/v1/search", json={"query": "Taliban"}, headers={"X-Request-ID": "edge-42.abc:7"}
    )
    assert response.headers["X-Request-ID"] == "edge-42.abc:7"


@pytest.mark.parametrize("incoming", ["x" * 129, "has space", "semi;colon", 'quote"d', ""])
def test_an_unsafe_incoming_request_id_is_replaced(app_client: TestClient, incoming: str) -> None:
    response = app_client.get("/healthz", headers={"X-Request-ID": incoming})
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])


def test_every_kind_of_response_carries_a_request_id(
    seeded_service: QAService, tmp_path: Path
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        api_keys=["k"],
        rate_limit_per_minute=5,
        max_body_bytes=1024,
        _env_file=None,
    )
    auth = {"Authorization": "Bearer k"}
    with TestClient(create_app(seeded_service, settings)) as c:
        responses = [
            c.get("/v1/documents"),  # 401
            c.post("/v1/search", content=b"{" * 2000, headers=auth),  # 413
            c.get("/v1/documents/none", headers=auth),  # 404
            c.post("/v1/search", json={}, headers=auth),  # 422
            c.post("/v1/ask/stream", json={"question": "Who?"}, headers=auth),  # 200, streamed
            c.get("/metrics"),
        ]
        responses += [c.get("/v1/documents", headers=auth) for _ in range(3)]  # ends in 429
    assert {r.status_code for r in responses} >= {401, 413, 404, 422, 200, 429}
    assert all(re.fullmatch(r"[0-9a-f]{32}", r.headers.get("X-Request-ID", "")) for r in responses)


class _BoomService:
    """Just enough of a QAService for POST /v1/search: its search fails unexpectedly."""

    def search(self, *args: object, **kwargs: object) -> None:
        raise RuntimeError("unexpected failure")


def test_unhandled_errors_are_a_500_with_the_request_id_logged(tmp_path: Path) -> None:
    service = cast(QAService, _BoomService())
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        app = create_app(service, Settings(data_dir=tmp_path, _env_file=None))
        with TestClient(app, raise_server_exceptions=False) as c:
            response = c.post(
                "/v1/search", json={"query": "x"}, headers={"X-Request-ID": "req-500"}
            )
    finally:
        root.removeHandler(handler)
    assert response.status_code == 500
    assert response.json()["error"]["type"] == "internal"
    assert response.headers["X-Request-ID"] == "req-500"
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    errors = [line for line in lines if line["level"] == "ERROR"]
    assert errors
    assert all(line["request_id"] == "req-500" for line in errors)
    assert "RuntimeError: unexpected failure" in errors[0]["exc"]
    found = samples(c)
    assert (
        value(
            found,
            "qa_http_request_duration_seconds_count",
            method="POST",
            route="/v1/search",
            status="500",
        )
        == 1
    )


def test_log_lines_carry_the_request_id(seeded_service: QAService, tmp_path: Path) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.INFO)
    try:
        app = create_app(
            seeded_service, Settings(data_dir=tmp_path, api_keys=["k"], _env_file=None)
        )
        with TestClient(app) as c:
            response = c.get("/v1/documents", headers={"Authorization": "Bearer wrong"})
        logging.getLogger("qa.test").info("outside any request")
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    rejected = [line for line in lines if "rejected GET /v1/documents" in line["message"]]
    assert len(rejected) == 1
    assert rejected[0]["request_id"] == response.headers["X-Request-ID"]
    outside = [line for line in lines if line["message"] == "outside any request"]
    assert outside and "request_id" not in outside[0]


def test_configure_logging_stamps_request_ids_in_plain_text(tmp_path: Path) -> None:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        configure_logging(LoggingSettings(json_lines=False))
        handler = root.handlers[0]
        assert any(isinstance(f, RequestIdFilter) for f in handler.filters)
        record = logging.LogRecord("qa.x", logging.INFO, __file__, 1, "hello", None, None)
        handler.filter(record)
        assert "[-]: hello" in handler.format(record)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
