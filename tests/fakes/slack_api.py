"""A loopback Slack Web API stub (stdlib http.server in a thread) that records every call.

Answers chat.postMessage, chat.update, chat.postEphemeral, reactions.add/remove, auth.test,
conversations.replies (and apps.connections.open once ``socket_url`` is set) with ok JSON
shaped like Slack's. ``fail(method, error)`` makes a method answer ``{"ok": false, "error":
...}`` (HTTP 429 with Retry-After for ``ratelimited``); ``wait_for(predicate)`` blocks until
the recorded calls satisfy it.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

from fakes.net import Loopback, close_server, http_url, serve_in_thread

BOT_USER_ID = "UQABOT"
BOT_ID = "BQABOT"
TEAM_ID = "T0QATEAM"


@dataclass(frozen=True)
class Call:
    """One Web API call: method, merged arguments (query, form or JSON), headers, reply."""

    method: str
    args: dict[str, Any]
    headers: dict[str, str]
    response: dict[str, Any]

    @property
    def ok(self) -> bool:
        return bool(self.response.get("ok"))

    def blocks(self) -> list[dict[str, Any]]:
        raw = self.args.get("blocks") or []
        return list(json.loads(raw) if isinstance(raw, str) else raw)


@dataclass
class _Failure:
    error: str
    status: int
    retry_after: int | None
    remaining: int | None  # None: fail forever


@dataclass
class SlackAPIStub(Loopback):
    """Start with ``with SlackAPIStub() as stub``; point WebClient(base_url=stub.base_url)."""

    calls: list[Call] = field(default_factory=list)
    _failures: dict[str, _Failure] = field(default_factory=dict)
    _cond: threading.Condition = field(default_factory=threading.Condition)
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _server: ThreadingHTTPServer | None = None
    #: What apps.connections.open hands out (a loopback WebSocket server in Socket Mode tests).
    socket_url: str | None = None

    # ----------------------------------------------------------------- control
    def fail(
        self,
        method: str,
        error: str = "internal_error",
        *,
        status: int | None = None,
        retry_after: int | None = None,
        times: int | None = None,
    ) -> None:
        """Make ``method`` fail (``times`` calls, or until ``clear_failures``)."""
        if status is None:
            status = 429 if error == "ratelimited" else 200
        if retry_after is None and status == 429:
            retry_after = 0
        with self._cond:
            self._failures[method] = _Failure(error, status, retry_after, times)

    def clear_failures(self) -> None:
        with self._cond:
            self._failures.clear()

    def calls_to(self, method: str) -> list[Call]:
        with self._cond:
            return [c for c in self.calls if c.method == method]

    def wait_for(self, predicate: Callable[[list[Call]], bool], timeout: float = 30.0) -> None:
        """Block until ``predicate(calls)`` holds; AssertionError with the calls on timeout."""
        with self._cond:
            if not self._cond.wait_for(lambda: predicate(list(self.calls)), timeout):
                methods = [(c.method, c.args.get("text")) for c in self.calls]
                raise AssertionError(f"timed out waiting; calls so far: {methods}")

    @property
    def base_url(self) -> str:
        assert self._server is not None, "stub not started"
        return f"{http_url(self._server)}/api/"

    # ----------------------------------------------------------------- replies
    def _next_ts(self) -> str:
        return f"1700000000.{next(self._ts):06d}"

    def _reply(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {
                "ok": True,
                "url": "https://qa-test.slack.com/",
                "team": "QA Test",
                "user": "qa",
                "team_id": TEAM_ID,
                "user_id": BOT_USER_ID,
                "bot_id": BOT_ID,
                "is_enterprise_install": False,
            }
        if method == "chat.postMessage":
            ts = self._next_ts()
            message = {"type": "message", "user": BOT_USER_ID, "bot_id": BOT_ID, "ts": ts}
            message |= {k: args[k] for k in ("text", "blocks", "thread_ts") if k in args}
            return {"ok": True, "channel": args.get("channel"), "ts": ts, "message": message}
        if method == "chat.update":
            return {
                "ok": True,
                "channel": args.get("channel"),
                "ts": args.get("ts"),
                "text": args.get("text", ""),
            }
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": self._next_ts()}
        if method == "conversations.replies":
            return {"ok": True, "messages": self._thread(args), "has_more": False}
        if method == "apps.connections.open" and self.socket_url:
            return {"ok": True, "url": self.socket_url}
        if method in ("reactions.add", "reactions.remove"):
            return {"ok": True}
        return {"ok": False, "error": "unknown_method"}

    def _thread(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        root = args.get("ts")
        return [
            {"type": "message", "user": BOT_USER_ID, "text": c.args.get("text"), "ts": root}
            for c in self.calls
            if c.method == "chat.postMessage" and c.args.get("thread_ts") == root and c.ok
        ]

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        url = urlsplit(request.path)
        method = url.path.rsplit("/", 1)[-1]
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length).decode() if length else ""
        args: dict[str, Any] = dict(parse_qsl(url.query))
        if "json" in (request.headers.get("Content-Type") or ""):
            args |= json.loads(raw or "{}")
        elif raw:
            args |= dict(parse_qsl(raw))
        headers = {k.lower(): v for k, v in request.headers.items()}
        with self._cond:
            failure = self._failures.get(method)
            if failure is not None and failure.remaining is not None:
                failure.remaining -= 1
                if failure.remaining <= 0:
                    del self._failures[method]
            if not headers.get("authorization", "").startswith("Bearer "):
                status, body, extra = 200, {"ok": False, "error": "not_authed"}, {}
            elif failure is not None:
                status, body = failure.status, {"ok": False, "error": failure.error}
                retry = failure.retry_after
                extra = {"Retry-After": str(retry)} if retry is not None else {}
            else:
                status, body, extra = 200, self._reply(method, args), {}
            self.calls.append(Call(method, args, headers, body))
            self._cond.notify_all()
        payload = json.dumps(body).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json; charset=utf-8")
        request.send_header("Content-Length", str(len(payload)))
        for name, value in extra.items():
            request.send_header(name, value)
        request.end_headers()
        request.wfile.write(payload)

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> Self:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                stub._handle(self)

            def do_GET(self) -> None:
                stub._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        serve_in_thread(self._server)
        return self

    def stop(self) -> None:
        if self._server is not None:
            close_server(self._server)
            self._server = None


class SocketModeEndpoint:
    """A loopback Socket Mode WebSocket: ``send`` queues envelopes, ``acks`` collects replies.

    Set ``stub.socket_url = endpoint.url`` so apps.connections.open hands it out.
    """

    def __init__(self) -> None:
        self.acks: queue.Queue[dict[str, Any]] = queue.Queue()
        self._outbox: queue.Queue[dict[str, Any]] = queue.Queue()
        self._server: Server | None = None

    def send(self, envelope: dict[str, Any]) -> None:
        self._outbox.put(envelope)

    @property
    def url(self) -> str:
        assert self._server is not None, "endpoint not started"
        port = self._server.socket.getsockname()[1]
        return f"ws://127.0.0.1:{port}/link"

    def _session(self, ws: ServerConnection) -> None:
        hello = {"type": "hello", "num_connections": 1, "connection_info": {"app_id": "AQA"}}
        ws.send(json.dumps(hello))
        while True:
            with contextlib.suppress(queue.Empty):
                ws.send(json.dumps(self._outbox.get_nowait()))
            try:
                self.acks.put(json.loads(ws.recv(timeout=0.05)))
            except TimeoutError:
                continue
            except ConnectionClosed:
                return

    def __enter__(self) -> SocketModeEndpoint:
        self._server = serve(self._session, "127.0.0.1", 0)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server = None
