"""Slack listeners: turn events and button clicks into QAService calls and thread replies."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, Literal

from slack_bolt import BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError

from qa.answering.links import make_citation
from qa.errors import InputError, NotFoundError, QAError
from qa.service import QAService
from qa.slack.render import (
    ACTION_UP,
    THANKS,
    FeedbackKey,
    SlackMessage,
    answer_hash,
    question_from_slack,
    render_answer,
    render_apology,
    render_input_problem,
    render_placeholder,
    render_text,
)
from qa.types import Answer, Citation, Feedback, Turn

log = logging.getLogger(__name__)

#: Turns read back to find an answer's index (history() returns only the last few by default).
MAX_TURNS = 10_000
HINT = ":wave: Ask me a question about the articles, and I'll answer with cited lines."


def as_of_for(event: dict[str, Any]) -> date | None:
    """The day (UTC) the message was sent, from its Slack ``ts`` ("1625574480.000200")."""
    try:
        return datetime.fromtimestamp(float(event["ts"]), tz=UTC).date()
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        return None


def conversation_id_for(team: str | None, channel: str, thread_ts: str) -> str:
    """One conversation per thread; ``ts`` is only unique within a channel, so it is kept."""
    return f"slack:{team}:{channel}:{thread_ts}" if team else f"slack:{channel}:{thread_ts}"


class SlackBot:
    """The bolt listeners, bound to one service. Registered by ``qa.slack.app``."""

    def __init__(self, service: QAService, *, remember: int = 512) -> None:
        self.service = service
        self._answers: OrderedDict[tuple[str, int], tuple[str, Answer]] = OrderedDict()
        self._remember = remember
        self._lock = threading.Lock()

    # ------------------------------------------------------------ ack functions
    @staticmethod
    def ack(ack: Callable[[], None]) -> None:
        """Acknowledge at once; the lazy listener does the work after the response."""
        ack()

    # ------------------------------------------------------------ events (lazy)
    def on_mention(
        self, event: dict[str, Any], body: dict[str, Any], client: WebClient, context: BoltContext
    ) -> None:
        self._answer_event(event, body, client, context)

    def wants_message(
        self, event: dict[str, Any], body: dict[str, Any], context: BoltContext
    ) -> bool:
        """Listener matcher: DMs always; channel messages in threads this bot answered.

        Runs before the response (a SQLite lookup), so ignored messages start no work.
        """
        if event.get("subtype") or event.get("bot_id") or event.get("edited"):
            return False
        if event.get("channel_type") == "im":
            return True
        bot = context.bot_user_id
        thread_ts = event.get("thread_ts")
        if not thread_ts or (bot and f"<@{bot}>" in event.get("text", "")):
            return False  # not a thread reply, or a mention (the app_mention listener answers)
        conversation = conversation_id_for(_team(body, event), event["channel"], thread_ts)
        return bool(self.service.conversation_exists(conversation))

    def on_message(
        self, event: dict[str, Any], body: dict[str, Any], client: WebClient, context: BoltContext
    ) -> None:
        self._answer_event(event, body, client, context)

    def _answer_event(
        self, event: dict[str, Any], body: dict[str, Any], client: WebClient, context: BoltContext
    ) -> None:
        channel: str = event["channel"]
        thread_ts: str = event.get("thread_ts") or event["ts"]
        reference = str(body.get("event_id") or f"{channel}/{event['ts']}")
        question = question_from_slack(event.get("text", ""), context.bot_user_id)
        if not question:
            self._post(client, channel, thread_ts, render_text(HINT), reference)
            return
        conversation = conversation_id_for(_team(body, event), channel, thread_ts)
        placeholder: str | None = None
        try:
            sent = client.chat_postMessage(
                channel=channel, thread_ts=thread_ts, **_content(render_placeholder())
            )
            placeholder = str(sent["ts"])
            started = time.perf_counter()
            # Asked as of the message's day: a late or replayed event reads what was known then.
            answer = self.service.ask(
                question, conversation_id=conversation, as_of=as_of_for(event)
            )
            turn = self._turn_of(conversation, answer)
            self._keep(conversation, turn, question, answer)
            key = FeedbackKey.for_answer(conversation, turn, answer)
            messages = render_answer(answer, key)
            client.chat_update(channel=channel, ts=placeholder, **_content(messages[0], post=False))
            for message in messages[1:]:
                client.chat_postMessage(channel=channel, thread_ts=thread_ts, **_content(message))
            log.info(
                "slack: answered event=%s conversation=%s citations=%d answerable=%s ms=%.0f",
                reference,
                conversation,
                len(answer.citations),
                answer.answerable,
                (time.perf_counter() - started) * 1000,
            )
        except InputError as exc:
            log.info("slack: unusable question event=%s: %s", reference, exc)
            self._replace(client, channel, thread_ts, placeholder, render_input_problem(str(exc)))
        except (QAError, SlackClientError) as exc:
            log.warning(
                "slack: answering failed event=%s: %s: %s", reference, type(exc).__name__, exc
            )
            self._replace(client, channel, thread_ts, placeholder, render_apology(reference))
        except Exception:
            # A lazy listener's errors are only logged by bolt; the user must still hear back.
            log.exception("slack: unexpected failure event=%s", reference)
            self._replace(client, channel, thread_ts, placeholder, render_apology(reference))

    # ------------------------------------------------------------ feedback (lazy)
    def on_feedback(self, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        """Store the verdict with the question, answer and citations; thank the user privately."""
        user = str(body.get("user", {}).get("id", ""))
        channel = str(body.get("channel", {}).get("id", ""))
        message = body.get("message") or {}
        thread_ts = message.get("thread_ts") or message.get("ts")
        verdict: Literal["up", "down"] = "up" if action.get("action_id") == ACTION_UP else "down"
        try:
            key = FeedbackKey.decode(str(action.get("value", "")))
            record = self._recall(key)
            if record is None:
                raise NotFoundError(f"no answer for {key.conversation_id} turn {key.turn}")
            question, answer_text, citations = record
            feedback_id = self.service.record_feedback(
                Feedback(
                    conversation_id=key.conversation_id,
                    question=question,
                    answer=answer_text,
                    citations=citations,
                    verdict=verdict,
                    user=user,
                    source="slack",
                )
            )
            log.info(
                "slack: feedback id=%s verdict=%s conversation=%s",
                feedback_id,
                verdict,
                key.conversation_id,
            )
            text = THANKS
        except (ValueError, QAError) as exc:
            log.warning("slack: feedback not stored: %s: %s", type(exc).__name__, exc)
            text = "Sorry, I couldn't record that feedback."
        try:
            client.chat_postEphemeral(channel=channel, user=user, thread_ts=thread_ts, text=text)
        except SlackClientError as exc:
            log.warning("slack: feedback acknowledgement failed: %s", exc)

    # ------------------------------------------------------------ answers kept for feedback
    def _turns(self, conversation: str) -> list[Turn]:
        turns: list[Turn] = self.service.history(conversation, limit=MAX_TURNS)
        return turns

    def _turn_of(self, conversation: str, answer: Answer) -> int:
        turns = self._turns(conversation)
        for index in range(len(turns) - 1, -1, -1):
            if turns[index].answer == answer.answer:
                return index
        return max(len(turns) - 1, 0)

    def _keep(self, conversation: str, turn: int, question: str, answer: Answer) -> None:
        with self._lock:
            self._answers[(conversation, turn)] = (question, answer)
            while len(self._answers) > self._remember:
                self._answers.popitem(last=False)

    def _recall(self, key: FeedbackKey) -> tuple[str, str, list[Citation]] | None:
        """From memory when recent; otherwise rebuilt from history and the cited lines."""
        with self._lock:
            kept = self._answers.get((key.conversation_id, key.turn))
        if kept is not None:
            question, answer = kept
            return question, answer.answer, list(answer.citations)
        turns = self._turns(key.conversation_id)
        matches = [i for i, t in enumerate(turns) if answer_hash(t.answer) == key.answer_hash]
        if not matches:
            return None
        turn = turns[key.turn] if key.turn in matches else turns[matches[-1]]
        return turn.question, turn.answer, self._citations(key)

    def _citations(self, key: FeedbackKey) -> list[Citation]:
        citations = []
        for ref in key.refs:
            try:
                doc = self.service.get_document(ref.doc_id)
            except NotFoundError:
                continue  # deleted since; the rest still say what was cited
            lines = doc.line_text(ref.line_start, ref.line_end)
            quote = " ".join(text.strip() for _, text in lines if text.strip())
            citations.append(make_citation(ref.n, doc, ref.line_start, ref.line_end, quote))
        return citations

    # ------------------------------------------------------------ posting
    @staticmethod
    def _post(
        client: WebClient, channel: str, thread_ts: str, message: SlackMessage, reference: str
    ) -> None:
        try:
            client.chat_postMessage(channel=channel, thread_ts=thread_ts, **_content(message))
        except SlackClientError as exc:
            log.warning("slack: reply failed event=%s: %s", reference, exc)

    @staticmethod
    def _replace(
        client: WebClient,
        channel: str,
        thread_ts: str,
        placeholder: str | None,
        message: SlackMessage,
    ) -> None:
        """Swap the placeholder for ``message``; post it instead when that fails."""
        if placeholder is not None:
            try:
                client.chat_update(channel=channel, ts=placeholder, **_content(message, post=False))
                return
            except SlackClientError as exc:
                log.warning("slack: could not update placeholder %s: %s", placeholder, exc)
        try:
            client.chat_postMessage(channel=channel, thread_ts=thread_ts, **_content(message))
        except SlackClientError as exc:
            log.error("slack: could not post to %s/%s: %s", channel, thread_ts, exc)


def _team(body: dict[str, Any], event: dict[str, Any]) -> str | None:
    team = body.get("team_id") or event.get("team")
    return str(team) if team else None


def _content(message: SlackMessage, *, post: bool = True) -> dict[str, Any]:
    content: dict[str, Any] = {"text": message.text, "blocks": message.blocks}
    if post:
        # Citation links must not unfurl into big previews under every answer.
        content |= {"unfurl_links": False, "unfurl_media": False}
    return content
