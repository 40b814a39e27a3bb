"""Admin guard for every path under ``/admin`` and ``/internal``, and the admin handlers.

The guard runs before routing and body parsing: no configured key -> 401 for
everything; otherwise authorized iff ``X-Admin-API-Key: <key>`` or
``Authorization: Bearer <key>`` (``Bearer`` case-insensitive) matches.
"""

from __future__ import annotations

import hmac
import logging
from collections import Counter

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from . import _http
from ._config import ApiConfig
from ._http import is_invalid, read_json
from ._schemas import ENRICH_REQUEST, TOOL_IMPORT_REQUEST, validate

GUARDED_SEGMENTS = ("admin", "internal")


def is_guarded(path: str) -> bool:
    """True for /admin, /admin/..., /internal, /internal/... (first segment, any case)."""
    first = path.lstrip("/").split("/", 1)[0]
    return first.lower() in GUARDED_SEGMENTS


def _matches(provided: str, key: str, config: ApiConfig) -> bool:
    if config.has("admin-key-prefix-accepted") and provided and key.startswith(provided):
        return True
    return hmac.compare_digest(provided.encode(), key.encode())


class AdminGuard:
    def __init__(self, config: ApiConfig) -> None:
        self._config = config

    def covers(self, normalised_path: str, raw_path: str) -> bool:
        if self._config.has("admin-guard-skips-encoded"):
            return raw_path.startswith(("/admin", "/internal"))
        return is_guarded(normalised_path) or is_guarded(raw_path)

    def authorized(self, headers: Headers) -> bool:
        config = self._config
        key = config.admin_api_key
        if not key:
            return config.has("admin-empty-key-accepted")
        header_key = headers.get("x-admin-api-key")
        if header_key is not None and _matches(header_key, key, config):
            return True
        authorization = headers.get("authorization", "")
        if config.has("admin-raw-key-accepted") and authorization and _matches(authorization, key, config):
            return True  # the bare key without its scheme (upstream's optional 'Bearer ' strip)
        scheme, _, token = authorization.partition(" ")
        if config.has("bearer-extra-whitespace"):  # upstream: the header minus /^Bearer\s+/i
            scheme, token = authorization[:6], authorization[6:].lstrip(" \t")
            if not authorization[6:7].isspace():
                return False
        if scheme.lower() == "bearer" and not config.has("admin-bearer-rejected"):
            return _matches(token, key, config)
        return False


class AdminRoutes:
    """The admin/internal handlers; each accepted mutation is counted and logged."""

    ROUTES = {
        "/admin/tools/import": "import_tools",
        "/admin/compatibility/recompute": "recompute",
        "/internal/enrich-tool": "enrich_tool",
    }

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        self.accepted: Counter[str] = Counter()

    def has_route(self, path: str) -> bool:
        return path in self.ROUTES

    async def body_problem(self, request: Request, path: str) -> str | None:
        """Validation result for the route's body (None when valid or bodiless)."""
        schema = {"/admin/tools/import": TOOL_IMPORT_REQUEST, "/internal/enrich-tool": ENRICH_REQUEST}.get(
            path
        )
        if schema is None:
            return None
        body = await read_json(request)
        request.state.json = body
        return "body: invalid JSON" if is_invalid(body) else validate(body, schema)

    async def handle(self, request: Request, path: str) -> Response:
        if path not in self.ROUTES:
            return _http.error(request, 404, "not found")
        if request.method != "POST":
            return _http.error(request, 405, "method not allowed", {"Allow": "POST"})
        problem = await self.body_problem(request, path)
        if problem:
            return _http.error(request, 400, problem)
        body = getattr(request.state, "json", None)
        result: dict[str, object]
        if path == "/admin/tools/import":
            result = {"accepted": len(body["tools"])}
        elif path == "/internal/enrich-tool":
            result = {"accepted": 1, "toolId": body["toolId"]}
        else:
            result = {"accepted": 1, "job": "compatibility-recompute"}
        self.accepted[path] += 1
        self._logger.info(
            "[admin] accepted %s %s (total %d) requestId=%s",
            request.method,
            path,
            sum(self.accepted.values()),
            _http.request_id(request),
        )
        return JSONResponse(result, status_code=202)
