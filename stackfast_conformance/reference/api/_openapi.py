"""The OpenAPI 3.0 document served at ``/openapi.json``.

It describes every route the app answers, with the request-body schemas the
handlers validate against (``_schemas``), so schemathesis can drive the API.
``info.version`` is ``1.0.0+<BUILD_ID>``: rollback checks use it as the API's
fingerprint.
"""

from __future__ import annotations

from typing import Any

from ._config import ApiConfig
from ._schemas import (
    ANALYZE_REQUEST,
    ENRICH_REQUEST,
    IDEA_REQUEST,
    SOCIAL_SIGN_IN_REQUEST,
    TOOL_IMPORT_REQUEST,
)

_ERROR = {"$ref": "#/components/schemas/Error"}
_TOOL = {"$ref": "#/components/schemas/Tool"}
_CATEGORY = {"$ref": "#/components/schemas/Category"}
_REQUEST_ID_HEADER = {
    "X-Request-ID": {"schema": {"type": "string"}, "description": "Request id (echoed or minted)"}
}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {
        "description": description,
        "headers": _REQUEST_ID_HEADER,
        "content": {"application/json": {"schema": schema}},
    }


def _error(description: str) -> dict[str, Any]:
    return _json(_ERROR, description)


_TOO_MANY = {
    "description": "Rate limit exceeded for this client's bucket",
    "headers": {
        **_REQUEST_ID_HEADER,
        "Retry-After": {
            "schema": {"type": "integer", "minimum": 1},
            "description": "Seconds until the bucket resets",
        },
    },
    "content": {"application/json": {"schema": _ERROR}},
}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _path_params(*names: str) -> list[dict[str, Any]]:
    return [
        {"name": n, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
        for n in names
    ]


def _read(
    summary: str, ok: dict[str, Any], *, params: list[dict[str, Any]] | None = None, not_found: bool = False
) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": _json(ok), "429": _TOO_MANY}
    if not_found:
        responses["404"] = _error("Unknown tool")
    op: dict[str, Any] = {"summary": summary, "tags": ["read"], "responses": responses}
    if params:
        op["parameters"] = params
    return op


def build_openapi(config: ApiConfig) -> dict[str, Any]:
    session_security: list[dict[str, list[str]]] = [{"sessionCookie": []}]
    if not config.production_like and config.bypass_requested:
        session_security.append({})  # local-dev bypass: no session needed
    admin_security = [{"adminApiKey": []}, {"adminBearer": []}]
    admin_errors = {"401": _error("Missing or wrong admin API key")}
    auth_unavailable = _error("Authentication not ready or database unavailable")

    def generation(summary: str) -> dict[str, Any]:
        return {
            "summary": summary,
            "tags": ["generation"],
            "security": session_security,
            "requestBody": _body(IDEA_REQUEST),
            "responses": {
                "200": _json({"$ref": "#/components/schemas/Generation"}),
                "400": _error("Invalid body"),
                "401": _error("No valid session"),
                "429": _TOO_MANY,
                "503": _error("Authentication not ready or database unavailable"),
            },
        }

    def admin(summary: str, body: dict[str, Any] | None) -> dict[str, Any]:
        op: dict[str, Any] = {
            "summary": summary,
            "tags": ["admin"],
            "security": admin_security,
            "responses": {
                "202": _json({"$ref": "#/components/schemas/Accepted"}, "Accepted"),
                **admin_errors,
            },
        }
        if body is not None:
            op["requestBody"] = _body(body)
            op["responses"]["400"] = _error("Invalid body")
        return op

    paths: dict[str, Any] = {
        "/health": {
            "get": {
                "summary": "Liveness",
                "tags": ["ops"],
                "security": [],
                "responses": {
                    "200": {
                        "description": "Always the text OK",
                        "headers": _REQUEST_ID_HEADER,
                        "content": {"text/plain": {"schema": {"type": "string", "enum": ["OK"]}}},
                    }
                },
            }
        },
        "/openapi.json": {
            "get": {
                "summary": "This document",
                "tags": ["ops"],
                "security": [],
                "responses": {"200": _json({"type": "object"})},
            }
        },
        "/api/v1/tools/search": {
            "get": _read(
                "Search tools",
                {"type": "array", "items": _TOOL},
                params=[{"name": "q", "in": "query", "required": False, "schema": {"type": "string"}}],
            )
        },
        "/api/v1/tools/{id}": {"get": _read("One tool", _TOOL, params=_path_params("id"), not_found=True)},
        "/api/v1/categories": {"get": _read("Categories", {"type": "array", "items": _CATEGORY})},
        "/api/v1/catalog": {
            "get": _read(
                "The whole catalog",
                {
                    "type": "object",
                    "required": ["tools", "categories"],
                    "properties": {
                        "tools": {"type": "array", "items": _TOOL},
                        "categories": {"type": "array", "items": _CATEGORY},
                    },
                },
            )
        },
        "/api/v1/compatibility/{a}/{b}": {
            "get": _read(
                "Compatibility of two tools",
                {"$ref": "#/components/schemas/Compatibility"},
                params=_path_params("a", "b"),
                not_found=True,
            )
        },
        "/api/v1/migrations/{from}/{to}": {
            "get": _read(
                "Migration path between two tools",
                {"$ref": "#/components/schemas/Migration"},
                params=_path_params("from", "to"),
                not_found=True,
            )
        },
        "/api/v1/stacks/analyze": {
            "post": {
                "summary": "Analyze a stack",
                "tags": ["read"],
                "requestBody": _body(ANALYZE_REQUEST),
                "responses": {
                    "200": _json({"$ref": "#/components/schemas/Analysis"}),
                    "400": _error("Invalid body"),
                    "429": _TOO_MANY,
                },
            }
        },
        "/api/v1/blueprints": {"post": generation("Generate a blueprint (requires a session)")},
        "/api/v1/scaffolds": {"post": generation("Generate a scaffold (requires a session)")},
        "/api/auth/sign-in/social": {
            "post": {
                "summary": "Start a social (GitHub) sign-in",
                "tags": ["auth"],
                "requestBody": _body(SOCIAL_SIGN_IN_REQUEST),
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["url", "redirect"],
                            "properties": {"url": {"type": "string"}, "redirect": {"type": "boolean"}},
                        }
                    ),
                    "400": _error("Invalid body"),
                    "403": _json(  # Better Auth's own error shape
                        {
                            "type": "object",
                            "required": ["message", "code"],
                            "properties": {"message": {"type": "string"}, "code": {"type": "string"}},
                        },
                        "Untrusted callbackURL (INVALID_CALLBACK_URL)",
                    ),
                    "503": auth_unavailable,
                },
            }
        },
        "/api/auth/callback/github": {
            "get": {
                "summary": "GitHub OAuth callback",
                "tags": ["auth"],
                "parameters": [
                    {
                        "name": "code",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string", "minLength": 1},
                    },
                    {
                        "name": "state",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string", "minLength": 1},
                    },
                ],
                "responses": {
                    "302": {
                        "description": "Session cookie set; redirect to the sign-in's callbackURL",
                        "headers": {
                            **_REQUEST_ID_HEADER,
                            "Location": {"schema": {"type": "string"}},
                            "Set-Cookie": {"schema": {"type": "string"}},
                        },
                    },
                    "400": _error("Missing code or state"),
                    "403": _error("Unknown or expired state"),
                    "502": _error("The OAuth provider failed"),
                    "503": auth_unavailable,
                },
            }
        },
        "/api/auth/get-session": {
            "get": {
                "summary": "The current session, or null",
                "tags": ["auth"],
                "responses": {
                    "200": _json({"$ref": "#/components/schemas/SessionOrNull"}),
                    "503": auth_unavailable,
                },
            }
        },
        "/api/auth/sign-out": {
            "post": {
                "summary": "End the session",
                "tags": ["auth"],
                "responses": {
                    "200": _json({"type": "object", "properties": {"success": {"type": "boolean"}}}),
                    "503": auth_unavailable,
                },
            }
        },
        "/admin/tools/import": {"post": admin("Import tools", TOOL_IMPORT_REQUEST)},
        "/admin/compatibility/recompute": {"post": admin("Recompute compatibility", None)},
        "/internal/enrich-tool": {"post": admin("Enrich one tool", ENRICH_REQUEST)},
    }
    _upstream_document_shapes(config, paths)
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Stackfast API (conformance reference)",
            "version": f"1.0.0+{config.build_id}",
            "description": f"Reference deployment ({config.stackfast_env}). Errors are {{error, requestId}}.",
        },
        "servers": [{"url": config.better_auth_url}],
        "paths": paths,
        "components": {"schemas": _component_schemas(), "securitySchemes": _security_schemes(config)},
    }


