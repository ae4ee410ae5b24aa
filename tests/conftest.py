"""Shared fixtures: a loopback Chroma server, a network guard, the local embedder."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from fakes.chroma_server import ChromaServer


def _loopback(address: Any) -> bool:
    if not isinstance(address, tuple):  # AF_UNIX paths and the like stay local
        return True
    host = str(address[0])
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any connection that is not to 127.0.0.1/::1 (tests never leave the machine)."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def connect(self: socket.socket, address: Any) -> None:
        if not _loopback(address):
            raise OSError(f"test tried to reach {address!r}: only loopback is allowed")
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if not _loopback(address):
            raise OSError(f"test tried to reach {address!r}: only loopback is allowed")
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a `chroma run` server on loopback, shared by the session."""
    server = ChromaServer(tmp_path_factory.mktemp("chroma-server") / "data")
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def chroma_server_factory(tmp_path: Any) -> Iterator[ChromaServer]:
    """A private, not yet started server for fault tests (stop()/start() keep port and data)."""
    server = ChromaServer(tmp_path / "chroma-private")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def local_embedder() -> Any:
    """The real int8 MiniLM embedder, loaded once."""
    from qa.embeddings.local import LocalMiniLMEmbedder

    return LocalMiniLMEmbedder()
