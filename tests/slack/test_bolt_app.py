"""The bolt app end to end: signed requests through FastAPI, Web API calls to a loopback stub.

The service is real (local embedder, embedded Chroma, seeds ingested once). Answers arrive
asynchronously from bolt's lazy listeners, so tests wait on the stub's recorded calls.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import yaml
from fakes.slack_api import (
    BOT_ID,
    BOT_USER_ID,
    TEAM_ID,
    Call,
    SlackAPIStub,
    SocketModeEndpoint,
)
from fastapi.testclient import TestClient
from pydantic import SecretStr
from slack_bolt import App, BoltRequest
from slack_sdk.signature import SignatureVerifier

from qa.api.app import create_app
from qa.api.slack_routes import SLACK_EVENTS_PATH, mount_slack
from qa.config import Settings, SlackSettings
from qa.errors import ConfigError, StoreError
from qa.service import QAService
from qa.slack.app import build_slack_app
from qa.slack.handlers import as_of_for
from qa.slack.render import ACTION_DOWN, ACTION_UP, PLACEHOLDER, THANKS
from qa.slack.socket import run_socket_mode
from qa.wiring import build_service

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
SECRET = "test-signing-secret"
TOKEN = "xoxb-test-token"
QUESTION = "How many Afghan soldiers did Tajik border guards let into Tajikistan on July 5?"
SOURCE = "000_4e774364687dacde.txt"

_ids = itertools.count(1)


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def stub() -> Iterator[SlackAPIStub]:
    with SlackAPIStub() as server:
        yield server


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> QAService:
    settings = Settings(data_dir=tmp_path_factory.mktemp("slack-data"), _env_file=None)
    service = build_service(settings)
    report = service.ingest_paths([SEEDS])
    assert report.failed == 0 and report.documents >= 1
    return service


def slack_settings(stub: SlackAPIStub) -> SlackSettings:
    return SlackSettings(
        bot_token=SecretStr(TOKEN), signing_secret=SecretStr(SECRET), api_url=stub.base_url
    )


@pytest.fixture(scope="module")
def bolt_app(service: QAService, stub: SlackAPIStub) -> App:
    return build_slack_app(slack_settings(stub), service)


@pytest.fixture(scope="module")
def http(service: QAService, bolt_app: App) -> Iterator[TestClient]:
    app = create_app(service)
    mount_slack(app, bolt_app)
    with TestClient(app) as client:
        yield client


@pytest.fixture(autouse=True)
def _clean_stub(stub: SlackAPIStub) -> Iterator[None]:
    yield
    stub.clear_failures()


@pytest.fixture
def started(bolt_app: App, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the lazy listeners started; dispatch starts them before it returns."""
    runner = bolt_app.listener_runner.lazy_listener_runner
    original = runner.start
    names: list[str] = []

    def start(function: Any, request: BoltRequest) -> None:
        names.append(function.__name__)
        original(function=function, request=request)

    monkeypatch.setattr(runner, "start", start)
    return names


# --------------------------------------------------------------------------- helpers
def new_ts() -> str:
    return f"1710000000.{next(_ids):06d}"


def signed(body: str, *, secret: str = SECRET, timestamp: int | None = None) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
    assert signature is not None
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature}


def envelope(event: dict[str, Any], event_id: str) -> str:
    return json.dumps(
        {
            "token": "legacy-verification-token",
            "team_id": TEAM_ID,
            "api_app_id": "AQA",
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}],
        }
    )


def post_event(
    http: TestClient, event: dict[str, Any], event_id: str | None = None, **headers: str
) -> int:
    """POST a signed event; returns the HTTP status."""
    body = envelope(event, event_id or f"Ev{next(_ids)}")
    response = http.post(
        SLACK_EVENTS_PATH,
        content=body,
        headers={"Content-Type": "application/json", **signed(body), **headers},
    )
    return response.status_code


