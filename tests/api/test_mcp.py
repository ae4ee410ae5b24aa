"""/mcp over a real socket, spoken to by the official MCP SDK's own client (streamable HTTP)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import anyio
import httpx
import mcp
import pytest
from fakes.net import uvicorn_in_thread
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from qa.api.app import create_app
from qa.config import Settings
from qa.service import QAService

KEY = "mcp-test-key-0123456789"
TAJIK = "000_4e774364687dacde.txt"  # undated
RT_JULY6 = "001_6767eb312ccb9e98.txt"  # dated 6 July 2021
T = TypeVar("T")


@pytest.fixture(scope="module")
def mcp_url(seeded_service: QAService, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app with an API key set, served by uvicorn on loopback; yields the /mcp URL."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("mcp"), api_keys=KEY, _env_file=None)
    app = create_app(seeded_service, settings=settings)
    with uvicorn_in_thread(app) as url:
        yield f"{url}/mcp"


@asynccontextmanager
async def connect(url: str, key: str | None = KEY) -> AsyncIterator[mcp.Client]:
    headers = {"Authorization": f"Bearer {key}"} if key else None
    async with (
        create_mcp_http_client(headers=headers) as http,
        mcp.Client(streamable_http_client(url, http_client=http)) as client,
    ):
        yield client


def run(url: str, work: Callable[[mcp.Client], Awaitable[T]]) -> T:
    async def main() -> T:
        async with connect(url) as client:
            return await work(client)

    return anyio.run(main)


def call(url: str, tool: str, arguments: dict[str, Any]) -> Any:
    return run(url, lambda client: client.call_tool(tool, arguments))


def test_the_sdk_client_lists_three_read_only_tools(mcp_url: str) -> None:
    listed = run(mcp_url, lambda client: client.list_tools())
    tools = {tool.name: tool for tool in listed.tools}
    print("\nMCP tools as the SDK client sees them:")
    for tool in listed.tools:
        params = ", ".join(
            name + ("" if name in tool.input_schema.get("required", []) else "?")
            for name in tool.input_schema["properties"]
        )
        print(f"  {tool.name}({params}) -> {sorted(tool.output_schema['properties'])}")
    assert sorted(tools) == ["ask", "get_lines", "search"]
    assert tools["ask"].input_schema["required"] == ["question"]
    assert {"as_of", "top_k", "conversation_id"} <= set(tools["ask"].input_schema["properties"])
    assert {"as_of", "top_k"} <= set(tools["search"].input_schema["properties"])
    assert tools["get_lines"].input_schema["required"] == ["doc_id", "start", "end"]
    ask_out = tools["ask"].output_schema["properties"]
    assert {"answer", "citations", "confidence", "as_of", "answerable"} <= set(ask_out)
    assert "as_of" in tools["search"].output_schema["properties"]
    for tool in listed.tools:
        assert tool.annotations is not None and tool.annotations.read_only_hint


def test_ask_answers_with_verified_line_citations(mcp_url: str, seeded_service: QAService) -> None:
    result = call(
        mcp_url,
        "ask",
        {
            "question": "How many Afghan soldiers did Tajik border guards let in on July 5?",
            "as_of": "2021-07-10",
        },
    )
    assert not result.is_error
    answer = result.structured_content
    # The text content is the same object as JSON, for clients that read only text.
    assert json.loads(result.content[0].text) == answer
    assert answer["answerable"] is True
    assert "1,037" in answer["answer"]
    assert answer["as_of"] == "2021-07-10"
    assert 0 < answer["confidence"] <= 1
    assert answer["conversation_id"]
    assert answer["citations"]
    for citation in answer["citations"]:
        assert f"[{citation['n']}]" in answer["answer"]
        doc = seeded_service.get_document(citation["doc_id"])
        cited = " ".join(doc.lines[citation["line_start"] - 1 : citation["line_end"]])
        assert citation["quote"] in cited or cited in citation["quote"]
    assert any(
        c["source"] == TAJIK and c["line_start"] <= 4 <= c["line_end"] for c in answer["citations"]
    )


def test_ask_as_of_cites_only_what_was_published_by_then(mcp_url: str) -> None:
    question = {"question": "How many Afghan soldiers crossed the border into Tajikistan?"}
    before = call(mcp_url, "ask", {**question, "as_of": "2021-07-05"}).structured_content
    assert before["as_of"] == "2021-07-05"
    assert before["citations"]
    assert {c["source"] for c in before["citations"]} == {TAJIK}  # RT's is dated 6 July


def test_search_returns_hits_with_line_ranges(mcp_url: str) -> None:
    result = call(mcp_url, "search", {"query": "Tajik border guards", "top_k": 3})
    found = result.structured_content
    assert found["as_of"] is None
    assert 1 <= len(found["hits"]) <= 3
    top = found["hits"][0]
    assert top["line_start"] <= top["line_end"]
    assert "Tajik" in " ".join(h["text"] for h in found["hits"])
    query = {"query": "How many Afghan soldiers crossed the border into Tajikistan?"}
    both = call(mcp_url, "search", query).structured_content["hits"]
    assert {h["source"] for h in both} == {TAJIK, RT_JULY6}
    before = call(mcp_url, "search", {**query, "as_of": "2021-07-05"}).structured_content
    assert before["as_of"] == "2021-07-05"
    assert {h["source"] for h in before["hits"]} == {TAJIK}


def test_get_lines_reads_numbered_lines(mcp_url: str, seeded_service: QAService) -> None:
    doc_id = next(d.doc_id for d in seeded_service.list_documents() if d.source == TAJIK)
    doc = seeded_service.get_document(doc_id)
    result = call(mcp_url, "get_lines", {"doc_id": doc_id, "start": 3, "end": 4})
    lines = result.structured_content
    assert lines["line_count"] == len(doc.lines)
    assert lines["lines"] == [{"n": 3, "text": doc.lines[2]}, {"n": 4, "text": doc.lines[3]}]
    past_end = call(mcp_url, "get_lines", {"doc_id": doc_id, "start": 2, "end": len(doc.lines) + 5})
    assert [line["n"] for line in past_end.structured_content["lines"]] == list(
        range(2, len(doc.lines) + 1)
    )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"start": 0, "end": 3}, "start must be 1 or more"),
        ({"start": 5, "end": 2}, "end (2) must not be before start (5)"),
        ({"start": 1, "end": 500}, "at most 200 lines per call"),
        ({"start": 9999, "end": 10000}, "has only"),
        ({"doc_id": "no-such-doc", "start": 1, "end": 2}, "no document with id 'no-such-doc'"),
        ({"start": "three", "end": 4}, "start"),
    ],
)
def test_get_lines_refuses_a_bad_range_with_a_clear_tool_error(
    mcp_url: str, seeded_service: QAService, arguments: dict[str, Any], message: str
) -> None:
    doc_id = next(d.doc_id for d in seeded_service.list_documents() if d.source == TAJIK)
    result = call(mcp_url, "get_lines", {"doc_id": doc_id, **arguments})
    assert result.is_error
    assert message in result.content[0].text


def test_ask_refuses_a_bad_as_of(mcp_url: str) -> None:
    result = call(mcp_url, "ask", {"question": "Who spoke?", "as_of": "last week"})
    assert result.is_error
    assert "as_of" in result.content[0].text


@pytest.mark.parametrize("key", [None, "wrong-key"])
def test_mcp_needs_the_api_key_like_v1(mcp_url: str, key: str | None) -> None:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "test", "version": "0"},
        },
    }
    response = httpx.post(
        mcp_url,
        json=initialize,
        headers={**headers, "Accept": "application/json, text/event-stream"},
    )
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "unauthorized"

    async def main() -> None:
        async with connect(mcp_url, key) as client:
            await client.list_tools()

    # The SDK's client gets no further than its first request (it reports the 401 as a
    # generic MCPError, wrapped in anyio's exception groups).
    with pytest.raises(BaseExceptionGroup) as raised:
        anyio.run(main)
    assert raised.group_contains(mcp.MCPError, depth=None)
