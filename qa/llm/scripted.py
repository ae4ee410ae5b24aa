"""ScriptedChatModel: a ChatModel replying from a script, for tests and ``QA_LLM=scripted``."""

from __future__ import annotations

import itertools
import re
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence

from qa.errors import LLMError
from qa.ports import Message
from qa.types import ChatReply, ChatUsage

__all__ = ["ReplyFn", "ScriptedChatModel", "quote_first_source"]

#: A reply computed from the messages of the call.
ReplyFn = Callable[[Sequence[Message]], "str | ChatReply"]
Scripted = str | ChatReply | LLMError

# The first numbered line of the first source block, as qa/answering/llm.py renders it.
_FIRST_SOURCE_LINE = re.compile(r'<source n="(\d+)"[^>]*>\n\d+: ([^\n]*)')
_TOKEN = re.compile(r"\s+|\S+\s*")


def quote_first_source(messages: Sequence[Message]) -> ChatReply:
    """The default script: an answer prompt gets its first source's first line, cited
    (``<line> [n]``), which verification accepts; any other prompt (condensing a
    follow-up) gets its last user message back, which is a fine standalone question."""
    for message in messages:
        found = _FIRST_SOURCE_LINE.search(message.get("content", ""))
        if found and found.group(2).strip():
            return ChatReply(text=f"{found.group(2).strip()} [{found.group(1)}]")
    users = [m.get("content", "") for m in messages if m.get("role") == "user"]
    return ChatReply(text=users[-1] if users else "")


def split_pieces(text: str, pieces: int) -> list[str]:
    """``text`` in at most ``pieces`` parts cut at word boundaries; they join back to it."""
    tokens = _TOKEN.findall(text)
    if not tokens:
        return []
    count = max(1, min(pieces, len(tokens)))
    bounds = [round(i * len(tokens) / count) for i in range(count + 1)]
    return ["".join(tokens[a:b]) for a, b in itertools.pairwise(bounds)]


class ScriptedChatModel:
    """Replies from a script: a list consumed one call at a time (an ``LLMError`` in it is
    raised when its turn comes; an exhausted list raises LLMError), or a function of the
    messages. With no script every call gets ``quote_first_source``.

    A ``str`` reply carries ``usage`` (None by default); a ``ChatReply`` carries its own.
    Every call's messages are kept in ``calls`` (failed ones too). ``fail()`` makes calls
    raise LLMError until ``recover()`` (or for ``times`` calls), optionally part-way
    through a stream. Thread-safe.
    """

    def __init__(
        self,
        replies: Sequence[Scripted] | ReplyFn | None = None,
        *,
        usage: ChatUsage | None = None,
        model: str = "scripted",
        pieces: int = 3,
    ) -> None:
        self._lock = threading.Lock()
        self._queue: deque[Scripted] | None = None
        self._reply_fn: ReplyFn = quote_first_source
        if callable(replies):
            self._reply_fn = replies
        elif replies is not None:
            self._queue = deque(replies)
        self._scripted = 0 if self._queue is None else len(self._queue)
        self._usage = usage
        self._model = model
        self._pieces = pieces
        self._failure: LLMError | None = None
        self._fail_times: int | None = None
        self._fail_after_pieces = 0
        self.calls: list[list[Message]] = []

    @property
    def model(self) -> str:
        return self._model

    @property
    def remaining(self) -> int | None:
        """Replies left in a scripted list (None when replies come from a function)."""
        with self._lock:
            return None if self._queue is None else len(self._queue)

    def fail(
        self,
        error: LLMError | str = "scripted failure",
        *,
        times: int | None = None,
        after_pieces: int = 0,
    ) -> None:
        """Raise ``error`` from the next calls (every one, or the next ``times``). A stream
        yields ``after_pieces`` pieces of its reply first (consuming it) before raising."""
        with self._lock:
            self._failure = LLMError(error) if isinstance(error, str) else error
            self._fail_times = times
            self._fail_after_pieces = after_pieces

    def recover(self) -> None:
        """Stop failing."""
        with self._lock:
            self._failure = None

    def _take(self, messages: Sequence[Message]) -> tuple[LLMError | None, int]:
        """Record the call; the failure it should meet (and after how many pieces)."""
        with self._lock:
            self.calls.append([dict(m) for m in messages])
            failure = self._failure
            if failure is not None and self._fail_times is not None:
                self._fail_times -= 1
                if self._fail_times <= 0:
                    self._failure = None
            return failure, self._fail_after_pieces

    def _next_reply(self, messages: Sequence[Message]) -> ChatReply:
        with self._lock:
            queued = self._queue.popleft() if self._queue else None
            exhausted = self._queue is not None and queued is None
            call = len(self.calls)
        if exhausted:
            raise LLMError(
                f"ScriptedChatModel: no scripted reply left for call {call} "
                f"({self._scripted} were scripted): script more replies",
                retryable=False,
            )
        reply = self._reply_fn(messages) if queued is None else queued
        if isinstance(reply, LLMError):
            raise reply
        if isinstance(reply, str):
            return ChatReply(text=reply, usage=self._usage)
        return reply

    def complete(self, messages: Sequence[Message]) -> ChatReply:
        failure, _ = self._take(messages)
        if failure is not None:
            raise failure
        return self._next_reply(messages)

    def stream(self, messages: Sequence[Message]) -> Iterator[str | ChatReply]:
        """A few text pieces, then the whole ChatReply. The call is recorded (and a
        scripted failure before any piece raised) when the stream is first iterated."""
        failure, after = self._take(messages)
        if failure is not None and after <= 0:
            raise failure
        reply = self._next_reply(messages)
        parts = split_pieces(reply.text, self._pieces)
        for n, part in enumerate(parts):
            if failure is not None and n >= after:
                raise failure
            yield part
        if failure is not None:
            raise failure
        yield reply
