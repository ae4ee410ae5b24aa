"""When sources differ: different documents giving different figures for the same question.

The extractive answerer cites the best sentence and, on a question asking for a figure (how
many, how much ...), also a sentence from another document that gives another figure
(``ExtractiveAnswerer._select``). Whether the cited documents *disagree* is decided here, from
the figures alone: a document's figure is a number the question does not give, followed by
some of the question's own words ("1,037 Afghan soldiers" for "How many Afghan soldiers
..."), taken with the hedge before it ("at least") and its scale ("million", "per cent").
Two documents whose figures differ disagree; a number with none of the question's words
after it (a date beside the figure, a page count) is not a figure for this question. Dates
are left out: on encyclopedia pages, two years from two pages are mostly about two things.

The answer then opens with who reports what ("Sources differ: AsiaNews (6 July 2021)
reports 1,037 Afghan soldiers [1]; RT (6 July 2021) reports at least 134 soldiers [2].", in
``qa.answering.attribution``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from qa.text import Sentence, numbers, terms

_AMOUNT: Final = re.compile(
    r"\b(how many|how much|number of|percentage|what percent|what share)\b", re.IGNORECASE
)

# Words that qualify a figure ("at least 134", "more than 2 million").
_HEDGE: Final = (
    r"(?:(?:at least|at most|more than|less than|fewer than|up to|as many as|as few as|"
    r"over|under|about|around|nearly|almost|approximately|roughly|some|an estimated|"
    r"close to)\s+)?"
)
_SCALE: Final = r"(?:\s+(?:hundred|thousand|million|billion|trillion|per ?cent|percent)\b|\s?%)?"
_FIGURE: Final = re.compile(rf"\b{_HEDGE}(\d+(?:[.,]\d+)*){_SCALE}", re.IGNORECASE)
_WORD: Final = re.compile(r"[\w'’-]+")
_COUNTED: Final = re.compile(r"\b(how many|number of)\s", re.IGNORECASE)
_IRREGULAR_PLURALS: Final = frozenset(
    [
        "people",
        "men",
        "women",
        "children",
        "police",
        "staff",
        "personnel",
        "cattle",
        "troops",
        "feet",
        "teeth",
        "mice",
    ]
)
# How many of the question's words may follow a figure in its phrase.
_MAX_FOLLOWING: Final = 3


def asks_for_figure(question: str) -> bool:
    """Whether ``question`` asks for an amount: how many, how much, a number, a share."""
    return bool(_AMOUNT.search(question))


def counted(question: str) -> set[str]:
    """The terms of what a "how many"/"number of" question counts: the words after it up to
    the first plural ("How many Afghan soldiers crossed" -> afghan, soldier), at most three;
    empty when there is no such word."""
    match = _COUNTED.search(question)
    if match is None:
        return set()
    words = _WORD.findall(question[match.end() :])[:_MAX_FOLLOWING]
    for i, word in enumerate(words):
        if word.lower() in _IRREGULAR_PLURALS or (len(word) > 3 and word.lower().endswith("s")):
            return set(terms(" ".join(words[: i + 1])))
    return set()


def figure(text: str, question: str) -> tuple[str, str] | None:
    """What ``text`` reports in answer to ``question``: (the figure, its phrase). The figure
    is a number the question does not give; its phrase is the number with its hedge and
    scale and, on a "how many" question, the counted words that follow it ("at least 134
    soldiers"). On a "how many" question the figure must be followed by what is counted
    (the one followed by most of it, the first on a tie); otherwise it must carry a scale or
    a percent sign. None when there is no such number."""
    asked, wanted = numbers(question), counted(question)
    best: tuple[int, str, str] | None = None
    for match in _FIGURE.finditer(text):
        value = match.group(1).replace(",", "")
        if value in asked:
            continue
        following, end = 0, match.end()
        for word in _WORD.finditer(text, match.end()):
            gap = text[end : word.start()]
            if following >= _MAX_FOLLOWING or gap.strip() or not set(terms(word.group())) & wanted:
                break
            following, end = following + 1, word.end()
        scaled = match.end() > match.end(1)
        if (following if wanted else scaled) and (best is None or following > best[0]):
            best = (following, value, " ".join(text[match.start() : end].split()))
    return (best[1], best[2]) if best else None


def value_phrase(text: str, question: str) -> str | None:
    """The phrase of ``figure(text, question)``, or None."""
    found = figure(text, question)
    return found[1] if found else None


def sources_differ(chosen: Sequence[Sentence], question: str) -> bool:
    """Whether two documents among ``chosen`` answer a question asking for an amount with
    different figures ("1,037 Afghan soldiers" and "at least 134 soldiers")."""
    if not asks_for_figure(question):
        return False
    by_doc: dict[str, list[Sentence]] = {}
    for s in chosen:
        by_doc.setdefault(s.doc_id, []).append(s)
    figures = set()
    for group in by_doc.values():
        found = next((f for s in group if (f := figure(s.text, question))), None)
        if found is not None:
            figures.add(found[0])
    return len(figures) >= 2
