"""Map the QAError tree and validation errors to JSON error bodies."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from qa.errors import (
    BusyError,
    ConfigError,
    ConflictError,
    DocumentTooLargeError,
    EmbedderError,
    EmptyStoreError,
    ForbiddenError,
    InputError,
    LLMError,
    NotFoundError,
    QAError,
    StoreError,
)

log = logging.getLogger(__name__)


def error_body(status: int, kind: str, message: str, **extra: object) -> JSONResponse:
    return JSONResponse({"error": {"type": kind, "message": message, **extra}}, status_code=status)


def status_for(exc: QAError) -> tuple[int, str]:
    if isinstance(exc, DocumentTooLargeError):
        return 413, "document_too_large"
    if isinstance(exc, NotFoundError):
        return 404, "not_found"
    if isinstance(exc, ForbiddenError):
        return 403, "forbidden"
    if isinstance(exc, EmptyStoreError):
        return 409, "empty_store"
    if isinstance(exc, ConflictError):
        return 409, "conflict"
    if isinstance(exc, InputError):
        return 422, "invalid_request"
    if isinstance(exc, BusyError):
        return 503, "busy"
    if isinstance(exc, StoreError | EmbedderError):
        return 503, "unavailable"
    if isinstance(exc, LLMError):
        return 502, "bad_gateway"
    if isinstance(exc, ConfigError):
        return 500, "misconfigured"
    return 500, "internal"


def _field(loc: tuple[object, ...]) -> str:
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) or "body"


def _detail(error: Mapping[str, Any]) -> dict[str, str]:
    loc = tuple(error.get("loc", ()))
    if error.get("type") == "json_invalid":
        # loc is ("body", <character offset>), msg "JSON decode error": say both plainly.
        at = loc[1] if len(loc) > 1 else "?"
        reason = (error.get("ctx") or {}).get("error", "not valid JSON")
        return {"field": "body", "problem": f"invalid JSON at character {at}: {reason}"}
    return {"field": _field(loc), "problem": str(error.get("msg", "invalid"))}


def _allowed_methods(request: Request) -> list[str]:
    path = request.url.path
    # Several templates can match one path ({doc_id:path} matches ".../lines" too): the
    # resource is the most specific one, the longest template.
    methods: dict[str, set[str]] = {}
    routes = list(request.app.router.routes)
    while routes:
        route = routes.pop()
        inner = getattr(route, "original_router", None)  # a router included as a whole
        if inner is not None:
            routes.extend(inner.routes)
            continue
        regex = getattr(route, "path_regex", None)
        if regex is not None and regex.match(path):
            template = methods.setdefault(getattr(route, "path_format", path), set())
            template |= set(getattr(route, "methods", None) or ())
    return sorted(methods[max(methods, key=len)]) if methods else []


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(QAError)
    async def _qa_error(request: Request, exc: QAError) -> JSONResponse:
        status, kind = status_for(exc)
        if status >= 500:
            log.warning("%s %s -> %d: %s", request.method, request.url.path, status, exc)
        return error_body(status, kind, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [_detail(e) for e in exc.errors()]
        message = "; ".join(f"{d['field']}: {d['problem']}" for d in details) or "invalid request"
        return error_body(422, "invalid_request", message, details=details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = "not_found" if exc.status_code == 404 else "http_error"
        response = error_body(exc.status_code, kind, str(exc.detail))
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        allowed = _allowed_methods(request) if exc.status_code == 405 else []
        if allowed:
            # Starlette lists the methods of the first route on the path; a path served by
            # several routes (GET and POST /v1/documents) supports all of theirs.
            response.headers["Allow"] = ", ".join(allowed)
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_body(500, "internal", "internal error; see the server log")