def mention(channel: str, text: str, *, thread_ts: str | None = None) -> dict[str, Any]:
    event = {
        "type": "app_mention",
        "user": "UALICE",
        "text": f"<@{BOT_USER_ID}> {text}",
        "ts": new_ts(),
        "channel": channel,
        "event_ts": "x",
    }
    return event | ({"thread_ts": thread_ts} if thread_ts else {})


def message(channel: str, text: str, **fields: Any) -> dict[str, Any]:
    event = {
        "type": "message",
        "user": "UALICE",
        "text": text,
        "ts": new_ts(),
        "channel": channel,
        "channel_type": "channel",
    }
    return event | fields


def new_channel(prefix: str = "C") -> str:
    return f"{prefix}{next(_ids):08d}"


def in_thread(calls: list[Call], channel: str, thread_ts: str) -> list[Call]:
    """Messages posted to the thread, and updates of those messages."""
    posts = [
        c
        for c in calls
        if c.method == "chat.postMessage"
        and c.args.get("channel") == channel
        and c.args.get("thread_ts") == thread_ts
    ]
    mine = {c.response.get("ts") for c in posts if c.ok}
    updates = [c for c in calls if c.method == "chat.update" and c.args.get("ts") in mine]
    return posts + updates


def answers(calls: list[Call], channel: str, thread_ts: str) -> list[Call]:
    return [c for c in in_thread(calls, channel, thread_ts) if c.method == "chat.update" and c.ok]


def wait_answers(stub: SlackAPIStub, channel: str, thread_ts: str, count: int = 1) -> list[Call]:
    stub.wait_for(lambda calls: len(answers(calls, channel, thread_ts)) >= count)
    return answers(stub.calls, channel, thread_ts)


def feedback_value(update: Call, action_id: str) -> str:
    for block in update.blocks():
        for element in block.get("elements", []):
            if element.get("action_id") == action_id:
                return str(element["value"])
    raise AssertionError("no feedback button")


def click(
    http: TestClient, update: Call, thread_ts: str, action_id: str, user: str = "UBOB"
) -> int:
    """POST a signed button click on ``update``'s feedback buttons; returns the HTTP status."""
    channel = update.args["channel"]
    payload = {
        "type": "block_actions",
        "team": {"id": TEAM_ID, "domain": "qa-test"},
        "user": {"id": user, "username": user.lower(), "team_id": TEAM_ID},
        "api_app_id": "AQA",
        "token": "legacy-verification-token",
        "container": {"type": "message", "message_ts": update.args["ts"], "channel_id": channel},
        "trigger_id": "1.2.3",
        "channel": {"id": channel, "name": "news"},
        "message": {
            "type": "message",
            "ts": update.args["ts"],
            "thread_ts": thread_ts,
            "bot_id": BOT_ID,
            "blocks": update.blocks(),
        },
        "actions": [
            {
                "action_id": action_id,
                "block_id": "qa_feedback",
                "value": feedback_value(update, action_id),
                "type": "button",
                "action_ts": "1710000001.000001",
            }
        ],
    }
    body = urlencode({"payload": json.dumps(payload)})
    headers = {"Content-Type": "application/x-www-form-urlencoded", **signed(body)}
    return http.post(SLACK_EVENTS_PATH, content=body, headers=headers).status_code


def block_texts(call: Call) -> str:
    return json.dumps(call.blocks(), ensure_ascii=False)


