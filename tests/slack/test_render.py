"""Block Kit rendering: structure, Slack's limits, escaping, feedback values."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.slack.render import (
    ACTION_DOWN,
    ACTION_UP,
    BLOCKS_PER_MESSAGE,
    BUTTON_VALUE_LIMIT,
    FALLBACK_LIMIT,
    NOT_FOUND,
    SECTION_LIMIT,
    CitationRef,
    FeedbackKey,
    answer_hash,
    escape,
    question_from_slack,
    render_answer,
    render_apology,
    split_text,
)
from qa.types import Answer, Citation


def citation(n: int = 1, **overrides: Any) -> Citation:
    fields: dict[str, Any] = {
        "n": n,
        "doc_id": "000_4e774364687dacde.txt",
        "source": "000_4e774364687dacde.txt",
        "title": "Tajikistan lets Afghan soldiers in",
        "url": "https://news.example/tajik?id=1&lang=en",
        "line_start": 4,
        "line_end": 4,
        "quote": "On July 5, Tajik border guards let 1,037 Afghan soldiers into their territory.",
    }
    return Citation(**(fields | overrides))


def answer(text: str = "They let 1,037 soldiers in [1].", **overrides: Any) -> Answer:
    fields: dict[str, Any] = {"answer": text, "answerable": True, "citations": [citation()]}
    return Answer(**(fields | overrides))


def texts(blocks: list[dict[str, Any]]) -> list[str]:
    """Every text string in the blocks (sections, context elements, button labels)."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("text"), str):
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(blocks)
    return found


KEY = FeedbackKey("slack:T1:C1:1700000000.000001", 0, "abc123")


def test_answer_has_text_footnote_quote_and_buttons() -> None:
    [message] = render_answer(answer(), KEY)
    kinds = [b["type"] for b in message.blocks]
    assert kinds == ["section", "divider", "section", "actions"]
    assert message.blocks[0]["text"]["text"] == "They let 1,037 soldiers in [1]."
    footnote = message.blocks[2]["text"]["text"]
    assert footnote.startswith(
        "*[1]* <https://news.example/tajik?id=1&lang=en|Tajikistan lets Afghan soldiers in>, line 4"
    )
    assert "000_4e774364687dacde.txt" in footnote
    assert "\n>On July 5, Tajik border guards let 1,037 Afghan soldiers" in footnote
    buttons = message.blocks[3]["elements"]
    assert [b["action_id"] for b in buttons] == [ACTION_UP, ACTION_DOWN]
    assert FeedbackKey.decode(buttons[0]["value"]) == KEY
    assert message.text == "They let 1,037 soldiers in [1]."  # notifications skip footnotes


def test_footnote_without_url_names_title_and_line_range() -> None:
    [message] = render_answer(answer(citations=[citation(url=None, line_start=3, line_end=5)]))
    footnote = message.blocks[2]["text"]["text"]
    assert footnote.startswith("*[1]* *Tajikistan lets Afghan soldiers in*, lines 3-5")
    assert "<" not in footnote


def test_footnote_links_to_the_passage_and_names_a_pdf_page() -> None:
    link = "https://news.example/tajik?id=1&lang=en#:~:text=Tajik%20border%20guards"
    [message] = render_answer(answer(citations=[citation(link=link, page=2)]))
    footnote = message.blocks[2]["text"]["text"]
    assert footnote.startswith(f"*[1]* <{link}|Tajikistan lets Afghan soldiers in>, p. 2, line 4")


def test_no_buttons_without_a_feedback_key() -> None:
    [message] = render_answer(answer())
    assert all(b["type"] != "actions" for b in message.blocks)


def test_unanswerable_says_so_and_cites_nothing() -> None:
    [message] = render_answer(
        answer("The articles do not say.", answerable=False, citations=[citation()]), KEY
    )
    assert message.blocks[0]["text"]["text"] == NOT_FOUND
    assert "The articles do not say." in texts(message.blocks)
    assert not any("[1]" in t for t in texts(message.blocks))
    assert [b["type"] for b in message.blocks][-1] == "actions"


def test_confidence_is_shown_with_an_answer_and_not_with_an_abstention() -> None:
    [message] = render_answer(answer(confidence=0.8703))
    assert "Confidence: 87%" in texts(message.blocks)
    [message] = render_answer(answer("No.", answerable=False, confidence=0.1))
    assert not any("Confidence" in t for t in texts(message.blocks))


def test_abstention_shows_the_closest_passage_as_not_an_answer() -> None:
    closest = citation(line_start=7, line_end=7)
    [message] = render_answer(answer("No.", answerable=False, closest=closest))
    [note] = [t for t in texts(message.blocks) if t.startswith("Closest passage")]
    assert note.startswith(
        "Closest passage found (not an answer): Tajikistan lets Afghan soldiers in, line 7\n>"
    )
    assert not any(t.startswith("*[1]*") for t in texts(message.blocks))