def _upstream_document_shapes(config: ApiConfig, paths: dict[str, Any]) -> None:
    """Harmless variants: the document as upstream's apps/api/src/openapi.ts writes it.

    ``openapi-bearer-session``: generation operations declare an HTTP bearer scheme (``bearerAuth``).
    ``openapi-catch-all-auth``: Hono's catch-all ``/api/auth/{...path}`` whose parameter is named
    ``path`` (so ``...path`` is undefined); the auth routes behind it answer as before.
    """
    if config.has("openapi-bearer-session"):
        for route in ("/api/v1/blueprints", "/api/v1/scaffolds"):
            paths[route]["post"]["security"] = [{"bearerAuth": []}]
    if config.has("openapi-catch-all-auth"):
        paths["/api/auth/{...path}"] = {
            "get": {
                "summary": "Better Auth handler (login, callback, session, logout)",
                "tags": ["auth"],
                "parameters": [{"name": "path", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "Auth response (varies by path)"}},
            }
        }


def _security_schemes(config: ApiConfig) -> dict[str, Any]:
    if config.has("openapi-bearer-session"):
        return {**_own_security_schemes(config),
                "bearerAuth": {"type": "http", "scheme": "bearer", "description": "Better Auth session token"}}
    return _own_security_schemes(config)


