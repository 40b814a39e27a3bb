"""The public edge of the reference deployment (the part Railway's proxy plays).

One https listener routes by Host header to the backend named in the routes file
(a streaming reverse proxy that adds no request headers and keeps every
Set-Cookie); one plain-http listener answers ``301 https://<host><path>?<query>``.
The routes file is re-read when its mtime changes, so the supervisor switches a
redeployed service by an atomic rename.

Environment: EDGE_ROUTES_FILE, EDGE_HTTPS_PORT, EDGE_HTTP_PORT, EDGE_CERT (leaf +
chain PEM), EDGE_KEY, REF_FAULTS. Topology faults handled here:
``edge-redirect-302``, ``edge-serves-http``, ``edge-redirect-drops-path``.

Harmless variants of a real edge handled here (``reference/variants/network.yaml``):

- ``flaky-edge``: a seeded share of https requests (REF_FLAKY_EDGE_RATE, default 0.03;
  REF_FLAKY_EDGE_SEED, default 1) is disturbed like Railway's edge during deploys: most answer
  ``502`` with an HTML "Application failed to respond" page without reaching the service; a share
  (REF_FLAKY_EDGE_RESET_SHARE, default 0.25) reaches the service and then loses the connection
  before the answer is complete (the request had its effect: a rate-limit token spent): after the
  status line and headers (the body is cut), or, for a share of those (REF_FLAKY_EDGE_DROP_SHARE,
  default 0.5), before the status line, so the client cannot tell whether the service had it.
- ``xff-blind``: the edge overwrites ``x-forwarded-for`` with the connecting address (as Railway's
  edge does), so the API cannot tell the harness's clients apart: every client shares one bucket.

Run: ``python -m stackfast_conformance.reference.edge``.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

import httpx

from stackfast_conformance._connect import KEEPALIVE_EXPIRY_SECONDS

HSTS = (b"strict-transport-security", b"max-age=31536000")
_HOP_BY_HOP = {b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"te", b"trailer",
               b"upgrade", b"proxy-authenticate", b"proxy-authorization"}

Scope = dict[str, Any]

FLAKY = "flaky-edge"
XFF_BLIND = "xff-blind"
RAILWAY_502_PAGE = (b"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Application failed "
                    b"to respond</title></head>\n<body><h1>Application failed to respond</h1><p>This error appears "
                    b"to be caused by the application.</p><p>Request ID: ref-edge</p></body></html>\n")


class _Flakiness:
    """The seeded dice of ``flaky-edge``: None (pass through), "502" or "reset" per request."""

    def __init__(self, faults: frozenset[str]) -> None:
        self.rate = float(os.environ.get("REF_FLAKY_EDGE_RATE", "0.03")) if FLAKY in faults else 0.0
        self.reset_share = float(os.environ.get("REF_FLAKY_EDGE_RESET_SHARE", "0.25"))
        self.drop_share = float(os.environ.get("REF_FLAKY_EDGE_DROP_SHARE", "0.5"))
        self._rng = random.Random(int(os.environ.get("REF_FLAKY_EDGE_SEED", "1")))

    def draw(self) -> str | None:
        """None, "502" (the edge's page, service not reached), "reset" (body cut) or "drop" (no status line)."""
        if self.rate <= 0 or self._rng.random() >= self.rate:
            return None
        if self._rng.random() >= self.reset_share:
            return "502"
        return "drop" if self._rng.random() < self.drop_share else "reset"


def _faults() -> frozenset[str]:
    return frozenset(f.strip() for f in os.environ.get("REF_FAULTS", "").split(",") if f.strip())


class Routes:
    """Host -> backend base URL, reloaded when the file changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._mtime = -1
        self._hosts: dict[str, str] = {}

    def lookup(self, host: str) -> str | None:
        try:
            mtime = self.path.stat().st_mtime_ns
        except OSError:
            return self._hosts.get(host)
        if mtime != self._mtime:
            try:
                self._hosts = dict(json.loads(self.path.read_text())["hosts"])
                self._mtime = mtime
            except (OSError, ValueError, KeyError):
                pass  # keep the previous table on a torn read
        return self._hosts.get(host)


def _misrouted(host: str, faults: frozenset[str]) -> str:
    """The host whose service answers: a misrouting fault points a public name at the other service."""
    if "edge-web-host-to-api" in faults and host == "stackfast.app":
        return "api.stackfast.app"
    if "edge-api-host-to-web" in faults and host == "api.stackfast.app":
        return "stackfast.app"
    return host


def _host_of(scope: Scope) -> str:
    for k, v in scope["headers"]:
        if k == b"host":
            host = v.decode("latin-1").strip().lower()
            if host.startswith("["):
                return host
            return host.rsplit(":", 1)[0] if ":" in host else host
    return ""


async def _simple(send: Any, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    headers = headers + [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class EdgeProxy:
    def __init__(self, routes: Routes, *, https: bool, faults: frozenset[str]) -> None:
        self.routes = routes
        self.https = https
        self.faults = faults
        self.client: httpx.AsyncClient | None = None
        self.flaky = _Flakiness(faults if https else frozenset())

    def _client(self) -> httpx.AsyncClient:
        if self.client is None:
            self.client = httpx.AsyncClient(
                timeout=httpx.Timeout(60.0, connect=5.0), follow_redirects=False, trust_env=False,
                # idle backend connections go before the backend's own 5 s idle timeout closes them
                limits=httpx.Limits(max_connections=200, max_keepalive_connections=50,
                                    keepalive_expiry=KEEPALIVE_EXPIRY_SECONDS),
            )
        return self.client

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return
        if scope["type"] != "http":
            return
        host = _host_of(scope)
        backend = self.routes.lookup(_misrouted(host, self.faults))
        if not self.https and "edge-serves-http" not in self.faults:
            await self._redirect(scope, send, host, backend)
            return
        if backend is None:
            await _simple(send, 421 if self.https else 404, b"Misdirected Request: unknown host\n",
                          [(b"content-type", b"text/plain; charset=utf-8")])
            return
        disturbance = self.flaky.draw()
        if disturbance == "502":
            await _simple(send, 502, RAILWAY_502_PAGE, [(b"content-type", b"text/html; charset=utf-8"),
                                                        (b"x-railway-fallback", b"true")])
            return
        await self._proxy(scope, receive, send, backend, reset=disturbance)

    async def _redirect(self, scope: Scope, send: Any, host: str, backend: str | None) -> None:
        if backend is None:
            await _simple(send, 404, b"Not Found: unknown host\n", [(b"content-type", b"text/plain")])
            return
        path = scope.get("raw_path") or scope["path"].encode()
        query = scope.get("query_string") or b""
        if "edge-redirect-drops-path" in self.faults:
            location = f"https://{host}/".encode()
        else:
            location = f"https://{host}".encode() + path + (b"?" + query if query else b"")
        status = 302 if "edge-redirect-302" in self.faults else 301
        await _simple(send, status, b"", [(b"location", location)])

    async def _proxy(self, scope: Scope, receive: Any, send: Any, backend: str, reset: str | None = None) -> None:
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = [(k, v) for k, v in scope["headers"] if k not in _HOP_BY_HOP]
        if XFF_BLIND in self.faults:  # the edge's own view of the client: its connecting address
            client = (scope.get("client") or ("127.0.0.1", 0))[0]
            headers = [(k, v) for k, v in headers if k != b"x-forwarded-for"] + [(b"x-forwarded-for", client.encode())]
        if any(k == b"transfer-encoding" for k, _ in scope["headers"]):
            headers = [(k, v) for k, v in headers if k != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
        path = scope.get("raw_path") or scope["path"].encode()
        query = scope.get("query_string") or b""
        url = backend.rstrip("/").encode() + path + (b"?" + query if query else b"")
        request = httpx.Request(scope["method"], url.decode("latin-1"), headers=headers,
                                content=bytes(body) if body else None)
        if not body:  # httpx must not invent a Content-Length for a body-less request
            if not any(k == b"content-length" for k, _ in headers):
                request.headers.pop("content-length", None)
        try:
            response = await self._client().send(request, stream=True)
        except httpx.TransportError as exc:
            await _simple(send, 502, f"Bad Gateway: backend did not respond ({type(exc).__name__})\n".encode(),
                          [(b"content-type", b"text/plain; charset=utf-8")] + ([HSTS] if self.https else []))
            return
        try:
            out = [(k.lower(), v) for k, v in response.headers.raw if k.lower() not in _HOP_BY_HOP]
            if self.https and not any(k == HSTS[0] for k, _ in out):
                out.append(HSTS)
            if reset == "drop":  # the service answered; the connection dies before the status line
                await response.aread()
                if await _abort_connection(send):
                    return
            if reset:  # the service answered; the connection dies before the client has the answer
                await response.aread()
                out = [(k, v) for k, v in out if k != b"content-length"] + [(b"content-length", b"1048576")]
                await send({"type": "http.response.start", "status": response.status_code, "headers": out})
                await send({"type": "http.response.body", "body": b"", "more_body": True})
                return  # uvicorn closes a connection whose answer is incomplete
            await send({"type": "http.response.start", "status": response.status_code, "headers": out})
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except httpx.TransportError:
            pass  # the backend went away mid-response; the client sees a truncated body
        finally:
            await response.aclose()


async def _abort_connection(send: Any) -> bool:
    """Drop the client's connection without a byte of answer (uvicorn's h11 cycle holds the transport)."""
    import asyncio

    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        return False  # another server: the caller cuts the body instead
    transport.abort()
    for _ in range(3):  # let connection_lost mark the cycle disconnected, so uvicorn sends no 500
        await asyncio.sleep(0)
    return True


def main() -> None:
    from . import _serve

    routes = Routes(Path(os.environ["EDGE_ROUTES_FILE"]))
    faults = _faults()
    common = {"server_header": False, "date_header": False, "proxy_headers": False}
    servers = [
        _serve.make_server(EdgeProxy(routes, https=True, faults=faults), int(os.environ["EDGE_HTTPS_PORT"]),
                           ssl_certfile=os.environ["EDGE_CERT"], ssl_keyfile=os.environ["EDGE_KEY"], **common),
        _serve.make_server(EdgeProxy(routes, https=False, faults=faults), int(os.environ["EDGE_HTTP_PORT"]),
                           **common),
    ]
    _serve.run(servers)


if __name__ == "__main__":
    main()
