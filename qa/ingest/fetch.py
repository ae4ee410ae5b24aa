"""Fetch one web page or PDF to ingest (``qa ingest https://...``, ``POST /v1/documents {url}``).

Safe by default, since an API caller can make the server fetch: http(s) only, no credentials
in the URL, no proxy from the environment, a whole-fetch deadline, a byte cap counted after
decompression, a bounded number of redirects, an allow-list of content types, and no
connection to a loopback, private, link-local or otherwise non-global address unless
``allow_private``. That check runs where the socket is opened, on the address actually
connected to, for every hop of a redirect chain: the host is resolved once, every address
it resolves to must be global, and the connection goes to that address (so a DNS answer that
changes between check and connect cannot slip through).
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import socket
import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

import httpcore
import httpx

from qa.errors import IngestError

#: Content types fetched, and how each is read.
CONTENT_KINDS: Final = {
    "text/html": "html",
    "application/xhtml+xml": "html",
    "application/pdf": "pdf",
    "text/plain": "text",
    "text/markdown": "text",
    "text/x-markdown": "text",
}
USER_AGENT: Final = "qa-ingest/0.1 (+https://github.com/; fetches one page on request)"
MAX_DOC_ID_CHARS: Final = 256


class FetchError(IngestError):
    """A URL could not be fetched or is not allowed; the reason says which and why."""


@dataclass(frozen=True)
class FetchedPage:
    """The body of a fetched URL: ``kind`` is "html", "pdf" or "text"; ``url`` the final one."""

    url: str
    kind: str
    data: bytes
    charset: str | None = None


def is_url(value: str) -> bool:
    """Whether a command-line argument names a URL rather than a path."""
    return value.lower().startswith(("http://", "https://"))


def doc_id_for_url(url: str) -> str:
    """The document id of a fetched URL: the URL itself, shortened with a hash if too long."""
    if len(url) <= MAX_DOC_ID_CHARS:
        return url
    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]
    return f"{url[: MAX_DOC_ID_CHARS - 17]}#{digest}"


def fetch_url(
    url: str,
    *,
    timeout_s: float,
    max_bytes: int,
    max_redirects: int,
    allow_private: bool,
) -> FetchedPage:
    """GET ``url`` within the limits; FetchError saying what went wrong otherwise."""
    target = _checked(url)
    transport = GuardedTransport(allow_private=allow_private)
    deadline = time.monotonic() + timeout_s
    try:
        with (
            httpx.Client(
                transport=transport,
                follow_redirects=True,
                max_redirects=max_redirects,
                timeout=httpx.Timeout(timeout_s),
                trust_env=False,
                headers={
                    "User-Agent": USER_AGENT,
                    "Accept": "text/html,application/xhtml+xml,application/pdf,"
                    "text/plain;q=0.9,text/markdown;q=0.9",
                },
            ) as client,
            client.stream("GET", target) as response,
        ):
            return _read(url, response, max_bytes=max_bytes, deadline=deadline)
    except httpx.TooManyRedirects:
        raise FetchError(
            url, f"more than {max_redirects} redirects (QA_FETCH_MAX_REDIRECTS)"
        ) from None
    except httpx.TimeoutException:
        raise FetchError(url, f"timed out after {timeout_s:g} s (QA_FETCH_TIMEOUT_S)") from None
    except httpx.UnsupportedProtocol as exc:
        raise FetchError(url, f"redirected to a URL that is not http(s): {exc}") from None
    except httpx.HTTPError as exc:
        raise FetchError(url, f"cannot fetch: {exc or type(exc).__name__}") from None


def _checked(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise FetchError(url[:200], f"not a valid URL ({exc})") from None
    if parsed.scheme not in {"http", "https"}:
        raise FetchError(url[:200], "only http:// and https:// URLs are fetched")
    if not parsed.host:
        raise FetchError(url[:200], "the URL names no host")
    if parsed.userinfo:
        raise FetchError(url[:200], "URLs with a user name or password are not fetched")
    return parsed


def _read(url: str, response: httpx.Response, *, max_bytes: int, deadline: float) -> FetchedPage:
    if response.status_code >= 400:
        raise FetchError(url, f"the server answered HTTP {response.status_code}")
    if not response.is_success:
        raise FetchError(url, f"unexpected HTTP {response.status_code}")
    mime = response.headers.get("content-type", "").split(";")[0].strip().lower()
    kind = CONTENT_KINDS.get(mime)
    if kind is None:
        allowed = ", ".join(sorted(CONTENT_KINDS))
        raise FetchError(url, f"content type {mime or 'missing'!r} is not one of: {allowed}")
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(url, _too_large(f"{declared} bytes", max_bytes))
    body = bytearray()
    for chunk in response.iter_bytes():  # decompressed: a gzip bomb is cut off as well
        body += chunk
        if len(body) > max_bytes:
            raise FetchError(url, _too_large(f"more than {max_bytes} bytes", max_bytes))
        if time.monotonic() > deadline:
            raise httpx.ReadTimeout("whole-fetch deadline passed")
    return FetchedPage(
        url=str(response.url), kind=kind, data=bytes(body), charset=response.charset_encoding
    )


def _too_large(size: str, limit: int) -> str:
    return f"the page is {size}, over the {limit}-byte limit (QA_MAX_FILE_BYTES)"


def allowed_address(address: str) -> bool:
    """Whether ``address`` is a global one (not loopback, private, link-local, reserved...)."""
    ip = ipaddress.ip_address(address.split("%", maxsplit=1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class _GuardedBackend(httpcore.NetworkBackend):
    """Opens TCP connections only to addresses the fetch may reach (see the module doc)."""

    def __init__(self, *, allow_private: bool) -> None:
        self._inner = httpcore.SyncBackend()
        self._allow_private = allow_private

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise httpcore.ConnectError(f"cannot resolve host {host!r}: {exc}") from None
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        if not self._allow_private:
            refused = [a for a in addresses if not allowed_address(a)]
            if refused:
                raise httpcore.ConnectError(
                    f"{host} is {refused[0]}, a loopback, private or reserved address; "
                    "such addresses are not fetched (QA_FETCH_ALLOW_PRIVATE=true allows them)"
                )
        errors: list[str] = []
        for address in addresses:
            try:
                return self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError as exc:
                errors.append(f"{address}: {exc}")
        raise httpcore.ConnectError("; ".join(errors) or f"no address for {host!r}")

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not fetched")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class GuardedTransport(httpx.HTTPTransport):
    """httpx's own transport, its connections opened by ``_GuardedBackend``."""

    def __init__(self, *, allow_private: bool) -> None:
        context = _ssl_context()
        super().__init__(verify=context, trust_env=False)
        # httpx.HTTPTransport takes no network backend, so its pool is rebuilt with one
        # (the same arguments HTTPTransport passes when no proxy is configured).
        self._pool = httpcore.ConnectionPool(
            ssl_context=context,
            network_backend=_GuardedBackend(allow_private=allow_private),
        )


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One verifying context (certifi's CAs) for every fetch: loading them takes ~0.1 s."""
    return httpx.create_ssl_context(trust_env=False)
