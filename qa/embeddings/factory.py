"""Builds the configured Embedder from Settings."""

from __future__ import annotations

from qa.config import Settings
from qa.ports import Embedder


def build_embedder(settings: Settings) -> Embedder:
    """The local ONNX MiniLM by default; ``QA_EMBEDDER=openai`` for an embeddings API."""
    if settings.embedder == "local":
        from qa.embeddings.local import LocalMiniLMEmbedder

        return LocalMiniLMEmbedder(batch_size=settings.embedding_batch_size)

    from qa.embeddings.openai_embedder import build_openai_embedder

    return build_openai_embedder(settings)
