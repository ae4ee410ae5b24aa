"""Settings (pydantic-settings, env prefix QA_), validated once at startup.

The settings come in groups (``settings.store.data_dir``, ``settings.retrieval.top_k``,
``settings.llm.model``) and each module is handed the group it needs. Every setting also
keeps the flat name it has always had: ``QA_<NAME>`` in the environment or ``.env``, and
``<name>`` as a keyword (``Settings(top_k=3)``). ``FLAT_NAMES`` maps each flat name to its
group and field: a field's flat name is its group's ``flat_prefix`` + the field name, unless
the group's ``flat_names`` says otherwise.
"""

from __future__ import annotations

import difflib
import hashlib
import os
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

#: The API key sent to an OpenAI-compatible server when none is configured: local servers
#: (vLLM, Ollama, llama.cpp) ignore it, but the openai SDK insists on one.
PLACEHOLDER_API_KEY = "not-needed"

#: QA_ variables read by something other than Settings: the container's entrypoint
#: (docker/entrypoint.sh), compose's published port, and the benchmarks' data folder.
OTHER_QA_VARIABLES = frozenset(
    {"QA_INGEST_ON_START", "QA_INGEST_PATHS", "QA_HTTP_PORT", "QA_SHARED_DIR"}
)


def default_data_dir() -> Path:
    """The per-user data folder (platformdirs): the same store from any working directory."""
    import platformdirs

    return Path(platformdirs.user_data_dir("qa", appauthor=False))


class SettingsGroup(BaseModel):
    """One group of settings; unknown keys are an error, as in Settings."""

    model_config = ConfigDict(extra="forbid")

    #: A field's flat name (QA_ variable without the prefix; keyword of ``Settings``) is
    #: ``flat_prefix`` + its name, unless ``flat_names`` names it.
    flat_prefix: ClassVar[str] = ""
    flat_names: ClassVar[Mapping[str, str]] = {}
    #: Variables read too, after QA_<FLAT NAME> (no prefix added).
    env_aliases: ClassVar[Mapping[str, tuple[str, ...]]] = {}


class StoreSettings(SettingsGroup):
    """Where the data lives: Chroma (embedded or a server), its collections, local state."""

    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Embedded Chroma, the conversation database and local state (default: "
        "the per-user data folder, ~/.local/share/qa on Linux; `qa status` prints it).",
    )
    chroma_url: str | None = Field(
        None, description="URL of a Chroma server (http://host:port). Unset: embedded Chroma."
    )
    chunks_collection: str = Field("qa_chunks", description="Chroma collection of chunks.")
    documents_collection: str = Field(
        "qa_documents", description="Chroma collection of full original documents."
    )
    revision_poll_s: float = Field(
        1.0,
        ge=0,
        le=60,
        description="Seconds between checks for writes made by other processes (BM25 resync); "
        "this process's own writes are seen at once. 0: check on every search.",
    )
    conversation_ttl_days: float = Field(
        30.0,
        ge=0,
        description="Days a conversation is kept after its last turn (then deleted). 0: forever.",
    )
    hit_cache_size: int = Field(
        4096,
        ge=0,
        le=1_000_000,
        description="Passages kept in memory by chunk id (a chunk id names its content, so "
        "they never go stale; emptied on any write). 0: read every passage from Chroma.",
    )

    @property
    def identity(self) -> str:
        """Which Chroma data this is: server URL or embedded path, and the collections."""
        where = self.chroma_url or str(self.data_dir.resolve() / "chroma")
        return f"{where}|{self.chunks_collection}|{self.documents_collection}"

    @property
    def lexical_cache_dir(self) -> Path:
        """Where the BM25 index is saved between runs (one directory per store)."""
        digest = hashlib.sha256(self.identity.encode()).hexdigest()[:16]
        return self.data_dir / "lexical" / digest

    @property
    def sqlite_path(self) -> Path:
        """The local database of conversations and feedback."""
        return self.data_dir / "qa.sqlite3"


class EmbeddingSettings(SettingsGroup):
    """Which embedder turns text into vectors. The openai one uses the LLM group's key,
    timeout and retries, and its base URL unless ``base_url`` is set."""

    flat_prefix: ClassVar[str] = "embedding_"
    flat_names: ClassVar[Mapping[str, str]] = {"provider": "embedder"}

    provider: Literal["local", "openai"] = Field(
        "local", description="local: int8 all-MiniLM-L6-v2 on ONNX; openai: an embeddings API."
    )
    model: str = Field("text-embedding-3-small", description="Model name for the openai embedder.")
    base_url: str | None = Field(
        None, description="Base URL for the openai embedder (default: the LLM base URL)."
    )
    batch_size: int = Field(32, ge=1, le=1024, description="Texts per embedder call.")


