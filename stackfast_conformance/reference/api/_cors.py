"""CORS for exactly one allowed origin (CORS_ORIGIN), like Hono's cors().

Faults widen or damage the policy: ``cors-wildcard``, ``cors-reflect-any-origin``,
``cors-suffix-match``, ``cors-prefix-match``, ``cors-missing-ai-provider-header``, ``cors-no-credentials``;
``cors-no-vary`` drops ``Vary: Origin`` (a finding, not a spec violation).
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response

from ._config import ApiConfig

ALLOW_METHODS = "GET,POST,PUT,PATCH,DELETE,OPTIONS"
HONO_ALLOW_METHODS = "GET,HEAD,PUT,POST,DELETE,PATCH"  # hono/cors' default allowMethods
EXTRA_HEADERS = ("X-Client-Info", "Accept-Language")
ALLOW_HEADERS = ("Content-Type", "Authorization", "X-Admin-API-Key", "X-Request-ID", "X-AI-Provider")
MAX_AGE = "600"


class CorsPolicy:
    def __init__(self, config: ApiConfig) -> None:
        self._config = config
        headers = ALLOW_HEADERS
        if config.has("cors-missing-ai-provider-header"):
            headers = tuple(h for h in headers if h != "X-AI-Provider")
        if config.has("cors-hono-defaults"):  # lower-case names, extra ones, no spaces (a header list is a set)
            headers = tuple(h.lower() for h in (*headers, *EXTRA_HEADERS))
            self._allow_headers = ",".join(headers)
        else:
            self._allow_headers = ", ".join(headers)

    def allowed_origin(self, origin: str | None) -> str | None:
        """The ACAO value to send for this Origin, or None for no CORS headers."""
        config = self._config
        if config.has("cors-wildcard"):
            return "*"
        if not origin:
            return None
        if origin == config.cors_origin:
            return origin
        if config.has("cors-reflect-any-origin"):
            return origin
        if config.has("cors-suffix-match") and origin.endswith("stackfast.app"):
            return origin
        if config.has("cors-prefix-match") and origin.startswith(config.cors_origin):
            return origin  # an unanchored match: https://stackfast.app.evil.example, https://stackfast.app:8443
        return None

    @staticmethod
    def is_preflight(request: Request) -> bool:
        return (
            request.method == "OPTIONS"
            and "origin" in request.headers
            and "access-control-request-method" in request.headers
        )

    def preflight(self, request: Request) -> Response:
        # express/cors' optionsSuccessStatus and several proxies answer a preflight 200 with an empty body
        response = Response(status_code=200 if self._config.has("cors-preflight-200") else 204)
        acao = self.allowed_origin(request.headers.get("origin"))
        hono = self._config.has("cors-hono-defaults")
        if acao is not None:
            self._decorate(response.headers, acao)
            response.headers["Access-Control-Allow-Methods"] = HONO_ALLOW_METHODS if hono else ALLOW_METHODS
            response.headers["Access-Control-Allow-Headers"] = self._allow_headers
            if not hono:  # hono/cors sends no Max-Age unless configured
                response.headers["Access-Control-Max-Age"] = MAX_AGE
        if not self._config.has("cors-no-vary"):
            response.headers["Vary"] = "Origin"
        return response

    def decorate(self, request: Request, response: Response) -> None:
        """Add CORS headers to an actual (non-preflight) response."""
        acao = self.allowed_origin(request.headers.get("origin"))
        if acao is not None:
            self._decorate(response.headers, acao)
            response.headers["Access-Control-Expose-Headers"] = "X-Request-ID"
        if self._config.has("cors-no-vary"):
            return
        vary = response.headers.get("Vary")
        if not vary:
            response.headers["Vary"] = "Origin"
        elif "origin" not in vary.lower():
            response.headers["Vary"] = f"{vary}, Origin"

    def _decorate(self, headers: MutableHeaders, acao: str) -> None:
        headers["Access-Control-Allow-Origin"] = acao
        if not self._config.has("cors-no-credentials"):
            headers["Access-Control-Allow-Credentials"] = "true"