def _own_security_schemes(config: ApiConfig) -> dict[str, Any]:
    return {
        "adminApiKey": {"type": "apiKey", "in": "header", "name": "X-Admin-API-Key"},
        "adminBearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "Authorization: Bearer <admin key>",
        },
        "sessionCookie": {"type": "apiKey", "in": "cookie", "name": config.session_cookie_name},
    }


def _component_schemas() -> dict[str, Any]:
    string = {"type": "string"}
    return {
        "Error": {
            "type": "object",
            "required": ["error", "requestId"],
            "properties": {"error": string, "requestId": string},
        },
        "Tool": {
            "type": "object",
            "required": ["id", "name", "category"],
            "properties": {"id": string, "name": string, "category": string, "language": string},
        },
        "Category": {
            "type": "object",
            "required": ["id", "name", "toolCount"],
            "properties": {"id": string, "name": string, "toolCount": {"type": "integer"}},
        },
        "Compatibility": {
            "type": "object",
            "required": ["a", "b", "status", "score"],
            "properties": {
                "a": string,
                "b": string,
                "status": string,
                "score": {"type": "integer"},
                "notes": string,
            },
        },
        "Migration": {
            "type": "object",
            "required": ["from", "to", "difficulty", "steps"],
            "properties": {
                "from": string,
                "to": string,
                "difficulty": string,
                "steps": {"type": "array", "items": string},
            },
        },
        "Analysis": {
            "type": "object",
            "required": ["tools", "unknown", "pairs", "score"],
            "properties": {
                "tools": {"type": "array", "items": string},
                "unknown": {"type": "array", "items": string},
                "pairs": {"type": "array", "items": {"$ref": "#/components/schemas/Compatibility"}},
                "score": {"type": "integer"},
            },
        },
        "Generation": {
            "type": "object",
            "required": ["generatedBy", "kind", "stack"],
            "properties": {
                "generatedBy": {"type": "string", "enum": ["handler"]},
                "kind": {"type": "string", "enum": ["blueprint", "scaffold"]},
                "stack": {"type": "array", "items": string},
                "constraintCount": {"type": "integer"},
                "files": {"type": "array", "items": string},
                "userId": string,
                "requestId": string,
            },
        },
        "Accepted": {
            "type": "object",
            "required": ["accepted"],
            "properties": {"accepted": {"type": "integer"}},
        },
        "SessionOrNull": {
            "type": "object",
            "nullable": True,
            "required": ["session", "user"],
            "properties": {
                "session": {
                    "type": "object",
                    "properties": {"id": string, "userId": string, "expiresAt": string},
                },
                "user": {
                    "type": "object",
                    "properties": {
                        "id": string,
                        "name": string,
                        "email": {"type": "string", "nullable": True},
                        "image": {"type": "string", "nullable": True},
                    },
                },
            },
        },
    }
