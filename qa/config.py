"""Settings (pydantic-settings, env prefix QA_), validated once at startup."""

from __future__ import annotations

import difflib
import hashlib
import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

#: QA_ variables read by something other than Settings: the container's entrypoint
#: (docker/entrypoint.sh), compose's published port, and the benchmarks' data folder.
OTHER_QA_VARIABLES = frozenset(
    {"QA_INGEST_ON_START", "QA_INGEST_PATHS", "QA_HTTP_PORT", "QA_SHARED_DIR"}
)


class Settings(BaseSettings):
    """Every knob of the service. Read from the environment (prefix ``QA_``) or ``.env``."""

    # extra="forbid": an unknown key in .env or in code is an error, and ``_no_unknown_env``
    # does the same for QA_ variables in the environment (pydantic-settings skips those).
    model_config = SettingsConfigDict(
        env_prefix="QA_", env_file=".env", extra="forbid", populate_by_name=True
    )

    # --- storage -------------------------------------------------------------------------
    data_dir: Path = Field(
        Path("./data"), description="Embedded Chroma, the conversation database and local state."
    )
    chroma_url: str | None = Field(
        None, description="URL of a Chroma server (http://host:port). Unset: embedded Chroma."
    )
    chunks_collection: str = Field("qa_chunks", description="Chroma collection of chunks.")
    documents_collection: str = Field(
        "qa_documents", description="Chroma collection of full original documents."
    )

    # --- embeddings ----------------------------------------------------------------------
    embedder: Literal["local", "openai"] = Field(
        "local", description="local: int8 all-MiniLM-L6-v2 on ONNX; openai: an embeddings API."
    )
    embedding_model: str = Field(
        "text-embedding-3-small", description="Model name for the openai embedder."
    )
    embedding_base_url: str | None = Field(
        None, description="Base URL for the openai embedder (default: the LLM base URL)."
    )
    embedding_batch_size: int = Field(32, ge=1, le=1024, description="Texts per embedder call.")

    # --- chunking and retrieval ----------------------------------------------------------
    chunk_size: int = Field(
        200, ge=16, le=512, description="Chunk size in embedder tokens (MiniLM reads 256)."
    )
    chunk_overlap: int = Field(24, ge=0, le=256, description="Chunk overlap in embedder tokens.")
    sentence_vectors: bool = Field(
        True,
        description="Embed every sentence at ingest (about twice the embedding work) so that "
        "extractive answers only look vectors up (about 4x faster to answer).",
    )
    revision_poll_s: float = Field(
        1.0,
        ge=0,
        le=60,
        description="Seconds between checks for writes made by other processes (BM25 resync); "
        "this process's own writes are seen at once. 0: check on every search.",
    )
    hit_cache_size: int = Field(
        4096,
        ge=0,
        le=1_000_000,
        description="Passages kept in memory by chunk id (a chunk id names its content, so "
        "they never go stale; emptied on any write). 0: read every passage from Chroma.",
    )
    top_k: int = Field(5, ge=1, le=50, description="Passages retrieved per question.")
    max_top_k: int = Field(50, ge=1, le=200, description="Largest top_k a request may ask for.")
    retrieval_mode: Literal["hybrid", "dense", "lexical"] = Field(
        "hybrid", description="hybrid fuses dense and BM25; dense or lexical use one of them."
    )
    recency_half_life_days: float = Field(
        30.0,
        ge=0,
        description="Questions asked with as_of: a passage's score halves (above "
        "QA_RECENCY_FLOOR) for every this many days it is older than the newest candidate. "
        "0: no recency prior. 30 was measured on realtimeqa-dev (bench/README.md).",
    )
    recency_floor: float = Field(
        0.0, ge=0, le=1, description="Share of its score the oldest passage keeps."
    )
    recency_scope: Literal["always", "cue", "off"] = Field(
        "always",
        description="always: every question asked with as_of; cue: only those asking for the "
        "current state (now, latest, currently, this week...).",
    )

    # --- answering -----------------------------------------------------------------------
    llm: Literal["auto", "off", "openai", "scripted"] = Field(
        "auto",
        description="Which chat model answers. auto: an OpenAI-compatible endpoint when a base "
        "URL or API key is set, else extractive only; off: extractive only; openai: the "
        "endpoint; scripted: an in-process fake that quotes the first source (demos, tests).",
    )
    llm_base_url: str | None = Field(
        None, description="OpenAI-compatible base URL (OpenAI, vLLM, Ollama, llama.cpp)."
    )
    llm_api_key: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("QA_LLM_API_KEY", "OPENAI_API_KEY"),
        description="API key for the LLM endpoint; OPENAI_API_KEY is read too.",
    )
    llm_model: str = Field("gpt-4o-mini", description="Chat model name at the LLM endpoint.")
    llm_timeout_s: float = Field(30.0, gt=0, description="Timeout of one LLM call, in seconds.")
    llm_max_retries: int = Field(2, ge=0, le=10, description="Retries on 429/5xx/timeouts.")
    llm_temperature: float = Field(0.0, ge=0, le=2, description="Sampling temperature.")
    min_evidence_score: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Abstain when the best evidence sentence scores below this "
        "(unset: the value calibrated on the eval sets).",
    )
    max_question_chars: int = Field(2000, ge=1, description="Longest question accepted.")
    prompts_dir: Path = Field(
        Path(__file__).resolve().parent.parent / "prompts",
        description="Folder of prompt templates (answer.md, condense.md).",
    )

    # --- HTTP service --------------------------------------------------------------------
    host: str = Field("127.0.0.1", description="Address `qa serve` listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port `qa serve` listens on.")
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list, description="Comma-separated bearer tokens; empty: no auth."
    )
    allow_anonymous: bool = Field(
        False, description="Allow listening on a non-loopback address without API keys."
    )
    rate_limit_per_minute: int = Field(
        600, ge=0, description="Requests per minute per API key (or client address); 0: off."
    )
    max_body_bytes: int = Field(
        10_000_000, ge=1024, description="Largest request body accepted, in bytes."
    )
    max_document_bytes: int = Field(
        2_000_000, ge=1, description="Largest single document accepted for ingestion."
    )
    log_json: bool = Field(False, description="Log as JSON lines instead of plain text.")
    log_level: str = Field("INFO", description="Logging level.")

    # --- Slack ---------------------------------------------------------------------------
    slack_bot_token: SecretStr | None = Field(None, description="Slack bot token (xoxb-...).")
    slack_signing_secret: SecretStr | None = Field(
        None, description="Slack signing secret, for the HTTP Events API."
    )
    slack_app_token: SecretStr | None = Field(
        None, description="Slack app-level token (xapp-...), for Socket Mode."
    )
    slack_api_url: str = Field(
        "https://slack.com/api/", description="Slack Web API base URL (tests point it at a stub)."
    )

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @model_validator(mode="before")
    @classmethod
    def _no_unknown_env(cls, data: object) -> object:
        known = {f"QA_{name.upper()}" for name in cls.model_fields} | OTHER_QA_VARIABLES
        for name in sorted(os.environ):
            if name.upper().startswith("QA_") and name.upper() not in known:
                close = difflib.get_close_matches(name.upper(), sorted(known), n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                raise ValueError(f"unknown setting {name} in the environment{hint}")
        return data

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError("QA_CHUNK_OVERLAP must be smaller than QA_CHUNK_SIZE")
        return self

    @property
    def llm_enabled(self) -> bool:
        """Whether a chat model answers (see ``llm``)."""
        if self.llm == "auto":
            return self.llm_base_url is not None or self.llm_api_key is not None
        return self.llm != "off"

    @property
    def store_identity(self) -> str:
        """Which Chroma data this is: server URL or embedded path, and the collections."""
        where = self.chroma_url or str(self.data_dir.resolve() / "chroma")
        return f"{where}|{self.chunks_collection}|{self.documents_collection}"

    @property
    def lexical_cache_dir(self) -> Path:
        """Where the BM25 index is saved between runs (one directory per store)."""
        digest = hashlib.sha256(self.store_identity.encode()).hexdigest()[:16]
        return self.data_dir / "lexical" / digest

    @property
    def sqlite_path(self) -> Path:
        """The local database of conversations and feedback."""
        return self.data_dir / "qa.sqlite3"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
