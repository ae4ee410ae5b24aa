"""ChatModel adapter for any OpenAI-compatible /chat/completions endpoint (openai SDK)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from typing import Any, cast

import openai

from qa.config import PLACEHOLDER_API_KEY, LLMSettings
from qa.errors import LLMError
from qa.ports import Message
from qa.types import ChatReply, ChatUsage

logger = logging.getLogger(__name__)


def _llm_error(exc: openai.OpenAIError) -> LLMError:
    """Our error for the SDK's, raised after the SDK's own retries are spent."""
    if isinstance(exc, openai.APITimeoutError):
        return LLMError("chat model timed out", retryable=True)
    if isinstance(exc, openai.APIConnectionError):
        return LLMError("chat model unreachable", retryable=True)
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        retryable = status in (408, 409, 429) or status >= 500
        return LLMError(
            f"chat model returned HTTP {status}: {exc.message[:200]}", retryable=retryable
        )
    return LLMError(f"chat model failed: {type(exc).__name__}: {str(exc)[:200]}", retryable=False)


def _usage(usage: Any) -> ChatUsage | None:
    """The SDK's usage object as ours; None when the server sent none."""
    if usage is None:
        return None
    return ChatUsage(
        prompt_tokens=int(usage.prompt_tokens or 0),
        completion_tokens=int(usage.completion_tokens or 0),
        total_tokens=int(usage.total_tokens or 0),
    )


class OpenAIChatModel:
    """ChatModel over an injected ``openai.OpenAI`` client.

    Retries on 429/5xx/timeouts with backoff are the client's own (``max_retries``,
    ``timeout``, honouring Retry-After); whatever still fails is raised as LLMError.
    Every call returns its own token usage (when the server sends it) in its ChatReply: the
    model keeps no per-call state, so one instance serves concurrent requests.
    """

    def __init__(self, client: openai.OpenAI, model: str, *, temperature: float = 0.0) -> None:
        self._client = client
        self._model = model
        self._temperature = temperature

    @property
    def model(self) -> str:
        return self._model

    def _messages(self, messages: Sequence[Message]) -> Any:
        return cast(Any, [dict(m) for m in messages])

    def complete(self, messages: Sequence[Message]) -> ChatReply:
        """The assistant's reply with this call's usage; LLMError after the client's retries."""
        started = time.perf_counter()
        try:
            response = self._client.chat.completions.create(
                model=self._model,
                messages=self._messages(messages),
                temperature=self._temperature,
            )
        except openai.OpenAIError as exc:
            raise _llm_error(exc) from exc
        if isinstance(response, str):  # a server that streamed or sent text, not JSON
            raise LLMError("chat model sent a response that is not a chat completion")
        usage = _usage(response.usage)
        content = response.choices[0].message.content if response.choices else None
        if not content:
            raise LLMError("chat model returned no text", retryable=False)
        logger.info(
            "llm complete model=%s ms=%.0f usage=%s",
            self._model,
            (time.perf_counter() - started) * 1000,
            usage.model_dump() if usage else None,
        )
        return ChatReply(text=content, usage=usage)

    def stream(self, messages: Sequence[Message]) -> Iterator[str | ChatReply]:
        """Text deltas of the reply, then the whole reply as a ChatReply with this call's
        usage (OpenAI sends it in a last chunk when asked with ``include_usage``; servers
        that ignore the option leave it None). LLMError if the call or the stream fails."""
        parts: list[str] = []
        usage: ChatUsage | None = None
        try:
            chunks = self._client.chat.completions.create(
                model=self._model,
                messages=self._messages(messages),
                temperature=self._temperature,
                stream=True,
                stream_options={"include_usage": True},
            )
            with chunks:
                for chunk in chunks:
                    if chunk.usage is not None:
                        usage = _usage(chunk.usage)
                    for choice in chunk.choices:
                        if choice.delta.content:
                            parts.append(choice.delta.content)
                            yield choice.delta.content
        except openai.OpenAIError as exc:
            raise _llm_error(exc) from exc
        yield ChatReply(text="".join(parts), usage=usage)


def build_chat_model(llm: LLMSettings) -> OpenAIChatModel | None:
    """The configured chat model, or None when no LLM is configured (extractive only)."""
    if not llm.enabled or llm.provider == "scripted":
        return None
    key = llm.api_key.get_secret_value() if llm.api_key else PLACEHOLDER_API_KEY
    client = openai.OpenAI(
        api_key=key,
        base_url=llm.base_url,
        timeout=llm.timeout_s,
        max_retries=llm.max_retries,
    )
    return OpenAIChatModel(client, llm.model, temperature=llm.temperature)
