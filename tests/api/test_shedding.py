"""Load shedding over real sockets: beyond QA_MAX_IN_FLIGHT + QA_MAX_QUEUED, /v1/ requests
get 503 busy with Retry-After at once; below the bound none does; health is never shed.

The service is the in-memory one with a scripted LLM that holds every answer until the test
opens a gate, so the number of requests in flight is known exactly.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fakes.net import uvicorn_in_thread
from fakes.news import NEWS, SHIPS_QUESTION
from fakes.service import ServiceFactory

from qa.api.app import create_app
from qa.config import Settings
from qa.llm.scripted import quote_first_source
from qa.ports import Message


class Gate:
    """A scripted LLM reply that waits until ``open``; counts the calls waiting."""

    def __init__(self) -> None:
        self._open = threading.Event()
        self._lock = threading.Lock()
        self.waiting = 0

    def reply(self, messages: Sequence[Message]) -> str:
        with self._lock:
            self.waiting += 1
        self._open.wait(timeout=30)
        return quote_first_source(messages)

    def open(self) -> None:
        self._open.set()

    def wait_for(self, calls: int) -> None:
        deadline = time.monotonic() + 20
        while self.waiting < calls:
            assert time.monotonic() < deadline, f"{self.waiting} of {calls} calls arrived"
            time.sleep(0.01)


@pytest.fixture
def gate() -> Iterator[Gate]:
    held = Gate()
    yield held
    held.open()  # never leave a server thread waiting


@contextmanager
def served(tmp_path: Path, gate: Gate, **settings: Any) -> Iterator[str]:
    with ServiceFactory(tmp_path) as factory:
        mem = factory(NEWS, llm=gate.reply)
        config = mem.settings.model_copy(update={"rate_limit_per_minute": 0, **settings})
        with uvicorn_in_thread(create_app(mem.service, config)) as url:
            yield url


def ask(url: str) -> httpx.Response:
    return httpx.post(f"{url}/v1/ask", json={"question": SHIPS_QUESTION}, timeout=60)


def concurrent_asks(url: str, gate: Gate, total: int, in_flight: int) -> list[httpx.Response]:
    """``total`` asks at once; once ``in_flight`` of them reached the LLM and every request
    the server turned away has had its answer, the gate opens and all of them finish."""
    with ThreadPoolExecutor(total) as pool:
        futures = [pool.submit(ask, url) for _ in range(total)]
        gate.wait_for(in_flight)
        time.sleep(0.3)  # let any request that is going to be shed get its 503
        gate.open()
        return [future.result() for future in futures]


def assert_busy(response: httpx.Response, retry_after: int) -> None:
    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(retry_after)
    error = response.json()["error"]
    assert error["type"] == "busy"
    assert f"retry after {retry_after} s" in error["message"]
    assert error["retry_after_s"] == retry_after


def test_requests_beyond_the_bound_are_shed_with_retry_after(tmp_path: Path, gate: Gate) -> None:
    with served(
        tmp_path, gate, max_in_flight=4, max_queued=4, queue_timeout_s=30, retry_after_s=3
    ) as url:
        responses = concurrent_asks(url, gate, total=12, in_flight=4)
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] * 8 + [503] * 4  # 4 in flight and 4 waiting are answered
    for response in responses:
        if response.status_code == 503:
            assert_busy(response, retry_after=3)
        else:
            assert response.json()["answerable"]


def test_requests_within_the_bound_are_all_answered(tmp_path: Path, gate: Gate) -> None:
    with served(tmp_path, gate, max_in_flight=4, max_queued=4, queue_timeout_s=30) as url:
        responses = concurrent_asks(url, gate, total=8, in_flight=4)
    assert [r.status_code for r in responses] == [200] * 8


def test_zero_in_flight_turns_shedding_off(tmp_path: Path, gate: Gate) -> None:
    with served(tmp_path, gate, max_in_flight=0, max_queued=0) as url:
        responses = concurrent_asks(url, gate, total=12, in_flight=12)
    assert [r.status_code for r in responses] == [200] * 12


def test_a_request_waits_no_longer_than_the_queue_timeout(tmp_path: Path, gate: Gate) -> None:
    with (
        served(tmp_path, gate, max_in_flight=1, max_queued=1, queue_timeout_s=0.5) as url,
        ThreadPoolExecutor(1) as pool,
    ):
        holder = pool.submit(ask, url)
        gate.wait_for(1)
        started = time.monotonic()
        waited = httpx.post(f"{url}/v1/search", json={"query": "ships"}, timeout=10)
        took = time.monotonic() - started
        assert_busy(waited, retry_after=1)
        assert 0.5 <= took < 5
        # Health, readiness and metrics are never shed, even with every slot taken.
        for path in ("/healthz", "/readyz", "/metrics"):
            assert httpx.get(f"{url}{path}", timeout=10).status_code == 200
        gate.open()
        assert holder.result().status_code == 200
        # The slot is free again.
        search = httpx.post(f"{url}/v1/search", json={"query": "ships"}, timeout=10)
        assert search.status_code == 200


def test_a_waiting_request_gets_the_slot_when_it_frees(tmp_path: Path, gate: Gate) -> None:
    with (
        served(tmp_path, gate, max_in_flight=1, max_queued=1, queue_timeout_s=30) as url,
        ThreadPoolExecutor(2) as pool,
    ):
        holder = pool.submit(ask, url)
        gate.wait_for(1)
        queued = pool.submit(httpx.post, f"{url}/v1/search", json={"query": "ships"}, timeout=60)
        time.sleep(0.3)  # queued by now; the queue (one place) is full
        started = time.monotonic()
        turned_away = httpx.post(f"{url}/v1/search", json={"query": "ships"}, timeout=10)
        assert_busy(turned_away, retry_after=1)
        assert time.monotonic() - started < 0.4  # at once, not after the queue timeout
        gate.open()
        assert holder.result().status_code == 200
        assert queued.result().status_code == 200


def test_a_client_slow_to_send_its_body_holds_no_slot(tmp_path: Path, gate: Gate) -> None:
    with served(tmp_path, gate, max_in_flight=1, max_queued=0, body_timeout_s=2) as url:
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as slow:
            slow.sendall(
                b"POST /v1/search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b'Content-Length: 40\r\n\r\n{"query": "sh'
            )
            time.sleep(0.2)
            fast = httpx.post(f"{url}/v1/search", json={"query": "ships"}, timeout=10)
            assert fast.status_code == 200
            assert slow.recv(4096).startswith(b"HTTP/1.1 408")


def test_load_settings_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_MAX_IN_FLIGHT", "3")
    monkeypatch.setenv("QA_MAX_QUEUED", "5")
    monkeypatch.setenv("QA_QUEUE_TIMEOUT_S", "0.75")
    monkeypatch.setenv("QA_RETRY_AFTER_S", "2")
    load = Settings(_env_file=None).load
    assert (load.max_in_flight, load.max_queued, load.queue_timeout_s, load.retry_after_s) == (
        3,
        5,
        0.75,
        2,
    )
    monkeypatch.setenv("QA_RETRY_AFTER_S", "0")
    with pytest.raises(ValueError, match="retry_after_s"):
        Settings(_env_file=None)