class IngestSettings(SettingsGroup):
    """How documents become chunks (and sentence vectors), and how large one may be."""

    chunk_size: int = Field(
        200, ge=16, le=512, description="Chunk size in embedder tokens (MiniLM reads 256)."
    )
    chunk_overlap: int = Field(24, ge=0, le=256, description="Chunk overlap in embedder tokens.")
    sentence_vectors: bool = Field(
        True,
        description="Embed every sentence at ingest (about twice the embedding work) so that "
        "extractive answers only look vectors up (about 4x faster to answer).",
    )
    max_document_bytes: int = Field(
        2_000_000, ge=1, description="Largest single document accepted for ingestion."
    )
    max_file_bytes: int = Field(
        20_000_000,
        ge=1,
        description="Largest HTML or PDF file read, and largest page fetched from a URL "
        "(the text taken out of it must still fit QA_MAX_DOCUMENT_BYTES).",
    )
    fetch_timeout_s: float = Field(
        20.0, gt=0, le=300, description="Whole time allowed to fetch one URL (qa ingest URL)."
    )
    fetch_max_redirects: int = Field(5, ge=0, le=20, description="Redirects followed per URL.")
    fetch_allow_private: bool = Field(
        False,
        description="Let URL ingestion reach loopback, private, link-local and reserved "
        "addresses. Off: POST /v1/documents {url} cannot make the server fetch from its own "
        "network (SSRF).",
    )
    max_document_lines: int = Field(
        50_000, ge=1, description="Most lines one document may have (more: refused, 413)."
    )
    max_document_sentences: int = Field(
        10_000,
        ge=1,
        description="Most sentences one document may have (more: refused, 413); each one is "
        "embedded, 3-10 ms apiece with the local embedder on 2 cores (bench/README.md).",
    )

    @model_validator(mode="after")
    def _overlap_below_size(self) -> Self:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError("QA_CHUNK_OVERLAP must be smaller than QA_CHUNK_SIZE")
        return self


