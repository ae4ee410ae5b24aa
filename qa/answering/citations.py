"""Citation markers: parse them, narrow each to the supporting sentences, verify, renumber."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sentencex import segment

from qa.answering.links import make_citation
from qa.answering.sentences import DocumentLookup, EvidencePassage
from qa.text import Sentence, numbers, terms
from qa.types import Citation, Document

ABSTAIN_TEXT = "The articles don't say."

SupportFn = Callable[[str, Sequence[Sentence]], Sequence[float]]

# Share of a claim's content words that its quoted sentences must contain...
MIN_LEXICAL_SUPPORT = 0.3
# ...unless the support hook (embedding cosine) finds the claim this close to them.
MIN_SEMANTIC_SUPPORT = 0.6
MAX_QUOTED_SENTENCES = 3

_ITEM = r"(?:sources?\s*)?\d+(?:\s*[-–]\s*\d+)?"
_GROUP = re.compile(rf"\[\s*{_ITEM}(?:\s*[,;]\s*{_ITEM})*\s*\]", re.IGNORECASE)
_RUN = re.compile(rf"(?:\s*{_GROUP.pattern})+", re.IGNORECASE)
_LEADING_RUN = re.compile(rf"^(?:\s*{_GROUP.pattern})+", re.IGNORECASE)
_RANGE = re.compile(r"(\d+)(?:\s*[-–]\s*(\d+))?")
_QUOTED = re.compile(r"[\"“”]([^\"“”]{3,}?)[\"“”]")
_NAME = re.compile(r"(?<![.!?:]\s)(?<!^)\b([A-Z][\w'-]*)")
_ABSTAIN = re.compile(r"^\W*the articles (?:don't|do not) say", re.IGNORECASE)


#: Prompt delimiters a document could carry to look like (or break out of) a source block:
#: "<source n=2>", "</source>", "< / source-1a2b>", "<history>".
_DELIMITER = re.compile(r"<\s*/?\s*(?:source|history)\b[^<>]{0,200}>?", re.IGNORECASE)


def inert(text: str) -> str:
    """Document text made safe to show in an answer: citation markers ("[1]", "[2, 3]",
    "[source 4]") and source delimiters ("</source>", "<source id=99>") removed, so that
    nothing a document says can pass for a citation or a source boundary. Only the answer
    text changes; a citation's ``quote`` stays verbatim (it is checked against the lines)."""
    text = _DELIMITER.sub(" ", text)
    text = _RUN.sub(" ", text)
    return re.sub(r"\s+([.,;:!?])", r"\1", " ".join(text.split()))


def _normalise(text: str) -> str:
    text = text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    return " ".join(text.lower().split())


def is_abstention(text: str) -> bool:
    """Whether a reply says the articles do not answer (markers ignored)."""
    return bool(_ABSTAIN.match(_normalise(_RUN.sub("", text))))


def _marker_numbers(run: str) -> list[int]:
    found: list[int] = []
    for group in _GROUP.findall(run):
        for low, high in _RANGE.findall(group):
            last = int(high) if high and 0 <= int(high) - int(low) < 20 else int(low)
            found.extend(n for n in range(int(low), last + 1) if n not in found)
    return found


@dataclass
class _Claim:
    text: str
    markers: list[int]
    line: int


def _clean(text: str) -> str:
    text = " ".join(_RUN.sub("", _DELIMITER.sub(" ", text)).split())
    return re.sub(r"\s+([.,;:!?])", r"\1", text)


def _claims(text: str) -> list[_Claim]:
    claims: list[_Claim] = []
    for index, line in enumerate(text.split("\n")):
        first = True
        for piece in segment("en", line):
            lead = _LEADING_RUN.match(piece)
            rest = piece
            if lead and not first and claims:
                # A marker after the full stop belongs to the sentence before it.
                claims[-1].markers.extend(_marker_numbers(lead.group()))
                rest = piece[lead.end() :]
            first = False
            body = _clean(rest)
            if body:
                claims.append(_Claim(body, _marker_numbers("".join(_RUN.findall(rest))), index))
    return claims


def parse_markers(text: str) -> list[tuple[str, list[int]]]:
    """Each sentence of ``text`` (markers removed) with the source numbers it cites."""
    return [(claim.text, claim.markers) for claim in _claims(text)]


