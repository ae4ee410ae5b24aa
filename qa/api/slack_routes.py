"""POST /slack/events: the Slack Events API and interactivity, served by the bolt app."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi import FastAPI, Request, Response
from slack_bolt import App
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers

from qa.api.errors import error_body

SLACK_EVENTS_PATH = "/slack/events"
#: Unix seconds, as Slack sends them; bolt calls int() on the header and fails with a 500
#: on anything else (including latin-1 digits such as "²" that str.isdigit accepts).
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
#: "v0=" and a hex SHA-256; a non-ASCII signature makes hmac.compare_digest raise.
_SIGNATURE = re.compile(r"v0=[0-9a-fA-F]{64}")


def malformed(headers: Headers, body: bytes) -> Response | None:
    """A 400/401 for requests bolt would fail on with a 500, before it sees them: a
    timestamp that is not Unix seconds, a signature that is not ``v0=<hex>``, a body that
    is not UTF-8. None when the request is well-formed (bolt then checks the signature)."""
    timestamp = headers.get("x-slack-request-timestamp")
    signature = headers.get("x-slack-signature")
    if timestamp is None or signature is None:
        return _unsigned("missing X-Slack-Request-Timestamp or X-Slack-Signature")
    if not _TIMESTAMP.fullmatch(timestamp):
        return error_body(
            400, "invalid_request", "X-Slack-Request-Timestamp must be Unix time in seconds"
        )
    if not _SIGNATURE.fullmatch(signature):
        return _unsigned("X-Slack-Signature must be v0= and a hex HMAC-SHA256")
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return error_body(400, "invalid_request", "the request body must be UTF-8")
    return None


def _unsigned(message: str) -> Response:
    return error_body(401, "unauthorized", message)


def mount_slack(app: FastAPI, bolt_app: App | Callable[[], App]) -> None:
    """Serve ``bolt_app`` (from ``qa.slack.app.build_slack_app``) at POST /slack/events.

    ``bolt_app`` may be a callable returning the app, for apps whose service is built at
    startup (``create_app`` without a service).

    Events, url_verification and button clicks share the one URL; bolt checks the signature
    (401 when forged or older than 5 minutes). The adapter's own ``handle`` calls the
    synchronous ``App.dispatch`` on the event loop; dispatch may call auth.test once and runs
    our ack functions, so it runs in the thread pool instead to keep the loop free.
    """

    get_app = bolt_app if callable(bolt_app) and not isinstance(bolt_app, App) else None

    @app.post(SLACK_EVENTS_PATH, include_in_schema=False)
    async def slack_events(request: Request) -> Response:
        body = await request.body()
        refused = malformed(request.headers, body)
        if refused is not None:
            return refused
        target = get_app() if get_app is not None else app.state.slack_app
        bolt_response = await run_in_threadpool(target.dispatch, to_bolt_request(request, body))
        return to_starlette_response(bolt_response)

    if isinstance(bolt_app, App):
        app.state.slack_app = bolt_app
