"""A loopback OpenAI-compatible /v1/chat/completions server with scripted replies.

stdlib http.server in a thread on 127.0.0.1. ``script(...)`` queues replies served in
order: a JSON completion, an SSE stream, an HTTP error with a body, or a delay (longer
than the client's timeout). Every request is recorded in ``requests``. An empty queue
answers 500 with ``x-should-retry: false`` so a test that forgot a reply fails fast.
Usage is always ``USAGE``: in every JSON completion, and in a last chunk with no choices
when a stream asks for it (``stream_options={"include_usage": true}``), as OpenAI does.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


@dataclass(frozen=True)
class ChatReply:
    """One scripted response; build it with the reply_* helpers below."""

    status: int = 200
    content: str = ""
    deltas: tuple[str, ...] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    delay_s: float = 0.0
    stream_usage: bool = True


def reply_json(content: str) -> ChatReply:
    return ChatReply(content=content)


def reply_stream(*deltas: str, usage: bool = True) -> ChatReply:
    """SSE deltas; ``usage=False`` ignores ``include_usage`` like some servers do."""
    return ChatReply(deltas=deltas, stream_usage=usage)


def reply_error(status: int, message: str = "scripted failure", **headers: str) -> ChatReply:
    """An error with an OpenAI-style body; ``retry-after-ms: 1`` keeps SDK retries fast."""
    headers = {"retry-after-ms": "1", **{k.replace("_", "-"): v for k, v in headers.items()}}
    body = {"error": {"message": message, "type": "server_error", "code": str(status)}}
    return ChatReply(status=status, body=body, headers=headers)


def reply_delay(seconds: float, then: ChatReply | None = None) -> ChatReply:
    """Sleep (interruptibly) before answering ``then`` (default: a short completion)."""
    then = then or reply_json("late")
    return replace(then, delay_s=seconds)


@dataclass(frozen=True)
class RecordedChat:
    """One request as the server saw it (header names lower-cased)."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]


#: The token usage the server reports for every completion.
USAGE = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}


def _completion(content: str, model: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": USAGE,
    }


def _chunk(delta: dict[str, str], model: str, finish: str | None = None) -> bytes:
    chunk = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(chunk)}\n\n".encode()


def _usage_chunk(model: str) -> bytes:
    chunk = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": [],
        "usage": USAGE,
    }
    return f"data: {json.dumps(chunk)}\n\n".encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and hung up is expected, not an error


class ChatServer:
    """Context manager: ``with ChatServer() as server: OpenAI(base_url=server.url)``."""

    def __init__(self) -> None:
        self.requests: list[RecordedChat] = []
        self._replies: deque[ChatReply] = deque()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._httpd = _Server(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def script(self, *replies: ChatReply) -> None:
        with self._lock:
            self._replies.extend(replies)

    def _next(self) -> ChatReply:
        with self._lock:
            if self._replies:
                return self._replies.popleft()
        return ChatReply(
            status=500,
            body={"error": {"message": "no scripted reply left"}},
            headers={"x-should-retry": "false"},
        )

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                body = json.loads(raw or b"{}")
                with server._lock:
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    server.requests.append(RecordedChat(self.path, headers, body))
                reply = server._next()
                if reply.delay_s and server._stop.wait(reply.delay_s):
                    return
                options = body.get("stream_options") or {}
                usage = bool(options.get("include_usage"))
                self._send(reply, str(body.get("model", "fake-model")), usage=usage)

            def _send(self, reply: ChatReply, model: str, *, usage: bool = False) -> None:
                if reply.deltas is not None and reply.status == 200:
                    self.send_response(200)
                    self.send_header("content-type", "text/event-stream")
                    self.end_headers()
                    self.wfile.write(_chunk({"role": "assistant", "content": ""}, model))
                    for delta in reply.deltas:
                        self.wfile.write(_chunk({"content": delta}, model))
                        self.wfile.flush()
                    self.wfile.write(_chunk({}, model, finish="stop"))
                    if usage and reply.stream_usage:
                        self.wfile.write(_usage_chunk(model))
                    self.wfile.write(b"data: [DONE]\n\n")
                    return
                payload = reply.body if reply.status != 200 else _completion(reply.content, model)
                data = json.dumps(payload).encode()
                self.send_response(reply.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        return Handler

    def __enter__(self) -> ChatServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()  # wakes handlers still sleeping in a scripted delay
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()