def attach_markers(sentence: str, ns: Sequence[int]) -> str:
    """``sentence`` with ``[n]`` markers placed before its final full stop."""
    marks = "".join(f"[{n}]" for n in ns)
    if not marks:
        return sentence
    if sentence[-1:] in ".!?" and sentence[-2:-1] not in "\"”'’":
        return f"{sentence[:-1]} {marks}{sentence[-1]}"
    return f"{sentence} {marks}"


def verify_citation(citation: Citation, doc: Document) -> bool:
    """The quote stands verbatim in the cited, non-excluded lines of the stored document."""
    if citation.doc_id != doc.doc_id or not citation.quote.strip():
        return False
    if not 1 <= citation.line_start <= citation.line_end <= len(doc.lines):
        return False
    span = range(citation.line_start, citation.line_end + 1)
    if any(n in doc.excluded for n in span):
        return False
    return citation.quote in "\n".join(doc.lines[citation.line_start - 1 : citation.line_end])


def citation_for(n: int, sentences: Sequence[Sentence], doc: Document) -> Citation | None:
    """A verified citation quoting ``doc`` from the first to the last of ``sentences``."""
    if not sentences or any(doc.text[s.char_start : s.char_end] != s.text for s in sentences):
        return None  # nothing to quote, or the stored document changed since retrieval
    first = min(sentences, key=lambda s: s.char_start)
    start, end = first.char_start, max(s.char_end for s in sentences)
    citation = make_citation(
        n, doc, first.line_start, max(s.line_end for s in sentences), doc.text[start:end]
    )
    return citation if verify_citation(citation, doc) else None


def _overlap(claim_terms: set[str], sentences: Sequence[Sentence]) -> float:
    if not claim_terms:
        return 1.0
    covered = set().union(*(terms(s.text) for s in sentences))
    return len(claim_terms & covered) / len(claim_terms)


def _narrow(
    claim: str, source: EvidencePassage, doc: Document, support_fn: SupportFn | None
) -> list[int]:
    """Indexes of the adjacent sentences of ``source`` that best support ``claim``."""
    sentences = source.sentences
    claim_terms, claim_numbers = set(terms(claim)), numbers(claim)
    semantic = list(support_fn(claim, sentences)) if support_fn else [0.0] * len(sentences)

    def score(i: int) -> float:
        lexical = _overlap(claim_terms, [sentences[i]]) if claim_terms else 0.0
        shared = len(claim_numbers & numbers(sentences[i].text))
        return lexical + semantic[i] + 0.5 * shared / max(len(claim_numbers), 1)

    best = max(range(len(sentences)), key=score)
    chosen = [best]
    while len(chosen) < MAX_QUOTED_SENTENCES:
        picked = [sentences[i] for i in chosen]
        missing_terms = claim_terms - set().union(*(terms(s.text) for s in picked))
        missing_numbers = claim_numbers - set().union(*(numbers(s.text) for s in picked))
        gains = {}
        for i in (min(chosen) - 1, max(chosen) + 1):
            if not 0 <= i < len(sentences):
                continue
            lines = range(
                min(s.line_start for s in [*picked, sentences[i]]),
                max(s.line_end for s in [*picked, sentences[i]]) + 1,
            )
            if any(n in doc.excluded for n in lines):
                continue
            text = sentences[i].text
            gains[i] = 2 * len(missing_numbers & numbers(text)) + len(
                missing_terms & set(terms(text))
            )
        if not gains or max(gains.values()) < 2:
            break
        chosen.append(max(gains, key=lambda i: gains[i]))
    supported = _overlap(claim_terms, [sentences[i] for i in chosen]) >= MIN_LEXICAL_SUPPORT
    if not supported and max(semantic[i] for i in chosen) < MIN_SEMANTIC_SUPPORT:
        return []
    return sorted(chosen)


def _known_names(text: str) -> set[str]:
    """Word prefixes of ``text`` plus initials of its capitalised runs ("CSTO", "US")."""
    known = {w[:4] for w in re.findall(r"\w+", text.lower())}
    for run in re.findall(r"[A-Z][\w'-]*(?:\s+(?:of\s+|and\s+|the\s+)?[A-Z][\w'-]*)+", text):
        initials = "".join(w[0] for w in run.split() if w[0].isupper()).lower()
        known.add(initials)
        known.update(
            initials[i:j] for i in range(len(initials)) for j in range(i + 3, len(initials) + 1)
        )
    return known