# --------------------------------------------------------------------------- tests
def test_url_verification_echoes_the_challenge(http: TestClient) -> None:
    body = json.dumps({"token": "t", "challenge": "3eZbrw1aB", "type": "url_verification"})
    response = http.post(
        SLACK_EVENTS_PATH,
        content=body,
        headers={"Content-Type": "application/json", **signed(body)},
    )
    assert response.status_code == 200
    assert response.json() == {"challenge": "3eZbrw1aB"}


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(lambda body: signed(body, secret="not-the-secret"), id="forged"),
        pytest.param(lambda body: signed(body, timestamp=int(time.time()) - 600), id="stale"),
        pytest.param(lambda body: {}, id="unsigned"),
    ],
)
def test_bad_signatures_are_rejected(
    http: TestClient, stub: SlackAPIStub, started: list[str], headers: Any
) -> None:
    channel = new_channel()
    body = envelope(mention(channel, QUESTION), "EvForged")
    response = http.post(
        SLACK_EVENTS_PATH,
        content=body,
        headers={"Content-Type": "application/json", **headers(body)},
    )
    assert response.status_code == 401
    assert started == []
    assert not [c for c in stub.calls if c.args.get("channel") == channel]


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        pytest.param(None, {"X-Slack-Request-Timestamp": "abc"}, 400, id="timestamp-abc"),
        pytest.param(None, {"X-Slack-Request-Timestamp": "\u00b2"}, 400, id="timestamp-latin1"),
        pytest.param(None, {"X-Slack-Request-Timestamp": "1e9"}, 400, id="timestamp-float"),
        pytest.param(None, {"X-Slack-Signature": "v0=\u00e9"}, 401, id="signature-non-ascii"),
        pytest.param(None, {"X-Slack-Signature": "v1=abc"}, 401, id="signature-shape"),
        pytest.param(b"\xff\xfe{not utf-8", {}, 400, id="body-not-utf8"),
        pytest.param(b"\xc3\x28", {}, 400, id="body-bad-sequence"),
    ],
)
def test_malformed_requests_get_4xx_before_bolt(
    http: TestClient,
    stub: SlackAPIStub,
    started: list[str],
    body: bytes | None,
    headers: dict[str, str],
    status: int,
) -> None:
    channel = new_channel()
    text = envelope(mention(channel, QUESTION), "EvMalformed")
    content = text.encode() if body is None else body
    # Signed correctly where possible, so the malformed part alone is what is refused.
    sent = signed(content.decode("latin-1")) | headers
    raw = {k.encode(): v.encode("latin-1") for k, v in sent.items()}
    response = http.post(
        SLACK_EVENTS_PATH,
        content=content,
        headers={b"Content-Type": b"application/json", **raw},
    )
    assert response.status_code == status, response.text
    assert response.json()["error"]["message"]
    assert started == []
    assert not [c for c in stub.calls if c.args.get("channel") == channel]


def test_mention_gets_one_threaded_answer_with_verified_citations(
    http: TestClient, stub: SlackAPIStub, started: list[str]
) -> None:
    channel = new_channel()
    event = mention(channel, QUESTION)
    began = time.monotonic()
    assert post_event(http, event, "EvMention1") == 200
    assert time.monotonic() - began < 3.0
    assert started == ["on_mention"]

    [update] = wait_answers(stub, channel, event["ts"])
    [placeholder] = [
        c for c in in_thread(stub.calls, channel, event["ts"]) if c.method == "chat.postMessage"
    ]
    assert placeholder.args["text"] == PLACEHOLDER
    assert placeholder.headers["authorization"] == f"Bearer {TOKEN}"
    assert update.args["ts"] == placeholder.response["ts"]
    blocks = block_texts(update)
    assert SOURCE in blocks
    quotes = [
        b["text"]["text"]
        for b in update.blocks()
        if b["type"] == "section" and "\n>" in b["text"]["text"]
    ]
    assert any("1,037" in q for q in quotes)
    assert "1,037" in update.args["text"] or "1037" in update.args["text"]
    assert {ACTION_UP, ACTION_DOWN} <= {
        e["action_id"] for b in update.blocks() for e in b.get("elements", []) if "action_id" in e
    }

    # Slack retries the same event after a timeout: acknowledged, nothing started.
    retried = post_event(
        http,
        event,
        "EvMention1",
        **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"},
    )
    assert retried == 200
    # ...and a plain redelivery of a seen event id is dropped the same way.
    assert post_event(http, event, "EvMention1") == 200
    assert started == ["on_mention"]
    assert len(in_thread(stub.calls, channel, event["ts"])) == 2


