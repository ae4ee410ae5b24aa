"""Edges an attacker on the network uses, against a real `qa serve` process: forwarded
headers from an untrusted peer do not escape the rate limit, and half-sent requests (slow
headers, half-sent bodies) are closed instead of held open."""

from __future__ import annotations

import socket
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from e2e.served import Served
from fastapi.testclient import TestClient

from qa.api.app import create_app
from qa.config import Settings

pytestmark = pytest.mark.slow
KEY = "edge-secret-key"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    env = {
        "QA_API_KEYS": KEY,
        "QA_RATE_LIMIT_PER_MINUTE": "120",
        "QA_HEADER_TIMEOUT_S": "2",
        "QA_BODY_TIMEOUT_S": "2",
    }
    with Served(tmp_path_factory.mktemp("edges"), env=env) as served:
        yield served


def test_spoofed_forwarded_for_does_not_escape_the_failed_key_limit(server: Served) -> None:
    """The issue's attack: 700 guesses, each claiming another client address."""
    statuses: Counter[int] = Counter()
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for guess in range(700):
            response = http.post(
                "/v1/search",
                json={"query": "x"},
                headers={
                    "Authorization": f"Bearer guess-{guess}",
                    "X-Forwarded-For": f"203.0.113.{guess % 250}, 198.51.100.{guess % 200}",
                },
            )
            statuses[response.status_code] += 1
    # 120 a minute per address (2 a second refill while the guesses run); before: all 401.
    assert statuses[429] >= 500, statuses
    assert set(statuses) == {401, 429}


def _recv_until_closed(sock: socket.socket, limit_s: float) -> tuple[bytes, float]:
    started = time.monotonic()
    sock.settimeout(limit_s)
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data, time.monotonic() - started
        data += chunk


def test_slow_headers_are_cut_off(server: Served) -> None:
    """One header byte a second keeps uvicorn's keep-alive timer from ever firing."""
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: qa\r\n")
        started = time.monotonic()
        closed = False
        while time.monotonic() - started < 10:
            try:
                sock.sendall(b"X")
            except OSError:  # reset: closed by the server
                closed = True
                break
            sock.settimeout(1.0)
            try:
                if sock.recv(1024) == b"":
                    closed = True
                    break
            except TimeoutError:
                continue
        assert closed, "a connection with headers still coming after 10 s stayed open"
        assert time.monotonic() - started < 6


def test_half_sent_bodies_get_408_and_are_closed(server: Served) -> None:
    head = (
        "POST /v1/search HTTP/1.1\r\nHost: qa\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {KEY}\r\nContent-Length: 200\r\n\r\n"
    ).encode()

    def half_sent(_: int) -> tuple[bytes, float]:
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            sock.sendall(head + b'{"query": "half')
            return _recv_until_closed(sock, 20)

    with ThreadPoolExecutor(50) as pool:
        results = list(pool.map(half_sent, range(100)))
    for data, took in results:
        assert data.startswith(b"HTTP/1.1 408"), data[:200]
        assert b"QA_BODY_TIMEOUT_S" in data
        assert took < 10
    # A whole body sent at once is unaffected.
    ok = server.http.post(
        "/v1/search", json={"query": "x"}, headers={"Authorization": f"Bearer {KEY}"}
    )
    assert ok.status_code == 200


@pytest.mark.parametrize(("trusted", "limited"), [("", True), ("*", False)])
def test_forwarded_for_is_believed_only_from_trusted_proxies(trusted: str, limited: bool) -> None:
    settings = Settings(
        api_keys=KEY, rate_limit_per_minute=5, trusted_proxies=trusted, _env_file=None
    )
    client = TestClient(create_app(settings=settings))  # no lifespan: 401s need no service
    statuses = Counter(
        client.post(
            "/v1/search",
            json={"query": "x"},
            headers={"Authorization": "Bearer nope", "X-Forwarded-For": f"203.0.113.{i}"},
        ).status_code
        for i in range(20)
    )
    assert statuses == (Counter({429: 15, 401: 5}) if limited else Counter({401: 20}))


def test_timeout_settings_are_validated(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="body_timeout_s"):
        Settings(body_timeout_s=0, _env_file=None)
    assert Settings(
        trusted_proxies="10.0.0.0/8, 127.0.0.1", _env_file=None
    ).api.trusted_proxies == [
        "10.0.0.0/8",
        "127.0.0.1",
    ]
