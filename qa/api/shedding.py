"""Load shedding: a bounded number of API requests run at once, a bounded number wait for a
slot for a bounded time, and the rest get ``503 busy`` with ``Retry-After`` at once.

Without it, a saturated server queues every request (in uvicorn, then in the threadpool):
all of them get slower together, and under enough clients every answer takes seconds. With
it, the requests admitted keep their usual latency plus at most ``queue_timeout_s`` of
waiting, and a client turned away knows at once when to come back (figures in
bench/README.md, "HTTP latency"). Only ``/v1/`` routes are bounded: health, readiness,
metrics, the web page, docs, MCP and Slack pass whatever the load. A request's body is read
before it takes a slot, so clients slow to send one cannot hold the slots.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque

from starlette.types import ASGIApp, Receive, Scope, Send

from qa.api.bodies import replay
from qa.api.errors import error_body
from qa.api.security import route_path

log = logging.getLogger(__name__)

BOUNDED_PREFIX = "/v1/"


class LoadShedMiddleware:
    """Pure ASGI: at most ``max_in_flight`` /v1/ requests inside, ``max_queued`` waiting.

    One event loop runs the app, so the counters need no lock; a slot freed goes straight
    to the oldest waiter (first come, first served), so a newcomer cannot overtake it.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_in_flight: int,
        max_queued: int,
        queue_timeout_s: float,
        retry_after_s: int,
    ) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.max_queued = max_queued
        self.queue_timeout_s = queue_timeout_s
        self.retry_after_s = retry_after_s
        self.in_flight = 0
        self._waiting: deque[asyncio.Future[None]] = deque()
        self.shed = 0  # requests turned away since start

    @property
    def queued(self) -> int:
        return len(self._waiting)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or self.max_in_flight <= 0
            or not route_path(scope).startswith(BOUNDED_PREFIX)
        ):
            await self.app(scope, receive, send)
            return
        # The body first: a client slow to send it must not hold a slot (the body timeout
        # outside bounds the wait, and the size limit outside bounds what is kept).
        body = await _read_body(receive)
        if body is None:
            return  # the client went away
        if not await self._admit():
            await self._busy(scope, receive, send)
            return
        try:
            await self.app(scope, replay(body, receive), send)
        finally:
            self._release()

    async def _admit(self) -> bool:
        """Take a slot, waiting for one if the queue has room; False: shed this request."""
        if self.in_flight < self.max_in_flight and not self._waiting:
            self.in_flight += 1
            return True
        if len(self._waiting) >= self.max_queued:
            return False
        slot: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(slot)
        try:
            async with asyncio.timeout(self.queue_timeout_s):
                await slot
        except TimeoutError:
            pass
        except BaseException:  # the request was cancelled while it waited
            if self._leave(slot):
                self._release()
            raise
        return self._leave(slot)

    def _leave(self, slot: asyncio.Future[None]) -> bool:
        """Take ``slot`` out of the queue; True if a slot was handed to it (it then holds
        one, even when its time ran out at the same moment)."""
        if slot.done() and not slot.cancelled():
            return True
        slot.cancel()
        if slot in self._waiting:
            self._waiting.remove(slot)
        return False

    def _release(self) -> None:
        """Hand the slot to the oldest request still waiting, or free it."""
        while self._waiting:
            slot = self._waiting.popleft()
            if not slot.done():
                slot.set_result(None)  # in_flight is unchanged: the slot changes hands
                return
        self.in_flight -= 1

    async def _busy(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.shed += 1
        if self.shed == 1 or self.shed % 1000 == 0:
            log.warning(
                "overloaded: %d requests shed so far (%d in flight, %d waiting; "
                "QA_MAX_IN_FLIGHT=%d, QA_MAX_QUEUED=%d)",
                self.shed,
                self.in_flight,
                len(self._waiting),
                self.max_in_flight,
                self.max_queued,
            )
        response = error_body(
            503,
            "busy",
            f"the server is at capacity ({self.in_flight} requests in flight, "
            f"{len(self._waiting)} waiting): retry after {self.retry_after_s} s",
            retry_after_s=self.retry_after_s,
        )
        response.headers["Retry-After"] = str(self.retry_after_s)
        await response(scope, receive, send)


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body (empty for a request without one); None on a disconnect."""
    parts: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(parts)
