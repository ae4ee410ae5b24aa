"""Settings: grouped in code, flat outside. Every QA_ variable keeps its name and lands in its
group, flat keywords still work, and a misspelt variable, an unknown key or a bad value is an
error that names it."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from qa.cli import main
from qa.config import (
    FLAT_NAMES,
    LLMSettings,
    RetrievalSettings,
    Settings,
    StoreSettings,
    describe_location,
    get_settings,
    variable_name,
)

#: Every setting's flat name before the settings were grouped: the QA_ variables (and the
#: keywords of Settings) that deployments, .env files and callers use. None may change.
FLAT_NAMES_BEFORE_GROUPS = {
    "allow_anonymous", "api_keys", "chroma_url", "chunk_overlap", "chunk_size",
    "chunks_collection", "data_dir", "documents_collection", "embedder", "embedding_base_url",
    "embedding_batch_size", "embedding_model", "hit_cache_size", "host", "language_check",
    "llm", "llm_api_key",
    "llm_base_url", "llm_max_retries", "llm_model", "llm_temperature", "llm_timeout_s",
    "log_json", "log_level", "max_body_bytes", "max_document_bytes", "max_question_chars",
    "max_top_k", "min_evidence_score", "port", "prompts_dir", "rate_limit_per_minute",
    "recency_floor", "recency_half_life_days", "recency_scope",
    "retrieval_mode", "revision_poll_s", "sentence_vectors", "slack_api_url", "slack_app_token",
    "slack_bot_token", "slack_signing_secret", "top_k",
    "conversation_ttl_days",  # added later, with conversation expiry
}  # fmt: skip
#: Settings added since (new names, so no deployment depends on them yet).
FLAT_NAMES_ADDED = {
    "max_file_bytes", "fetch_timeout_s", "fetch_max_redirects", "fetch_allow_private",
    # added since (issue 16: per-document limits, background ingestion, shutdown)
    "max_document_lines", "max_document_sentences", "async_ingest_bytes",
    "ingest_jobs_pending", "shutdown_grace_s",
}  # fmt: skip


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No QA_ variable or .env from the machine running the tests."""
    monkeypatch.chdir(tmp_path)
    for name in FLAT_NAMES_BEFORE_GROUPS:
        monkeypatch.delenv(f"QA_{name.upper()}", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


def test_every_variable_keeps_its_name() -> None:
    # New settings may come, none may go.
    assert set(FLAT_NAMES) >= FLAT_NAMES_BEFORE_GROUPS | FLAT_NAMES_ADDED


def test_environment_variables_land_in_their_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "QA_DATA_DIR": "/srv/qa",
        "QA_CHROMA_URL": "http://chroma:8000",
        "QA_EMBEDDER": "openai",
        "QA_EMBEDDING_BATCH_SIZE": "8",
        "QA_CHUNK_SIZE": "300",
        "QA_SENTENCE_VECTORS": "false",
        "QA_TOP_K": "7",
        "QA_RETRIEVAL_MODE": "dense",
        "QA_MIN_EVIDENCE_SCORE": "0.5",
        "QA_LLM": "openai",
        "QA_LLM_MODEL": "m1",
        "QA_LLM_TIMEOUT_S": "5",
        "QA_API_KEYS": " a , b,",
        "QA_PORT": "9000",
        "QA_LOG_JSON": "true",
        "QA_LOG_LEVEL": "DEBUG",
        "QA_SLACK_BOT_TOKEN": "xoxb-1",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings(_env_file=None)
    assert settings.store.data_dir == Path("/srv/qa")
    assert settings.store.chroma_url == "http://chroma:8000"
    assert (settings.embedding.provider, settings.embedding.batch_size) == ("openai", 8)
    assert (settings.ingest.chunk_size, settings.ingest.sentence_vectors) == (300, False)
    assert (settings.retrieval.top_k, settings.retrieval.mode) == (7, "dense")
    assert settings.answering.min_evidence_score == 0.5
    assert (settings.llm.provider, settings.llm.model, settings.llm.timeout_s) == (
        "openai",
        "m1",
        5,
    )
    assert [key.get_secret_value() for key in settings.api.api_keys] == ["a", "b"]
    assert settings.api.port == 9000
    assert (settings.logging.json_lines, settings.logging.level) == (True, "DEBUG")
    assert settings.slack.bot_token == SecretStr("xoxb-1")
    # What was not set keeps its default.
    assert settings.retrieval.max_top_k == 50
    assert settings.store.chunks_collection == "qa_chunks"


def test_the_api_key_alias_and_its_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "from-openai")
    assert Settings(_env_file=None).llm.api_key == SecretStr("from-openai")
    # auto: a key alone is no choice (it may be there for other tools): extractive only.
    assert not Settings(_env_file=None).llm.enabled
    assert Settings(_env_file=None, llm="openai").llm.enabled
    monkeypatch.setenv("QA_LLM_API_KEY", "from-qa")
    assert Settings(_env_file=None).llm.api_key == SecretStr("from-qa")


def test_a_dotenv_file_is_read_under_the_same_names(monkeypatch: pytest.MonkeyPatch) -> None:
    Path(".env").write_text("QA_TOP_K=9\nQA_LLM_MODEL=m2\nOPENAI_API_KEY=k\nQA_API_KEYS=x,y\n")
    monkeypatch.setenv("QA_LLM_MODEL", "m3")  # the environment wins over .env
    settings = Settings()
    assert settings.retrieval.top_k == 9
    assert settings.llm.model == "m3"
    assert settings.llm.api_key == SecretStr("k")
    assert len(settings.api.api_keys) == 2
    assert Settings(_env_file=None).retrieval.top_k == 5


