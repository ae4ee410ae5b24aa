"""Citation markers: parsing, narrowing to the supporting line, verification, renumbering."""

from __future__ import annotations

from collections.abc import Sequence

from fakes.articles import make_doc, make_hit
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.answering.citations import (
    ABSTAIN_TEXT,
    attach_markers,
    citation_for,
    inert,
    is_abstention,
    parse_markers,
    resolve_citations,
    verify_citation,
)
from qa.answering.sentences import build_sources
from qa.text import Sentence
from qa.types import Citation

TAJIK = make_doc(
    "tajik",
    [
        "Border guards take in fleeing soldiers",
        "",
        "The president of Tajikistan, Emomali Rakhmon, spoke with Vladimir Putin by telephone.",
        "Russia offered its support under the Collective Security Treaty Organisation.",
        "On July 5, Tajik border guards let 1,037 Afghan soldiers into the country.",
        "Share this story",
        'Officials called it "an expression of good neighbourliness" on Tuesday.',
    ],
    excluded={6},
)
KABUL = make_doc(
    "kabul",
    [
        "Kabul troops cross into Tajikistan",
        "Last week, at least 134 Afghan soldiers crossed the border after a Taliban attack.",
    ],
)
DOCS = {"tajik": TAJIK, "kabul": KABUL}
SOURCES = build_sources([make_hit(TAJIK, 3, 7), make_hit(KABUL, 1, 2)], DOCS.get)


def resolve(text: str) -> tuple[str, list[Citation], int]:
    return resolve_citations(text, SOURCES, DOCS.get)


def test_parse_markers_forms() -> None:
    text = "Alpha beta [1]. Gamma [1, 2]. Delta [1][3]. Epsilon. [2] Zeta [Source 4]."
    assert parse_markers(text) == [
        ("Alpha beta.", [1]),
        ("Gamma.", [1, 2]),
        ("Delta.", [1, 3]),
        ("Epsilon.", [2]),
        ("Zeta.", [4]),
    ]


def test_parse_markers_mid_sentence_and_ranges() -> None:
    assert parse_markers("A says 5 [1], B says 6 [2-3].") == [("A says 5, B says 6.", [1, 2, 3])]
    assert parse_markers("Huge [1-100000].") == [("Huge.", [1])]


def test_citation_is_narrowed_to_the_supporting_line() -> None:
    text, citations, dropped = resolve(
        "Tajik border guards let 1,037 Afghan soldiers into the country on July 5 [1]."
    )
    assert dropped == 0
    assert text == "Tajik border guards let 1,037 Afghan soldiers into the country on July 5 [1]."
    [citation] = citations
    assert (citation.doc_id, citation.line_start, citation.line_end) == ("tajik", 5, 5)
    assert citation.quote == TAJIK.lines[4]
    assert verify_citation(citation, TAJIK)


def test_unknown_marker_is_dropped_and_counted() -> None:
    text, citations, dropped = resolve("Putin spoke with Emomali Rakhmon by telephone [1][7].")
    assert text == "Putin spoke with Emomali Rakhmon by telephone [1]."
    assert [c.line_start for c in citations] == [3]
    assert dropped == 1


def test_claim_with_only_unknown_markers_is_removed() -> None:
    text, citations, dropped = resolve("Putin spoke with Rakhmon [1]. The moon is cheese [9].")
    assert text == "Putin spoke with Rakhmon [1]."
    assert len(citations) == 1
    assert dropped == 1


def test_claim_whose_number_is_not_in_the_source_is_removed() -> None:
    text, citations, dropped = resolve(
        "Guards let 5,000 Afghan soldiers in [1]. Putin spoke with Rakhmon [1]."
    )
    assert "5,000" not in text
    assert text == "Putin spoke with Rakhmon [1]."
    assert dropped == 1
    assert [c.line_start for c in citations] == [3]


def test_claim_whose_quoted_phrase_is_not_in_the_source_is_removed() -> None:
    text, _, dropped = resolve('Officials called it "a great act of friendship" [1].')
    assert text == ""
    assert dropped == 1
    text, citations, dropped = resolve(
        'Officials called it "an expression of good neighbourliness" [1].'
    )
    assert dropped == 0
    assert citations[0].line_start == 7


def test_claim_naming_someone_absent_from_the_source_is_removed() -> None:
    text, _, dropped = resolve("Putin spoke with Ashraf Ghani by telephone [1].")
    assert text == ""
    assert dropped == 1


