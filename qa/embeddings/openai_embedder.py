"""Embedder over an OpenAI-compatible embeddings API (OpenAI, vLLM, Ollama, llama.cpp)."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Sequence

import numpy as np
import openai

from qa.config import PLACEHOLDER_API_KEY, EmbeddingSettings, LLMSettings
from qa.errors import ConfigError, EmbedderError
from qa.ports import Vectors

logger = logging.getLogger(__name__)

# Output sizes of OpenAI's own models; any other model is probed once on first use.
KNOWN_DIMENSIONS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
# BPE tokenizers split English into roughly one token per word or punctuation mark; the
# real tokenizer (tiktoken) would download its tables, which this service never does.
_TOKEN_ESTIMATE = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def _retryable_status(status: int) -> bool:
    return status in (408, 409, 429) or status >= 500


class OpenAIEmbedder:
    """Embeds through ``client.embeddings.create``; retries are the SDK's ``max_retries``.

    Vendor errors become ``EmbedderError`` whose ``retryable`` flag follows the HTTP status
    (429 and 5xx yes, other 4xx no; connection failures and timeouts yes).
    """

    def __init__(
        self,
        client: openai.OpenAI,
        model: str,
        *,
        batch_size: int = 64,
        dimension: int | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self._client = client
        self._model = model
        self._batch_size = batch_size
        # An explicit dimension is sent as `dimensions` (text-embedding-3 can shorten).
        self._requested = dimension
        self._dimension = dimension or KNOWN_DIMENSIONS.get(model)
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return f"openai:{self._model}"

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            with self._lock:
                if self._dimension is None:
                    self._dimension = int(self._create(["dimension probe"]).shape[1])
        return self._dimension

    def count_tokens(self, text: str) -> int:
        """An estimate (words and punctuation marks), close to BPE counts for English."""
        return len(_TOKEN_ESTIMATE.findall(text))

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        parts = [
            self._create(texts[start : start + self._batch_size])
            for start in range(0, len(texts), self._batch_size)
        ]
        out = np.concatenate(parts, axis=0)
        if self._dimension is not None and out.shape[1] != self._dimension:
            raise EmbedderError(
                f"{self.name} returned {out.shape[1]}-dim vectors, expected {self._dimension}",
                retryable=False,
            )
        return out

    def _create(self, texts: Sequence[str]) -> Vectors:
        # The API rejects empty strings; a space embeds to "no content" just as well.
        inputs = [text if text.strip() else " " for text in texts]
        started = time.perf_counter()
        try:
            response = self._client.embeddings.create(
                input=inputs,
                model=self._model,
                dimensions=openai.omit if self._requested is None else self._requested,
            )
        except openai.APIStatusError as exc:
            raise EmbedderError(
                f"embeddings API returned HTTP {exc.status_code} for model {self._model}",
                retryable=_retryable_status(exc.status_code),
            ) from exc
        except openai.APIConnectionError as exc:
            raise EmbedderError(f"embeddings API unreachable: {exc}", retryable=True) from exc
        except (openai.OpenAIError, ValueError) as exc:
            raise EmbedderError(f"embeddings API failed: {exc}", retryable=False) from exc
        rows = sorted(response.data, key=lambda item: item.index)
        if len(rows) != len(inputs):
            raise EmbedderError(
                f"embeddings API returned {len(rows)} vectors for {len(inputs)} texts",
                retryable=False,
            )
        vectors = np.asarray([row.embedding for row in rows], dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        logger.debug(
            "embedded %d texts with %s in %.0f ms",
            len(inputs),
            self._model,
            (time.perf_counter() - started) * 1000,
        )
        unit: Vectors = (vectors / np.clip(norms, 1e-12, None)).astype(np.float32)
        return unit


def build_openai_embedder(embedding: EmbeddingSettings, llm: LLMSettings) -> OpenAIEmbedder:
    """The embeddings API the settings name (``QA_EMBEDDER=openai``), reached with the LLM
    endpoint's key, timeout and retries (and its base URL unless the embedding one is set)."""
    base_url = embedding.base_url or llm.base_url
    key = llm.api_key.get_secret_value() if llm.api_key else None
    if base_url is None and key is None:
        raise ConfigError(
            "QA_EMBEDDER=openai needs QA_LLM_API_KEY (or OPENAI_API_KEY) or a base URL "
            "(QA_EMBEDDING_BASE_URL / QA_LLM_BASE_URL)"
        )
    client = openai.OpenAI(
        base_url=base_url,
        # Self-hosted servers (vLLM, Ollama) accept any key, but the SDK insists on one.
        api_key=key or PLACEHOLDER_API_KEY,
        max_retries=llm.max_retries,
        timeout=llm.timeout_s,
    )
    return OpenAIEmbedder(client, embedding.model, batch_size=embedding.batch_size)
