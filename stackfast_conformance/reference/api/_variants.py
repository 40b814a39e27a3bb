"""Harmless variants of the reference API (``reference/variants/api.yaml``): what a conforming
Stackfast on its real stack (Hono, Better Auth, @upstash/ratelimit, an edge) may show on the wire.

Switched on like faults (``REF_FAULTS``, ``config.has``). ``finish`` reshapes a finished response
(headers, error bodies, compression); the pipeline itself consults ``config.has`` where a variant
changes an order or a decision (preflight before the guard, the Bearer parser, the client id).
"""

from __future__ import annotations

import gzip
import json

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from ._config import ApiConfig

# hono/secure-headers' defaults, plus HSTS as an edge or the app would add it on an API
SECURITY_HEADERS = {
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Cross-Origin-Opener-Policy": "same-origin",
    "X-XSS-Protection": "0",
}
ERROR_CODES = {400: "BAD_REQUEST", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND",
               405: "METHOD_NOT_ALLOWED", 429: "TOO_MANY_REQUESTS", 500: "INTERNAL_SERVER_ERROR",
               502: "BAD_GATEWAY", 503: "SERVICE_UNAVAILABLE"}
HONO_NOT_FOUND = "404 Not Found"


def error_body(request: Request, status: int, message: str) -> tuple[bytes, str]:
    """The body and media type of an error in the shape the switched-on variants give it.

    The shapes compose as on the real stack: Better Auth answers ``/api/auth/*`` itself
    (``error-body-message-code``), hono/bearer-auth's HTTPException answers 401 as text
    (``error-body-text-plain``), the app's onError shapes the rest (``error-body-nested``)."""
    shapes = getattr(request.state, "error_shapes", frozenset())
    request_id = request.state.request_id
    code = ERROR_CODES.get(status, f"HTTP_{status}")
    if "error-body-message-code" in shapes and request.url.path.startswith("/api/auth/"):
        doc: object = {"message": message, "code": code}
    elif "error-body-text-plain" in shapes and status == 401:
        return b"Unauthorized", "text/plain; charset=UTF-8"
    elif "error-body-nested" in shapes:
        doc = {"error": {"message": message, "code": code}, "requestId": request_id}
    else:
        doc = {"error": message, "requestId": request_id}
    return json.dumps(doc, separators=(",", ":")).encode(), "application/json"


def error_shapes(config: ApiConfig) -> frozenset[str]:
    return frozenset(n for n in ("error-body-nested", "error-body-message-code", "error-body-text-plain")
                     if config.has(n))


def finish(config: ApiConfig, request: Request, response: Response) -> Response:
    """Apply the response-level variants to a finished response (called once per request)."""
    if config.has("wrong-method-404") and response.status_code == 405:
        response = _hono_not_found(response)
    if config.has("hono-default-404") and response.status_code == 404 and _is_json(response) \
            and not request.url.path.lstrip("/").lower().startswith(("admin", "internal")):
        response = _hono_not_found(response)
    if config.has("health-charset-upper") and request.url.path == "/health":
        response.headers["Content-Type"] = "text/plain; charset=UTF-8"
    if config.has("security-headers"):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
    if config.has("vary-origin-accept-encoding"):
        _vary(response, "Accept-Encoding", split=False)
    if config.has("vary-split-fields"):
        _vary(response, "Accept-Encoding", split=True)
    if config.has("gzip-responses"):
        _gzip(request, response)
    return response


def _is_json(response: Response) -> bool:
    return (response.headers.get("content-type") or "").startswith("application/json")


def _hono_not_found(old: Response) -> Response:
    """Hono's default notFound: ``404 Not Found`` as text, the CORS/request-id headers kept."""
    new = PlainTextResponse(HONO_NOT_FOUND, status_code=404)
    for name, value in old.headers.items():
        if name.lower() not in ("content-type", "content-length", "allow"):
            new.headers[name] = value
    return new


def _vary(response: Response, token: str, *, split: bool) -> None:
    """Add ``token`` to Vary: merged into one field, or as a field of its own before the existing one."""
    raw = [(k, v) for k, v in response.raw_headers if k.lower() != b"vary"]
    existing = [v.decode("latin-1") for k, v in response.raw_headers if k.lower() == b"vary"]
    if split:
        fields = [token, *existing]
    else:
        fields = [", ".join([*existing, token]) if existing else token]
    # in place: response.headers is a cached view of this very list
    response.raw_headers[:] = raw + [(b"vary", f.encode("latin-1")) for f in fields]


def _gzip(request: Request, response: Response) -> None:
    """hono/compress: gzip any body when the client accepts gzip (no minimum size)."""
    body = getattr(response, "body", b"")
    accepts = "gzip" in (request.headers.get("accept-encoding") or "").lower()
    if not body or not accepts or "content-encoding" in response.headers:
        return
    response.body = gzip.compress(body, mtime=0)
    response.headers["Content-Encoding"] = "gzip"
    response.headers["Content-Length"] = str(len(response.body))
    _vary(response, "Accept-Encoding", split=False)
