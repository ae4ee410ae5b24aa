"""Who reported it and when: extractive answers name each cited sentence's publisher and date.

"At least 134 soldiers ... crossed the border [1]." becomes "According to rt.com (6 July
2021), at least 134 soldiers ... crossed the border [1]." The publisher is the document's
(``publisher``, else its ``source``), the date its ``published_at`` (left out when it has
none). Consecutive sentences from one document are attributed once. Only the answer text
changes: citations and their quotes are the verified ones the answerer made.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Final

from qa.answering.citations import inert
from qa.answering.disagreement import value_phrase
from qa.answering.extractive import ExtractiveAnswerer
from qa.answering.sentences import DocumentLookup, memoize
from qa.ports import Answerer
from qa.types import Answer, Citation, Document, Hit, Turn

DIFFER_TEXT: Final = "Sources differ."
# "[n]" and the full stop that attach_markers puts after it.
_MARKER: Final = re.compile(r"\s*\[(\d+)\]([.!?]?)")
_FIRST_WORD: Final = re.compile(r"[A-Z][a-z]*(?=\W|$)")
# Words that start a sentence with a capital only because they start it.
_COMMON_WORDS: Final = """
    a an the this that these those it its there their they he she his her we our some many
    most more several few all both each every any no not one two three other another such in
    on at after before during over under since until while when where as by for from with
    without about according last next earlier later meanwhile however instead also still
    then now today yesterday tomorrow here thus therefore moreover furthermore although
    though despite even only if because yet but and or so what who which why how
