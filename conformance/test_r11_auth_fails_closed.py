"""R11 Auth fails closed in production: a requireSession() route never runs its handler without a session.

Against the deployment: the generation routes answer only 401 (no session) or 503 (auth not
ready), whatever the body and whatever bypass-looking headers or forged cookies come with it, and
they answer 503 while the auth endpoints say auth is not ready (R11.2). Against the embedded
reference, the API is also started without DATABASE_URL (R11.3) and with a database that cannot
be opened (R11.4): auth endpoints and generation routes must answer 503.

Each generation request spends a token of the generation bucket (the limiter runs before auth),
hence ``quota`` and a fresh client identity per request.
"""

from __future__ import annotations

import pytest
from _applicability import require_applicable
from _variant_api import variant_api

from stackfast_conformance.checks import expect, fail
from stackfast_conformance.failures import CouldNotDecide

GENERATION_ROUTES = ("/api/v1/blueprints", "/api/v1/scaffolds")
VALID_BODY = {"idea": "conformance check: a generation request without a session", "constraints": []}
# (label, body as raw JSON text or a JSON value)
BODIES = (("a valid body", VALID_BODY), ("an empty object", {}), ("invalid JSON", "{not json"))
BYPASS_HEADERS = (
    ("no credentials", {}),
    ("x-allow-auth-bypass: true", {"x-allow-auth-bypass": "true"}),
    ("x-auth-bypass: 1 and x-dev-user", {"x-auth-bypass": "1", "x-dev-user": "dev-user"}),
    ("a forged session cookie", {"cookie": "better-auth.session_token=forged.signature; "
                                           "__Secure-better-auth.session_token=forged.signature"}),
    ("a forged Bearer token", {"authorization": "Bearer forged-session-token"}),
)
NOT_READY_DATABASE_URL = "sqlite:////nonexistent/stackfast-conformance/auth.db"


@pytest.fixture(autouse=True)
def _only_where_it_applies(request, target):
    require_applicable(request, target)


def _post(http, base: str, path: str, body, headers: dict[str, str], identity: str):
    url = base + path if base else path
    if isinstance(body, str):
        return http.post(url, content=body, headers={**headers, "content-type": "application/json"},
                         identity=identity)
    return http.post(url, json=body, headers=headers, identity=identity)


def _handler_ran(r) -> bool:
    if 200 <= r.status_code < 300:
        return True
    try:
        data = r.json()
    except ValueError:
        return False
    return isinstance(data, dict) and data.get("generatedBy") == "handler"


def _expect_refused(r, criterion: str, what: str, allowed: tuple[int, ...]) -> None:
    if r.status_code == 429:
        raise CouldNotDecide(f"rate limited before reaching auth ({what}): the client identity is not honoured "
                             "or the generation bucket is exhausted; rerun after the window", r.exchange.curl)
    if _handler_ran(r):
        fail(criterion, expected=f"{' or '.join(map(str, allowed))} without a session ({what})",
             seen=f"status {r.status_code}: the handler ran — body {r.text[:140]!r}", response=r)
    expect(r.status_code in allowed, criterion,
           expected=f"{' or '.join(map(str, allowed))} without a session ({what}); "
                    "a 400 means body validation ran before the session check",
           seen=f"status {r.status_code}, body {r.text[:120]!r}", response=r)


# ---- R11.2 against the deployment -----------------------------------------------------------

@pytest.mark.requirement("R11.2")
@pytest.mark.safety("quota")
def test_generation_routes_never_run_without_a_session(http, fresh_identity):
    """Valid and invalid bodies, with and without bypass-looking headers -> 401 or 503, never a handler result."""
    cases = [(path, body_label, body, header_label, headers)
             for path in GENERATION_ROUTES
             for body_label, body in BODIES
             for header_label, headers in BYPASS_HEADERS
             if body_label == "a valid body" or header_label == "no credentials"]
    for path, body_label, body, header_label, headers in cases:
        r = _post(http, "", path, body, headers, fresh_identity())
        _expect_refused(r, "R11.2", f"POST {path} with {body_label} and {header_label}", (401, 503))


@pytest.mark.requirement("R11.2")
@pytest.mark.safety("quota")
def test_generation_routes_answer_503_while_auth_reports_not_ready(http, fresh_identity):
    """When GET /api/auth/get-session says auth is not ready (503), the generation routes answer 503."""
    probe = http.get("/api/auth/get-session", identity=fresh_identity())
    if probe.status_code != 503:
        pytest.skip(f"auth is ready on this target (get-session answered {probe.status_code}); the not-ready "
                    "case is observed against the reference started without a database (R11.3/R11.4)")
    for path in GENERATION_ROUTES:
        r = _post(http, "", path, VALID_BODY, {}, fresh_identity())
        _expect_refused(r, "R11.2", f"POST {path} while get-session answers 503", (503,))


# ---- R11.3 / R11.4 against a reference configuration ----------------------------------------

def _not_ready_variant(http, target, recorder, fresh_identity, criterion: str, database_url: str | None,
                       what: str) -> None:
    if target.reference is None:
        pytest.skip(f"{criterion} needs the API running with {what}: an operator action this target cannot "
                    "take; observed against the embedded reference (or attest it)")
    with variant_api(target.reference, DATABASE_URL=database_url, ALLOW_AUTH_BYPASS="false",
                     NODE_ENV="production") as base:
        recorder.notes.append(f"variant API at {base}: the reference's production configuration with {what}, "
                              f"ALLOW_AUTH_BYPASS=false (faults {target.reference.state.get('faults') or '-'})")
        r = http.get(base + "/api/auth/get-session", identity=fresh_identity())
        expect(r.status_code == 503, criterion, expected=f"GET /api/auth/get-session -> 503 with {what}",
               seen=f"status {r.status_code}, body {r.text[:120]!r}", response=r)
        for path in GENERATION_ROUTES:
            for header_label, headers in BYPASS_HEADERS[:2]:
                r = _post(http, base, path, VALID_BODY, headers, fresh_identity())
                _expect_refused(r, criterion, f"POST {path} with {header_label}, {what}", (503,))


@pytest.mark.requirement("R11.3", "R11.2")
@pytest.mark.safety("disruptive")
def test_api_without_database_url_answers_503_on_session_routes(http, target, recorder, fresh_identity):
    """ALLOW_AUTH_BYPASS=false and no DATABASE_URL: get-session and the generation routes answer 503."""
    _not_ready_variant(http, target, recorder, fresh_identity, "R11.3", None, "DATABASE_URL unset")


@pytest.mark.requirement("R11.4", "R11.2")
@pytest.mark.safety("disruptive")
def test_api_whose_auth_init_fails_answers_503_and_never_runs_the_handler(http, target, recorder,
                                                                          fresh_identity):
    """ALLOW_AUTH_BYPASS=false and a database that cannot be opened: 503, the handler never runs."""
    _not_ready_variant(http, target, recorder, fresh_identity, "R11.4", NOT_READY_DATABASE_URL,
                       f"DATABASE_URL={NOT_READY_DATABASE_URL} (cannot be opened)")