def test_retry_of_an_event_that_never_arrived_is_answered(
    http: TestClient, stub: SlackAPIStub, started: list[str]
) -> None:
    # Our server answered 5xx the first time (so nothing ran): the retry is the only copy.
    channel = new_channel()
    event = mention(channel, QUESTION)
    retry = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_error"}
    assert post_event(http, event, "EvFirstSeenOnRetry", **retry) == 200
    assert started == ["on_mention"]
    wait_answers(stub, channel, event["ts"])


def test_too_long_question_gets_told_what_to_fix(
    http: TestClient, stub: SlackAPIStub, service: QAService
) -> None:
    channel = new_channel()
    event = mention(channel, "why " * service.settings.answering.max_question_chars)
    post_event(http, event)
    [update] = wait_answers(stub, channel, event["ts"])
    assert update.args["text"].startswith(":information_source: question is longer than")


def test_follow_up_in_the_thread_needs_no_mention(
    http: TestClient, stub: SlackAPIStub, service: QAService, started: list[str]
) -> None:
    channel = new_channel()
    first = mention(channel, QUESTION)
    post_event(http, first)
    wait_answers(stub, channel, first["ts"])

    follow_up = message(channel, "What were they retreating from?", thread_ts=first["ts"])
    assert post_event(http, follow_up) == 200
    [_, second] = wait_answers(stub, channel, first["ts"], count=2)
    assert started == ["on_mention", "on_message"]
    assert "Taliban" in second.args["text"] or SOURCE in block_texts(second)

    conversation = f"slack:{TEAM_ID}:{channel}:{first['ts']}"
    turns = service.history(conversation)
    assert [t.question for t in turns] == [QUESTION, "What were they retreating from?"]
    assert "Afghan" in (turns[1].standalone_question or "")  # asked in context


def test_channel_chatter_and_own_messages_start_no_work(
    http: TestClient, started: list[str]
) -> None:
    channel = new_channel()
    root = new_ts()
    ignored = [
        message(channel, "lunch?"),  # not in a thread
        message(channel, "unrelated thread", thread_ts=root),  # thread the bot never answered
        message(channel, "edited", subtype="message_changed"),
        message(channel, "from a bot", bot_id="BOTHER"),
        message(channel, "my own", user=BOT_USER_ID, thread_ts=root),
        # The mention's own message event: the app_mention listener answers it instead.
        message(channel, f"<@{BOT_USER_ID}> {QUESTION}", thread_ts=root),
    ]
    for event in ignored:
        assert post_event(http, event) == 200
    assert started == []


def test_direct_message_is_answered_in_its_thread(
    http: TestClient, stub: SlackAPIStub, started: list[str]
) -> None:
    channel = new_channel("D")
    event = message(channel, QUESTION, channel_type="im")
    post_event(http, event)
    [update] = wait_answers(stub, channel, event["ts"])
    assert started == ["on_message"]
    assert SOURCE in block_texts(update)


def test_empty_mention_gets_a_hint(http: TestClient, stub: SlackAPIStub) -> None:
    channel = new_channel()
    event = mention(channel, "")
    post_event(http, event)
    stub.wait_for(lambda calls: len(in_thread(calls, channel, event["ts"])) == 1)
    [hint] = in_thread(stub.calls, channel, event["ts"])
    assert "Ask me a question" in hint.args["text"]


def test_feedback_click_is_stored_and_acknowledged(
    http: TestClient, stub: SlackAPIStub, service: QAService
) -> None:
    channel = new_channel()
    event = mention(channel, QUESTION)
    post_event(http, event)
    [update] = wait_answers(stub, channel, event["ts"])

    assert click(http, update, event["ts"], ACTION_DOWN, user="UBOB") == 200
    stub.wait_for(
        lambda calls: any(
            c.method == "chat.postEphemeral" and c.args.get("channel") == channel for c in calls
        )
    )
    [thanks] = [c for c in stub.calls_to("chat.postEphemeral") if c.args["channel"] == channel]
    assert thanks.args["user"] == "UBOB" and thanks.args["text"] == THANKS
    assert thanks.args["thread_ts"] == event["ts"]

    conversation = f"slack:{TEAM_ID}:{channel}:{event['ts']}"
    stored = feedback_for(service, conversation)
    assert len(stored) == 1
    record = stored[0]
    assert record["verdict"] == "down" and record["user"] == "UBOB" and record["source"] == "slack"
    assert record["question"] == QUESTION
    assert "1,037" in record["answer"] or "1037" in record["answer"]
    assert any(c["source"] == SOURCE and "1,037" in c["quote"] for c in record["citations"])


