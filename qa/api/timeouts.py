"""Bounds on how long a client may take to send a request: its headers (at the protocol,
since an ASGI app only sees a request once they are complete) and its body (ASGI).

Without them a client that opens connections and sends half a request holds them for as
long as it likes (500 half-sent bodies stayed open for over 30 s): uvicorn's keep-alive
timeout only runs between requests, and every byte received resets it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.auto import AutoHTTPProtocol

from qa.api.errors import error_body

log = logging.getLogger(__name__)


class _HeaderDeadline:
    """Mixed into uvicorn's HTTP protocol: closes a connection that has not completed a
    request's headers ``header_timeout_s`` after it opened or after its last response."""

    header_timeout_s: float = 10.0
    cycle: Any
    transport: Any
    client: Any
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self._arm_header_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        self._arm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
        super().connection_lost(exc)  # type: ignore[misc]

    def _arm_header_deadline(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
        waiting_after = self.cycle  # a new request's headers make a new cycle
        loop = asyncio.get_running_loop()
        self._header_timer = loop.call_later(
            self.header_timeout_s, self._headers_overdue, waiting_after
        )

    def _headers_overdue(self, waiting_after: Any) -> None:
        # No request since (a pipelined one still being answered does not count as idle).
        idle = self.cycle is None or self.cycle.response_complete
        if self.cycle is waiting_after and idle and not self.transport.is_closing():
            log.info(
                "closed a connection from %s: no complete request headers in %.0f s",
                self.client[0] if self.client else "?",
                self.header_timeout_s,
            )
            self.transport.close()


def http_protocol(header_timeout_s: float) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol (httptools or h11) with a request-header deadline."""
    protocol: type[asyncio.Protocol] = type(
        "HeaderDeadlineProtocol",
        (_HeaderDeadline, AutoHTTPProtocol),
        {"header_timeout_s": header_timeout_s},
    )
    return protocol


class BodyTimeoutError(Exception):
    """The request body did not arrive in time."""


class BodyTimeoutMiddleware:
    """408 (and the connection closed) when a request's body is not complete within
    ``seconds`` of its headers. Only the body is timed: once it has arrived, ``receive``
    (which streaming responses use to notice a disconnect) waits as long as it likes."""

    def __init__(self, app: ASGIApp, *, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _has_body(Headers(scope=scope)):
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.seconds
        body_done = False
        timed_out = False
        started = False

        async def timed_receive() -> Message:
            nonlocal body_done, timed_out
            if body_done:
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                timed_out = True
                raise BodyTimeoutError from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if timed_out:  # the app's answer to a body it could not read (FastAPI: a 400)
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, timed_receive, guarded_send)
        except BodyTimeoutError:
            timed_out = True
        if timed_out and not started:
            await self._too_slow(scope, receive, send)

    async def _too_slow(self, scope: Scope, receive: Receive, send: Send) -> None:
        log.info("408: request body not complete in %.0f s", self.seconds)
        response = error_body(
            408,
            "request_timeout",
            f"the request body did not arrive within {self.seconds:g} s (QA_BODY_TIMEOUT_S)",
        )
        response.headers["Connection"] = "close"
        await response(scope, receive, send)


def _has_body(headers: Headers) -> bool:
    length = headers.get("content-length")
    chunked = "chunked" in headers.get("transfer-encoding", "").lower()
    return chunked or (length is not None and length.strip() not in ("", "0"))
