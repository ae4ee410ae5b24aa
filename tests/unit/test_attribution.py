"""Attribution: extractive answers say who reported each sentence and when."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

import pytest
from fakes.articles import make_doc, make_hit

from qa.answering.attribution import AttributedAnswerer, attribute, attribution
from qa.answering.citations import verify_citation
from qa.answering.extractive import ExtractiveAnswerer
from qa.embeddings.hashing import HashingEmbedder
from qa.types import Answer, Citation, Hit, Turn

JULY6 = datetime(2021, 7, 6, 11, 48, tzinfo=UTC)
TAJIK = make_doc(
    "tajik",
    [
        "Guards take in fleeing soldiers",
        "Moscow (AsiaNews) - Putin spoke with the Tajik president by telephone.",
        "On July 5, Tajik border guards let 1,037 Afghan soldiers into the country.",
        "The border in Badakhshan province stretches for 910 kilometres.",
        "Officials said the guards acted out of good neighbourliness; officials praised them.",
    ],
).model_copy(update={"publisher": "AsiaNews"})
KABUL = make_doc(
    "kabul",
    [
        "Kabul troops cross into Tajikistan",
        "Last week, at least 134 Afghan soldiers crossed the border into Tajikistan.",
        "Tajikistan is a member of a regional security treaty.",
    ],
).model_copy(update={"publisher": "RT", "published_at": JULY6})
DOCS = {d.doc_id: d for d in (TAJIK, KABUL)}
HITS = [make_hit(TAJIK, 1, 5), make_hit(KABUL, 1, 3)]


def cite(n: int, doc_id: str, line: int) -> Citation:
    doc = DOCS[doc_id]
    return Citation(
        n=n,
        doc_id=doc_id,
        source=doc.source,
        title=doc.title,
        line_start=line,
        line_end=line,
        quote=doc.lines[line - 1],
    )


def extractive(text: str, *citations: Citation) -> Answer:
    return Answer(answer=text, answerable=True, citations=list(citations))


def test_attribution_names_publisher_and_day() -> None:
    assert attribution(KABUL) == "According to RT (6 July 2021)"
    assert attribution(TAJIK) == "According to AsiaNews"  # no date: none made up
    assert attribution(make_doc("x", ["T"])) == "According to x.txt"  # no publisher: source


def test_each_sentence_opens_with_who_reported_it_and_when() -> None:
    answer = extractive(
        "Last week, at least 134 Afghan soldiers crossed the border into Tajikistan [1]. "
        "On July 5, Tajik border guards let 1,037 Afghan soldiers into the country [2].",
        cite(1, "kabul", 2),
        cite(2, "tajik", 3),
    )
    out = attribute(answer, DOCS.get)
    assert out.answer == (
        "According to RT (6 July 2021), last week, at least 134 Afghan soldiers crossed the "
        "border into Tajikistan [1]. According to AsiaNews, on July 5, Tajik border guards "
        "let 1,037 Afghan soldiers into the country [2]."
    )
    assert out.citations == answer.citations  # untouched: still the verified quotes


@pytest.mark.parametrize(
    ("sentence", "opening"),
    [
        ("Putin spoke with the Tajik president by telephone [1].", "Putin spoke"),  # a name
        ("Officials said the guards acted [1].", "officials said"),  # the text writes it lower
        ("The border stretches for 910 kilometres [1].", "the border"),
        ("A group crossed [1].", "a group"),
        ("US troops left [1].", "US troops"),
        ("I saw them [1].", "I saw"),
    ],
)
def test_only_ordinary_first_words_lose_their_capital(sentence: str, opening: str) -> None:
    out = attribute(extractive(sentence, cite(1, "tajik", 2)), DOCS.get)
    assert out.answer == f"According to AsiaNews, {opening}{sentence[len(opening) :]}"


def test_a_run_from_one_document_is_attributed_once() -> None:
    answer = extractive(
        "Tajik border guards let 1,037 soldiers in [1]. The border is 910 kilometres long [2].",
        cite(1, "tajik", 3),
        cite(2, "tajik", 4),
    )
    out = attribute(answer, DOCS.get).answer
    assert out.count("According to") == 1
    assert out.endswith("The border is 910 kilometres long [2].")


def test_abstentions_llm_answers_and_unknown_documents_are_left_alone() -> None:
    abstained = Answer(answer="The articles don't say.", answerable=False)
    assert attribute(abstained, DOCS.get) == abstained
    llm = extractive("They let in 1,037 [1].", cite(1, "tajik", 3)).model_copy(
        update={"mode": "llm"}
    )
    assert attribute(llm, DOCS.get) == llm
    gone = extractive("They let in 1,037 [1].", cite(1, "tajik", 3))
    assert attribute(gone, {}.get).answer == gone.answer


def test_the_decorated_extractive_answerer_keeps_its_citations_verified() -> None:
    inner = ExtractiveAnswerer(HashingEmbedder(), DOCS.get, threshold=0.3)
    decorated = AttributedAnswerer(inner, DOCS.get)
    question = "How many Afghan soldiers crossed the border?"
    plain, answer = inner.answer(question, HITS, []), decorated.answer(question, HITS, [])
    assert answer.citations == plain.citations and len(answer.citations) >= 2
    assert all(verify_citation(c, DOCS[c.doc_id]) for c in answer.citations)
    # The two articles give different figures: the answer opens by saying who reports what.
    assert answer.sources_differ
    n: dict[str, int] = {}
    for c in answer.citations:
        n.setdefault(c.doc_id, c.n)
    assert answer.answer.startswith("Sources differ: ")
    assert f"RT (6 July 2021) reports at least 134 Afghan soldiers [{n['kabul']}]" in answer.answer
    assert f"AsiaNews reports 1,037 Afghan soldiers [{n['tajik']}]" in answer.answer
    # The stream sends the attributed sentences, and they add up to the final text.
    items = list(decorated.stream(question, HITS, []))
    final = items[-1]
    assert isinstance(final, Answer)
    assert "".join(str(d) for d in items[:-1]) == final.answer == answer.answer
    assert len(items) - 1 == len(final.citations) + 1  # the opening line, then each sentence


def differing(first: str, second: str) -> Answer:
    return extractive(f"{first} [1]. {second} [2].", cite(1, "kabul", 2), cite(2, "tajik", 3))


def test_sources_that_differ_are_named_with_what_each_reports() -> None:
    answer = differing(
        "Last week, at least 134 Afghan soldiers crossed the border into Tajikistan",
        "On July 5, Tajik border guards let 1,037 Afghan soldiers into the country",
    ).model_copy(update={"sources_differ": True})
    out = attribute(answer, DOCS.get, "How many Afghan soldiers crossed the border?")
    assert out.answer == (
        "Sources differ: RT (6 July 2021) reports at least 134 Afghan soldiers [1]; AsiaNews "
        "reports 1,037 Afghan soldiers [2]. Last week, at least 134 Afghan soldiers crossed "
        "the border into Tajikistan [1]. On July 5, Tajik border guards let 1,037 Afghan "
        "soldiers into the country [2]."
    )
    assert out.citations == answer.citations


def test_sources_that_differ_without_a_nameable_figure_are_still_said_to() -> None:
    answer = differing(
        "Last week, at least 134 Afghan soldiers crossed the border into Tajikistan",
        "On July 5, Tajik border guards let 1,037 Afghan soldiers into the country",
    ).model_copy(update={"sources_differ": True})
    out = attribute(answer, DOCS.get, "When did the soldiers cross?")
    assert out.answer.startswith("Sources differ. According to RT (6 July 2021), last week,")
    assert "According to AsiaNews, on July 5" in out.answer


def test_agreeing_sources_are_attributed_as_usual() -> None:
    answer = differing("Some 1,037 Afghan soldiers crossed", "Guards let 1,037 Afghan soldiers in")
    out = attribute(answer, DOCS.get, "How many Afghan soldiers crossed the border?")
    assert "differ" not in out.answer
    assert out.answer.startswith("According to RT (6 July 2021), some 1,037")


class Scripted:
    """An Answerer replying with a fixed stream."""

    def __init__(self, *items: str | Answer) -> None:
        self.items = items

    def answer(self, question: str, hits: Sequence[Hit], history: Sequence[Turn]) -> Answer:
        final = self.items[-1]
        assert isinstance(final, Answer)
        return final

    def stream(
        self, question: str, hits: Sequence[Hit], history: Sequence[Turn]
    ) -> Iterator[str | Answer]:
        yield from self.items


def test_a_stream_without_citations_passes_through() -> None:
    abstained = Answer(answer="The articles don't say.", answerable=False)
    decorated = AttributedAnswerer(Scripted("The articles don't say.", abstained), DOCS.get)
    assert list(decorated.stream("q", [], [])) == ["The articles don't say.", abstained]


def test_a_sentence_that_names_its_publisher_is_left_as_it_is() -> None:
    sentence = "Moscow (AsiaNews) - Putin spoke with the Tajik president by telephone [1]."
    assert attribute(extractive(sentence, cite(1, "tajik", 2)), DOCS.get).answer == sentence
    instead = "Instead, officials asked others [1]."
    assert attribute(extractive(instead, cite(1, "tajik", 2)), DOCS.get).answer == (
        "According to AsiaNews, instead, officials asked others [1]."
    )
