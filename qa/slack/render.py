"""Pure Block Kit rendering of answers; every piece of document or user text is escaped."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import quote, urlsplit

from qa.types import Answer, Citation

# Slack's limits (https://docs.slack.dev/reference/block-kit/blocks).
SECTION_LIMIT = 3000
BLOCKS_PER_MESSAGE = 50
FALLBACK_LIMIT = 4000
BUTTON_VALUE_LIMIT = 2000
# Not a Slack limit: keeps each message readable and well below payload caps.
MESSAGE_TEXT_BUDGET = 12_000
# Display only: quotes are already verified and narrowed; very long ones are shortened.
QUOTE_LIMIT = 600

ACTION_UP = "qa_feedback_up"
ACTION_DOWN = "qa_feedback_down"
FEEDBACK_BLOCK_ID = "qa_feedback"
CITATION_BLOCK_PREFIX = "qa_cite_"

PLACEHOLDER = "Looking through the articles…"
NOT_FOUND = ":mag: *The articles don't contain an answer to this.*"
THANKS = "Thanks for the feedback!"

Block = dict[str, Any]


class SlackMessage(NamedTuple):
    """One chat message: notification fallback ``text`` and Block Kit ``blocks``."""

    text: str
    blocks: list[Block]


class CitationRef(NamedTuple):
    """Enough of a citation to rebuild it from the store after a restart."""

    n: int
    doc_id: str
    line_start: int
    line_end: int


def answer_hash(text: str) -> str:
    """A short fingerprint of an answer's text (finds the turn again after a restart)."""
    return hashlib.blake2b(text.encode(), digest_size=6).hexdigest()


@dataclass(frozen=True)
class FeedbackKey:
    """What a feedback button carries: conversation, turn index, answer hash, cited lines."""

    conversation_id: str
    turn: int
    answer_hash: str
    refs: tuple[CitationRef, ...] = ()

    def encode(self) -> str:
        """Compact JSON within Slack's button value limit (refs dropped from the end)."""
        refs = [list(r) for r in self.refs]
        while True:
            data = {"c": self.conversation_id, "t": self.turn, "h": self.answer_hash, "r": refs}
            value = json.dumps(data, separators=(",", ":"))
            if len(value) <= BUTTON_VALUE_LIMIT or not refs:
                return value
            refs.pop()

    @classmethod
    def decode(cls, value: str) -> FeedbackKey:
        """Parse a button value; ValueError when it is not one of ours."""
        try:
            data = json.loads(value)
            refs = tuple(CitationRef(int(n), str(d), int(a), int(b)) for n, d, a, b in data["r"])
            return cls(str(data["c"]), int(data["t"]), str(data["h"]), refs)
        except (TypeError, KeyError, ValueError) as exc:
            raise ValueError(f"not a feedback value: {value[:80]!r}") from exc

    @classmethod
    def for_answer(cls, conversation_id: str, turn: int, answer: Answer) -> FeedbackKey:
        refs = tuple(CitationRef(c.n, c.doc_id, c.line_start, c.line_end) for c in answer.citations)
        return cls(conversation_id, turn, answer_hash(answer.answer), refs)


