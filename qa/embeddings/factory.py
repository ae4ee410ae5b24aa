"""Builds the configured Embedder from Settings."""

from __future__ import annotations

from qa.config import Settings
from qa.errors import ConfigError
from qa.ports import Embedder


def build_embedder(settings: Settings) -> Embedder:
    """The local ONNX MiniLM by default; ``QA_EMBEDDER=openai`` for an embeddings API."""
    if settings.embedder == "local":
        from qa.embeddings.local import LocalMiniLMEmbedder

        return LocalMiniLMEmbedder(batch_size=settings.embedding_batch_size)

    import openai

    from qa.embeddings.openai_embedder import OpenAIEmbedder

    base_url = settings.embedding_base_url or settings.llm_base_url
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    if base_url is None and key is None:
        raise ConfigError(
            "QA_EMBEDDER=openai needs QA_LLM_API_KEY (or OPENAI_API_KEY) or a base URL "
            "(QA_EMBEDDING_BASE_URL / QA_LLM_BASE_URL)"
        )
    client = openai.OpenAI(
        base_url=base_url,
        # Self-hosted servers (vLLM, Ollama) accept any key, but the SDK insists on one.
        api_key=key or "unused",
        max_retries=settings.llm_max_retries,
        timeout=settings.llm_timeout_s,
    )
    return OpenAIEmbedder(
        client, settings.embedding_model, batch_size=settings.embedding_batch_size
    )
