"""Builds the configured Embedder from the embedding settings."""

from __future__ import annotations

from qa.config import EmbeddingSettings, LLMSettings
from qa.ports import Embedder


def build_embedder(embedding: EmbeddingSettings, llm: LLMSettings) -> Embedder:
    """The local ONNX MiniLM by default; ``QA_EMBEDDER=openai`` for an embeddings API (on the
    LLM endpoint's credentials, hence ``llm``)."""
    if embedding.provider == "local":
        from qa.embeddings.local import LocalMiniLMEmbedder

        return LocalMiniLMEmbedder(batch_size=embedding.batch_size)

    from qa.embeddings.openai_embedder import build_openai_embedder

    return build_openai_embedder(embedding, llm)