"""
_COMMON: Final = frozenset(_COMMON_WORDS.split())


def reporter(doc: Document) -> str:
    """ "PUBLISHER (6 July 2021)", or without the date when it has none."""
    who = inert(doc.publisher or doc.source) or doc.source
    if doc.published_at is None:
        return who
    day = doc.published_at
    return f"{who} ({day.day} {day:%B} {day.year})"


def attribution(doc: Document) -> str:
    """ "According to PUBLISHER (6 July 2021)", or without the date when it has none."""
    return f"According to {reporter(doc)}"


def disagreement(answer: Answer, question: str, documents: DocumentLookup) -> str | None:
    """The opening line of an answer whose sources differ: "Sources differ: AsiaNews (6 July
    2021) reports 1,037 Afghan soldiers [1]; RT (6 July 2021) reports at least 134 soldiers
    [2]." None when fewer than two sources' figures can be named (the attributed sentences
    then follow a plain "Sources differ.")."""
    lookup = memoize(documents)
    reports: dict[str, tuple[str, int]] = {}
    for c in answer.citations:
        if c.doc_id in reports:
            continue
        doc, phrase = lookup(c.doc_id), value_phrase(c.quote, question)
        if doc is not None and phrase is not None:
            reports[c.doc_id] = (f"{reporter(doc)} reports {phrase}", c.n)
    if len(reports) < 2:
        return None
    return "Sources differ: " + "; ".join(f"{r} [{n}]" for r, n in reports.values()) + "."


def _lowered(sentence: str, doc: Document) -> str:
    """``sentence`` with its first word in lower case when that word is an ordinary word
    (a common one, or one the document itself writes in lower case), not a name."""
    match = _FIRST_WORD.match(sentence)
    if match is None or match.group() == "I":
        return sentence
    word = match.group().lower()
    if word in _COMMON or re.search(rf"\b{re.escape(word)}\b", doc.text):
        return word + sentence[match.end() :]
    return sentence


def _names(sentence: str, doc: Document) -> bool:
    """Whether ``sentence`` already says who reported it ("Moscow (AsiaNews) - ...")."""
    who = doc.publisher or doc.source
    return who.lower() in sentence.lower()


def _pieces(text: str, numbers: set[int]) -> list[tuple[str, int | None]]:
    """The text cut after each citation marker: (piece, its citation number)."""
    pieces: list[tuple[str, int | None]] = []
    start = 0
    for match in _MARKER.finditer(text):
        if int(match[1]) in numbers:
            pieces.append((text[start : match.end()].strip(), int(match[1])))
            start = match.end()
    if text[start:].strip():
        pieces.append((text[start:].strip(), None))
    return [(piece, n) for piece, n in pieces if piece]


def attributed_pieces(answer: Answer, documents: DocumentLookup) -> list[str]:
    """The sentences of an extractive ``answer``, each run from one document opening with
    who published it and when."""
    by_n: dict[int, Citation] = {c.n: c for c in answer.citations}
    lookup = memoize(documents)
    out: list[str] = []
    previous: str | None = None
    for piece, n in _pieces(answer.answer, set(by_n)):
        doc = lookup(by_n[n].doc_id) if n is not None else None
        if doc is None or doc.doc_id == previous or _names(piece, doc):
            out.append(piece)
        else:
            out.append(f"{attribution(doc)}, {_lowered(piece, doc)}")
        previous = doc.doc_id if doc is not None else previous
    return out


def framed_pieces(answer: Answer, question: str, documents: DocumentLookup) -> list[str]:
    """The pieces of an extractive ``answer`` as shown: attributed, and when its sources
    differ, opened by a line saying who reports what (the sentences then follow as cited,
    the opening line having named their sources) or by "Sources differ." (then each
    sentence names its source)."""
    if not answer.sources_differ:
        return attributed_pieces(answer, documents)
    opening = disagreement(answer, question, documents)
    if opening is None:
        return [DIFFER_TEXT, *attributed_pieces(answer, documents)]
    by_n = {c.n for c in answer.citations}
    return [opening, *(piece for piece, _ in _pieces(answer.answer, by_n))]


def attribute(answer: Answer, documents: DocumentLookup, question: str = "") -> Answer:
    """``answer`` with its sentences attributed (extractive answers with citations only)."""
    if answer.mode != "extractive" or not answer.citations:
        return answer
    pieces = framed_pieces(answer, question, documents)
    return answer.model_copy(update={"answer": " ".join(pieces)})


class AttributedAnswerer:
    """An Answerer whose extractive answers say who reported each sentence and when.

    Meant around the extractive answerer, whose stream is computed whole before its first
    delta: the stream is collected, attributed, and sent again sentence by sentence, so the
    deltas add up to the final answer's text.
    """

    def __init__(self, inner: Answerer, documents: DocumentLookup) -> None:
        """``documents``: where cited documents are read, unless ``inner`` is the extractive
        answerer, whose answers come with the documents it read for them."""
        self._inner = inner
        self._documents = documents

    def _answered(
        self, question: str, hits: Sequence[Hit], history: Sequence[Turn]
    ) -> tuple[Answer, DocumentLookup]:
        if isinstance(self._inner, ExtractiveAnswerer):
            _, answer, documents = self._inner.respond(question, hits)
            return answer, documents
        return self._inner.answer(question, hits, history), self._documents

    def answer(self, question: str, hits: Sequence[Hit], history: Sequence[Turn]) -> Answer:
        answer, documents = self._answered(question, hits, history)
        return attribute(answer, documents, question)

    def stream(
        self, question: str, hits: Sequence[Hit], history: Sequence[Turn]
    ) -> Iterator[str | Answer]:
        if isinstance(self._inner, ExtractiveAnswerer):
            pieces, answer, documents = self._inner.respond(question, hits)
            deltas = [piece if i == 0 else f" {piece}" for i, piece in enumerate(pieces)]
            yield from self._framed(answer, question, documents, deltas)
            return
        deltas = []
        for item in self._inner.stream(question, hits, history):
            if isinstance(item, Answer):
                yield from self._framed(item, question, self._documents, deltas)
                return
            deltas.append(item)

    @staticmethod
    def _framed(
        answer: Answer, question: str, documents: DocumentLookup, deltas: Sequence[str]
    ) -> Iterator[str | Answer]:
        """The inner answer's ``deltas`` and ``answer``, attributed when it is extractive
        with citations."""
        if answer.mode != "extractive" or not answer.citations:
            yield from deltas
            yield answer
            return
        pieces = framed_pieces(answer, question, documents)
        for i, piece in enumerate(pieces):
            yield piece if i == 0 else f" {piece}"
        yield answer.model_copy(update={"answer": " ".join(pieces)})
