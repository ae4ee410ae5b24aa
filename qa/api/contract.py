"""The OpenAPI schema tells the truth about this app: the error responses each operation can
give (one JSON error body), and the bounds that come from settings (QA_MAX_TOP_K,
QA_MAX_QUESTION_CHARS) rather than from the models' static limits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from pydantic import BaseModel, ConfigDict, Field

from qa.config import Settings
from qa.errors import InputError


class ErrorDetail(BaseModel):
    field: str
    problem: str


class ErrorInfo(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str = Field(..., description="invalid_request, not_found, unauthorized, ...")
    message: str = Field(..., description="What went wrong and what to change.")
    details: list[ErrorDetail] | None = Field(None, description="Each invalid field (422).")


class ErrorBody(BaseModel):
    """Every error response: ``{"error": {"type", "message", ...}}``."""

    error: ErrorInfo


_REASONS = {
    400: "Malformed request (a Content-Length that is not a number).",
    401: "Missing or wrong API key (`Authorization: Bearer <key>`).",
    403: "The API key may not do this (a read key on an admin route).",
    404: "No such document, line range, job or conversation (unknown, expired, or another key's).",
    409: "At odds with what is stored or with itself: a document id another source holds, "
    "two documents with one id, or (asking) no documents ingested yet.",
    413: "Body over QA_MAX_BODY_BYTES, or a document over a per-document limit.",
    422: "Invalid request: the message and `details` say what to change.",
    429: "Too many requests: retry after `Retry-After` seconds.",
    502: "The chat model failed.",
    503: "Chroma or the embedder is unavailable (readyz: not ready), or too much work is "
    "queued: retry later.",
}
_LLM_PATHS = ("/v1/ask", "/v1/ask/stream", "/v1/chat/completions")
#: Routes that continue a conversation by id (404 when it is unknown, expired or not yours).
_CONVERSATION_PATHS = ("/v1/ask", "/v1/ask/stream", "/v1/feedback")
#: Asking with nothing ingested is a 409 ("no documents ingested yet").
_ASK_PATHS = ("/v1/ask", "/v1/ask/stream")
#: Admin-scoped operations (a read key gets 403).
_ADMIN_OPERATIONS = {("/v1/documents", "post"), ("/v1/feedback", "get")}
#: Server-Sent Events (chat completions: when the request says "stream": true).
_STREAMING_PATHS = ("/v1/ask/stream", "/v1/chat/completions")
#: One event: /v1/ask/stream sends `delta`, `answer`, `error`, `done`; chat completions send
#: unnamed `data:` lines (OpenAI's chunks, then `[DONE]`). Data is JSON text but `[DONE]`.
_SSE_EVENT = {
    "type": "object",
    "properties": {
        "event": {"type": "string"},
        "data": {"type": "string"},
        "id": {"type": "string"},
    },
    "required": ["data"],
}


def _errors_of(path: str, method: str, operation: dict[str, Any], settings: Settings) -> set[int]:
    codes = {422, 503}
    if settings.api.api_keys:
        codes.add(401)
    if settings.api.rate_limit_per_minute:
        codes.add(429)
    if "requestBody" in operation:
        codes |= {400, 413}
    if "{" in path or path in _CONVERSATION_PATHS:
        codes.add(404)
    if (path == "/v1/documents" and method == "post") or path in _ASK_PATHS:
        codes.add(409)
    admin = (path, method) in _ADMIN_OPERATIONS or (
        path.startswith("/v1/documents/") and method == "delete"
    )
    if settings.api.api_keys and admin:
        codes.add(403)
    if path in _LLM_PATHS:
        codes.add(502)
    return codes


def _bound(schema: dict[str, Any], name: str, key: str, value: int) -> None:
    """Set ``key`` (maximum, maxLength) on property ``name`` (and its non-null branches)."""
    prop = schema.get("properties", {}).get(name)
    if prop is None:
        return
    for branch in prop.get("anyOf", [prop]):
        if branch.get("type") in ("integer", "string"):
            branch[key] = value


def _document(schema: dict[str, Any], settings: Settings) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(
        ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}").pop("$defs")
    )
    components["ErrorBody"] = ErrorBody.model_json_schema(
        ref_template="#/components/schemas/{model}"
    )
    components["ErrorBody"].pop("$defs", None)
    for model in ("SearchRequest", "AskRequest", "ChatRequest"):
        if model in components:
            _bound(components[model], "top_k", "maximum", settings.retrieval.max_top_k)
    chars = settings.answering.max_question_chars
    _bound(components.get("SearchRequest", {}), "query", "maxLength", chars)
    _bound(components.get("AskRequest", {}), "question", "maxLength", chars)
    for path, operations in schema.get("paths", {}).items():
        if not path.startswith("/v1/") and path != "/readyz":
            continue
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            if path in _STREAMING_PATHS and "200" in responses:
                content = responses["200"].setdefault("content", {})
                content["text/event-stream"] = {"schema": _SSE_EVENT}
            codes = _errors_of(path, method, operation, settings) if path != "/readyz" else {503}
            for code in sorted(codes):
                responses[str(code)] = {
                    "description": _REASONS[code],
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}
                    },
                }


def no_unknown_query(request: Request) -> None:
    """422 for a query parameter the route does not declare (as for unknown body fields),
    rather than silently ignoring a misspelt one."""
    if request.method == "DELETE":
        # DELETE takes no parameters, and /v1/documents/{doc_id:path} also matches
        # ".../lines": that must stay a 404 (or 405), not become a complaint about ?start=.
        return
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    known = {param.alias for param in dependant.query_params}
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        allowed = ", ".join(sorted(known)) or "none"
        raise InputError(f"unknown query parameter {unknown[0]!r} (allowed: {allowed})")


#: OpenAPI links: where an id in one response can be used next (clients and stateful
#: testing follow them). (path, method, status) -> name -> (path, method, parameters).
_LINKS: dict[tuple[str, str, str], dict[str, tuple[str, str, dict[str, str]]]] = {
    ("/v1/documents", "post", "201"): {
        f"{verb.capitalize()}{what}": (target, verb, {"doc_id": "$response.body#/doc_ids/0"})
        for what, target in (("Document", "/v1/documents/{doc_id}"),)
        for verb in ("get", "delete")
    }
    | {
        "GetLines": (
            "/v1/documents/{doc_id}/lines",
            "get",
            {"doc_id": "$response.body#/doc_ids/0"},
        )
    },
    ("/v1/documents", "post", "202"): {
        "GetJob": ("/v1/jobs/{job_id}", "get", {"job_id": "$response.body#/job_id"})
    },
    ("/v1/documents", "get", "200"): {
        "GetDocument": (
            "/v1/documents/{doc_id}",
            "get",
            {"doc_id": "$response.body#/documents/0/doc_id"},
        ),
        "GetLines": (
            "/v1/documents/{doc_id}/lines",
            "get",
            {"doc_id": "$response.body#/documents/0/doc_id"},
        ),
    },
}


def _link(schema: dict[str, Any]) -> None:
    paths = schema.get("paths", {})
    for (path, method, status), links in _LINKS.items():
        response = paths.get(path, {}).get(method, {}).get("responses", {}).get(status)
        if response is None:
            continue
        for name, (target, verb, parameters) in links.items():
            operation_id = paths.get(target, {}).get(verb, {}).get("operationId")
            if operation_id:
                response.setdefault("links", {})[name] = {
                    "operationId": operation_id,
                    "parameters": parameters,
                }


def install_contract(app: FastAPI, settings: Settings) -> None:
    """Make ``app.openapi()`` document errors and the settings' bounds (after the routes
    and the security scheme are in place)."""
    inner: Callable[[], dict[str, Any]] = app.openapi
    done = False

    def openapi() -> dict[str, Any]:
        nonlocal done
        schema = inner()
        if not done:
            _document(schema, settings)
            _link(schema)
            done = True
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
