"""The ``/api/v1`` read and generation handlers and their route table."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from . import _catalog_data as catalog
from . import _http
from ._auth import AuthService
from ._http import is_invalid, read_json
from ._schemas import ANALYZE_REQUEST, IDEA_REQUEST, validate

Handler = Callable[[Request, dict[str, str]], Awaitable[Response]]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler


def _compile(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "$")


class ApiV1:
    def __init__(self, auth: AuthService) -> None:
        self._auth = auth
        table: list[tuple[str, str, Handler]] = [
            ("GET", "/api/v1/tools/search", self.search),
            ("GET", "/api/v1/tools/{id}", self.tool),
            ("GET", "/api/v1/categories", self.categories),
            ("GET", "/api/v1/catalog", self.catalog),
            ("GET", "/api/v1/compatibility/{a}/{b}", self.compatibility),
            ("GET", "/api/v1/migrations/{source}/{target}", self.migration),
            ("POST", "/api/v1/stacks/analyze", self.analyze),
            ("POST", "/api/v1/blueprints", self.blueprint),
            ("POST", "/api/v1/scaffolds", self.scaffold),
        ]
        self.routes = [Route(method, _compile(template), handler) for method, template, handler in table]

    async def dispatch(self, request: Request, path: str) -> Response:
        allowed: list[str] = []
        for route in self.routes:
            match = route.pattern.match(path)
            if match is None:
                continue
            method = "GET" if request.method == "HEAD" else request.method
            if route.method == method:
                return await route.handler(request, match.groupdict())
            allowed.append(route.method)
        if allowed:
            return _http.error(request, 405, "method not allowed", {"Allow": ", ".join(sorted(set(allowed)))})
        return _http.error(request, 404, "not found")

    # ---- read bucket ---------------------------------------------------
    async def search(self, request: Request, params: dict[str, str]) -> Response:
        return JSONResponse(catalog.search(request.query_params.get("q", "")))

    async def tool(self, request: Request, params: dict[str, str]) -> Response:
        tool = catalog.TOOLS.get(params["id"])
        if tool is None:
            return _http.error(request, 404, f"unknown tool {params['id']!r}")
        return JSONResponse(tool)

    async def categories(self, request: Request, params: dict[str, str]) -> Response:
        return JSONResponse(catalog.categories())

    async def catalog(self, request: Request, params: dict[str, str]) -> Response:
        return JSONResponse({"tools": list(catalog.TOOLS.values()), "categories": catalog.categories()})

    async def compatibility(self, request: Request, params: dict[str, str]) -> Response:
        unknown = [t for t in (params["a"], params["b"]) if t not in catalog.TOOLS]
        if unknown:
            return _http.error(request, 404, f"unknown tool {unknown[0]!r}")
        return JSONResponse(catalog.compatibility(params["a"], params["b"]))

    async def migration(self, request: Request, params: dict[str, str]) -> Response:
        unknown = [t for t in (params["source"], params["target"]) if t not in catalog.TOOLS]
        if unknown:
            return _http.error(request, 404, f"unknown tool {unknown[0]!r}")
        return JSONResponse(catalog.migration(params["source"], params["target"]))

    async def analyze(self, request: Request, params: dict[str, str]) -> Response:
        body = await read_json(request)
        problem = "body: invalid JSON" if is_invalid(body) else validate(body, ANALYZE_REQUEST)
        if problem:
            return _http.error(request, 400, problem)
        return JSONResponse(catalog.analyze(body["tools"]))

    # ---- generation bucket (requireSession) ----------------------------
    async def blueprint(self, request: Request, params: dict[str, str]) -> Response:
        return await self._generate(request, "blueprint")

    async def scaffold(self, request: Request, params: dict[str, str]) -> Response:
        return await self._generate(request, "scaffold")

    async def _generate(self, request: Request, kind: str) -> Response:
        session = await self._auth.require_session(request)
        if isinstance(session, Response):
            return session
        body = await read_json(request)
        problem = "body: invalid JSON" if is_invalid(body) else validate(body, IDEA_REQUEST)
        if problem:
            return _http.error(request, 400, problem)
        constraints = body.get("constraints") or []
        stack = ["react", "vite", "hono", "drizzle", "postgres"]
        return JSONResponse(
            {
                "generatedBy": "handler",
                "kind": kind,
                "stack": stack,
                "constraintCount": len(constraints),
                "files": [f"{kind}/README.md", f"{kind}/package.json"] if kind == "scaffold" else [],
                "userId": session.user["id"],
                "requestId": _http.request_id(request),
            }
        )