def test_acronym_of_a_name_in_the_source_is_accepted() -> None:
    text, citations, _ = resolve("Russia offered support under the CSTO [1].")
    assert text == "Russia offered support under the CSTO [1]."
    assert citations[0].line_start == 4


def test_unrelated_claim_is_unsupported() -> None:
    text, citations, dropped = resolve("Bananas grow quickly in warm weather [1].")
    assert (text, citations, dropped) == ("", [], 1)


def test_uncited_fact_is_removed_but_a_bare_connective_stays() -> None:
    text, _, dropped = resolve("Yes. Putin spoke with Rakhmon [1]. Tajikistan is large.")
    assert text == "Yes. Putin spoke with Rakhmon [1]."
    assert dropped == 1


def test_citations_are_renumbered_in_order_of_first_use() -> None:
    text, citations, _ = resolve(
        "At least 134 Afghan soldiers crossed the border last week [2]. "
        "Tajik border guards let in 1,037 Afghan soldiers on July 5 [1]."
    )
    assert text == (
        "At least 134 Afghan soldiers crossed the border last week [1]. "
        "Tajik border guards let in 1,037 Afghan soldiers on July 5 [2]."
    )
    assert [(c.n, c.doc_id, c.line_start) for c in citations] == [(1, "kabul", 2), (2, "tajik", 5)]


def test_claims_citing_the_same_lines_share_one_number() -> None:
    text, citations, _ = resolve(
        "Putin spoke with Rakhmon [1]. Rakhmon is the president of Tajikistan [1]."
    )
    assert text == "Putin spoke with Rakhmon [1]. Rakhmon is the president of Tajikistan [1]."
    assert len(citations) == 1


def test_same_line_different_sentences_merge_with_a_covering_quote() -> None:
    doc = make_doc("m", ["T", "The army has 300 tanks. The navy has 40 ships."])
    sources = build_sources([make_hit(doc, 2, 2)], {"m": doc}.get)
    text, citations, _ = resolve_citations(
        "The army has 300 tanks [1]. The navy has 40 ships [1].", sources, {"m": doc}.get
    )
    assert text == "The army has 300 tanks [1]. The navy has 40 ships [1]."
    [citation] = citations
    assert citation.quote == "The army has 300 tanks. The navy has 40 ships."


def test_claim_spanning_two_adjacent_sentences_quotes_both() -> None:
    doc = make_doc("m", ["T", "The army has 300 tanks. The navy has 40 ships. Nothing else."])
    sources = build_sources([make_hit(doc, 2, 2)], {"m": doc}.get)
    _, citations, _ = resolve_citations(
        "The army has 300 tanks and the navy 40 ships [1].", sources, {"m": doc}.get
    )
    assert citations[0].quote == "The army has 300 tanks. The navy has 40 ships."


def test_support_hook_keeps_a_paraphrase_lexical_overlap_misses() -> None:
    claim = "Moscow pledged help within a regional alliance [1]."

    def support(_: str, sentences: Sequence[Sentence]) -> list[float]:
        return [0.9 if "Collective" in s.text else 0.0 for s in sentences]

    assert resolve(claim)[0] == ""
    text, citations, _ = resolve_citations(claim, SOURCES, DOCS.get, support_fn=support)
    assert text == "Moscow pledged help within a regional alliance [1]."
    assert citations[0].line_start == 4


def test_document_gone_from_the_store_drops_its_citations() -> None:
    text, citations, dropped = resolve_citations(
        "Putin spoke with Rakhmon [1].", SOURCES, {"kabul": KABUL}.get
    )
    assert (text, citations, dropped) == ("", [], 1)


def test_stale_source_is_not_quoted() -> None:
    changed = make_doc("tajik", ["Border guards", "", "Completely different text now."])
    text, citations, dropped = resolve_citations(
        "Putin spoke with Rakhmon [1].", SOURCES, {"tajik": changed}.get
    )
    assert (text, citations, dropped) == ("", [], 1)


def test_paragraphs_are_kept_and_emptied_lines_removed() -> None:
    text, _, _ = resolve(
        "Putin spoke with Rakhmon [1].\n\nThe moon is cheese [8].\n\n"
        "- At least 134 soldiers crossed last week [2]"
    )
    assert text == "Putin spoke with Rakhmon [1].\n\n- At least 134 soldiers crossed last week [2]"


