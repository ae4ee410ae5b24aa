"""Settings: a misspelt QA_ variable or an unknown key is an error that names it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from qa.cli import main
from qa.config import Settings, get_settings


def test_a_misspelt_environment_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_TOPK", "3")
    with pytest.raises(ValidationError, match=r"unknown setting QA_TOPK.*QA_TOP_K"):
        Settings(_env_file=None)


def test_known_variables_and_the_container_s_own_are_accepted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QA_TOP_K", "7")
    monkeypatch.setenv("QA_INGEST_ON_START", "true")  # read by docker/entrypoint.sh
    assert Settings(_env_file=None).retrieval.top_k == 7


def test_an_unknown_keyword_is_refused() -> None:
    with pytest.raises(ValidationError, match="top_kk"):
        Settings(_env_file=None, top_kk=3)  # type: ignore[call-arg]


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
