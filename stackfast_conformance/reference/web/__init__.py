"""The reference web service: a static host for the built SPA (Railway static hosting).

Serves ``index.html`` (with ``<meta name="stackfast-build" content="web-build-N">``) and
``/assets/app-<hash>.js`` whose source carries ``const API_BASE = "<api origin>"``.
Every other path, ``/api/*`` included, answers the SPA's index.html (200, text/html):
a static host does not proxy. With WEB_PROXY_API set (local-dev's Vite proxy, or the
``web-proxies-api`` fault) ``/api/*`` is proxied to that URL instead.

Environment: PORT, BUILD_ID, WEB_API_BASE, WEB_PROXY_API (a URL) or WEB_ROUTES_FILE +
WEB_PROXY_HOST (look the API up in the edge's routes file per request), REF_FAULTS
(``web-serves-api-health``: answer ``GET /health`` with ``OK`` like the API; ``web-dev-server``:
behave like Vite's dev server, serving ``/@vite/client`` and loading it from index.html;
``web-csp-omits-api``: the page's Content-Security-Policy ``connect-src`` leaves out the API origin;
``web-spa-same-origin-api`` is the supervisor's: an empty WEB_API_BASE plus the proxy).

Every page carries a Content-Security-Policy whose ``connect-src`` lists ``'self'`` and the API
origin the bundle calls (a conforming build may also send none: the browser then allows any origin).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from importlib import resources

import httpx
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from stackfast_conformance._connect import KEEPALIVE_EXPIRY_SECONDS

_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"}


def render(build_id: str, api_base: str) -> tuple[str, str, bytes]:
    """-> (index.html, bundle file name, bundle bytes)."""
    static = resources.files(__package__) / "static"
    js = static.joinpath("app.js").read_text().replace("{{API_BASE}}", api_base).replace("{{BUILD_ID}}", build_id)
    bundle = f"app-{hashlib.sha256(js.encode()).hexdigest()[:8]}.js"
    html = static.joinpath("index.html").read_text().replace("{{BUILD_ID}}", build_id).replace("{{BUNDLE}}", bundle)
    return html, bundle, js.encode()


def content_security_policy(api_base: str, faults: frozenset[str]) -> str:
    """The page's CSP: scripts and everything else from the web origin, fetches also to the API origin."""
    connect = ["'self'"]
    if api_base and "web-csp-omits-api" not in faults:
        connect.append(api_base.rstrip("/"))
    return (f"default-src 'self'; connect-src {' '.join(connect)}; base-uri 'self'; object-src 'none'; "
            "frame-ancestors 'none'")


class WebApp:
    def __init__(self, build_id: str, api_base: str, proxy_api: Callable[[], str | None] | None,
                 faults: frozenset[str]) -> None:
        self.csp = content_security_policy(api_base, faults)
        self.html, self.bundle, self.js = render(build_id, api_base)
        if "web-dev-server" in faults:
            self.html = self.html.replace("<head>", '<head>\n  <script type="module" src="/@vite/client"></script>', 1)
        self.build_id = build_id
        self.proxy_api = proxy_api
        self.faults = faults
        self._client: httpx.AsyncClient | None = None

    async def __call__(self, scope: dict, receive, send) -> None:  # type: ignore[no-untyped-def]
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        response = await self.respond(request)
        await response(scope, receive, send)

    async def respond(self, request: Request) -> Response:
        path = request.url.path
        if self.proxy_api and (path == "/api" or path.startswith("/api/")):
            return await self._proxy(request)
        if path == "/@vite/client" and "web-dev-server" in self.faults:
            return Response(b"// [vite] connecting... (dev server client)\n", media_type="text/javascript")
        if path == "/health" and "web-serves-api-health" in self.faults:
            return PlainTextResponse("OK")
        if request.method not in ("GET", "HEAD"):
            return PlainTextResponse("Method Not Allowed\n", 405, headers={"allow": "GET, HEAD"})
        if path == f"/assets/{self.bundle}":
            return Response(self.js, media_type="text/javascript; charset=utf-8",
                            headers={"cache-control": "public, max-age=31536000, immutable"})
        return Response(self.html, media_type="text/html; charset=utf-8",
                        headers={"cache-control": "no-cache", "content-security-policy": self.csp})

    async def _proxy(self, request: Request) -> Response:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=60.0, follow_redirects=False, trust_env=False,
                                             limits=httpx.Limits(keepalive_expiry=KEEPALIVE_EXPIRY_SECONDS))
        assert self.proxy_api is not None
        target = self.proxy_api()
        if not target:
            return PlainTextResponse("proxy error: no API route\n", 502)
        headers = [(k, v) for k, v in request.headers.raw if k.decode().lower() not in _HOP_BY_HOP]
        url = target.rstrip("/") + request.url.path + (("?" + request.url.query) if request.url.query else "")
        body = await request.body()
        upstream = httpx.Request(request.method, url, headers=headers, content=body or None)
        try:
            r = await self._client.send(upstream, stream=True)
        except httpx.TransportError as exc:
            return PlainTextResponse(f"proxy error: {type(exc).__name__}\n", 502)
        try:
            content = b"".join([c async for c in r.aiter_raw()])
        finally:
            await r.aclose()
        response = Response(content, status_code=r.status_code)
        response.raw_headers = [(k.lower(), v) for k, v in r.headers.raw
                                if k.decode().lower() not in _HOP_BY_HOP | {"content-length", "date", "server"}]
        response.raw_headers.append((b"content-length", str(len(content)).encode()))
        return response
