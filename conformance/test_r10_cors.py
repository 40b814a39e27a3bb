"""R10 CORS: exactly the production web origin, with credentials, and the five request headers.

R10.3 ("never ``*``") is checked on every response of the run by the evidence client; the
generated look-alike origins are the properties' job. These are the fixed examples: the real
origin on a simple request and on a preflight (R10.2), the allowed request headers (R10.5), and a
list of foreign and look-alike origins that must not be named in ACAO (R10.4).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from _applicability import require_applicable

from stackfast_conformance.checks import expect

SIMPLE_PATH = "/api/v1/categories"
PREFLIGHT_PATH = "/api/v1/blueprints"
REQUIRED_ALLOW_HEADERS = ("X-Admin-API-Key", "X-Request-ID", "X-AI-Provider", "Content-Type", "Authorization")


@pytest.fixture(autouse=True)
def _only_where_it_applies(request, target):
    require_applicable(request, target)


def _web_origin(target) -> str:
    origin = target.expected_web_origin
    if not origin:
        pytest.skip("no expected web origin (give --web or expected.web_origin in the profile)")
    parts = urlsplit(origin)
    return f"{parts.scheme}://{parts.netloc}"


def foreign_origins(web_origin: str) -> list[str]:
    """Origins that are not the web origin, most of them one edit away from it.

    An upper-case spelling is left out on purpose: browsers serialise the Origin header in lower
    case, so no browser ever sends one (the properties generate such spellings anyway)."""
    parts = urlsplit(web_origin)
    host = parts.hostname or ""
    other_scheme = "http" if parts.scheme == "https" else "https"
    return [
        f"{web_origin}.evil.example",              # the origin as a prefix of a foreign host
        f"{parts.scheme}://evil{host}",             # the origin as a suffix (no dot)
        f"{parts.scheme}://evil.{host}",            # a subdomain of the web host
        f"{other_scheme}://{host}",                 # other scheme
        f"{parts.scheme}://{host}:8443",            # other port
        "null",                                     # sandboxed iframes, file:// pages
        "https://evil.example",
    ]


def _preflight_headers(origin: str) -> dict[str, str]:
    return {
        "origin": origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type, x-admin-api-key, x-ai-provider, x-request-id",
    }


def _cors(r) -> str:
    h = r.headers
    return (f"status {r.status_code}, Access-Control-Allow-Origin {h.get('access-control-allow-origin')!r}, "
            f"Access-Control-Allow-Credentials {h.get('access-control-allow-credentials')!r}")


# ---- R10.2 ----------------------------------------------------------------------------------

@pytest.mark.requirement("R10.2")
def test_simple_request_from_the_web_origin_gets_its_origin_and_credentials(http, target, fresh_identity):
    """GET /api/v1/categories with Origin: <web origin> -> ACAO exactly that origin, ACAC true."""
    origin = _web_origin(target)
    r = http.get(SIMPLE_PATH, headers={"origin": origin}, identity=fresh_identity())
    expect(r.headers.get("access-control-allow-origin") == origin, "R10.2",
           expected=f"Access-Control-Allow-Origin: {origin}", seen=_cors(r), response=r)
    expect(r.headers.get("access-control-allow-credentials", "").strip().lower() == "true", "R10.2",
           expected="Access-Control-Allow-Credentials: true", seen=_cors(r), response=r)


@pytest.mark.requirement("R10.2")
def test_preflight_from_the_web_origin_gets_its_origin_and_credentials(http, target, fresh_identity):
    """OPTIONS /api/v1/blueprints as a browser preflight for a credentialed POST -> ACAO origin, ACAC true."""
    origin = _web_origin(target)
    r = http.options(PREFLIGHT_PATH, headers=_preflight_headers(origin), identity=fresh_identity())
    expect(200 <= r.status_code < 300, "R10.2", expected="a 2xx answer to the preflight", seen=_cors(r),
           response=r)
    expect(r.headers.get("access-control-allow-origin") == origin, "R10.2",
           expected=f"Access-Control-Allow-Origin: {origin}", seen=_cors(r), response=r)
    expect(r.headers.get("access-control-allow-credentials", "").strip().lower() == "true", "R10.2",
           expected="Access-Control-Allow-Credentials: true", seen=_cors(r), response=r)


# ---- R10.5 ----------------------------------------------------------------------------------

def allowed_headers(value: str) -> set[str]:
    """The header names of an Access-Control-Allow-Headers value (comma list, any case and spacing)."""
    return {part.strip().lower() for part in value.split(",") if part.strip()}


@pytest.mark.requirement("R10.5")
def test_preflight_allows_the_five_request_headers(http, target, fresh_identity):
    """Access-Control-Allow-Headers names X-Admin-API-Key, X-Request-ID, X-AI-Provider, Content-Type,
    Authorization (case-insensitive; ``*`` does not count: with credentials it is not a wildcard)."""
    origin = _web_origin(target)
    r = http.options(PREFLIGHT_PATH, headers=_preflight_headers(origin), identity=fresh_identity())
    value = r.headers.get("access-control-allow-headers", "")
    missing = [h for h in REQUIRED_ALLOW_HEADERS if h.lower() not in allowed_headers(value)]
    expect(not missing, "R10.5", expected=f"Access-Control-Allow-Headers including {', '.join(REQUIRED_ALLOW_HEADERS)}",
           seen=f"Access-Control-Allow-Headers {value!r} (missing {', '.join(missing)})", response=r)


# ---- R10.4 ----------------------------------------------------------------------------------

@pytest.mark.requirement("R10.4")
def test_preflight_from_foreign_origins_names_no_foreign_origin(http, target, fresh_identity):
    """A preflight from a foreign or look-alike origin gets no Access-Control-Allow-Origin naming it.

    (An ACAO of ``*`` is R10.3's failure, observed on every response.)"""
    for origin in foreign_origins(_web_origin(target)):
        r = http.options(PREFLIGHT_PATH, headers=_preflight_headers(origin), identity=fresh_identity())
        acao = r.headers.get("access-control-allow-origin", "")
        expect(acao.strip() != origin, "R10.4", expected=f"no Access-Control-Allow-Origin naming {origin}",
               seen=_cors(r), response=r)
