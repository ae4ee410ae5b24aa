"""as_of on search, ask, ask/stream and chat completions: nothing published after that day.

The seeds: 001 (RT) is dated 6 July 2021 by its dateline; 000 (AsiaNews) has no date of its
own, so it stays readable on any day.
"""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

SEED_UNDATED = "000_4e774364687dacde.txt"
SEED_JULY6 = "001_6767eb312ccb9e98.txt"
SOLDIERS = "How many Afghan soldiers crossed the border into Tajikistan?"


def sources(hits: list[dict[str, object]]) -> set[object]:
    return {hit["source"] for hit in hits}


def test_search_as_of_leaves_out_what_was_published_later(client: TestClient) -> None:
    both = client.post("/v1/search", json={"query": SOLDIERS}).json()["hits"]
    assert sources(both) == {SEED_UNDATED, SEED_JULY6}
    body = {"query": SOLDIERS, "as_of": "2021-07-05"}
    before = client.post("/v1/search", json=body).json()["hits"]
    assert sources(before) == {SEED_UNDATED}  # undated: still usable
    same_day = client.post("/v1/search", json={**body, "as_of": "2021-07-06"}).json()["hits"]
    assert SEED_JULY6 in sources(same_day)  # published at 11:48 that day: by its end


def test_as_of_and_filters_both_hold(client: TestClient) -> None:
    body = {"query": SOLDIERS, "as_of": "2021-07-05", "filters": {"source": [SEED_JULY6]}}
    assert client.post("/v1/search", json=body).json()["hits"] == []
    # An explicit date bound keeps its meaning: undated documents do not match it.
    bound = {"published_before": "2021-12-31T00:00:00Z"}
    body = {"query": SOLDIERS, "as_of": "2021-07-10", "filters": bound}
    assert sources(client.post("/v1/search", json=body).json()["hits"]) == {SEED_JULY6}


def test_ask_as_of_cites_only_what_was_known_then(client: TestClient) -> None:
    answer = client.post("/v1/ask", json={"question": SOLDIERS, "as_of": "2021-07-05"}).json()
    assert answer["citations"]
    assert {c["source"] for c in answer["citations"]} == {SEED_UNDATED}


def test_ask_stream_as_of(client: TestClient) -> None:
    body = {"question": SOLDIERS, "as_of": "2021-07-05"}
    with client.stream("POST", "/v1/ask/stream", json=body) as response:
        assert response.status_code == 200
        text = "".join(response.iter_text())
    answers = [
        json.loads(block.split("data: ", 1)[1])
        for block in text.split("\n\n")
        if block.startswith("event: answer")
    ]
    assert {c["source"] for c in answers[0]["citations"]} == {SEED_UNDATED}


@pytest.mark.parametrize("stream", [False, True])
def test_chat_completions_take_as_of_as_an_extension_field(
    client: TestClient, stream: bool
) -> None:
    body = {
        "model": "qa",
        "messages": [{"role": "user", "content": SOLDIERS}],
        "as_of": "2021-07-05",
        "stream": stream,
    }
    response = client.post("/v1/chat/completions", json=body)
    assert response.status_code == 200
    if stream:
        chunks = [
            json.loads(line.removeprefix("data: "))
            for line in response.text.split("\n\n")
            if line.startswith("data: {")
        ]
        citations = next(c["citations"] for c in chunks if c.get("citations"))
    else:
        citations = response.json()["citations"]
    assert {c["source"] for c in citations} == {SEED_UNDATED}


@pytest.mark.parametrize(
    ("route", "body"),
    [
        ("/v1/search", {"query": SOLDIERS}),
        ("/v1/ask", {"question": SOLDIERS}),
        ("/v1/ask/stream", {"question": SOLDIERS}),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": SOLDIERS}]}),
    ],
)
@pytest.mark.parametrize("as_of", ["2021-13-01", "2021-02-30", "6 July 2021", "20210706", 20210706])
def test_an_invalid_as_of_is_a_422_naming_the_field(
    client: TestClient, route: str, body: dict[str, object], as_of: object
) -> None:
    response = client.post(route, json={**body, "as_of": as_of})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["type"] == "invalid_request"
    assert [d["field"] for d in error["details"]] == ["as_of"]
    assert "YYYY-MM-DD" in error["details"][0]["problem"]
