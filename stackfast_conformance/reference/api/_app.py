"""The request pipeline, in the order of the upstream Hono app.

CORS -> X-Request-ID -> /health + /openapi.json -> admin guard (/admin, /internal)
-> rate limiter (/api/v1/*) -> auth/session -> body validation -> handler.

A hand-written pipeline over Starlette's Request/Response (rather than a
Starlette router with middleware) keeps that order explicit: the admin guard
and the limiter must run before routing and before any body is read.
"""

from __future__ import annotations

import logging
import re
import time
import traceback
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from . import _http, _variants
from ._admin import AdminGuard, AdminRoutes, is_guarded
from ._auth import AuthService
from ._config import ApiConfig
from ._cors import CorsPolicy
from ._log import configure_logging, one_line
from ._openapi import build_openapi
from ._ratelimit import RateLimiter, buckets_for, client_id
from ._routes import ApiV1

SLOW_HEALTH_SECONDS = 20.0
_SPA_INDEX = ('<!doctype html><html><head><title>Stackfast</title>'
              '<script type="module" src="/assets/app.js"></script></head>'
              '<body><div id="root"></div></body></html>')  # fault api-serves-spa
_SLASHES = re.compile(r"/{2,}")


class ApiApp:
    """The ASGI application; build it with ``create_app(config)``."""

    def __init__(self, config: ApiConfig, logger: logging.Logger) -> None:
        self.config = config
        self.logger = logger
        self.started_at = time.monotonic()
        self.cors = CorsPolicy(config)
        self.limiter = RateLimiter(config, logger)
        self.auth = AuthService(config, logger)
        self.guard = AdminGuard(config)
        self.admin = AdminRoutes(logger)
        self.api_v1 = ApiV1(self.auth)
        self.openapi = build_openapi(config)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        request.state.request_id = _http.request_id_for(request.headers.get("x-request-id"))
        request.state.error_shapes = _variants.error_shapes(self.config)
        try:
            if self.cors.is_preflight(request) or (
                # Hono's cors() on '*' ends every OPTIONS with 204 before any later middleware (the admin guard)
                request.method == "OPTIONS" and self.config.has("admin-preflight-before-guard")
            ):
                response = self.cors.preflight(request)
            else:
                response = await self._route(request)
                self.cors.decorate(request, response)
        except Exception as exc:  # never leak a traceback to the client
            self.logger.error(
                "[api] unhandled %s: %s\n%s", type(exc).__name__, one_line(exc), traceback.format_exc()
            )
            response = _http.error(request, 500, "internal error")
            self.cors.decorate(request, response)
        response.headers["X-Request-ID"] = request.state.request_id
        response = _variants.finish(self.config, request, response)
        await response(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.logger.info(
                    "[api] starting env=%s build=%s auth_ready=%s faults=%s",
                    self.config.stackfast_env,
                    self.config.build_id,
                    self.auth.ready,
                    ",".join(sorted(self.config.faults)) or "-",
                )
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.limiter.close()
                self.auth.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _route(self, request: Request) -> Response:
        scope: dict[str, Any] = request.scope
        path = _SLASHES.sub("/", scope["path"]) or "/"
        raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        method = request.method

        if path == "/health":
            return await self._health(request)
        if path == "/openapi.json":
            if method not in ("GET", "HEAD"):
                return _http.error(request, 405, "method not allowed", {"Allow": "GET"})
            return JSONResponse(self.openapi)

        if is_guarded(path) or is_guarded(raw_path):
            return await self._admin(request, path, raw_path)

        if (self.config.has("trailing-slash-redirect") and method in ("GET", "HEAD") and len(path) > 1
                and path.endswith("/")):
            # hono/trailing-slash trimTrailingSlash(): 301 to the same path without the slash
            query = scope.get("query_string", b"").decode("latin-1")
            location = path.rstrip("/") + (f"?{query}" if query else "")
            return Response(status_code=301, headers={"Location": location})

        buckets = buckets_for(method, path, self.config)
        extra_headers: dict[str, str] = {}
        if buckets:
            verdict = await self.limiter.check(buckets, client_id(request.headers, self.config))
            extra_headers.update(self.limiter.quota_headers(verdict))
            if not verdict.allowed:
                if verdict.store_failed:
                    return _http.error(request, 500, "rate limiter unavailable")
                headers = dict(extra_headers)
                if verdict.retry_after is not None and not self.config.has("retry-after-missing"):
                    headers["Retry-After"] = str(verdict.retry_after)
                return _http.error(request, 429, "too many requests", headers)
            if self.config.has("retry-after-on-success"):
                extra_headers["Retry-After"] = str(max(1, int(self.config.window_seconds)))

        if path.startswith("/api/auth/"):
            response = await self.auth.handle(request, path)
        elif path == "/api/v1" or path.startswith("/api/v1/"):
            response = await self.api_v1.dispatch(request, path)
        elif self.config.has("api-serves-spa") and method in ("GET", "HEAD") and path in ("/", "/index.html"):
            response = HTMLResponse(_SPA_INDEX)  # one service hosting both the API and the SPA
        else:
            response = _http.error(request, 404, "not found")
        response.headers.update(extra_headers)
        return response

    async def _health(self, request: Request) -> Response:
        config = self.config
        if request.method not in ("GET", "HEAD"):
            return _http.error(request, 405, "method not allowed", {"Allow": "GET"})
        if config.has("health-rate-limited"):
            verdict = await self.limiter.check(
                buckets_for("GET", "/api/v1/health", config), client_id(request.headers, config)
            )
            if not verdict.allowed and verdict.retry_after is not None:
                return _http.error(
                    request, 429, "too many requests", {"Retry-After": str(verdict.retry_after)}
                )
        if config.has("health-requires-auth") and "authorization" not in request.headers:
            return _http.error(request, 401, "authentication required")
        if config.has("health-503"):
            return PlainTextResponse("Service Unavailable", status_code=503)
        if config.has("slow-health-after-start") and time.monotonic() - self.started_at < SLOW_HEALTH_SECONDS:
            return PlainTextResponse("Starting", status_code=503)
        if config.has("health-empty-body"):
            return PlainTextResponse("")
        return PlainTextResponse("ok?" if config.has("health-not-ok") else "OK")

    async def _admin(self, request: Request, path: str, raw_path: str) -> Response:
        config = self.config
        if config.has("admin-guard-after-validation") and self.admin.has_route(path):
            if int(request.headers.get("content-length") or 0) > 0:
                problem = await self.admin.body_problem(request, path)
                if problem:
                    return _http.error(request, 400, problem)
        covered = self.guard.covers(path, raw_path)
        if config.has("admin-guard-known-routes-only"):
            covered = self.admin.has_route(path)
        if config.has("admin-guard-case-sensitive"):  # a case-sensitive guard before case-insensitive routing
            covered = path.startswith(("/admin/", "/internal/")) or path in ("/admin", "/internal")
            path = path.lower()
        if config.has("admin-options-runs-handler") and request.method == "OPTIONS":
            # the guard skips OPTIONS and an admin handler answers it with data: a breach, not a preflight
            return JSONResponse({"routes": sorted(self.admin.ROUTES), "methods": ["POST"]})
        if covered and not self.guard.authorized(request.headers):
            return _http.error(request, 401, "admin API key required")
        return await self.admin.handle(request, path)


def create_app(config: ApiConfig | None = None) -> ApiApp:
    """Build the app from ``config`` (default: ``ApiConfig.from_env()``), logging configured."""
    config = config or ApiConfig.from_env()
    logger = configure_logging(config.log_file)
    from ._leak import install  # the leak-secrets-* faults (a no-op without them)

    return install(ApiApp(config, logger), config.faults, logger)  # type: ignore[no-any-return]