def test_degraded_answer_carries_a_note() -> None:
    [message] = render_answer(answer(degraded=True, degraded_reason="LLM timed out <retry>"))
    notes = [t for t in texts(message.blocks) if "Degraded" in t]
    assert notes == [
        ":warning: Degraded answer: LLM timed out &lt;retry&gt;. Quotes are still verified."
    ]


HOSTILE = "<@U123> <!channel> <https://evil.example|click me> & co"


def test_document_and_answer_text_cannot_make_links_or_mentions() -> None:
    hostile = citation(title=HOSTILE, source="<!here>", quote=HOSTILE, url="javascript:alert(1)")
    [message] = render_answer(answer(f"Answer {HOSTILE} [1].", citations=[hostile]))
    for text in [*texts(message.blocks), message.text]:
        assert "<@" not in text and "<!" not in text and "<https://evil" not in text
    assert "&lt;@U123&gt;" in message.blocks[0]["text"]["text"]
    assert "&amp; co" in message.blocks[0]["text"]["text"]
    assert all(b["text"]["verbatim"] for b in message.blocks if b["type"] == "section")


def test_url_cannot_break_out_of_its_link() -> None:
    tricky = citation(url="https://x.example/a>b|<@U1>", title="T|itle")
    [message] = render_answer(answer(citations=[tricky]))
    footnote = message.blocks[2]["text"]["text"]
    assert footnote.startswith("*[1]* <https://x.example/a%3Eb%7C%3C@U1%3E|T¦itle>, line 4")


def test_long_answer_is_split_within_slack_limits() -> None:
    paragraph = "Border & guards <counted> soldiers. " * 120  # ~4,300 chars, ~5,500 escaped
    long_text = "\n\n".join([paragraph] * 8)
    many = [citation(n, line_start=n, line_end=n) for n in range(1, 71)]
    messages = render_answer(answer(long_text, citations=many), KEY)
    assert len(messages) > 1
    for message in messages:
        assert len(message.blocks) <= BLOCKS_PER_MESSAGE
        assert len(message.text) <= FALLBACK_LIMIT
        assert all(len(t) <= SECTION_LIMIT for t in texts(message.blocks))
    kinds = [b["type"] for m in messages for b in m.blocks]
    assert kinds[-1] == "actions" and kinds.count("actions") == 1
    footnotes = [t for m in messages for t in texts(m.blocks) if t.startswith("*[")]
    assert len(footnotes) == 70
    answer_sections = [
        b["text"]["text"] for m in messages for b in m.blocks if b["type"] == "section"
    ][: -len(footnotes)]
    assert " ".join(answer_sections).split() == escape(long_text).split()


def test_fallback_text_never_ends_inside_an_escape() -> None:
    messages = render_answer(answer("&" * 5000))
    for message in messages:
        assert len(message.text) <= FALLBACK_LIMIT
        assert re.fullmatch(r"(&amp;)*…?", message.text.split("\n")[0])


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab &<>\n."), max_size=9000), st.integers(20, 400))
def test_split_text_keeps_every_word_within_the_limit(text: str, limit: int) -> None:
    pieces = split_text(text, limit)
    assert all(len(escape(p)) <= limit for p in pieces)
    assert "".join("".join(pieces).split()) == "".join(text.split())


def test_feedback_value_round_trips_and_fits_slack() -> None:
    refs = tuple(CitationRef(n, f"doc-{n:04d}-" + "x" * 40, n, n + 2) for n in range(1, 80))
    key = FeedbackKey("slack:T1:C1:1.2", 3, answer_hash("hello"), refs)
    value = key.encode()
    assert len(value) <= BUTTON_VALUE_LIMIT
    decoded = FeedbackKey.decode(value)
    assert decoded.conversation_id == key.conversation_id and decoded.turn == 3
    assert decoded.refs == refs[: len(decoded.refs)] and 0 < len(decoded.refs) < len(refs)


@pytest.mark.parametrize("value", ["", "nope", "[]", json.dumps({"c": "x", "t": "y", "h": "z"})])
def test_foreign_button_values_are_rejected(value: str) -> None:
    with pytest.raises(ValueError, match="not a feedback value"):
        FeedbackKey.decode(value)


def test_answer_hash_tells_answers_apart() -> None:
    assert answer_hash("a") == answer_hash("a") != answer_hash("b")


def test_question_from_slack_removes_the_mention_and_markup() -> None:
    text = (
        "<@UBOT>  How many &lt;Afghan&gt; soldiers &amp; guards? <https://x.example|see> <#C1|news>"
    )
    assert question_from_slack(text, "UBOT") == "How many <Afghan> soldiers & guards? see news"
    assert question_from_slack("<@UBOT>", "UBOT") == ""
    assert question_from_slack("ask <@UOTHER>", "UBOT") == "ask @UOTHER"


def test_apology_names_the_reference_escaped() -> None:
    message = render_apology("Ev<1>")
    assert "`Ev&lt;1&gt;`" in message.blocks[0]["text"]["text"]
    assert message.text.startswith(":warning: Sorry")
