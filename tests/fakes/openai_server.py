"""A loopback OpenAI-compatible HTTP server for adapter tests (stdlib http.server in a thread).

Generic on purpose: ``routes`` maps ``(method, path)`` to a handler callable, every request
is logged in ``requests``, and ``script(path, *replies)`` queues canned replies (errors,
streams) that are served before the route's handler. ``/v1/embeddings`` is built in;
``/v1/chat/completions`` can be added with ``server.route("POST", path, handler)``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

import numpy as np

from fakes.net import Loopback, close_server, http_url, serve_in_thread


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass(frozen=True)
class Reply:
    """A response. ``body`` is JSON-encoded unless bytes; ``chunks`` streams (e.g. SSE)."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    chunks: Iterable[bytes] | None = None


Handler = Callable[[RecordedRequest], Reply]


def fake_vector(text: str, dimension: int) -> list[float]:
    """Deterministic unit vector: hashed words, so shared words mean closer vectors."""
    vec = np.zeros(dimension, dtype=np.float32)
    for word in re.findall(r"\w+", text.lower()):
        digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
        vec[int.from_bytes(digest, "little") % dimension] += 1.0
    norm = float(np.linalg.norm(vec))
    if norm == 0:
        vec[0] = 1.0
        norm = 1.0
    return [float(x) for x in vec / norm]


def embeddings_handler(dimension: int = 64) -> Handler:
    """An ``/v1/embeddings`` handler honouring ``encoding_format`` (the SDK asks for base64)."""

    def handle(request: RecordedRequest) -> Reply:
        payload = request.json() or {}
        inputs = payload.get("input")
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not inputs or any(t == "" for t in inputs):
            return Reply(400, {"error": {"message": "invalid input", "type": "invalid_request"}})
        dim = int(payload.get("dimensions") or dimension)
        data = []
        for i, text in enumerate(inputs):
            vector = fake_vector(str(text), dim)
            embedding: Any = vector
            if payload.get("encoding_format") == "base64":
                embedding = base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()
            data.append({"object": "embedding", "index": i, "embedding": embedding})
        # Reversed on purpose: clients must order by "index", not by position.
        body = {
            "object": "list",
            "data": data[::-1],
            "model": payload.get("model", "fake"),
            "usage": {"prompt_tokens": 0, "total_tokens": 0},
        }
        return Reply(200, body)

    return handle


class FakeOpenAIServer(Loopback):
    """``with FakeOpenAIServer() as server: OpenAI(base_url=server.base_url, ...)``."""

    def __init__(self, *, embedding_dimension: int = 64) -> None:
        self.routes: dict[tuple[str, str], Handler] = {}
        self.requests: list[RecordedRequest] = []
        self._scripted: dict[str, deque[Reply]] = {}
        self._lock = threading.Lock()
        self.route("POST", "/v1/embeddings", embeddings_handler(embedding_dimension))
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return http_url(self._httpd)

    @property
    def base_url(self) -> str:
        """What to pass as the SDK's ``base_url``."""
        return f"{self.url}/v1"

    def route(self, method: str, path: str, handler: Handler) -> None:
        self.routes[(method.upper(), path)] = handler

    def script(self, path: str, *replies: Reply) -> None:
        """Serve these replies, in order, to the next requests on ``path``."""
        with self._lock:
            self._scripted.setdefault(path, deque()).extend(replies)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def start(self) -> Self:
        self._thread = serve_in_thread(self._httpd, poll_interval=0.05)
        return self

    def stop(self) -> None:
        close_server(self._httpd, self._thread)

    def _dispatch(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
            queue = self._scripted.get(request.path)
            if queue:
                return queue.popleft()
        handler = self.routes.get((request.method, request.path))
        if handler is None:
            return Reply(404, {"error": {"message": f"no route {request.path}"}})
        return handler(request)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = RecordedRequest(
                    method=self.command,
                    path=self.path.split("?", 1)[0],
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length) if length else b"",
                )
                reply = server._dispatch(request)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if reply.chunks is not None:
                    if "content-type" not in {k.lower() for k in reply.headers}:
                        self.send_header("Content-Type", "text/event-stream")
                    self.end_headers()  # HTTP/1.0: the stream ends when we close
                    for chunk in reply.chunks:
                        self.wfile.write(chunk)
                        self.wfile.flush()
                    return
                raw = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body)
                data = raw if isinstance(raw, bytes) else raw.encode()
                if "content-type" not in {k.lower() for k in reply.headers}:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _serve  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep pytest output quiet

        return _Handler
