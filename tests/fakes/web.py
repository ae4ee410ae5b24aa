"""A loopback web server for URL ingestion: pages with the headers and bodies a test sets,
redirects, slow and oversized bodies; it records every request it receives."""

from __future__ import annotations

import contextlib
import gzip
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self

from fakes.net import Loopback, close_server, http_url, serve_in_thread


@dataclass
class Page:
    """What one path answers: status, headers and body (sent in ``chunks`` pieces, each after
    ``delay`` seconds; ``length`` False: no Content-Length, the body ends with the connection)."""

    body: bytes = b""
    content_type: str | None = "text/html; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    chunks: int = 1
    delay: float = 0.0
    length: bool = True


def redirect(to: str, status: int = 302) -> Page:
    return Page(status=status, content_type=None, headers={"Location": to})


def gzipped(body: bytes, content_type: str = "text/html") -> Page:
    return Page(
        gzip.compress(body), content_type=content_type, headers={"Content-Encoding": "gzip"}
    )


class WebServer(Loopback):
    """``with WebServer() as web: web.pages["/a"] = Page(...); fetch(web.url("/a"))``."""

    def __init__(self) -> None:
        self.pages: dict[str, Page | Callable[[], Page]] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._lock = threading.Lock()

    def url(self, path: str) -> str:
        return f"{http_url(self._httpd)}{path}"

    def start(self) -> Self:
        web = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                with web._lock:
                    web.requests.append((self.path, dict(self.headers.items())))
                found = web.pages.get(self.path)
                page = found() if callable(found) else found
                if page is None:
                    page = Page(b"not found", "text/plain", status=404)
                self.send_response(page.status)
                if page.content_type:
                    self.send_header("Content-Type", page.content_type)
                for name, value in page.headers.items():
                    self.send_header(name, value)
                if page.length:
                    self.send_header("Content-Length", str(len(page.body)))
                else:
                    self.send_header("Connection", "close")
                self.end_headers()
                size = -(-len(page.body) // page.chunks) if page.body else 0
                try:
                    for start in range(0, len(page.body), max(size, 1)):
                        time.sleep(page.delay)
                        self.wfile.write(page.body[start : start + size])
                        self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up: what the limits are for
                if not page.length:
                    self.close_connection = True

            def handle(self) -> None:
                # A client may drop a kept-alive connection at any time.
                with contextlib.suppress(ConnectionResetError, BrokenPipeError):
                    super().handle()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = serve_in_thread(self._httpd, poll_interval=0.05)
        return self

    def stop(self) -> None:
        close_server(self._httpd, self._thread)

    def paths(self) -> list[str]:
        with self._lock:
            return [path for path, _ in self.requests]
