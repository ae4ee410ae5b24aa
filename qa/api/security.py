"""API-key auth (Authorization: Bearer) with scopes, and per-caller rate limiting for /v1.

Keys come from ``QA_API_KEYS``, comma-separated, each ``read:<key>``, ``admin:<key>`` or a bare
``<key>`` (admin, as every key was before scopes). A read key may search, ask, chat and continue
its own conversations; adding or deleting documents and exporting feedback need an admin key.
Each key owns the conversations it starts (``Principal.owner``, a digest of the key).
"""

from __future__ import annotations

import hashlib
import logging
import math
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import FastAPI, Request
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from qa.api.errors import error_body
from qa.config import ApiSettings
from qa.errors import ConfigError, ForbiddenError

log = logging.getLogger(__name__)

#: Routes outside this prefix and MCP_PATH stay open: /healthz, /readyz, /metrics,
#: /slack/events (Slack signs its requests), /docs and /openapi.json.
PROTECTED_PREFIX = "/v1/"
#: The MCP endpoint (qa/api/mcp.py) answers the same questions as /v1, so it needs a key too.
MCP_PATH = "/mcp"
#: Idle full buckets are dropped past this many callers, so spoofed addresses cannot grow
#: memory without bound.
MAX_BUCKETS = 10_000


KeyScope = Literal["read", "admin"]
SCOPES: tuple[KeyScope, ...] = ("read", "admin")


@dataclass(frozen=True)
class ApiKey:
    """One configured key and what it may do."""

    scope: KeyScope
    secret: bytes

    @property
    def owner(self) -> str:
        """Who this key's conversations belong to: a digest, stable across restarts and
        key reordering, that says nothing about the key itself."""
        return "key:" + hashlib.sha256(self.secret).hexdigest()[:20]


@dataclass(frozen=True)
class Principal:
    """The caller of a request, as the routes see it."""

    owner: str
    admin: bool


#: Without keys every caller is one anonymous admin (``qa serve`` then listens on loopback
#: only, unless told otherwise with --no-auth).
ANONYMOUS = Principal(owner="anonymous", admin=True)


def parse_key(value: str) -> ApiKey:
    """``read:<key>``, ``admin:<key>`` or ``<key>`` (admin)."""
    prefix, sep, rest = value.partition(":")
    if sep and prefix.strip().lower() in SCOPES:
        secret = rest.strip()
        if not secret:
            raise ConfigError(f"QA_API_KEYS: {prefix}: needs a key after the colon")
        scope: KeyScope = "read" if prefix.strip().lower() == "read" else "admin"
        return ApiKey(scope, secret.encode("utf-8"))
    return ApiKey("admin", value.encode("utf-8"))


def parse_keys(api: ApiSettings) -> list[ApiKey]:
    return [parse_key(key.get_secret_value()) for key in api.api_keys]


def principal_of(request: Request) -> Principal:
    """The caller SecurityMiddleware identified (anonymous when no keys are configured)."""
    found = getattr(request.state, "principal", None)
    return found if isinstance(found, Principal) else ANONYMOUS


def require_admin(request: Request) -> None:
    """Route dependency: 403 for a read-scoped key."""
    if not principal_of(request).admin:
        raise ForbiddenError(
            "this API key has the read scope; this route needs an admin key "
            "(QA_API_KEYS=admin:<key>)"
        )


