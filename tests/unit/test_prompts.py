"""Prompt templates: shipped ones load; bad placeholders are refused; values stay literal."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.config import Settings
from qa.errors import ConfigError
from qa.prompts import load_prompts

GOOD_ANSWER = "Sources:\n{sources}\nHistory:\n{history}\nQ: {question}\nJSON looks like {{a: 1}}"
GOOD_CONDENSE = "{history}\n{question}"


def write(folder: Path, answer: str = GOOD_ANSWER, condense: str = GOOD_CONDENSE) -> Path:
    (folder / "answer.md").write_text(answer, encoding="utf-8")
    (folder / "condense.md").write_text(condense, encoding="utf-8")
    return folder


def test_shipped_prompts_load_and_render() -> None:
    prompts = load_prompts(Settings().answering.prompts_dir)
    text = prompts.render_answer(sources='<source n="1">x</source>', question="Q?", history="")
    assert '<source n="1">x</source>' in text
    assert "The articles don't say." in text
    assert "Q?" in prompts.render_condense(history="User: a", question="Q?")


def test_values_with_braces_are_never_formatted(tmp_path: Path) -> None:
    prompts = load_prompts(write(tmp_path))
    text = prompts.render_answer(
        sources="{question} {0} {history.__class__}", question="{sources}", history="}{"
    )
    assert text == (
        "Sources:\n{question} {0} {history.__class__}\nHistory:\n}{\nQ: {sources}\n"
        "JSON looks like {a: 1}"
    )


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ("{sources} {question}", "missing ['history']"),
        ("{sources} {question} {history} {extra}", "unknown ['extra']"),
        ("{sources} {question} {history} {", "malformed"),
        ("{sources} {question} {history!r}", "plain name"),
        ("{sources} {question} {history.x}", "plain name"),
        ("{sources} {question} {history} {0}", "plain name"),
    ],
)
def test_bad_placeholders_name_the_file(tmp_path: Path, answer: str, message: str) -> None:
    with pytest.raises(ConfigError, match=r"answer\.md") as info:
        load_prompts(write(tmp_path, answer=answer))
    assert message in str(info.value)


def test_condense_is_checked_too(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"condense\.md: placeholders missing \['history'\]"):
        load_prompts(write(tmp_path, condense="{question}"))


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "answer.md").write_text(GOOD_ANSWER, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"condense\.md"):
        load_prompts(tmp_path)
