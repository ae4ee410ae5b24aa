"""POST /slack/events: the Slack Events API and interactivity, served by the bolt app."""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from slack_bolt import App
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from starlette.concurrency import run_in_threadpool

SLACK_EVENTS_PATH = "/slack/events"


def mount_slack(app: FastAPI, bolt_app: App) -> None:
    """Serve ``bolt_app`` (from ``qa.slack.app.build_slack_app``) at POST /slack/events.

    Events, url_verification and button clicks share the one URL; bolt checks the signature
    (401 when forged or older than 5 minutes). The adapter's own ``handle`` calls the
    synchronous ``App.dispatch`` on the event loop; dispatch may call auth.test once and runs
    our ack functions, so it runs in the thread pool instead to keep the loop free.
    """

    @app.post(SLACK_EVENTS_PATH, include_in_schema=False)
    async def slack_events(request: Request) -> Response:
        body = await request.body()
        bolt_response = await run_in_threadpool(bolt_app.dispatch, to_bolt_request(request, body))
        return to_starlette_response(bolt_response)

    app.state.slack_app = bolt_app