def test_feedback_after_a_restart_is_rebuilt_from_history(
    http: TestClient, stub: SlackAPIStub, service: QAService
) -> None:
    channel = new_channel()
    event = mention(channel, QUESTION)
    post_event(http, event)
    [update] = wait_answers(stub, channel, event["ts"])

    restarted = build_slack_app(slack_settings(stub), service)  # empty memory
    payload_http = create_app(service)
    mount_slack(payload_http, restarted)
    with TestClient(payload_http) as fresh:
        assert click(fresh, update, event["ts"], ACTION_UP, user="UCAROL") == 200
        stub.wait_for(
            lambda calls: any(
                c.method == "chat.postEphemeral" and c.args.get("user") == "UCAROL" for c in calls
            )
        )
    conversation = f"slack:{TEAM_ID}:{channel}:{event['ts']}"
    [record] = feedback_for(service, conversation)
    assert record["verdict"] == "up" and record["question"] == QUESTION
    assert any(c["source"] == SOURCE and "1,037" in c["quote"] for c in record["citations"])


def test_slack_api_failure_leads_to_an_apology(http: TestClient, stub: SlackAPIStub) -> None:
    stub.fail("chat.update", "ratelimited", retry_after=0)
    channel = new_channel()
    event = mention(channel, QUESTION)
    assert post_event(http, event, "EvRateLimited") == 200
    stub.wait_for(
        lambda calls: any(
            c.args.get("text", "").startswith(":warning: Sorry")
            for c in in_thread(calls, channel, event["ts"])
            if c.method == "chat.postMessage"
        )
    )
    thread = in_thread(stub.calls, channel, event["ts"])
    # The answer's update failed (after one retry), so did the apology's; then it was posted.
    assert [c.method for c in thread if not c.ok] == ["chat.update"] * 4
    [apology] = [c for c in thread if c.ok and "Sorry" in c.args["text"]]
    assert apology.method == "chat.postMessage"
    assert "EvRateLimited" in apology.args["text"]
    assert TOKEN not in apology.args["text"]


def test_failed_placeholder_does_not_break_the_bot(http: TestClient, stub: SlackAPIStub) -> None:
    stub.fail("chat.postMessage", "channel_not_found")
    channel = new_channel()
    event = mention(channel, QUESTION)
    post_event(http, event)
    # The placeholder fails, then the apology is attempted once, and fails too.
    stub.wait_for(lambda calls: len(in_thread(calls, channel, event["ts"])) == 2)
    assert not any(c.ok for c in in_thread(stub.calls, channel, event["ts"]))
    stub.clear_failures()
    later = mention(channel, QUESTION)
    post_event(http, later)
    wait_answers(stub, channel, later["ts"])