def escape(text: str) -> str:
    """Escape for mrkdwn so text can never form links, mentions or channel pings."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_LINK = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")


def question_from_slack(text: str, bot_user_id: str | None) -> str:
    """Plain question text from a Slack message: bot mention removed, markup undone."""
    if bot_user_id:
        text = text.replace(f"<@{bot_user_id}>", " ")

    def plain(match: re.Match[str]) -> str:
        target, label = match.group(1), match.group(2)
        if label:
            return label
        if target.startswith(("@", "#")):
            return target
        return target.removeprefix("!")

    text = _LINK.sub(plain, text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return " ".join(text.split())


def _safe_url(url: str | None) -> str | None:
    """http(s) URLs only, with characters that would end a mrkdwn link percent-encoded."""
    if not url:
        return None
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return None
    if scheme not in ("http", "https"):
        return None
    return quote(url.strip(), safe=":/?#[]@!$&'()*+,;=%-._~")


def _label(text: str) -> str:
    # "|" would end the URL part of <url|label> early.
    return escape(text).replace("|", "¦")


def _cut(text: str, limit: int) -> int:
    """Length of the longest prefix whose escaped form fits ``limit``, at a nice boundary."""
    size = 0
    end = len(text)
    for i, ch in enumerate(text):
        size += len(escape(ch))
        if size > limit:
            end = i
            break
    if end == len(text):
        return end
    window = text[:end]
    for sep in ("\n\n", "\n", ". ", " "):
        at = window.rfind(sep)
        if at > end // 2:
            return at + len(sep)
    return max(end, 1)


def split_text(text: str, limit: int = SECTION_LIMIT) -> list[str]:
    """Split raw text into pieces whose escaped form is at most ``limit`` characters."""
    pieces: list[str] = []
    rest = text.strip()
    while len(escape(rest)) > limit:
        at = _cut(rest, limit)
        pieces.append(rest[:at].strip())
        rest = rest[at:].strip()
    if rest or not pieces:
        pieces.append(rest)
    return [p for p in pieces if p] or [""]


def _section(mrkdwn: str) -> Block:
    # verbatim: Slack must not auto-link names, channels or URLs inside our text.
    return {"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn, "verbatim": True}}


def _context(mrkdwn: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": mrkdwn, "verbatim": True}]}


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0] + "…"


def _lines(citation: Citation) -> str:
    """ "line 4", "lines 3-5", with the page first for a PDF ("p. 2, line 4")."""
    if citation.line_start == citation.line_end:
        lines = f"line {citation.line_start}"
    else:
        lines = f"lines {citation.line_start}-{citation.line_end}"
    return f"p. {citation.page}, {lines}" if citation.page is not None else lines


def citation_block(citation: Citation) -> Block:
    """``[n] Title, p. N, lines a-b`` (linked to the passage when there is a URL), then the
    quote."""
    url = _safe_url(citation.link or citation.url)
    title = _label(citation.title or citation.source)
    head = f"<{url}|{title}>" if url else f"*{title}*"
    lines = _lines(citation)
    # The document id names the article (collection/path) wherever it came from.
    source = f" · {escape(citation.doc_id)}" if citation.doc_id != citation.title else ""
    quote_text = escape(_shorten(citation.quote, QUOTE_LIMIT))
    block = _section(f"*[{citation.n}]* {head}, {lines}{source}\n>{quote_text}")
    return block | {"block_id": f"{CITATION_BLOCK_PREFIX}{citation.n}"}


def feedback_block(key: FeedbackKey) -> Block:
    value = key.encode()
    buttons = [
        (ACTION_UP, "👍 Helpful"),
        (ACTION_DOWN, "👎 Not helpful"),
    ]
    return {
        "type": "actions",
        "block_id": FEEDBACK_BLOCK_ID,
        "elements": [
            {
                "type": "button",
                "action_id": action_id,
                "text": {"type": "plain_text", "text": label, "emoji": True},
                "value": value,
            }
            for action_id, label in buttons
        ],
    }


def _block_text(block: Block) -> str:
    if "text" in block:
        return str(block["text"]["text"])
    return " ".join(str(e.get("text", "")) for e in block.get("elements", []))


def _fallback(text: str) -> str:
    """Notification text within FALLBACK_LIMIT without cutting an escape entity in half."""
    if len(text) <= FALLBACK_LIMIT:
        return text
    cut = text[: FALLBACK_LIMIT - 1]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + "…"


def _pack(blocks: list[Block]) -> list[list[Block]]:
    """Group blocks into messages of at most 50 blocks and MESSAGE_TEXT_BUDGET characters."""
    messages: list[list[Block]] = [[]]
    size = 0
    for block in blocks:
        length = len(_block_text(block))
        current = messages[-1]
        if current and (len(current) >= BLOCKS_PER_MESSAGE or size + length > MESSAGE_TEXT_BUDGET):
            messages.append([])
            size = 0
        messages[-1].append(block)
        size += length
    return messages


def render_answer(answer: Answer, feedback: FeedbackKey | None = None) -> list[SlackMessage]:
    """The answer as one or more thread messages (post them in order; buttons come last)."""
    body: list[Block] = []
    if answer.answerable:
        body += [_section(escape(piece)) for piece in split_text(answer.answer)]
    else:
        detail = answer.answer.strip()
        body.append(_section(NOT_FOUND))
        if detail:
            body += [_context(escape(piece)) for piece in split_text(detail)]
        if answer.closest is not None:
            c = answer.closest
            where = f"{_label(c.title or c.source)}, {_lines(c)}"
            quote = escape(_shorten(c.quote, 300))
            body.append(_context(f"Closest passage found (not an answer): {where}\n>{quote}"))
    if answer.answerable and answer.confidence is not None:
        body.append(_context(f"Confidence: {answer.confidence:.0%}"))
    if answer.degraded:
        reason = f": {escape(answer.degraded_reason)}" if answer.degraded_reason else ""
        body.append(_context(f":warning: Degraded answer{reason}. Quotes are still verified."))
    if answer.answerable and answer.citations:
        body.append({"type": "divider"})
        body += [citation_block(c) for c in sorted(answer.citations, key=lambda c: c.n)]
    if feedback is not None:
        body.append(feedback_block(feedback))
    messages = []
    for blocks in _pack(body):
        # Notifications show the answer itself; footnotes only when a message has nothing else.
        prose = [b for b in blocks if b["type"] in ("section", "context")]
        answer_only = [b for b in prose if not b.get("block_id", "").startswith("qa_cite_")]
        text = "\n".join(_block_text(b) for b in answer_only or prose)
        messages.append(SlackMessage(_fallback(text or "Sources"), blocks))
    return messages


def render_text(text: str) -> SlackMessage:
    """A short notice (placeholder, apology, input problem) from already-safe mrkdwn."""
    return SlackMessage(_fallback(text), [_section(text)])


def render_placeholder() -> SlackMessage:
    return render_text(PLACEHOLDER)


def render_apology(reference: str | None) -> SlackMessage:
    """What the thread sees when answering failed; ``reference`` helps find the log line."""
    ref = f" (reference: `{escape(reference)}`)" if reference else ""
    return render_text(f":warning: Sorry, I couldn't answer that just now. Please try again{ref}.")


def render_input_problem(problem: str) -> SlackMessage:
    """The question could not be used (empty, too long): say what to fix."""
    return render_text(f":information_source: {escape(problem)}")
