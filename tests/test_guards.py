"""The always-on guards of conftest.py: loopback-only sockets, loopback-only OpenAI clients."""

from __future__ import annotations

import socket

import openai
import pytest
from conftest import ModelRequestRefusedError, Refusals, _loopback

REMOTE = ("192.0.2.1", 80)  # TEST-NET-1: refused before any packet leaves


def test_a_connection_beyond_loopback_is_refused_and_recorded(refusals: Refusals) -> None:
    before = len(refusals.seen)
    with pytest.raises(OSError, match="only loopback"):
        socket.create_connection(REMOTE, timeout=1)
    with socket.socket() as sock, pytest.raises(OSError, match="only loopback"):
        sock.connect_ex(REMOTE)
    assert len(refusals.seen) == before + 2
    del refusals.seen[before:]  # expected here: do not fail this test at teardown


@pytest.mark.parametrize(
    ("family", "listen", "host"),
    [
        (socket.AF_INET, "127.0.0.1", "127.0.0.1"),
        (socket.AF_INET, "127.0.0.1", "localhost"),
        (socket.AF_INET6, "::1", "::1"),
    ],
)
def test_loopback_connections_are_allowed(family: int, listen: str, host: str) -> None:
    with socket.socket(family) as server:
        server.bind((listen, 0))
        server.listen()
        with socket.socket(family) as client:
            client.connect((host, server.getsockname()[1]))


def test_ipv4_mapped_loopback_counts_as_loopback() -> None:
    assert _loopback(("::ffff:127.0.0.1", 80, 0, 0))
    assert not _loopback(("::ffff:192.0.2.1", 80, 0, 0))


@pytest.mark.parametrize(
    "kwargs", [{}, {"base_url": "https://api.openai.com/v1"}, {"base_url": "http://10.0.0.5/v1"}]
)
def test_an_openai_client_for_a_real_endpoint_is_refused(
    refusals: Refusals, kwargs: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    before = len(refusals.seen)
    for cls in (openai.OpenAI, openai.AsyncOpenAI):
        with pytest.raises(ModelRequestRefusedError, match="real model requests are refused"):
            cls(api_key="k", **kwargs)
    assert len(refusals.seen) == before + 2
    del refusals.seen[before:]


def test_the_sdk_environment_cannot_point_a_client_elsewhere(
    refusals: Refusals, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "https://api.example.com/v1")
    before = len(refusals.seen)
    with pytest.raises(ModelRequestRefusedError):
        openai.OpenAI(api_key="k")
    del refusals.seen[before:]


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9/v1", "http://localhost:9/v1", "http://[::1]:9"]
)
def test_an_openai_client_for_a_loopback_fake_is_allowed(url: str) -> None:
    for cls in (openai.OpenAI, openai.AsyncOpenAI):
        cls(api_key="k", base_url=url)
