"""build_slack_app: the bolt App answering mentions, DMs and thread follow-ups via QAService."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse
from slack_sdk import WebClient
from slack_sdk.http_retry import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler

from qa.config import SlackSettings
from qa.errors import ConfigError
from qa.service import QAService
from qa.slack.handlers import SlackBot
from qa.slack.render import ACTION_DOWN, ACTION_UP

log = logging.getLogger(__name__)

#: Concurrent answers; more only queue up behind the embedder and the LLM anyway.
WORKERS = 8


class RecentKeys:
    """A thread-safe set whose members expire: ``claim`` is True once per key per ``ttl_s``."""

    def __init__(self, ttl_s: float = 900.0, maxsize: int = 10_000) -> None:
        self._ttl = ttl_s
        self._maxsize = maxsize
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def claim(self, key: str) -> bool:
        now = time.monotonic()
        with self._lock:
            while self._seen and (
                next(iter(self._seen.values())) < now or len(self._seen) >= self._maxsize
            ):
                self._seen.popitem(last=False)
            if key in self._seen:
                return False
            self._seen[key] = now + self._ttl
            return True


def redelivery_filter(
    recent: RecentKeys,
) -> Callable[[BoltRequest, dict[str, Any], Callable[[], None]], BoltResponse | None]:
    """Global middleware: ack and drop an event already seen, or retried after a timeout.

    Bolt has no switch for this. A retry whose first delivery never reached us (the reason
    is not ``http_timeout`` and the event id is new) is still answered.
    """

    def skip_redeliveries(
        request: BoltRequest, body: dict[str, Any], next_: Callable[[], None]
    ) -> BoltResponse | None:
        event_id = body.get("event_id")
        if body.get("type") == "event_callback" and event_id and not request.lazy_only:
            retry = request.headers.get("x-slack-retry-num", [None])[0]
            reason = request.headers.get("x-slack-retry-reason", [None])[0]
            first = recent.claim(str(event_id))
            if not first or (retry is not None and reason == "http_timeout"):
                log.info("slack: skipped redelivery event_id=%s retry=%s", event_id, retry)
                return BoltResponse(status=200, body="")
        next_()
        return None

    return skip_redeliveries


def make_web_client(slack: SlackSettings) -> WebClient:
    """A WebClient on ``slack.api_url`` that retries once on 429 and lost connections."""
    token = slack.bot_token.get_secret_value() if slack.bot_token else None
    return WebClient(
        token=token,
        base_url=slack.api_url,
        timeout=15,
        retry_handlers=[
            ConnectionErrorRetryHandler(),
            RateLimitErrorRetryHandler(max_retry_count=1),
        ],
    )


def build_slack_app(
    slack: SlackSettings,
    service: QAService,
    *,
    client: WebClient | None = None,
    socket_mode: bool = False,
) -> App:
    """The bolt App; no network call happens here (auth.test runs on the first request).

    HTTP mode runs with ``process_before_response=True``: each listener's ack function only
    acknowledges, so the HTTP response leaves within Slack's 3 seconds, and the answer runs
    in a lazy listener on bolt's thread pool (bolt's documented pattern for slow work). The
    same code serves Socket Mode, where request signing is replaced by the app token.
    """
    if slack.bot_token is None:
        raise ConfigError("QA_SLACK_BOT_TOKEN is required for the Slack bot")
    secret = slack.signing_secret
    if not socket_mode and secret is None:
        raise ConfigError("QA_SLACK_SIGNING_SECRET is required for the Slack Events API")
    client = client or make_web_client(slack)
    if client.token is None:
        client.token = slack.bot_token.get_secret_value()
    app = App(
        name="qa",
        client=client,
        signing_secret=secret.get_secret_value() if secret else "",
        request_verification_enabled=not socket_mode,
        token_verification_enabled=False,
        process_before_response=True,
        listener_executor=ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="qa-slack"),
        logger=log,
    )
    register(app, SlackBot(service))
    return app


def register(app: App, bot: SlackBot) -> None:
    """Attach the bot's middleware and listeners to ``app``."""
    app.use(redelivery_filter(RecentKeys()))
    app.event("app_mention")(ack=bot.ack, lazy=[bot.on_mention])
    app.event("message", matchers=[bot.wants_message])(ack=bot.ack, lazy=[bot.on_message])
    # Every other message (edits, joins, chatter) is acknowledged and ignored; left
    # unmatched, bolt would log each one as an unhandled request.
    app.event("message")(bot.ack)
    action_ids = re.compile(f"^({re.escape(ACTION_UP)}|{re.escape(ACTION_DOWN)})$")
    app.action(action_ids)(ack=bot.ack, lazy=[bot.on_feedback])