def test_an_unknown_dotenv_key_is_named() -> None:
    Path(".env").write_text("QA_TOPK=9\n")
    with pytest.raises(ValidationError, match="qa_topk"):
        Settings()


def test_flat_keywords_land_in_their_groups_over_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QA_TOP_K", "3")
    monkeypatch.setenv("QA_LLM_BASE_URL", "http://llm")
    settings = Settings(
        _env_file=None, data_dir=Path("/d"), top_k=4, llm="scripted", llm_model="m", log_json=True
    )
    assert settings.store.data_dir == Path("/d")
    assert settings.retrieval.top_k == 4  # the keyword wins
    # QA_LLM names the provider; the rest of the group still comes from the environment.
    assert (settings.llm.provider, settings.llm.model) == ("scripted", "m")
    assert settings.llm.base_url == "http://llm"
    assert settings.logging.json_lines is True
    assert Settings.model_validate({"top_k": 6}).retrieval.top_k == 6


def test_groups_can_be_given_whole_or_in_part(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_CHROMA_URL", "http://chroma")
    merged = Settings(_env_file=None, store={"data_dir": "/d"}, llm={"model": "m"})
    assert (merged.store.data_dir, merged.store.chroma_url) == (Path("/d"), "http://chroma")
    assert merged.llm.model == "m"
    whole = Settings(_env_file=None, store=StoreSettings(data_dir=Path("/d")))
    assert whole.store.chroma_url is None  # a group object is taken as it is
    mixed = Settings(_env_file=None, retrieval=RetrievalSettings(top_k=2), max_top_k=10)
    assert (mixed.retrieval.top_k, mixed.retrieval.max_top_k) == (2, 10)
    assert Settings(_env_file=None, llm=LLMSettings(provider="off")).llm.provider == "off"


def test_model_copy_takes_flat_names_and_groups() -> None:
    settings = Settings(_env_file=None)
    copied = settings.model_copy(update={"top_k": 9, "slack_bot_token": SecretStr("t")})
    assert copied.retrieval.top_k == 9
    assert copied.slack.bot_token == SecretStr("t")
    assert settings.retrieval.top_k == 5  # the original is untouched
    ported = settings.model_copy(update={"api": {"port": 9000}, "llm": "off"})
    assert (ported.api.port, ported.api.host, ported.llm.provider) == (9000, "127.0.0.1", "off")
    with pytest.raises(ValueError, match="top_kk"):
        settings.model_copy(update={"top_kk": 1})
    with pytest.raises(ValueError, match=r"api\.prot"):
        settings.model_copy(update={"api": {"prot": 1}})


def test_derived_values_live_in_their_group() -> None:
    settings = Settings(_env_file=None, data_dir=Path("/d"), llm_base_url="http://llm")
    assert settings.store.sqlite_path == Path("/d/qa.sqlite3")
    assert settings.store.identity == "/d/chroma|qa_chunks|qa_documents"
    assert settings.store.lexical_cache_dir.parent == Path("/d/lexical")
    assert settings.llm.enabled
    assert not Settings(_env_file=None).llm.enabled


def test_a_misspelt_environment_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_TOPK", "3")
    with pytest.raises(ValidationError, match=r"unknown setting QA_TOPK.*QA_TOP_K"):
        Settings(_env_file=None)


def test_group_names_are_not_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_STORE", '{"data_dir": "/d"}')
    with pytest.raises(ValidationError, match="unknown setting QA_STORE"):
        Settings(_env_file=None)


def test_known_variables_and_the_container_s_own_are_accepted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QA_TOP_K", "7")
    monkeypatch.setenv("QA_INGEST_ON_START", "true")  # read by docker/entrypoint.sh
    assert Settings(_env_file=None).retrieval.top_k == 7


def test_an_unknown_keyword_is_refused() -> None:
    with pytest.raises(ValidationError, match="top_kk"):
        Settings(_env_file=None, top_kk=3)
    with pytest.raises(ValidationError, match=r"retrieval\.top_kk"):
        Settings(_env_file=None, retrieval={"top_kk": 3})


def test_a_bad_value_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_TOP_K", "abc")
    with pytest.raises(ValidationError) as info:
        Settings(_env_file=None)
    [error] = info.value.errors()
    assert error["loc"] == ("retrieval", "top_k")
    assert describe_location(error["loc"]) == "QA_TOP_K"
    assert variable_name("llm", "provider") == "QA_LLM"
    with pytest.raises(ValidationError, match="QA_CHUNK_OVERLAP must be smaller"):
        Settings(_env_file=None, chunk_size=100, chunk_overlap=150)


def test_the_cli_names_a_bad_value_s_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("QA_LLM_TIMEOUT_S", "-1")
    get_settings.cache_clear()
    try:
        assert main(["ask", "anything"]) == 2
    finally:
        get_settings.cache_clear()
    err = capsys.readouterr().err
    assert err.startswith("qa: invalid settings: QA_LLM_TIMEOUT_S: Input should be greater than 0")


def test_the_cli_says_it_in_one_line_and_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("QA_DATA_DIRR", "/tmp/nowhere")
    get_settings.cache_clear()  # read the environment again
    try:
        assert main(["ask", "anything"]) == 2
    finally:
        get_settings.cache_clear()
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "QA_DATA_DIRR" in err and "QA_DATA_DIR?" in err
