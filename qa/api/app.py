"""create_app: the FastAPI application around one QAService."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse

from qa import __version__
from qa.api.contract import install_contract, no_unknown_query
from qa.api.docs import install_docs
from qa.api.errors import error_body, install_error_handlers, status_for
from qa.api.feedback import router as feedback_router
from qa.api.jobs import router as jobs_router
from qa.api.mcp import mount_mcp
from qa.api.middleware import install_middleware
from qa.api.models import router as models_router
from qa.api.routes import router
from qa.api.web import install_web
from qa.config import Settings, SlackSettings, get_settings
from qa.errors import QAError
from qa.jobs import JobRegistry
from qa.service import QAService
from qa.wiring import build_service

log = logging.getLogger(__name__)


def _install_routes(app: FastAPI, settings: Settings) -> Callable[[], Any]:
    """Every route, page and middleware; returns the MCP session manager's runner."""
    install_error_handlers(app)
    install_middleware(app, settings.api, settings.ingest, settings.load)
    app.include_router(router)
    app.include_router(models_router)
    app.include_router(feedback_router)
    app.include_router(jobs_router)
    mcp_running = mount_mcp(app, settings.api.host)
    install_docs(app)
    install_web(app)
    if settings.slack.bot_token and settings.slack.signing_secret:
        _mount_slack(app, settings.slack)
    install_contract(app, settings)
    return mcp_running


def create_app(service: QAService | None = None, settings: Settings | None = None) -> FastAPI:
    """The app; builds the service from settings at startup unless one is given (tests)."""
    settings = settings or (service.settings if service else get_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if getattr(app.state, "service", None) is None:
            app.state.service = build_service(settings)
        warm = getattr(app.state.service, "warm_up", None)
        if warm is not None:
            try:
                warm()
            except QAError as exc:  # Chroma may come up later; /readyz tells.
                log.warning("warm-up failed: %s", exc)
        # Another process's ingest is loaded within revision_poll_s (qa/follower.py).
        follow = getattr(app.state.service, "follow", None)
        if follow is not None:
            follow()
        try:
            async with mcp_running():
                yield
        finally:
            app.state.jobs.close()  # queued jobs are abandoned: they live as long as the process
            close = getattr(app.state.service, "close", None)
            if close is not None:
                close()

    app = FastAPI(
        title="qa",
        version=__version__,
        description="Ask news articles a question; every answer cites source lines.",
        lifespan=lifespan,
        docs_url=None,  # install_docs serves them from local assets
        redoc_url=None,
        dependencies=[Depends(no_unknown_query)],
    )
    app.state.service = service
    app.state.settings = settings
    app.state.jobs = JobRegistry(max_pending=settings.api.ingest_jobs_pending)
    mcp_running = _install_routes(app, settings)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], response_model=None)
    def readyz() -> dict[str, object] | JSONResponse:
        """Readiness: Chroma reachable (and the LLM configured, when set). 200 with status
        "catching_up" while another process's writes are being loaded (it answers, from the
        previous state), "degraded" when the conversation database cannot be read (the
        check names the file and how to recover)."""
        try:
            checks = app.state.service.readiness()
        except QAError as exc:
            status, _ = status_for(exc)
            return error_body(503 if status >= 500 else status, "not_ready", str(exc))
        state = "ready"
        if checks.get("index", "current") != "current":
            state = "catching_up"
        if checks.get("conversations", "ok") != "ok":
            state = "degraded"  # answers searches and questions; conversations are off
        return {"status": state, "checks": checks}

    return app


def _mount_slack(app: FastAPI, slack: SlackSettings) -> None:
    """POST /slack/events, with the bolt app built once around the app's service."""
    from qa.api.slack_routes import mount_slack
    from qa.slack.app import build_slack_app

    def bolt_app() -> Any:
        if getattr(app.state, "slack_app", None) is None:
            app.state.slack_app = build_slack_app(slack, app.state.service)
        return app.state.slack_app

    mount_slack(app, bolt_app)