def test_service_error_replaces_the_placeholder_with_an_apology(
    http: TestClient, stub: SlackAPIStub, service: QAService, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise StoreError("chroma unreachable")

    monkeypatch.setattr(service, "ask", broken)
    channel = new_channel()
    event = mention(channel, QUESTION)
    post_event(http, event, "EvStoreDown")
    [update] = wait_answers(stub, channel, event["ts"])
    assert update.args["text"].startswith(":warning: Sorry")
    assert "EvStoreDown" in update.args["text"]


def test_dispatch_accepts_a_signed_bolt_request(bolt_app: App, stub: SlackAPIStub) -> None:
    channel = new_channel()
    event = mention(channel, QUESTION)
    body = envelope(event, f"Ev{next(_ids)}")
    headers: dict[str, str | Sequence[str]] = {"content-type": "application/json"}
    headers |= {k.lower(): v for k, v in signed(body).items()}
    response = bolt_app.dispatch(BoltRequest(body=body, headers=headers))
    assert response.status == 200
    wait_answers(stub, channel, event["ts"])


def test_socket_mode_acks_the_envelope_and_answers(service: QAService, stub: SlackAPIStub) -> None:
    with SocketModeEndpoint() as endpoint:
        stub.socket_url = endpoint.url
        settings = slack_settings(stub).model_copy(
            update={"app_token": SecretStr("xapp-test"), "signing_secret": None}
        )
        stop = threading.Event()
        runner = threading.Thread(
            target=run_socket_mode, args=(settings, service), kwargs={"stop": stop}, daemon=True
        )
        runner.start()
        channel = new_channel()
        event = mention(channel, QUESTION)
        payload = json.loads(envelope(event, "EvSocket1"))
        endpoint.send(
            {
                "envelope_id": "env-1",
                "type": "events_api",
                "accepts_response_payload": False,
                "retry_attempt": 0,
                "retry_reason": "",
                "payload": payload,
            }
        )
        assert endpoint.acks.get(timeout=30) == {"envelope_id": "env-1"}
        [update] = wait_answers(stub, channel, event["ts"])
        assert SOURCE in block_texts(update)
        stop.set()
        runner.join(timeout=15)
        assert not runner.is_alive()
    [opened] = stub.calls_to("apps.connections.open")
    assert opened.headers["authorization"] == "Bearer xapp-test"


@pytest.mark.parametrize(
    ("update", "socket", "missing"),
    [
        ({"bot_token": None}, False, "QA_SLACK_BOT_TOKEN"),
        ({"signing_secret": None}, False, "QA_SLACK_SIGNING_SECRET"),
        ({"app_token": None}, True, "QA_SLACK_APP_TOKEN"),
    ],
)
def test_missing_secrets_are_refused_at_startup(
    service: QAService, stub: SlackAPIStub, update: dict[str, Any], socket: bool, missing: str
) -> None:
    settings = slack_settings(stub).model_copy(update=update)
    start = run_socket_mode if socket else build_slack_app
    with pytest.raises(ConfigError, match=missing):
        start(settings, service)


def test_manifest_matches_what_the_app_listens_to() -> None:
    manifest = yaml.safe_load((SEEDS.parent / "slack" / "manifest.yaml").read_text())
    settings = manifest["settings"]
    assert settings["event_subscriptions"]["request_url"].endswith(SLACK_EVENTS_PATH)
    assert settings["interactivity"]["request_url"].endswith(SLACK_EVENTS_PATH)
    assert settings["interactivity"]["is_enabled"] is True
    assert set(settings["event_subscriptions"]["bot_events"]) == {
        "app_mention",
        "message.im",
        "message.channels",
        "message.groups",
    }
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"app_mentions:read", "chat:write", "im:history", "channels:history"} <= scopes


def feedback_for(service: QAService, conversation: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = service.list_feedback(200)
    return [row for row in rows if row["conversation_id"] == conversation]


def test_a_question_is_asked_as_of_the_day_its_message_was_sent(
    http: TestClient, stub: SlackAPIStub
) -> None:
    # Sent on 5 July 2021 (a replayed event, say): the RT article of 6 July is not known yet.
    channel = new_channel()
    event = mention(channel, "How many Afghan soldiers crossed into Tajikistan last week?")
    event["ts"] = "1625500000.000100"
    assert as_of_for(event) == date(2021, 7, 5)
    assert post_event(http, event, "EvAsOf1") == 200
    [update] = wait_answers(stub, channel, event["ts"])
    blocks = block_texts(update)
    assert SOURCE in blocks
    assert "001_6767eb312ccb9e98.txt" not in blocks


@pytest.mark.parametrize("ts", [None, "", "soon", "1e400"])
def test_a_message_without_a_usable_ts_is_asked_with_no_as_of(ts: object) -> None:
    assert as_of_for({} if ts is None else {"ts": ts}) is None
