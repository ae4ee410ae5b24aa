"""Loopback plumbing shared by the fake servers: free ports, threaded http.server, with-blocks."""

from __future__ import annotations

import abc
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self


def free_port() -> int:
    """A port that was free a moment ago on 127.0.0.1 (for servers that must be told a port)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_url(httpd: ThreadingHTTPServer) -> str:
    host, port = httpd.server_address[:2]
    return f"http://{host!s}:{port}"


def serve_in_thread(httpd: ThreadingHTTPServer, *, poll_interval: float = 0.5) -> threading.Thread:
    """Serve ``httpd`` from a daemon thread; the socket is already bound, so it is up at once."""
    # Daemon handler threads: a handler stuck mid-reply must not hang server_close() or pytest.
    httpd.daemon_threads = True
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": poll_interval}, daemon=True
    )
    thread.start()
    return thread


def close_server(httpd: ThreadingHTTPServer, thread: threading.Thread | None = None) -> None:
    """Stop ``serve_forever``, release the port and wait briefly for the serving thread."""
    httpd.shutdown()
    httpd.server_close()
    if thread is not None:
        thread.join(timeout=5)


class Loopback(abc.ABC):
    """A fake server used as ``with Fake() as fake``: start() on entry, stop() on exit."""

    @abc.abstractmethod
    def start(self) -> Self: ...

    @abc.abstractmethod
    def stop(self) -> None: ...

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@contextlib.contextmanager
def uvicorn_in_thread(app: Any, *, log_level: str = "warning") -> Iterator[str]:
    """``app`` served by a real uvicorn on a free loopback port, from a daemon thread;
    yields its base URL and stops it afterwards."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level=log_level))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
