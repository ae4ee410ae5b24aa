"""HTTP API over a service built on the real local embedder and real embedded Chroma."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from openai import OpenAI

SEED_A = "000_4e774364687dacde.txt"
SEED_B = "001_6767eb312ccb9e98.txt"
JULY5 = "How many Afghan soldiers did Tajik border guards let in on July 5?"


def test_search_returns_the_passage_with_the_answer_line_first(client: TestClient) -> None:
    response = client.post("/v1/search", json={"query": JULY5})
    assert response.status_code == 200
    hits = response.json()["hits"]
    assert hits[0]["source"] == SEED_A
    assert hits[0]["line_start"] <= 4 <= hits[0]["line_end"]
    assert set(hits[0]) >= {"chunk_id", "doc_id", "title", "text", "score"}


def test_search_filters_by_source(client: TestClient) -> None:
    response = client.post("/v1/search", json={"query": JULY5, "filters": {"source": [SEED_B]}})
    hits = response.json()["hits"]
    assert hits
    assert {h["source"] for h in hits} == {SEED_B}


def test_search_top_k_limits_hits(client: TestClient) -> None:
    hits = client.post("/v1/search", json={"query": "Taliban", "top_k": 2}).json()["hits"]
    assert len(hits) == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "query"),
        ({"query": ""}, "query"),
        ({"query": "x", "top_k": 0}, "top_k"),
        ({"query": "x", "top_k": "many"}, "top_k"),
        ({"query": 5}, "query"),
        ({"query": "x", "filters": {"colour": "red"}}, "filters.colour"),
        ({"query": "x", "unknown": 1}, "unknown"),
    ],
)
def test_search_rejects_bad_input_with_a_clear_422(
    client: TestClient, body: dict[str, object], field: str
) -> None:
    response = client.post("/v1/search", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["type"] == "invalid_request"
    assert field in error["message"]


def test_malformed_json_is_a_422(client: TestClient) -> None:
    response = client.post(
        "/v1/ask", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert "error" in response.json()


def test_ask_answers_with_a_verified_citation(client: TestClient) -> None:
    response = client.post("/v1/ask", json={"question": JULY5})
    assert response.status_code == 200
    body = response.json()
    assert body["answerable"] is True
    assert "1,037" in body["answer"]
    first = body["citations"][0]
    assert first["source"] == SEED_A
    assert first["line_start"] <= 4 <= first["line_end"]
    lines = client.get(
        f"/v1/documents/{first['doc_id']}/lines",
        params={"start": first["line_start"], "end": first["line_end"]},
    ).json()["lines"]
    assert first["quote"] in "\n".join(line["text"] for line in lines)
    assert body["mode"] == "extractive"
    assert body["degraded"] is False
    assert set(body["timings_ms"]) == {"retrieve", "answer", "total"}
    assert 0 <= body["confidence"] <= 1


def test_ask_confidence_is_below_the_bar_when_it_abstains(client: TestClient) -> None:
    answered = client.post("/v1/ask", json={"question": JULY5}).json()
    body = client.post("/v1/ask", json={"question": "Who won the 2022 FIFA World Cup?"}).json()
    assert body["answerable"] is False
    assert body["confidence"] < answered["confidence"]


def test_ask_abstains_without_citations(client: TestClient) -> None:
    body = client.post("/v1/ask", json={"question": "Who won the 2022 FIFA World Cup?"}).json()
    assert body["answerable"] is False
    assert body["citations"] == []


def test_question_length_limit(client: TestClient) -> None:
    response = client.post("/v1/ask", json={"question": "why " * 600})
    assert response.status_code == 422
    assert "2000 characters" in response.json()["error"]["message"]


@pytest.mark.parametrize("question", ["", "   ", 42, None, ["a"]])
def test_question_must_be_text(client: TestClient, question: object) -> None:
    response = client.post("/v1/ask", json={"question": question})
    assert response.status_code == 422
    assert "question" in response.json()["error"]["message"]


def test_follow_up_uses_the_conversation(client: TestClient) -> None:
    first = client.post(
        "/v1/ask", json={"question": "Who did Putin speak with?", "conversation": True}
    ).json()
    conversation = first["conversation_id"]
    assert conversation
    follow = client.post(
        "/v1/ask",
        json={
            "question": "Which organisation framework was support offered in?",
            "conversation_id": conversation,
        },
    ).json()
    assert follow["conversation_id"] == conversation
    assert follow["answerable"] is True


def _events(text: str) -> list[tuple[str, dict[str, object]]]:
    out = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        out.append((lines["event"], json.loads(lines["data"])))
    return out


def test_ask_stream_sends_deltas_then_citations_then_done(client: TestClient) -> None:
    with client.stream("POST", "/v1/ask/stream", json={"question": JULY5}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        text = "".join(response.iter_text())
    events = _events(text)
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "delta"
    assert kinds[-2:] == ["answer", "done"]
    answer = events[-2][1]
    streamed = "".join(str(data["text"]) for kind, data in events if kind == "delta")
    assert streamed == answer["answer"]
    assert answer["citations"]
    assert 0 <= answer["confidence"] <= 1


def test_ask_stream_rejects_bad_input_before_streaming(client: TestClient) -> None:
    response = client.post("/v1/ask/stream", json={"question": " "})
    assert response.status_code == 422


def test_documents_lifecycle(client: TestClient) -> None:
    article = {
        "id": "zz-test",
        "title": "Test article",
        "url": "https://example.org/a",
        "body": "Line one about lighthouses.\n\nThe lighthouse keeper counted 4,321 gulls.",
    }
    created = client.post("/v1/documents", json={"documents": [article]})
    assert created.status_code == 201
    assert created.json()["documents"] == 1
    again = client.post("/v1/documents", json={"documents": [article]}).json()
    assert again["documents"] == 0
    assert again["unchanged"] == 1
    listed = [d["doc_id"] for d in client.get("/v1/documents").json()["documents"]]
    assert "zz-test" in listed
    assert f"seeds/{SEED_A}" in listed  # a file's id: its collection (folder) and path
    doc = client.get("/v1/documents/zz-test").json()
    assert doc["line_count"] == 3
    lines = client.get("/v1/documents/zz-test/lines", params={"start": 3}).json()["lines"]
    assert lines == [{"n": 3, "text": "The lighthouse keeper counted 4,321 gulls."}]
    answer = client.post("/v1/ask", json={"question": "How many gulls did the keeper count?"})
    assert "4,321" in answer.json()["answer"]
    assert client.delete("/v1/documents/zz-test").status_code == 204
    assert client.get("/v1/documents/zz-test").status_code == 404
    assert client.delete("/v1/documents/zz-test").status_code == 404
    hits = client.post("/v1/search", json={"query": "lighthouse keeper gulls"}).json()["hits"]
    assert all(h["doc_id"] != "zz-test" for h in hits)


@pytest.mark.parametrize(
    "body",
    [
        {"documents": []},
        {"documents": [{"title": "no body"}]},
        {"documents": [{"body": "   "}]},
        {"documents": [{"body": 7}]},
        {"documents": "text"},
    ],
)
def test_bad_documents_are_rejected_and_nothing_changes(
    client: TestClient, body: dict[str, object]
) -> None:
    before = client.get("/v1/documents").json()
    response = client.post("/v1/documents", json=body)
    assert response.status_code == 422
    assert response.json()["error"]["message"]
    assert client.get("/v1/documents").json() == before


def test_lines_of_a_seed_keep_original_numbering(client: TestClient) -> None:
    lines = client.get(f"/v1/documents/seeds/{SEED_B}/lines", params={"start": 1, "end": 3}).json()
    assert [line["n"] for line in lines["lines"]] == [1, 2, 3]
    assert lines["lines"][1]["text"] == ""
    assert lines["lines"][2]["text"] == "6 Jul, 2021 11:48"


def test_lines_out_of_range(client: TestClient) -> None:
    # Lines past the end do not exist (404, as the schema documents); start 0 is invalid.
    past = client.get(f"/v1/documents/seeds/{SEED_B}/lines", params={"start": 999})
    assert past.status_code == 404
    assert "has only" in past.json()["error"]["message"]
    empty = client.get(f"/v1/documents/seeds/{SEED_B}/lines", params={"start": 3, "end": 2})
    assert empty.status_code == 200
    assert empty.json()["lines"] == []
    assert client.get(f"/v1/documents/seeds/{SEED_B}/lines", params={"start": 0}).status_code == 422
    assert client.get("/v1/documents/nope/lines").status_code == 404


def test_health(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["chroma"] == "ok"


def test_openai_client_against_chat_completions(live_url: str) -> None:
    client = OpenAI(base_url=f"{live_url}/v1", api_key="unused", max_retries=0)
    reply = client.chat.completions.create(
        model="qa", messages=[{"role": "user", "content": JULY5}]
    )
    content = reply.choices[0].message.content or ""
    assert "1,037" in content
    assert "[1]" in content
    assert "Sources:" in content
    extra = reply.model_extra or {}
    assert extra["citations"][0]["source"] == SEED_A
    assert extra["qa"]["answerable"] is True
    assert 0 < extra["qa"]["confidence"] <= 1
    assert extra["qa"]["sources_differ"] is False


def test_chat_abstention_names_the_closest_passage_as_not_an_answer(live_url: str) -> None:
    client = OpenAI(base_url=f"{live_url}/v1", api_key="unused", max_retries=0)
    reply = client.chat.completions.create(
        model="qa", messages=[{"role": "user", "content": "Who won the 2022 FIFA World Cup?"}]
    )
    content = reply.choices[0].message.content or ""
    assert content.startswith("The articles don't say.")
    assert "Closest passage found (not an answer): " in content
    assert "Sources:" not in content and (reply.model_extra or {})["citations"] == []


def test_openai_client_streaming(live_url: str) -> None:
    client = OpenAI(base_url=f"{live_url}/v1", api_key="unused", max_retries=0)
    stream = client.chat.completions.create(
        model="qa", messages=[{"role": "user", "content": JULY5}], stream=True
    )
    parts = []
    citations = None
    extension: dict[str, Any] = {}
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            parts.append(chunk.choices[0].delta.content)
        if (chunk.model_extra or {}).get("citations"):
            citations = chunk.model_extra["citations"]  # type: ignore[index]
            extension = chunk.model_extra["qa"]  # type: ignore[index]
    assert "1,037" in "".join(parts)
    assert citations
    assert 0 < extension["confidence"] <= 1
    assert citations[0]["source"] == SEED_A


def test_chat_follow_up_uses_message_history(live_url: str) -> None:
    messages = [
        {"role": "user", "content": "Who did Putin speak with about the border?"},
        {"role": "assistant", "content": "He spoke with Emomali Rakhmon [1]."},
        {"role": "user", "content": "And how long is that border in Badakhshan?"},
    ]
    response = httpx.post(
        f"{live_url}/v1/chat/completions", json={"model": "qa", "messages": messages}
    )
    assert response.status_code == 200
    assert "910" in response.json()["choices"][0]["message"]["content"]


def test_chat_requires_a_final_user_message(client: TestClient) -> None:
    response = client.post(
        "/v1/chat/completions",
        json={"model": "qa", "messages": [{"role": "assistant", "content": "hi"}]},
    )
    assert response.status_code == 422
    assert "role 'user'" in response.json()["error"]["message"]


def test_a_question_in_another_language_gets_a_plain_message(client: TestClient) -> None:
    response = client.post(
        "/v1/ask", json={"question": "Combien de soldats afghans ont traversé la frontière ?"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["answerable"] is False and body["citations"] == []
    assert body["unsupported_language"] == "French"
    assert "English" in body["answer"]


def test_models_are_listed_in_the_openai_shape(live_url: str) -> None:
    client = OpenAI(base_url=f"{live_url}/v1", api_key="unused", max_retries=0)
    assert [m.id for m in client.models.list()] == ["qa"]
    model = client.models.retrieve("qa")
    assert model.object == "model" and model.owned_by == "qa"


def test_an_unknown_model_is_a_404_naming_the_one_offered(client: TestClient) -> None:
    response = client.get("/v1/models/gpt-4")
    assert response.status_code == 404
    assert "'qa'" in response.json()["error"]["message"]
