"""Connect like curl's ``--connect-to HOST:PORT:ADDR:PORT``.

The URL, the Host header, SNI and the certificate hostname check all stay on HOST;
only the TCP connection goes to ADDR:PORT. This is how the harness reaches a
deployment (or the embedded reference's edge) under its public names without DNS.

    transport = make_transport(["api.stackfast.app:443:127.0.0.1:41234"], ca_bundle="ca.pem")
    httpx.Client(transport=transport).get("https://api.stackfast.app/health")
"""

from __future__ import annotations

import ssl
import typing
from collections.abc import Iterable

import httpcore
import httpx

__all__ = ["KEEPALIVE_EXPIRY_SECONDS", "make_async_transport", "make_transport", "parse_connect_to", "resolve", "ssl_context"]

Mapping = dict[tuple[str, int], tuple[str, int]]


def parse_connect_to(connect_to: Iterable[str]) -> Mapping:
    """``["HOST:PORT:ADDR:PORT", ...]`` -> {(host, port): (addr, port)}; an empty HOST or PORT matches any
    (as in curl); an empty ADDR keeps the host, an empty target port keeps the port."""
    mapping: Mapping = {}
    for item in connect_to:
        if item.count(":") < 3:
            raise ValueError(f"connect-to {item!r} is not HOST1:PORT1:HOST2:PORT2 (as curl's --connect-to)")
        host, port, rest = item.split(":", 2)
        if rest.startswith("["):  # [::1]:PORT
            addr, _, to_port = rest[1:].partition("]:")
        else:
            addr, _, to_port = rest.rpartition(":")
        mapping[(host.lower(), int(port) if port else 0)] = (addr, int(to_port) if to_port else 0)
    return mapping


def resolve(connect_to: Iterable[str] | Mapping, host: str, port: int) -> tuple[str, int]:
    """Where a connection to ``host:port`` goes (itself when no entry matches)."""
    mapping = connect_to if isinstance(connect_to, dict) else parse_connect_to(connect_to)
    host = host.lower()
    for key in ((host, port), (host, 0), ("", port), ("", 0)):
        if key in mapping:
            addr, to_port = mapping[key]
            return (addr or host, to_port or port)
    return (host, port)


def ssl_context(ca_bundle: str | None = None, verify: bool = True) -> ssl.SSLContext:
    """A client context trusting ``ca_bundle`` (else the default trust store), hostname checks on."""
    if not verify:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    if ca_bundle:
        return ssl.create_default_context(cafile=str(ca_bundle))
    return httpx.create_ssl_context()


class _MappedBackend(httpcore.NetworkBackend):
    def __init__(self, mapping: Mapping) -> None:
        self._backend = httpcore.SyncBackend()
        self._mapping = mapping

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None) -> httpcore.NetworkStream:
        addr, to_port = resolve(self._mapping, host, port)
        return self._backend.connect_tcp(addr, to_port, timeout=timeout, local_address=local_address,
                                         socket_options=socket_options)

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None
                            ) -> httpcore.NetworkStream:
        return self._backend.connect_unix_socket(path, timeout=timeout, socket_options=socket_options)

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class _AsyncMappedBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, mapping: Mapping) -> None:
        self._backend = httpcore.AnyIOBackend()
        self._mapping = mapping

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None
                          ) -> httpcore.AsyncNetworkStream:
        addr, to_port = resolve(self._mapping, host, port)
        return await self._backend.connect_tcp(addr, to_port, timeout=timeout, local_address=local_address,
                                               socket_options=socket_options)

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None
                                  ) -> httpcore.AsyncNetworkStream:
        return await self._backend.connect_unix_socket(path, timeout=timeout, socket_options=socket_options)

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


# An idle pooled connection is dropped after this long: well inside the 5 s idle timeout of Node's and
# uvicorn's servers, so a request never goes out on a connection the server is closing at that moment
# (the keep-alive race answers "Server disconnected without sending a response", nothing about the target).
KEEPALIVE_EXPIRY_SECONDS = 2.0


def make_transport(connect_to: Iterable[str], ca_bundle: str | None = None, verify: bool = True,
                   **pool_options: typing.Any) -> httpx.HTTPTransport:
    """An ``httpx.HTTPTransport`` whose TCP connections follow ``connect_to``."""
    transport = httpx.HTTPTransport(verify=False)
    pool_options.setdefault("keepalive_expiry", KEEPALIVE_EXPIRY_SECONDS)
    transport._pool = httpcore.ConnectionPool(
        ssl_context=ssl_context(ca_bundle, verify), network_backend=_MappedBackend(parse_connect_to(connect_to)),
        http1=True, http2=False, **pool_options)
    return transport


def make_async_transport(connect_to: Iterable[str], ca_bundle: str | None = None, verify: bool = True,
                         **pool_options: typing.Any) -> httpx.AsyncHTTPTransport:
    transport = httpx.AsyncHTTPTransport(verify=False)
    pool_options.setdefault("keepalive_expiry", KEEPALIVE_EXPIRY_SECONDS)
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=ssl_context(ca_bundle, verify),
        network_backend=_AsyncMappedBackend(parse_connect_to(connect_to)), http1=True, http2=False, **pool_options)
    return transport
