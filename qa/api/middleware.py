"""Pure ASGI middleware (streaming-safe): request ids, metrics, body and document size limits."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any, cast

from fastapi import FastAPI
from fastapi.responses import Response
from starlette.datastructures import Headers, MutableHeaders
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from qa.api.bodies import replay
from qa.api.errors import error_body
from qa.api.security import install_security, route_path
from qa.api.shedding import LoadShedMiddleware
from qa.api.timeouts import BodyTimeoutMiddleware
from qa.config import ApiSettings, IngestSettings, LoadSettings
from qa.observability.logs import request_id_var
from qa.observability.metrics import CONTENT_TYPE_LATEST, Metrics, activate, deactivate

log = logging.getLogger(__name__)

#: An incoming X-Request-ID is reused only when it cannot smuggle anything into logs.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
DOCUMENTS_PATH = "/v1/documents"


class RequestIdMiddleware:
    """X-Request-ID on every response; the id is in a contextvar that log records carry."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = Headers(scope=scope).get("x-request-id", "")
        request_id = incoming if SANE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            await send(message)

        token = request_id_var.set(request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)


class MetricsMiddleware:
    """Latency per route template and status; activates the app's Metrics for the layers below."""

    def __init__(self, app: ASGIApp, metrics: Metrics, fastapi_app: FastAPI) -> None:
        self.app = app
        self.metrics = metrics
        self.fastapi_app = fastapi_app
        self._templates: list[tuple[re.Pattern[str], str]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        token = activate(self.metrics)
        try:
            await self.app(scope, receive, send_status)
        finally:
            deactivate(token)
            self.metrics.http_latency.labels(
                scope["method"], self._route(scope), str(status)
            ).observe(time.perf_counter() - started)

    def _route(self, scope: Scope) -> str:
        """The route template, never the raw path (ids in paths would explode the labels)."""
        route = scope.get("route")
        template = getattr(route, "path_format", None) or getattr(route, "path", None)
        if template:
            return str(template)
        # Requests answered before routing (401, 413, 429) still name their route.
        if self._templates is None:
            self._templates = route_templates(self.fastapi_app)
        path = route_path(scope)
        return next((fmt for regex, fmt in self._templates if regex.match(path)), "unmatched")


def route_templates(app: FastAPI) -> list[tuple[re.Pattern[str], str]]:
    """(regex, template) of every route, included routers flattened."""
    try:  # FastAPI >= 0.16x keeps included routers whole; this walks into them.
        from fastapi.routing import iter_route_contexts

        paths = [ctx.path for ctx in iter_route_contexts(app.routes)]
    except ImportError:  # pragma: no cover - older FastAPI copies routes on include
        paths = [getattr(route, "path", None) for route in app.routes]
    templates = []
    for path in paths:
        if path:
            regex, template, _ = compile_path(path)
            templates.append((regex, template))
    return templates


class BodyLimitMiddleware:
    """413 for bodies over ``max_body_bytes`` (declared or streamed) and for any document of
    POST /v1/documents over ``max_document_bytes`` (the body's size bounds every document's)."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, max_document_bytes: int) -> None:
        self.app = app
        self.max_body = max_body_bytes
        self.max_document = max_document_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                await error_body(400, "invalid_request", "invalid Content-Length")(
                    scope, receive, send
                )
                return
            if int(declared) > self.max_body:
                await self._too_large(scope, receive, send)
                return
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        documents = scope["method"] == "POST" and route_path(scope) == DOCUMENTS_PATH
        large = declared is not None and int(declared) > self.max_document
        if not chunked and not (documents and large):
            await self.app(scope, receive, send)
            return
        # Buffering costs nothing extra: every JSON route reads the whole body anyway.
        body = await self._read(receive)
        if body is None:
            await self._too_large(scope, receive, send)
            return
        if documents and len(body) > self.max_document:
            problem = oversized_document(body, self.max_document)
            if problem is not None:
                await error_body(413, "document_too_large", problem)(scope, receive, send)
                return
        await self.app(scope, replay(body, receive), send)

    async def _read(self, receive: Receive) -> bytes | None:
        """The whole body, or None as soon as it passes the limit."""
        parts: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return None
            parts.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(parts)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = f"request body is larger than {self.max_body} bytes (QA_MAX_BODY_BYTES)"
        response = error_body(413, "payload_too_large", message)
        response.headers["Connection"] = "close"
        await response(scope, receive, send)


def oversized_document(body: bytes, limit: int) -> str | None:
    """Names the first document of a /v1/documents body whose text is over ``limit`` bytes.

    Anything malformed is left to the route's own validation (422).
    """
    try:
        payload: Any = json.loads(body)
    except ValueError:
        return None
    documents = payload.get("documents") if isinstance(payload, dict) else None
    if not isinstance(documents, list):
        return None
    for i, doc in enumerate(documents):
        if not isinstance(doc, dict):
            continue
        text = doc.get("body") if doc.get("body") is not None else doc.get("text")
        if isinstance(text, str) and len(text.encode("utf-8", "surrogatepass")) > limit:
            name = f" (id {str(doc['id'])[:100]!r})" if doc.get("id") is not None else ""
            size = len(text.encode("utf-8", "surrogatepass"))
            return (
                f"documents[{i}]{name} is {size} bytes, over the {limit}-byte limit "
                "per document (QA_MAX_DOCUMENT_BYTES)"
            )
    return None


def install_middleware(
    app: FastAPI, api: ApiSettings, ingest: IngestSettings, load: LoadSettings | None = None
) -> Metrics:
    """Install size limits (a request's from ``api``, a document's from ``ingest``), load
    shedding (``load``), auth and rate limits, request ids, metrics and GET /metrics."""
    metrics = Metrics()
    app.state.metrics = metrics
    # Innermost: a request waits for a slot once its body has arrived (within the body
    # timeout, under the size limit), and callers turned away by auth take none.
    load = load or LoadSettings()
    app.add_middleware(
        LoadShedMiddleware,
        max_in_flight=load.max_in_flight,
        max_queued=load.max_queued,
        queue_timeout_s=load.queue_timeout_s,
        retry_after_s=load.retry_after_s,
    )
    app.add_middleware(
        BodyLimitMiddleware,
        max_body_bytes=api.max_body_bytes,
        max_document_bytes=ingest.max_document_bytes,
    )
    # Outside the size limit, which may read the whole body itself (chunked uploads).
    app.add_middleware(BodyTimeoutMiddleware, seconds=api.body_timeout_s)
    install_security(app, api)  # added last, so it runs before the body is read

    @app.get("/metrics", include_in_schema=False)
    def prometheus_metrics() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    inner_build = app.build_middleware_stack

    def build() -> ASGIApp:
        # Outside Starlette's ServerErrorMiddleware, so unhandled 500s carry the request id,
        # are counted, and the error handler's log line has the id too.
        stack: ASGIApp = RequestIdMiddleware(MetricsMiddleware(inner_build(), metrics, app))
        # Forwarded headers rewrite the client address (which the rate limit keys on) only
        # when they come from a configured proxy; `qa serve` turns uvicorn's own off.
        if api.trusted_proxies:
            # uvicorn types scopes with its own TypedDicts; the ASGI protocol is the same.
            stack = cast(
                ASGIApp,
                ProxyHeadersMiddleware(cast(Any, stack), trusted_hosts=api.trusted_proxies),
            )
        return stack

    app.build_middleware_stack = build  # type: ignore[method-assign]
    return metrics
