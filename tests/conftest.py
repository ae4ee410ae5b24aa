"""Shared fixtures: always-on network and model-request guards, a loopback Chroma server."""

from __future__ import annotations

import atexit
import ipaddress
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest
from fakes.chroma_server import ChromaServer

# qa's default data folder is the per-user one (platformdirs: $XDG_DATA_HOME/qa on Linux).
# Tests never write there: every Settings() without QA_DATA_DIR, in this process or a
# subprocess (they inherit the environment), lands in this throwaway folder instead.
TEST_DATA_HOME = tempfile.mkdtemp(prefix="qa-tests-data-home-")
os.environ["XDG_DATA_HOME"] = TEST_DATA_HOME
atexit.register(shutil.rmtree, TEST_DATA_HOME, ignore_errors=True)


def _loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def _loopback(address: Any) -> bool:
    if not isinstance(address, tuple):  # AF_UNIX paths and the like stay local
        return True
    return _loopback_host(str(address[0]))


class ModelRequestRefusedError(RuntimeError):
    """An OpenAI client was built for a non-loopback base URL inside a test."""


class Refusals:
    """What the guards refused in this session; a test fails on its own (see `no_network`)."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def network(self, address: Any) -> OSError:
        message = f"test tried to reach {address!r}: only loopback is allowed"
        self.seen.append(message)
        return OSError(message)

    def model(self, base_url: object) -> ModelRequestRefusedError:
        message = (
            f"test built an OpenAI client for {base_url}: real model requests are refused, "
            "point it at a loopback fake (tests/fakes)"
        )
        self.seen.append(message)
        return ModelRequestRefusedError(message)


def _guard_sockets(patch: pytest.MonkeyPatch, refusals: Refusals) -> None:
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def connect(self: socket.socket, address: Any) -> None:
        if not _loopback(address):
            raise refusals.network(address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if not _loopback(address):
            raise refusals.network(address)
        return real_connect_ex(self, address)

    patch.setattr(socket.socket, "connect", connect)
    patch.setattr(socket.socket, "connect_ex", connect_ex)


def _guard_model_clients(patch: pytest.MonkeyPatch, refusals: Refusals) -> None:
    """Like pydantic-ai's ALLOW_MODEL_REQUESTS=False: no OpenAI client for a real endpoint."""
    import openai

    for cls in (openai.OpenAI, openai.AsyncOpenAI):  # Azure and module clients subclass these
        real_init = cls.__init__

        def init(self: Any, *args: Any, _real: Any = real_init, **kwargs: Any) -> None:
            _real(self, *args, **kwargs)
            if not _loopback_host(self.base_url.host):
                raise refusals.model(self.base_url)

        patch.setattr(cls, "__init__", init)


@pytest.fixture(scope="session", autouse=True)
def refusals() -> Iterator[Refusals]:
    """Session-wide: sockets connect to loopback only; OpenAI clients point at loopback only."""
    seen = Refusals()
    with pytest.MonkeyPatch.context() as patch:
        _guard_sockets(patch, seen)
        _guard_model_clients(patch, seen)
        yield seen


@pytest.fixture(autouse=True)
def no_network(refusals: Refusals) -> Iterator[None]:
    """Every test: fail on any refused connection or model client, even one the code swallowed."""
    before = len(refusals.seen)
    yield
    refused = refusals.seen[before:]
    if refused:
        pytest.fail("guard refused: " + "; ".join(refused), pytrace=False)


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