def _grounded(claim: str, sources: Sequence[EvidencePassage]) -> bool:
    """Numbers, quoted phrases and names of ``claim`` all occur in its cited sources."""
    hits = [source.hit for source in sources]
    text = " ".join(
        [*(h.text for h in hits), *(f"{h.title} {h.source} {h.url or ''}" for h in hits)]
    )
    if not numbers(claim) <= numbers(text):
        return False
    normal = _normalise(text)
    if any(_normalise(q) not in normal for q in _QUOTED.findall(claim) if len(q.split()) > 1):
        return False
    # Names the model adds are its likeliest inventions; "Russia" still matches "Russian".
    known = _known_names(text)
    for name in _NAME.findall(claim):
        key = name.lower() if name.isupper() and len(name) <= 6 else name.lower()[:4]
        if len(name) > 1 and key not in known:
            return False
    return True


Span = tuple[str, int, int]  # doc_id, line_start, line_end


class _Resolver:
    """State of one resolve_citations call: documents read, spans quoted, markers dropped."""

    def __init__(self, sources: Sequence[EvidencePassage], documents: DocumentLookup) -> None:
        self.by_n = {source.n: source for source in sources}
        self.documents = documents
        self.docs: dict[str, Document] = {}
        self.spans: dict[Span, tuple[int, int]] = {}
        self.dropped = 0

    def _doc(self, doc_id: str) -> Document | None:
        if doc_id not in self.docs:
            doc = self.documents(doc_id)
            if doc is None:
                return None
            self.docs[doc_id] = doc
        return self.docs[doc_id]

    def claim(self, claim: _Claim, support_fn: SupportFn | None) -> list[Span] | None:
        """The verified spans of ``claim``; None removes it from the answer."""
        if not claim.markers:
            # A connective with nothing to check ("No.") stays; an uncited fact goes.
            checkable = len(terms(claim.text)) > 1 or bool(numbers(claim.text))
            self.dropped += checkable
            return None if checkable else []
        known = []
        for n in claim.markers:
            source = self.by_n.get(n)
            doc = self._doc(source.hit.doc_id) if source else None
            if source is None or doc is None:
                self.dropped += 1
            else:
                known.append((source, doc))
        if known and not _grounded(claim.text, [source for source, _ in known]):
            self.dropped += len(known)
            return None
        keys: list[Span] = []
        for source, doc in known:
            chosen = [source.sentences[i] for i in _narrow(claim.text, source, doc, support_fn)]
            citation = citation_for(0, chosen, doc)
            if citation is None:
                self.dropped += 1
                continue
            key = (doc.doc_id, citation.line_start, citation.line_end)
            low, high = chosen[0].char_start, chosen[-1].char_end
            old = self.spans.get(key, (low, high))
            self.spans[key] = (min(old[0], low), max(old[1], high))
            if key not in keys:
                keys.append(key)
        return keys or None

    def citation(self, key: Span, n: int) -> Citation:
        doc = self.docs[key[0]]
        low, high = self.spans[key]
        return make_citation(n, doc, key[1], key[2], doc.text[low:high])


def resolve_citations(
    answer_text: str,
    sources: Sequence[EvidencePassage],
    documents: DocumentLookup,
    *,
    support_fn: SupportFn | None = None,
) -> tuple[str, list[Citation], int]:
    """Verify every claim's markers against ``sources``; return (text, citations, dropped).

    Each ``[n]`` is narrowed to the sentences of source n that support the claim and quoted
    from the stored document. ``dropped`` counts discarded markers (unknown, unverifiable,
    unsupported) plus uncited sentences with content; a claim left without a verified
    citation is removed from the text. Citations are renumbered 1.. in order of first use;
    markers landing on the same document lines share a number (their quotes merged).
    """
    resolver = _Resolver(sources, documents)
    claims = _claims(answer_text)
    kept = [resolver.claim(claim, support_fn) for claim in claims]
    numbering: dict[Span, int] = {}
    for keys in kept:
        for key in keys or []:
            numbering.setdefault(key, len(numbering) + 1)
    citations = [resolver.citation(key, n) for key, n in numbering.items()]
    out: dict[int, list[str]] = {}
    for claim, keys in zip(claims, kept, strict=True):
        if keys is not None:
            marks = sorted({numbering[key] for key in keys})
            out.setdefault(claim.line, []).append(attach_markers(claim.text, marks))
    lines = [
        " ".join(out[i]) if i in out else ""
        for i, line in enumerate(answer_text.split("\n"))
        if i in out or not line.strip()
    ]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip(), citations, resolver.dropped
