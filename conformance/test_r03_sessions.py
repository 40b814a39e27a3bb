"""R3 sessions over HTTP: the production session cookie (R3.3, R3.4), credentialed cross-origin
requests with a real session (R3.8), and local development's same-origin setup (R3.6).

The cookie's attributes are visible only on the Set-Cookie of a sign-in, which the harness can
drive only through the embedded reference's fake GitHub; against a deployed target R3.3/R3.4 are
SKIPPED with that reason, and the reason carries what the sign-in start's state cookie
(``__Secure-better-auth.state``) shows about Better Auth's cookie configuration (see the browser
check, test_r03_browser.py, and ``--har`` for what decides it).
"""

from __future__ import annotations

import json

import httpx
import pytest

from stackfast_conformance.checks import expect, fail, not_applicable
from stackfast_conformance.failures import CouldNotDecide
from stackfast_conformance.sessions import (
    advisory_cookie_problems,
    sign_in_through_oauth,
    start_sign_in_accepted,
    state_cookie_evidence,
)

BLUEPRINT_BODY = {"idea": "conformance check: credentialed cross-origin request", "constraints": []}


def _production_only(target, criterion: str) -> None:
    if target.environment != "production":
        not_applicable(f"{criterion} is about production; the target is {target.environment}")


def _sign_in(target, http, fresh_identity, recorder):
    if target.reference is None:
        # the start of a sign-in needs no GitHub account: its state cookie shows Better Auth's cookie
        # configuration, which the session cookie shares (evidence, not a verdict)
        start, refused = start_sign_in_accepted(http, target.expected_web_origin, identity=fresh_identity())
        if start.accepted:
            evidence = state_cookie_evidence(start, target.expected_cookie_domain)
        else:
            evidence = f"the sign-in start was not accepted ({start.describe()}), so no state cookie was seen"
        if refused is not None:
            evidence += f" (the web app's own start was refused: {refused.describe()})"
        recorder.mark("note", f"state cookie evidence: {evidence}")
        pytest.skip("the session cookie's attributes show only on the OAuth callback's Set-Cookie, and the harness "
                    "can complete GitHub OAuth only on the embedded reference; " + evidence)
    return sign_in_through_oauth(http, target.expected_web_origin, identity=fresh_identity())


def sign_in_api_url(sign_in) -> str | None:
    """The API origin the round trip started at (its first request: POST /api/auth/sign-in/social)."""
    first = sign_in.responses[0] if sign_in.responses else None
    return f"{first.request.url.scheme}://{first.request.url.netloc.decode()}" if first is not None else None


def _session_cookie(sign_in, criterion: str):
    cookie = sign_in.session_cookie
    if cookie is None:
        last = sign_in.responses[-1]
        api_host = httpx.URL(sign_in_api_url(sign_in)).host if sign_in_api_url(sign_in) else None
        if api_host and last.request.url.host != api_host:
            # the round trip never came back to the API (a wrong redirect_uri is R3.1's business): no cookie
            # was issued, so its attributes cannot be judged
            raise CouldNotDecide(f"could not obtain a session: the OAuth round trip ended at {last.request.url.host}, "
                                 f"not the API ({api_host}), so no session cookie was issued to inspect")
        fail(criterion, expected="the OAuth callback sets a session cookie (better-auth.session_token)",
             seen=f"no session Set-Cookie in the round trip (last answer {last.status_code})", response=last)
    return cookie


def _advise_other_cookies(sign_in, target, findings) -> None:
    for response, cookie in sign_in.other_cookies():
        problems = advisory_cookie_problems(cookie, target.expected_cookie_domain)
        if problems:
            findings.add(f"cookie {cookie.name} lacks {', '.join(problems)}",
                         f"the API set `{cookie.describe()}`; the session cookie's rules (R3.3/R3.4) would "
                         f"require {', '.join(problems)} on it too", criteria=("R3.3", "R3.4"), exchange=response)


@pytest.mark.requirement("R3.3")
def test_production_session_cookie_is_secure_httponly_samesite_none(target, http, fresh_identity, findings,
                                                                     recorder):
    """The session cookie set by the OAuth callback carries Secure, HttpOnly and SameSite=None."""
    _production_only(target, "R3.3")
    sign_in = _sign_in(target, http, fresh_identity, recorder)
    cookie = _session_cookie(sign_in, "R3.3")
    missing = cookie.missing_production_flags()
    _advise_other_cookies(sign_in, target, findings)
    expect(not missing, "R3.3", expected=f"Set-Cookie {cookie.name} with Secure, HttpOnly and SameSite=None",
           seen=f"missing {', '.join(missing)} in `{cookie.describe()}`", response=sign_in.session_response)


