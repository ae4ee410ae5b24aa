"""POST /slack/events: the Slack Events API and interactivity, served by the bolt app."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI, Request, Response
from slack_bolt import App
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from starlette.concurrency import run_in_threadpool

SLACK_EVENTS_PATH = "/slack/events"


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
        target = get_app() if get_app is not None else app.state.slack_app
        bolt_response = await run_in_threadpool(target.dispatch, to_bolt_request(request, body))
        return to_starlette_response(bolt_response)

    if isinstance(bolt_app, App):
        app.state.slack_app = bolt_app