def test_verify_citation_rejects_what_is_not_in_the_lines() -> None:
    good = Citation(
        n=1,
        doc_id="tajik",
        source="tajik.txt",
        title="t",
        line_start=5,
        line_end=5,
        quote="let 1,037 Afghan soldiers",
    )
    assert verify_citation(good, TAJIK)
    assert not verify_citation(good.model_copy(update={"quote": "let 1,038 Afghan"}), TAJIK)
    assert not verify_citation(good.model_copy(update={"line_start": 4, "line_end": 4}), TAJIK)
    assert not verify_citation(good.model_copy(update={"doc_id": "kabul"}), TAJIK)
    assert not verify_citation(good.model_copy(update={"line_end": 99}), TAJIK)
    assert not verify_citation(good.model_copy(update={"quote": "   "}), TAJIK)
    excluded = good.model_copy(update={"line_start": 6, "line_end": 6, "quote": "Share"})
    assert not verify_citation(excluded, TAJIK)


def test_citation_for_builds_a_verified_quote() -> None:
    sentences = SOURCES[0].sentences
    citation = citation_for(3, sentences[:2], TAJIK)
    assert citation is not None
    assert (citation.n, citation.line_start, citation.line_end) == (3, 3, 4)
    assert citation.quote == "\n".join(TAJIK.lines[2:4])
    assert citation_for(1, [], TAJIK) is None


def test_abstention_and_marker_helpers() -> None:
    assert is_abstention(ABSTAIN_TEXT)
    assert is_abstention("  The articles do not say who won. [1]")
    assert is_abstention("The articles don’t say.")
    assert not is_abstention("Putin spoke with Rakhmon [1].")
    assert attach_markers("A fact.", [1, 2]) == "A fact [1][2]."
    assert attach_markers('He said "yes."', [1]) == 'He said "yes." [1]'
    assert attach_markers("No stop", [3]) == "No stop [3]"
    assert attach_markers("Nothing.", []) == "Nothing."


ADVERSARIAL = [
    "",
    "   \n\n  ",
    "[1][2][3]",
    "[999999999999999999999].",
    "[[1]] nested [1]]",
    "[a] [1,] [ 1 , 2 ] [-1] [0]",
    "\u202eevil\u202c [1]",
    "Putin" * 500 + " [1]",
    "{sources} {question} [1]",
]


def test_adversarial_inputs_never_fail_and_only_verified_citations_remain() -> None:
    for text in ADVERSARIAL:
        _, citations, _ = resolve(text)
        for citation in citations:
            assert verify_citation(citation, DOCS[citation.doc_id])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(["[1]", "[2]", "[3]", "[1, 2]", ". ", "\n", '"', "1,037", "134"]),
            st.text(max_size=12),
            st.sampled_from(["Putin", "Rakhmon", "soldiers", "July 5", "border", "Taliban"]),
        ),
        max_size=30,
    )
)
def test_any_text_resolves_to_verified_numbered_citations(parts: list[str]) -> None:
    text, citations, dropped = resolve(" ".join(parts))
    assert dropped >= 0
    assert [c.n for c in citations] == list(range(1, len(citations) + 1))
    for citation in citations:
        assert verify_citation(citation, DOCS[citation.doc_id])
        assert f"[{citation.n}]" in text


def test_inert_removes_markers_and_source_delimiters() -> None:
    assert inert("Guards let 1,037 in [1] [2][99].") == "Guards let 1,037 in."
    assert inert("a </source> <source id=99> b") == "a b"
    assert inert('x < / Source-1a2b n="1"> y <HISTORY> z [source 3] [1-4] w') == "x y z w"
    assert inert("[sources 2, 3; 4] Text") == "Text"
    # Ordinary brackets and angle brackets are text, not markup of ours.
    assert (
        inert("Shares [a] rose, x < y and <b>bold</b>.")
        == "Shares [a] rose, x < y and <b>bold</b>."
    )


def test_delimiters_in_a_reply_do_not_reach_the_answer() -> None:
    reply = (
        "On July 5, Tajik border guards let 1,037 Afghan soldiers into the country "
        '</source> <source n="99"> [1][99].'
    )
    text, citations, dropped = resolve(reply)
    assert text == (
        "On July 5, Tajik border guards let 1,037 Afghan soldiers into the country [1]."
    )
    assert [(c.doc_id, c.line_start) for c in citations] == [("tajik", 5)]
    assert dropped == 1  # [99]
