"""create_app: the FastAPI application around one QAService."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse

from qa import __version__
from qa.api.contract import install_contract, no_unknown_query
from qa.api.errors import error_body, install_error_handlers, status_for
from qa.api.jobs import router as jobs_router
from qa.api.middleware import install_middleware
from qa.api.models import router as models_router
from qa.api.routes import router
from qa.config import Settings, SlackSettings, get_settings
from qa.errors import QAError
from qa.jobs import JobRegistry
from qa.service import QAService
from qa.wiring import build_service

log = logging.getLogger(__name__)


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
        yield
        app.state.jobs.close()  # queued jobs are abandoned: they live as long as the process

    app = FastAPI(
        title="qa",
        version=__version__,
        description="Ask news articles a question; every answer cites source lines.",
        lifespan=lifespan,
        dependencies=[Depends(no_unknown_query)],
    )
    app.state.service = service
    app.state.settings = settings
    app.state.jobs = JobRegistry(max_pending=settings.api.ingest_jobs_pending)
    install_error_handlers(app)
    install_middleware(app, settings.api, settings.ingest)
    app.include_router(router)
    app.include_router(models_router)
    app.include_router(jobs_router)
    if settings.slack.bot_token and settings.slack.signing_secret:
        _mount_slack(app, settings.slack)
    install_contract(app, settings)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], response_model=None)
    def readyz() -> dict[str, object] | JSONResponse:
        """Readiness: Chroma reachable (and the LLM configured, when set)."""
        try:
            checks = app.state.service.readiness()
        except QAError as exc:
            status, _ = status_for(exc)
            return error_body(503 if status >= 500 else status, "not_ready", str(exc))
        return {"status": "ready", "checks": checks}

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
