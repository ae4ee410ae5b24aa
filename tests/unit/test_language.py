"""The language check: questions in other languages are told apart from English ones."""

from __future__ import annotations

import pytest

from qa.language import LinguaLanguageCheck

CHECK = LinguaLanguageCheck()


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("Combien de soldats afghans ont traversé la frontière ?", "French"),
        ("¿Cuántos soldados afganos cruzaron a Tayikistán?", "Spanish"),
        ("Wie viele afghanische Soldaten flohen nach Tadschikistan?", "German"),
        ("Сколько афганских солдат бежали в Таджикистан?", "Russian"),
        ("阿富汗士兵有多少人逃往塔吉克斯坦？", "Chinese"),
        ("Kto jest rzecznikiem Kremla?", "Polish"),
    ],
)
def test_other_languages_are_named(question: str, language: str) -> None:
    assert CHECK.unsupported_language(question) == language


@pytest.mark.parametrize(
    "question",
    [
        "How many Afghan soldiers crossed into Tajikistan?",
        "who is peskov",
        "Taliban?",
        "what is chicken chow mein",  # short, and German-looking to the detector
        "what did the Kremlin spokesman say",
        "1,037?",
    ],
)
def test_english_and_unsure_questions_pass(question: str) -> None:
    assert CHECK.unsupported_language(question) is None


def test_supported_names_read_well() -> None:
    assert CHECK.supported == ["English"]
