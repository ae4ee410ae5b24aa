"""The small ways the contract used to lie (issue 16 item 8), one by one: what the schema
says and what the server does now agree."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient


@pytest.fixture(scope="module")
def schema(client: TestClient) -> dict[str, Any]:
    openapi: dict[str, Any] = client.get("/openapi.json").json()
    return openapi


def error(response: Any) -> str:
    message: str = response.json()["error"]["message"]
    return message


def test_top_k_maximum_is_the_servers(client: TestClient, schema: dict[str, Any]) -> None:
    top_k = schema["components"]["schemas"]["SearchRequest"]["properties"]["top_k"]
    assert top_k["anyOf"][0]["maximum"] == 50
    assert client.post("/v1/search", json={"query": "Taliban", "top_k": 50}).status_code == 200
    over = client.post("/v1/search", json={"query": "Taliban", "top_k": 51})
    assert over.status_code == 422


@pytest.mark.parametrize("value", [True, "3", 2.5])
def test_top_k_is_a_json_integer(client: TestClient, value: object) -> None:
    response = client.post("/v1/search", json={"query": "Taliban", "top_k": value})
    assert response.status_code == 422
    assert "top_k" in error(response)


def test_an_integral_number_is_an_integer(client: TestClient) -> None:
    response = client.post("/v1/search", json={"query": "Taliban", "top_k": 2.0})
    assert response.status_code == 200
    assert len(response.json()["hits"]) == 2


def test_an_article_needs_body_or_text_in_the_schema_too(
    client: TestClient, schema: dict[str, Any]
) -> None:
    article = schema["components"]["schemas"]["ArticleIn"]
    assert {tuple(branch["required"]) for branch in article["anyOf"]} == {("body",), ("text",)}
    response = client.post("/v1/documents", json={"documents": [{}]})
    assert response.status_code == 422


def test_a_date_filter_is_never_a_number(client: TestClient) -> None:
    response = client.post(
        "/v1/search", json={"query": "Taliban", "filters": {"published_before": 0}}
    )
    assert response.status_code == 422
    assert "ISO 8601" in error(response)


def test_errors_are_documented(schema: dict[str, Any]) -> None:
    document = schema["paths"]["/v1/documents/{doc_id}"]["get"]["responses"]
    assert {"404", "422", "429", "503"} <= set(document)  # 401 too, when keys are set
    assert document["404"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorBody"
    }
    assert {"413", "422", "502"} <= set(schema["paths"]["/v1/ask"]["post"]["responses"])
    assert "409" in schema["paths"]["/v1/documents"]["post"]["responses"]


def test_a_text_part_needs_its_text(client: TestClient) -> None:
    message = {"role": "user", "content": [{"type": "text", "text": None}]}
    response = client.post("/v1/chat/completions", json={"messages": [message]})
    assert response.status_code == 422
    ok = {"role": "user", "content": [{"type": "text", "text": "Who won the election?"}]}
    assert client.post("/v1/chat/completions", json={"messages": [ok]}).status_code == 200


def test_invalid_json_says_where_and_why(client: TestClient) -> None:
    response = client.post(
        "/v1/search", content=b'{"query": nope}', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert error(response).startswith("body: invalid JSON at character 10: Expecting value")


def test_search_speaks_of_its_query(client: TestClient) -> None:
    response = client.post("/v1/search", json={"query": "x" * 2001})
    assert response.status_code == 422
    assert "query" in error(response) and "question" not in error(response)


def test_an_unknown_query_parameter_is_refused(client: TestClient) -> None:
    response = client.get("/v1/feedback", params={"limt": 5})
    assert response.status_code == 422
    assert "'limt'" in error(response) and "limit" in error(response)


def test_405_lists_every_method_of_the_path(client: TestClient) -> None:
    response = client.request("PUT", "/v1/documents")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    # {doc_id:path} matches ".../lines" too; the lines resource only has GET.
    lines = client.request("PUT", "/v1/documents/some-id/lines")
    assert lines.headers["allow"] == "GET"


def test_two_documents_with_one_id_conflict(client: TestClient) -> None:
    twins = [{"id": "twin", "body": "One."}, {"id": "twin", "body": "Two."}]
    response = client.post("/v1/documents", json={"documents": twins})
    assert response.status_code == 409
    assert client.get("/v1/documents/twin").status_code == 404


def test_links_lead_from_new_documents_and_jobs(schema: dict[str, Any]) -> None:
    # What the stateful contract test follows: ingest, then read, list lines, delete.
    posted = schema["paths"]["/v1/documents"]["post"]["responses"]
    assert set(posted["201"]["links"]) == {"GetDocument", "DeleteDocument", "GetLines"}
    assert posted["201"]["links"]["GetDocument"]["parameters"] == {
        "doc_id": "$response.body#/doc_ids/0"
    }
    assert posted["202"]["links"]["GetJob"]["parameters"] == {"job_id": "$response.body#/job_id"}