class TokenBucket:
    """In-memory token buckets, one per caller: ``per_minute`` requests, bursts allowed."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, caller: str) -> float:
        """Spend one token of ``caller``: 0.0 when allowed, else seconds until one is free."""
        now = self._clock()
        tokens, last = self._buckets.get(caller, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - last) * self.rate)
        if tokens >= 1.0:
            self._buckets[caller] = (tokens - 1.0, now)
            if len(self._buckets) > MAX_BUCKETS:
                self._prune(now)
            return 0.0
        self._buckets[caller] = (tokens, now)
        return (1.0 - tokens) / self.rate

    def _prune(self, now: float) -> None:
        full = [
            caller
            for caller, (tokens, last) in self._buckets.items()
            if tokens + (now - last) * self.rate >= self.capacity
        ]
        for caller in full:
            del self._buckets[caller]


def route_path(scope: Scope) -> str:
    """The path the router matches: without the root_path a proxy mounts the app under.

    Checking the raw path instead would let ``/prefix/v1/...`` through unauthenticated.
    """
    path = str(scope.get("path", ""))
    root = str(scope.get("root_path", ""))
    if root and path.startswith(root) and path[len(root) : len(root) + 1] in ("/", ""):
        return path[len(root) :] or "/"
    return path


def is_protected(path: str) -> bool:
    """Whether a route path needs an API key (when keys are set) and counts for the limit."""
    return path.startswith(PROTECTED_PREFIX) or path == MCP_PATH or path.startswith(MCP_PATH + "/")


def _bearer(headers: Headers) -> bytes | None:
    value = headers.get("authorization")
    if value is None:
        return None
    scheme, _, token = value.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    # Header values arrive as latin-1; compare bytes so any byte sequence is safe to test.
    return token.encode("latin-1")


def match_key(token: bytes | None, keys: Sequence[bytes]) -> int | None:
    """Index of the key equal to ``token``; every key is compared, each in constant time."""
    found: int | None = None
    for i, key in enumerate(keys):
        if token is not None and secrets.compare_digest(token, key) and found is None:
            found = i
    return found


class SecurityMiddleware:
    """Pure ASGI: 401 without a valid key (when keys are set), 429 past the rate limit."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        api_keys: Sequence[ApiKey],
        rate_limit_per_minute: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.api_keys = list(api_keys)
        self.keys = [key.secret for key in self.api_keys]
        self.limit = rate_limit_per_minute
        self.buckets = TokenBucket(rate_limit_per_minute, clock) if rate_limit_per_minute else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_protected(route_path(scope)):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        caller = f"addr:{client[0] if client else 'unknown'}"
        if self.keys:
            token = _bearer(Headers(scope=scope))
            index = match_key(token, self.keys)
            if index is None:
                # Failed attempts spend the address's tokens: guessing keys gets a 429 too.
                if wait := self._wait(caller):
                    await self._too_many(scope, receive, send, wait)
                    return
                log.info(
                    "rejected %s %s: %s API key",
                    scope["method"],
                    scope["path"],
                    "invalid" if token else "missing",
                )
                await self._unauthorized(scope, receive, send, given=token is not None)
                return
            caller = f"key#{index}"
            key = self.api_keys[index]
            principal = Principal(owner=key.owner, admin=key.scope == "admin")
            scope.setdefault("state", {})["principal"] = principal
        if wait := self._wait(caller):
            await self._too_many(scope, receive, send, wait)
            return
        await self.app(scope, receive, send)

    def _wait(self, caller: str) -> float:
        return self.buckets.take(caller) if self.buckets is not None else 0.0

    async def _unauthorized(self, scope: Scope, receive: Receive, send: Send, given: bool) -> None:
        message = (
            "invalid API key" if given else "missing API key: send 'Authorization: Bearer <key>'"
        )
        challenge = 'Bearer realm="qa"' + (', error="invalid_token"' if given else "")
        response = error_body(401, "unauthorized", message)
        response.headers["WWW-Authenticate"] = challenge
        await response(scope, receive, send)

    async def _too_many(self, scope: Scope, receive: Receive, send: Send, wait: float) -> None:
        seconds = max(1, math.ceil(wait))
        response = error_body(
            429,
            "rate_limited",
            f"more than {self.limit} requests per minute; retry in {seconds} s",
            retry_after=seconds,
        )
        response.headers["Retry-After"] = str(seconds)
        await response(scope, receive, send)


def _openapi_with_bearer(app: FastAPI) -> Callable[[], dict[str, Any]]:
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = original()
            schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
            schemes["apiKey"] = {"type": "http", "scheme": "bearer"}
            for path, operations in schema.get("paths", {}).items():
                if path.startswith(PROTECTED_PREFIX):
                    for operation in operations.values():
                        operation["security"] = [{"apiKey": []}]
            app.openapi_schema = schema
        return app.openapi_schema

    return openapi


def install_security(app: FastAPI, api: ApiSettings) -> None:
    """Add the auth and rate-limit middleware, and declare bearer auth in the OpenAPI schema."""
    keys = parse_keys(api)
    app.add_middleware(
        SecurityMiddleware, api_keys=keys, rate_limit_per_minute=api.rate_limit_per_minute
    )
    if keys:
        # FastAPI documents replacing app.openapi to customise the schema.
        app.openapi = _openapi_with_bearer(app)  # type: ignore[method-assign]
        admins = sum(key.scope == "admin" for key in keys)
        log.info(
            "%d API key(s) required on /v1 (%d admin, %d read)",
            len(keys),
            admins,
            len(keys) - admins,
        )