class RetrievalSettings(SettingsGroup):
    """How many passages are retrieved per question, and how."""

    flat_names: ClassVar[Mapping[str, str]] = {"mode": "retrieval_mode"}

    top_k: int = Field(5, ge=1, le=50, description="Passages retrieved per question.")
    max_top_k: int = Field(50, ge=1, le=200, description="Largest top_k a request may ask for.")
    mode: Literal["hybrid", "dense", "lexical"] = Field(
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

    @model_validator(mode="after")
    def _top_k_within_max(self) -> Self:
        if self.top_k > self.max_top_k:  # else every request without top_k is refused
            raise ValueError("QA_TOP_K must not be larger than QA_MAX_TOP_K")
        return self


class AnsweringSettings(SettingsGroup):
    """What a question may be, and how an answer is made from the evidence."""

    min_evidence_score: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Abstain when the confidence of the best evidence sentence (the calibrated "
        "chance that it answers, Answer.confidence) is below this (unset: the threshold "
        "shipped with the evidence model, chosen on the eval sets).",
    )
    max_question_chars: int = Field(2000, ge=1, description="Longest question accepted.")
    language_check: bool = Field(
        True,
        description="Answer a question in a language the models cannot read (they read "
        "English) with a message saying so, instead of searching (lingua; ~300 MB of models "
        "loaded on the first question).",
    )
    prompts_dir: Path = Field(
        Path(__file__).resolve().parent.parent / "prompts",
        description="Folder of prompt templates (answer.md, condense.md).",
    )


class LLMSettings(SettingsGroup):
    """The chat model that answers, when there is one (``enabled``)."""

    flat_prefix: ClassVar[str] = "llm_"
    flat_names: ClassVar[Mapping[str, str]] = {"provider": "llm"}
    env_aliases: ClassVar[Mapping[str, tuple[str, ...]]] = {"api_key": ("OPENAI_API_KEY",)}

    provider: Literal["auto", "off", "openai", "scripted"] = Field(
        "auto",
        description="Which chat model answers. auto: the OpenAI-compatible endpoint at "
        "QA_LLM_BASE_URL when one is set, else extractive only (an API key alone, such as "
        "OPENAI_API_KEY in the environment, never sends articles anywhere); off: extractive "
        "only; openai: the endpoint (OpenAI's own unless QA_LLM_BASE_URL says otherwise); "
        "scripted: an in-process fake that quotes the first source (demos, tests).",
    )
    base_url: str | None = Field(
        None, description="OpenAI-compatible base URL (OpenAI, vLLM, Ollama, llama.cpp)."
    )
    api_key: SecretStr | None = Field(
        None, description="API key for the LLM endpoint; OPENAI_API_KEY is read too."
    )
    model: str = Field("gpt-4o-mini", description="Chat model name at the LLM endpoint.")
    timeout_s: float = Field(30.0, gt=0, description="Timeout of one LLM call, in seconds.")
    max_retries: int = Field(2, ge=0, le=10, description="Retries on 429/5xx/timeouts.")
    temperature: float = Field(0.0, ge=0, le=2, description="Sampling temperature.")

    @property
    def enabled(self) -> bool:
        """Whether a chat model answers (see ``provider``)."""
        if self.provider == "auto":
            # Only a base URL is a choice; a key is often in the environment for other tools.
            return self.base_url is not None
        return self.provider != "off"


class ApiSettings(SettingsGroup):
    """The HTTP service: where `qa serve` listens, who may call it, how much."""

    host: str = Field("127.0.0.1", description="Address `qa serve` listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port `qa serve` listens on.")
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated bearer tokens, each read:<key>, admin:<key> or <key> "
        "(admin); empty: no auth (qa serve then listens on loopback only, unless --no-auth).",
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
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated addresses or networks (10.0.0.0/8) of reverse proxies "
        "whose X-Forwarded-For / X-Forwarded-Proto are believed; empty: none (the client's "
        "address is the connection's, whatever headers it sends). * trusts every peer.",
    )
    header_timeout_s: float = Field(
        10.0, gt=0, le=300, description="Seconds a client has to send a request's headers."
    )
    body_timeout_s: float = Field(
        20.0, gt=0, le=3600, description="Seconds a client has to send a request's body (408)."
    )
    async_ingest_bytes: int = Field(
        32_000,
        ge=0,
        description="POST /v1/documents with more text than this (bytes, all documents "
        "together), or more than 20 documents, is checked at once but ingested by a "
        "background job: 202 and a job id for GET /v1/jobs/{id}. 0: always in the background.",
    )
    ingest_jobs_pending: int = Field(
        16, ge=1, le=10_000, description="Ingestion jobs that may wait (more: 503 busy)."
    )
    shutdown_grace_s: int = Field(
        10,
        ge=1,
        le=600,
        description="On SIGTERM, `qa serve` waits this long for requests in flight, then "
        "closes them and exits.",
    )

    @field_validator("api_keys", "trusted_proxies", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value


class LoadSettings(SettingsGroup):
    """How much work `qa serve` takes on at once; beyond it, /v1/ requests get 503 busy with
    Retry-After instead of queueing for seconds (qa/api/shedding.py)."""

    max_in_flight: int = Field(
        8,
        ge=0,
        le=10_000,
        description="/v1/ requests served at once (health, metrics, web, MCP and Slack are not "
        "counted); 0: no bound, nothing is shed.",
    )
    max_queued: int = Field(
        16,
        ge=0,
        le=100_000,
        description="Requests beyond QA_MAX_IN_FLIGHT that may wait for a slot; more get 503 "
        "busy at once.",
    )
    queue_timeout_s: float = Field(
        0.25,
        gt=0,
        le=60,
        description="Longest a request waits for a slot before it gets 503 busy.",
    )
    retry_after_s: int = Field(
        1, ge=1, le=3600, description="Retry-After (seconds) sent with 503 busy."
    )


class LoggingSettings(SettingsGroup):
    """Log format and level, for every command (not only the HTTP service)."""

    flat_prefix: ClassVar[str] = "log_"
    flat_names: ClassVar[Mapping[str, str]] = {"json_lines": "log_json"}

    json_lines: bool = Field(False, description="Log as JSON lines instead of plain text.")
    level: str = Field("INFO", description="Logging level.")


class SlackSettings(SettingsGroup):
    """The Slack bot's credentials and the Web API it calls."""

    flat_prefix: ClassVar[str] = "slack_"

    bot_token: SecretStr | None = Field(None, description="Slack bot token (xoxb-...).")
    signing_secret: SecretStr | None = Field(
        None, description="Slack signing secret, for the HTTP Events API."
    )
    app_token: SecretStr | None = Field(
        None, description="Slack app-level token (xapp-...), for Socket Mode."
    )
    api_url: str = Field(
        "https://slack.com/api/", description="Slack Web API base URL (tests point it at a stub)."
    )


class Settings(BaseSettings):
    """Every knob of the service, in groups. Read from the environment (prefix ``QA_``) or
    ``.env`` under the flat names (QA_TOP_K, ...); see the module docstring.

    Built three ways: ``Settings()`` (environment and ``.env``), flat keywords
    (``Settings(top_k=3, data_dir=...)``, each over the environment's value), or groups
    (``Settings(retrieval={"top_k": 3})`` merges with the environment;
    ``Settings(retrieval=RetrievalSettings(top_k=3))`` replaces the whole group).
    """

    # extra="forbid": an unknown key in .env or in code is an error, and ``_no_unknown_env``
    # does the same for QA_ variables in the environment (pydantic-settings skips those).
    model_config = SettingsConfigDict(env_prefix="QA_", env_file=".env", extra="forbid")

    store: StoreSettings = Field(default_factory=StoreSettings)
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    answering: AnsweringSettings = Field(default_factory=AnsweringSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    load: LoadSettings = Field(default_factory=LoadSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    slack: SlackSettings = Field(default_factory=SlackSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # pydantic-settings would read a group from one JSON variable (QA_STORE='{...}'), or
        # from QA_STORE__DATA_DIR with a nested delimiter. The variables keep their flat names
        # instead: the environment and .env are read for the flat names (same rules: case,
        # aliases, empty values, unknown .env keys), and the values filed into their groups.
        return (
            _Grouped(settings_cls, init_settings),
            _Grouped(settings_cls, _read_flat_names(env_settings)),
            _Grouped(settings_cls, _read_flat_names(dotenv_settings)),
            file_secret_settings,
        )

    @model_validator(mode="before")
    @classmethod
    def _group_flat_names(cls, data: object) -> object:
        # Settings(...) has grouped its keywords already (_Grouped); this serves model_validate.
        return _route(data) if isinstance(data, Mapping) else data

    @model_validator(mode="before")
    @classmethod
    def _no_unknown_env(cls, data: object) -> object:
        known = {f"QA_{name.upper()}" for name in FLAT_NAMES} | OTHER_QA_VARIABLES
        for name in sorted(os.environ):
            if name.upper().startswith("QA_") and name.upper() not in known:
                close = difflib.get_close_matches(name.upper(), sorted(known), n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                raise ValueError(f"unknown setting {name} in the environment{hint}")
        return data

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy with ``update`` applied, like pydantic's (no validation), but its keys may be
        flat names (``{"top_k": 3}``) or groups, a group given as a mapping updates only those
        fields (``{"api": {"port": 9000}}``), and an unknown key is an error (pydantic ignores
        one)."""
        if not update:
            return super().model_copy(deep=deep)
        groups: dict[str, Any] = {}
        for name, value in _route(update).items():
            if name not in GROUPS:
                raise ValueError(f"unknown setting {name!r}")
            if isinstance(value, Mapping):
                unknown = sorted(set(value) - set(GROUPS[name].model_fields))
                if unknown:
                    raise ValueError(f"unknown setting {name}.{unknown[0]}")
                groups[name] = getattr(self, name).model_copy(update=value, deep=deep)
            else:
                groups[name] = value
        return super().model_copy(update=groups, deep=deep)


def _groups() -> dict[str, type[SettingsGroup]]:
    groups: dict[str, type[SettingsGroup]] = {}
    for name, field in Settings.model_fields.items():
        assert isinstance(field.annotation, type) and issubclass(field.annotation, SettingsGroup)
        groups[name] = field.annotation
    return groups


def _flat_names() -> dict[str, tuple[str, str]]:
    places: dict[str, tuple[str, str]] = {}
    for group, model in GROUPS.items():
        assert set(model.flat_names) <= set(model.model_fields), model
        for field in model.model_fields:
            flat = model.flat_names.get(field, model.flat_prefix + field)
            assert flat not in places, f"two settings are called {flat}"
            # A flat name may equal a group's name only for a string setting (QA_LLM): a str
            # value is that setting, a mapping or model the group.
            assert flat not in Settings.model_fields or flat == group, flat
            places[flat] = (group, field)
    return places


#: The groups of Settings, by attribute name.
GROUPS = _groups()
#: Every setting's flat name (QA_ variable without the prefix, lower case; keyword of
#: ``Settings``) -> (group, field).
FLAT_NAMES = _flat_names()
_PLACES = {place: flat for flat, place in FLAT_NAMES.items()}


def variable_name(group: str, field: str) -> str:
    """The environment variable of ``settings.<group>.<field>``: QA_ and its flat name."""
    return f"QA_{_PLACES[group, field].upper()}"


def describe_location(loc: Sequence[int | str]) -> str:
    """A validation error's location in the terms of the environment: ("retrieval", "top_k")
    is QA_TOP_K; any other location is dotted, and the empty one is "settings"."""
    if len(loc) >= 2 and (loc[0], loc[1]) in _PLACES:
        return variable_name(str(loc[0]), str(loc[1]))
    return ".".join(map(str, loc)) or "settings"


def _route(data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` with every flat name (or variable alias) filed into its group: ``{"top_k": 3}``
    becomes ``{"retrieval": {"top_k": 3}}``, merged with what the group already has there (a
    model becomes its fields). Unknown names stay where they are, for validation to refuse."""
    routed: dict[str, Any] = {}
    flat: list[tuple[str, Any]] = []
    for name, value in data.items():
        key = _ALIAS_KEYS.get(name, name)  # OPENAI_API_KEY, as the environment has it
        # "llm" is both a group and the flat name of llm.provider: a string is the provider.
        if key in FLAT_NAMES and (key not in GROUPS or isinstance(value, str)):
            flat.append((key, value))
        else:
            routed[key] = value
    for key, value in flat:
        group, field = FLAT_NAMES[key]
        current = routed.get(group)
        if current is None:
            current = {}
        elif isinstance(current, BaseModel | Mapping):
            current = dict(current)
        else:
            continue  # not a group: validation says so
        current[field] = value
        routed[group] = current
    return routed


def _env_field(group: str, field: str, flat: str) -> Any:
    aliases = GROUPS[group].env_aliases.get(field, ())
    alias = AliasChoices(f"QA_{flat.upper()}", *aliases) if aliases else None
    # Strings: each group parses its own (api_keys splits on commas).
    return (str | None, Field(None, validation_alias=alias))


class _FlatEnvironmentBase(BaseSettings):
    model_config = Settings.model_config


#: The variables as pydantic-settings reads them: one field per flat name, never validated,
#: only handed to the environment and .env sources.
_FlatEnvironment = create_model(
    "_FlatEnvironment",
    __base__=_FlatEnvironmentBase,
    **{flat: _env_field(group, field, flat) for flat, (group, field) in FLAT_NAMES.items()},
)
#: Keys those sources return for aliased fields (the variable read) -> flat name.
#: (Settings(OPENAI_API_KEY=...) worked when the alias was on Settings; it still does.)
_ALIAS_KEYS = {
    choice: flat
    for flat, field in _FlatEnvironment.model_fields.items()
    if isinstance(field.validation_alias, AliasChoices)
    for choice in field.validation_alias.choices
    if isinstance(choice, str)
}


def _read_flat_names(source: PydanticBaseSettingsSource) -> PydanticBaseSettingsSource:
    """``source`` (the environment or .env, as configured for this call, e.g. ``_env_file``)
    reading the flat names instead of Settings' fields."""
    if isinstance(source, DotEnvSettingsSource):
        return DotEnvSettingsSource(
            _FlatEnvironment,
            env_file=source.env_file,
            env_file_encoding=source.env_file_encoding,
            env_file_depth=source.env_file_depth,
            case_sensitive=source.case_sensitive,
            env_prefix=source.env_prefix,
            env_prefix_target=source.env_prefix_target,
            env_ignore_empty=source.env_ignore_empty,
            env_parse_none_str=source.env_parse_none_str,
        )
    if isinstance(source, EnvSettingsSource):
        return EnvSettingsSource(
            _FlatEnvironment,
            case_sensitive=source.case_sensitive,
            env_prefix=source.env_prefix,
            env_prefix_target=source.env_prefix_target,
            env_ignore_empty=source.env_ignore_empty,
            env_parse_none_str=source.env_parse_none_str,
        )
    raise TypeError(f"unexpected settings source {source!r}")


class _Grouped(PydanticBaseSettingsSource):
    """What ``source`` returns, with flat names filed into their groups (see ``_route``)."""

    def __init__(self, settings_cls: type[BaseSettings], source: PydanticBaseSettingsSource):
        super().__init__(settings_cls)
        self._source = source

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads through ``source``

    def __call__(self) -> dict[str, Any]:
        return _route(self._source())

    def __repr__(self) -> str:
        return f"_Grouped({self._source!r})"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
