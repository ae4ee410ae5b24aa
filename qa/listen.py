"""Check where `qa serve` will listen before uvicorn tries: a clear error, not a traceback
(or, for --port 99999, a silently wrapped port)."""

from __future__ import annotations

import errno
import ipaddress
import re
import socket

from qa.errors import InputError

_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def check_host(host: str) -> str:
    """``host`` if it is an IP address or a well-formed host name; InputError otherwise."""
    try:
        ipaddress.ip_address(host.strip("[]"))
        return host.strip("[]")
    except ValueError:
        pass
    labels = host.removesuffix(".").split(".")
    if not host or len(host) > 253 or not all(_LABEL.match(label) for label in labels):
        raise InputError(f"--host {host!r} is not an IP address or a host name")
    return host


def check_port(port: int) -> int:
    if not 1 <= port <= 65535:
        raise InputError(f"--port must be between 1 and 65535 (got {port})")
    return port


def check_listen(host: str, port: int) -> tuple[str, int]:
    """``(host, port)`` when this process can listen there; InputError saying why not."""
    host, port = check_host(host), check_port(port)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise InputError(f"--host {host!r} cannot be resolved: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            probe.bind(address)
        except OSError as exc:
            raise InputError(_bind_problem(host, port, exc)) from None
    return host, port


def _bind_problem(host: str, port: int, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return f"port {port} on {host} is in use by another program: choose another --port"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"--host {host} is not an address of this machine"
    if exc.errno == errno.EACCES:
        return f"no permission to listen on port {port} (ports below 1024 need privileges)"
    return f"cannot listen on {host}:{port}: {exc.strerror or exc}"
