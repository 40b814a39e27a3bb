"""R10 CORS as properties: generated Origin values, methods (simple and preflight with generated
request headers) and paths across the API surface.

One property per criterion, so a fault that breaks one of them flags only that one:
R10.3 never ``*``; R10.4 never an ACAO naming a foreign origin; R10.2 the configured origin gets
itself back with credentials, and ``Access-Control-Allow-Credentials: true`` accompanies every ACAO.
"""

from __future__ import annotations

import pytest
from hypothesis import example
from hypothesis import strategies as st

from stackfast_conformance.checks import fail
from stackfast_conformance.properties import (
    SurfaceRequest,
    any_origin,
    describe,
    foreign_origins,
    is_read_route,
    same_origin,
    send_surface_request,
    surface_requests,
)

pytestmark = pytest.mark.usefixtures("applicable")


def _requests(settings) -> st.SearchStrategy[SurfaceRequest]:
    # production: GET/HEAD/OPTIONS and preflights only; POST where quota was opted in (own identity)
    return surface_requests(allow_post=settings.opted_in("quota"), allow_generation=settings.opted_in("quota"))


def _send(http, fresh_identity, req, origin):
    identity = fresh_identity() if is_read_route(req.method, req.path) or req.method == "POST" else None
    return send_surface_request(http, req, origin, identity)


@pytest.mark.requirement("R10.4")
def test_no_response_names_a_foreign_origin(http, target, settings, fresh_identity, prop):
    """For look-alike, null, punycode, port/scheme variants and long Origins, ACAO never names that origin."""
    configured = target.expected_web_origin

    @prop.given(origin=foreign_origins(configured), req=_requests(settings))
    @example(origin="https://evilstackfast.app", req=SurfaceRequest("OPTIONS", "/api/v1/catalog", "GET"))
    @example(origin="https://stackfast.app.evil.example", req=SurfaceRequest("GET", "/health"))
    def acao_never_names_the_foreign_origin(origin, req):
        r = _send(http, fresh_identity, req, origin)
        acao = r.headers.get("access-control-allow-origin")
        if acao is not None and acao.strip() not in ("*", configured) and (
                acao.strip() == origin.strip() or same_origin(acao, origin)):
            fail("R10.4", expected=f"no Access-Control-Allow-Origin naming the foreign origin {origin[:120]!r} "
                 f"(absent, or exactly {configured})", seen=describe(r), response=r)

    prop.run(acao_never_names_the_foreign_origin)


@pytest.mark.requirement("R10.3")
def test_no_response_allows_every_origin(http, target, settings, fresh_identity, prop):
    """Whatever the Origin (none, the real one, foreign), method and path: never ACAO ``*``."""
    configured = target.expected_web_origin

    @prop.given(origin=any_origin(configured), req=_requests(settings))
    def acao_is_never_a_wildcard(origin, req):
        r = _send(http, fresh_identity, req, origin)
        if r.headers.get("access-control-allow-origin", "").strip() == "*":
            fail("R10.3", expected="no Access-Control-Allow-Origin: * on any production response",
                 seen=describe(r), response=r)

    prop.run(acao_is_never_a_wildcard, scale=0.5)


@pytest.mark.requirement("R10.2")
def test_allowed_origin_always_comes_with_credentials(http, target, settings, fresh_identity, prop):
    """The configured origin gets exactly itself back with ``Allow-Credentials: true`` on every path and
    method; and no response carries an ACAO without ``Allow-Credentials: true``."""
    configured = target.expected_web_origin

    @prop.given(origin=st.one_of(st.just(configured), any_origin(configured)), req=_requests(settings))
    def credentials_accompany_every_acao(origin, req):
        r = _send(http, fresh_identity, req, origin)
        acao = r.headers.get("access-control-allow-origin")
        acac = r.headers.get("access-control-allow-credentials")
        if origin == configured and acao != configured:
            fail("R10.2", expected=f"Access-Control-Allow-Origin: {configured} for a request from {configured}",
                 seen=describe(r), response=r)
        if acao is not None and (acac or "").strip().lower() != "true":
            fail("R10.2", expected="Access-Control-Allow-Credentials: true with every Access-Control-Allow-Origin",
                 seen=describe(r), response=r)

    prop.run(credentials_accompany_every_acao, scale=0.5)