@pytest.mark.requirement("R3.4")
def test_production_session_cookie_domain_is_parent_domain(target, http, fresh_identity, recorder):
    """The session cookie carries Domain=.stackfast.app (shared by the web and API hosts)."""
    _production_only(target, "R3.4")
    sign_in = _sign_in(target, http, fresh_identity, recorder)
    cookie = _session_cookie(sign_in, "R3.4")
    wanted = target.expected_cookie_domain
    expect(cookie.domain == wanted.lstrip(".").lower(), "R3.4",
           expected=f"Set-Cookie {cookie.name} with Domain={wanted}",
           seen=(f"Domain={cookie.attribute('domain')}" if cookie.has("domain") else "no Domain (a host-only cookie)")
           + f" in `{cookie.describe()}`", response=sign_in.session_response)


def _credentialed_cors(response, origin: str, what: str) -> None:
    acao = response.headers.get("access-control-allow-origin")
    acac = response.headers.get("access-control-allow-credentials")
    expect(acao == origin and acac == "true", "R3.8",
           expected=f"{what}: Access-Control-Allow-Origin: {origin} and Access-Control-Allow-Credentials: true",
           seen=f"Access-Control-Allow-Origin: {acao}, Access-Control-Allow-Credentials: {acac}", response=response)


@pytest.mark.requirement("R3.8")
def test_credentialed_get_session_from_web_origin_is_signed_in(request, target, http):
    """GET /api/auth/get-session with the session and Origin: <web> answers the session, with credentialed CORS."""
    _production_only(target, "R3.8")
    signed_in_session = request.getfixturevalue("signed_in_session")  # only where the check applies
    origin = target.expected_web_origin
    r = http.get("/api/auth/get-session", headers={"origin": origin, "cookie": signed_in_session.cookie_header})
    try:
        body = r.json()
    except json.JSONDecodeError:
        body = None
    signed_in = isinstance(body, dict) and bool(body.get("session") or body.get("user"))
    expect(r.status_code == 200 and signed_in, "R3.8",
           expected="200 with the signed-in session ({session, user}) for the cookie",
           seen=f"status {r.status_code}, body {r.text[:120]!r}", response=r)
    _credentialed_cors(r, origin, "get-session")


@pytest.mark.requirement("R3.8")
@pytest.mark.safety("quota")
def test_credentialed_protected_route_from_web_origin_succeeds(request, target, http, fresh_identity):
    """The browser's preflight and POST /api/v1/blueprints with the session succeed cross-origin (spends 1 token)."""
    _production_only(target, "R3.8")
    signed_in_session = request.getfixturevalue("signed_in_session")
    origin = target.expected_web_origin
    client = fresh_identity()
    preflight = http.options("/api/v1/blueprints", identity=client, headers={
        "origin": origin, "access-control-request-method": "POST", "access-control-request-headers": "content-type"})
    expect(preflight.status_code in (200, 204), "R3.8", expected="preflight answered 200/204",
           seen=f"status {preflight.status_code}", response=preflight)
    _credentialed_cors(preflight, origin, "preflight of POST /api/v1/blueprints")
    r = http.post("/api/v1/blueprints", identity=client, json=BLUEPRINT_BODY,
                  headers={"origin": origin, "cookie": signed_in_session.cookie_header})
    expect(200 <= r.status_code < 300, "R3.8", expected="2xx from the protected route for a signed-in user",
           seen=f"status {r.status_code}, body {r.text[:120]!r}", response=r)
    _credentialed_cors(r, origin, "POST /api/v1/blueprints")


@pytest.mark.requirement("R3.6")
def test_local_dev_signs_in_through_same_origin_proxy_without_samesite_none(target, http, fresh_identity):
    """Local dev: the web origin serves /api/* from the API (Vite proxy) and no cookie is SameSite=None."""
    if target.environment != "local-dev":
        not_applicable(f"R3.6 is about local development; the target is {target.environment}")
    web = target.web_url.rstrip("/")
    probe = http.get("/api/auth/get-session", base="web")
    content_type = probe.headers.get("content-type", "")
    expect(probe.status_code == 200 and "json" in content_type, "R3.6",
           expected="the web origin answers /api/auth/get-session from the API (200 JSON through the proxy)",
           seen=f"status {probe.status_code}, content-type {content_type or '-'}", response=probe)
    sign_in = sign_in_through_oauth(http, web, base="web", identity=fresh_identity())
    expect(sign_in.session_cookie is not None, "R3.6",
           expected="a sign-in through the web origin's proxy sets the session cookie",
           seen=f"no session Set-Cookie (last answer {sign_in.responses[-1].status_code})",
           response=sign_in.responses[-1])
    none_cookies = [(r, c) for r, c in sign_in.cookies if c.same_site == "none"]
    if none_cookies:
        response, cookie = none_cookies[0]
        fail("R3.6", expected="no SameSite=None cookie in local development",
             seen=f"`{cookie.describe()}`", response=response)
