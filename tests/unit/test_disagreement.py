"""Sources that differ: which documents disagree, and what each one reports."""

from __future__ import annotations

import pytest
from fakes.articles import make_doc

from qa.answering.disagreement import figure, sources_differ, value_phrase
from qa.text import Sentence, document_sentences

SOLDIERS = "How many Afghan soldiers crossed the border?"


def sentences(doc_id: str, *lines: str) -> list[Sentence]:
    return document_sentences(make_doc(doc_id, ["Headline", *lines]))[1:]


@pytest.mark.parametrize(
    ("text", "question", "phrase"),
    [
        ("On July 5, guards let 1,037 Afghan soldiers in.", SOLDIERS, "1,037 Afghan soldiers"),
        ("Last week, at least 134 soldiers crossed.", SOLDIERS, "at least 134 soldiers"),
        (
            "Nearly 2 million people fled the city.",
            "How many people fled?",
            "Nearly 2 million people",
        ),
        # Not a count: a figure with a scale or a percent sign.
        ("Prices rose 8.5 percent in May.", "How much did prices rise?", "8.5 percent"),
        ("In May, 2 million were out of work, or 4%.", "What was the rate?", "2 million"),
        ("It cost 300 dollars in 2020.", "How much did it cost?", None),
        ("The 2 ships and 40 sailors came back.", "How many sailors came back?", "40 sailors"),
        # The question's own numbers are not answers.
        ("In 2021, 300 soldiers crossed.", "How many soldiers crossed in 2021?", "300 soldiers"),
        ("Guards let soldiers in on July 5.", SOLDIERS, None),  # no figure for the question
    ],
)
def test_value_phrase(text: str, question: str, phrase: str | None) -> None:
    assert value_phrase(text, question) == phrase


def test_the_figure_followed_by_most_of_the_question_words_wins() -> None:
    text = "After 12 soldiers were hurt, 500 Afghan soldiers crossed."
    assert figure(text, SOLDIERS) == ("500", "500 Afghan soldiers")


def test_documents_giving_different_figures_differ() -> None:
    chosen = [
        *sentences("a", "On July 5, guards let 1,037 Afghan soldiers in."),
        *sentences("b", "Last week, at least 134 soldiers crossed the border."),
    ]
    assert sources_differ(chosen, SOLDIERS)


@pytest.mark.parametrize(
    ("first", "second", "question"),
    [
        # The same figure, written alike or with other numbers beside it: they agree.
        ("Guards let 1,037 Afghan soldiers in.", "On July 5, 1037 soldiers crossed.", SOLDIERS),
        # Two figures from one document are not a disagreement between sources.
        ("Guards let 1,037 Afghan soldiers in.", None, SOLDIERS),
        # A question that does not ask for a figure.
        ("Guards let 1,037 Afghan soldiers in.", "Some 134 soldiers crossed.", "Who crossed?"),
        # A number with none of the question's words after it is not an answer to it.
        ("Guards let 1,037 Afghan soldiers in.", "Page 3 of 12: the border.", SOLDIERS),
    ],
)
def test_agreeing_or_unrelated_figures_do_not_differ(
    first: str, second: str | None, question: str
) -> None:
    chosen = sentences("a", first)
    chosen += sentences("b" if second else "a", second or "Then 134 Afghan soldiers came.")
    assert not sources_differ(chosen, question)


def test_dates_are_not_figures_that_differ() -> None:
    question = "When did the bridge open?"
    opened = sentences("a", "The bridge opened in 1932 after six years of work.")
    assert not sources_differ([*opened, *sentences("b", "It opened to traffic in 1934.")], question)
