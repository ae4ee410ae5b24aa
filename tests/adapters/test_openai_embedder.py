"""OpenAIEmbedder with the real openai SDK against a loopback OpenAI-compatible server."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import openai
import pytest
from fakes.chroma_server import free_port
from fakes.openai_server import FakeOpenAIServer, Reply, fake_vector

from qa.config import Settings
from qa.embeddings.factory import build_embedder
from qa.embeddings.local import LocalMiniLMEmbedder
from qa.embeddings.openai_embedder import OpenAIEmbedder
from qa.errors import ConfigError, EmbedderError
from qa.ports import Embedder

EMBEDDINGS = "/v1/embeddings"
FAST_RETRY = {"retry-after-ms": "5"}  # the SDK honours it, so retry tests stay fast


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(embedding_dimension=32) as fake:
        yield fake


def client_for(server: FakeOpenAIServer, max_retries: int = 0) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="test-key", max_retries=max_retries)


def test_embeds_in_input_order_over_batches(server: FakeOpenAIServer) -> None:
    embedder = OpenAIEmbedder(client_for(server), "fake-embed", batch_size=2)
    texts = ["alpha beta", "gamma", "delta epsilon", "alpha", "zeta"]
    vectors = embedder.embed(texts)
    assert vectors.dtype == np.float32
    assert vectors.shape == (5, 32)
    # The fake returns data reversed; rows must still follow the input order.
    expected = np.asarray([fake_vector(t, 32) for t in texts], dtype=np.float32)
    np.testing.assert_allclose(vectors, expected, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    calls = server.requests_to(EMBEDDINGS)
    assert [c.json()["input"] for c in calls] == [texts[0:2], texts[2:4], texts[4:5]]
    assert calls[0].json()["model"] == "fake-embed"
    assert calls[0].headers["authorization"] == "Bearer test-key"


def test_protocol_name_and_probed_dimension(server: FakeOpenAIServer) -> None:
    embedder = OpenAIEmbedder(client_for(server), "my-model")
    assert isinstance(embedder, Embedder)
    assert embedder.name == "openai:my-model"
    assert embedder.dimension == 32  # unknown model: one probe request
    assert embedder.dimension == 32
    assert len(server.requests_to(EMBEDDINGS)) == 1
    assert embedder.embed([]).shape == (0, 32)


def test_known_model_needs_no_probe_and_explicit_dimension_is_sent(
    server: FakeOpenAIServer,
) -> None:
    assert OpenAIEmbedder(client_for(server), "text-embedding-3-small").dimension == 1536
    assert server.requests_to(EMBEDDINGS) == []
    embedder = OpenAIEmbedder(client_for(server), "text-embedding-3-small", dimension=16)
    assert embedder.embed(["hello"]).shape == (1, 16)
    assert server.requests_to(EMBEDDINGS)[0].json()["dimensions"] == 16


def test_wrong_dimension_from_server_is_an_error(server: FakeOpenAIServer) -> None:
    embedder = OpenAIEmbedder(client_for(server), "text-embedding-3-small")  # expects 1536
    with pytest.raises(EmbedderError, match="32-dim") as info:
        embedder.embed(["hello"])
    assert info.value.retryable is False


def test_empty_text_is_sent_as_a_space(server: FakeOpenAIServer) -> None:
    vectors = OpenAIEmbedder(client_for(server), "m").embed(["", "text"])
    assert vectors.shape == (2, 32)
    assert server.requests_to(EMBEDDINGS)[0].json()["input"] == [" ", "text"]


@pytest.mark.parametrize(
    ("status", "retryable"), [(400, False), (401, False), (429, True), (500, True), (503, True)]
)
def test_http_errors_become_embedder_errors(
    server: FakeOpenAIServer, status: int, retryable: bool
) -> None:
    server.script(EMBEDDINGS, Reply(status, {"error": {"message": "nope"}}, FAST_RETRY))
    with pytest.raises(EmbedderError, match=f"HTTP {status}") as info:
        OpenAIEmbedder(client_for(server), "m").embed(["x"])
    assert info.value.retryable is retryable
    assert isinstance(info.value.__cause__, openai.APIStatusError)


def test_sdk_retries_transient_failures(server: FakeOpenAIServer) -> None:
    server.script(
        EMBEDDINGS,
        Reply(503, {"error": {"message": "busy"}}, FAST_RETRY),
        Reply(429, {"error": {"message": "slow down"}}, FAST_RETRY),
    )
    vectors = OpenAIEmbedder(client_for(server, max_retries=2), "m").embed(["x"])
    assert vectors.shape == (1, 32)
    assert len(server.requests_to(EMBEDDINGS)) == 3


def test_unreachable_server_is_retryable() -> None:
    client = openai.OpenAI(
        base_url=f"http://127.0.0.1:{free_port()}/v1", api_key="k", max_retries=0
    )
    with pytest.raises(EmbedderError, match="unreachable") as info:
        OpenAIEmbedder(client, "m").embed(["x"])
    assert info.value.retryable is True


def test_malformed_response_is_an_error(server: FakeOpenAIServer) -> None:
    server.script(EMBEDDINGS, Reply(200, {"object": "list", "data": [], "model": "m"}))
    with pytest.raises(EmbedderError):
        OpenAIEmbedder(client_for(server), "m").embed(["x"])


def test_count_tokens_estimate() -> None:
    embedder = OpenAIEmbedder(openai.OpenAI(api_key="k", base_url="http://127.0.0.1:9"), "m")
    assert embedder.count_tokens("") == 0
    assert embedder.count_tokens("Hello, world!") == 4


def test_factory_builds_openai_embedder(
    server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    settings = Settings(
        _env_file=None,
        embedder="openai",
        embedding_model="fake-embed",
        embedding_base_url=server.base_url,
        llm_base_url="http://127.0.0.1:1/v1",  # the embedding URL wins
        llm_api_key="secret",
        embedding_batch_size=3,
    )
    embedder = build_embedder(settings.embedding, settings.llm)
    assert isinstance(embedder, OpenAIEmbedder)
    assert embedder.embed(["a", "b", "c", "d"]).shape == (4, 32)
    calls = server.requests_to(EMBEDDINGS)
    assert len(calls) == 2
    assert calls[0].headers["authorization"] == "Bearer secret"


def test_factory_falls_back_to_llm_url_without_key(
    server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("QA_LLM_API_KEY", raising=False)
    settings = Settings(
        _env_file=None, embedder="openai", embedding_model="local-e5", llm_base_url=server.base_url
    )
    embedder = build_embedder(settings.embedding, settings.llm)
    assert embedder.embed(["a"]).shape == (1, 32)
    assert embedder.name == "openai:local-e5"
    assert server.requests_to(EMBEDDINGS)[0].headers["authorization"] == "Bearer not-needed"


def test_factory_refuses_openai_without_key_or_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("QA_LLM_API_KEY", raising=False)
    settings = Settings(_env_file=None, embedder="openai")
    with pytest.raises(ConfigError, match="QA_LLM_API_KEY"):
        build_embedder(settings.embedding, settings.llm)


def test_factory_default_is_local(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QA_EMBEDDER", raising=False)
    settings = Settings(_env_file=None, embedding_batch_size=8)
    embedder = build_embedder(settings.embedding, settings.llm)
    assert isinstance(embedder, LocalMiniLMEmbedder)
    assert embedder.name == "local:all-MiniLM-L6-v2-onnx-int8"


def test_fake_server_routes_scripts_and_streams(server: FakeOpenAIServer) -> None:
    """The fake's generic parts, used by chat tests: custom routes, scripted SSE, the log."""
    import httpx

    server.route("GET", "/v1/models", lambda _: Reply(200, {"data": [{"id": "m"}]}))
    server.route("POST", "/v1/chat/completions", lambda _: Reply(200, {"choices": []}))
    server.script("/v1/chat/completions", Reply(chunks=[b"data: {}\n\n", b"data: [DONE]\n\n"]))
    with httpx.Client(base_url=server.url) as http:
        assert http.get("/v1/models").json() == {"data": [{"id": "m"}]}
        streamed = http.post("/v1/chat/completions", json={"stream": True})
        assert streamed.headers["content-type"] == "text/event-stream"
        assert streamed.text == "data: {}\n\ndata: [DONE]\n\n"
        assert http.post("/v1/chat/completions", json={}).json() == {"choices": []}
        assert http.get("/v1/unknown").status_code == 404
    chat = server.requests_to("/v1/chat/completions")
    assert [r.json() for r in chat] == [{"stream": True}, {}]
    assert [r.method for r in server.requests] == ["GET", "POST", "POST", "GET"]
