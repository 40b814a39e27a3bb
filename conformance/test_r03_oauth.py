"""R3 Better Auth + GitHub OAuth: the callback URL GitHub is told (R3.1), and web calling the API
directly instead of proxying it (R3.7).

R3.1 is read from the start of a sign-in: POST /api/auth/sign-in/social answers with GitHub's
authorize URL, whose ``redirect_uri`` is the callback registered in the OAuth app (from an accepted
start: with callbackURL "/" when Better Auth refuses the web origin). R3.8 begins with that start as
the SPA sends it: a refusal (403 INVALID_CALLBACK_URL) means no user can sign in from the web app. Starting a
sign-in stores one short-lived OAuth state on the API and nothing else, as a visitor's click does.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
from _applicability import require_applicable

from stackfast_conformance.checks import expect, not_applicable
from stackfast_conformance.failures import CouldNotDecide
from stackfast_conformance.sessions import start_sign_in, start_sign_in_accepted

CALLBACK_PATH = "/api/auth/callback/github"
# API paths a proxying web host would forward (read routes; no quota is spent on a static host)
API_PATHS_ON_WEB = ("/api/v1/categories", "/api/auth/get-session")
_SCRIPT_SRC = re.compile(r"<script\b[^>]*\bsrc\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE)


@pytest.fixture(autouse=True)
def _only_where_it_applies(request, target):
    require_applicable(request, target)


def _origin(url: str | None, what: str) -> str:
    if not url:
        pytest.skip(f"no expected {what} origin (give --{what} or expected.{what}_origin in the profile)")
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@pytest.mark.requirement("R3.1")
def test_sign_in_redirect_uri_is_the_api_callback(http, target, fresh_identity, recorder):
    """The GitHub authorize URL's redirect_uri is exactly <expected API origin>/api/auth/callback/github."""
    api_origin = _origin(target.expected_api_origin, "api")
    web_origin = _origin(target.expected_web_origin, "web")
    # decided from an accepted start: when the web app's callbackURL is refused (R3.8's business),
    # the relative callbackURL "/" shows the same redirect_uri
    start, refused = start_sign_in_accepted(http, web_origin, identity=fresh_identity())
    if refused is not None:
        recorder.notes.append(f"the web app's sign-in start was refused ({refused.describe()}); R3.1 decided "
                              f"from the start with callbackURL {start.callback_url!r}")
    r = start.response
    if not start.accepted:
        raise CouldNotDecide(f"POST /api/auth/sign-in/social gave no authorize URL ({start.describe()}"
                             + (f"; first {refused.describe()}" if refused else "") + "); is auth ready?",
                             r.exchange.curl)
    authorize = start.authorize_url or ""
    redirect_uris = parse_qs(urlsplit(authorize).query).get("redirect_uri", [])
    wanted = api_origin + CALLBACK_PATH
    expect(redirect_uris == [wanted], "R3.1", expected=f"redirect_uri={wanted}",
           seen=f"redirect_uri={redirect_uris or '(none)'} in {authorize[:200]}", response=r)


@pytest.mark.requirement("R3.8")
def test_sign_in_starts_from_the_web_app(http, target, fresh_identity):
    """POST /api/auth/sign-in/social as the SPA sends it (Origin and callbackURL: the web origin) is accepted
    with GitHub's authorize URL; a refusal (e.g. 403 INVALID_CALLBACK_URL: the web origin is not trusted)
    means no user can start a sign-in from the web app."""
    web_origin = _origin(target.expected_web_origin, "web")
    start = start_sign_in(http, web_origin, identity=fresh_identity())
    if not start.accepted and not start.refused:
        raise CouldNotDecide(f"POST /api/auth/sign-in/social gave no authorize URL ({start.describe()}); "
                             "is auth ready?", start.response.exchange.curl)
    expect(start.accepted, "R3.8",
           expected=f"the sign-in start from the web app (Origin and callbackURL {web_origin}) accepted: 200 with "
                    "GitHub's authorize URL",
           seen=f"{start.describe()}: no user can start a sign-in from the web app", response=start.response)


@pytest.mark.requirement("R3.7")
def test_web_host_does_not_answer_api_json_under_api(http, target, fresh_identity):
    """GET <web>/api/v1/categories (and /api/auth/get-session) is the SPA's HTML or 404, not the API's JSON."""
    for path in API_PATHS_ON_WEB:
        r = http.get(path, base="web", identity=fresh_identity())
        ctype = r.headers.get("content-type", "")
        expect("json" not in ctype.lower(), "R3.7",
               expected=f"the web host does not proxy {path} to the API (HTML or 404, no JSON)",
               seen=f"status {r.status_code}, content-type {ctype!r}, body {r.text[:100]!r}", response=r)


@pytest.mark.requirement("R3.7")
def test_web_bundle_targets_the_api_origin(http, target):
    """The script bundle index.html loads contains the expected API origin (the SPA calls it directly)."""
    api_origin = _origin(target.expected_api_origin, "api")
    index = http.get("/", base="web")
    if index.status_code != 200 or "html" not in index.headers.get("content-type", ""):
        raise CouldNotDecide(f"the web host's / is not HTML (status {index.status_code}); R1.2 says more",
                             index.exchange.curl)
    sources = _SCRIPT_SRC.findall(index.text)
    if not sources:
        not_applicable("index.html loads no script bundle (R1.2 judges the SPA itself)")
    scripts = []
    for src in sources:
        url = urljoin(str(index.request.url), src)
        if urlsplit(url).netloc != urlsplit(str(index.request.url)).netloc:
            continue  # a third-party script is not the built bundle
        r = http.get(url)
        if r.status_code == 200 and "script" in r.headers.get("content-type", "").lower():
            scripts.append((src, r))
    if not scripts:
        not_applicable(f"the web host serves none of the bundle scripts {sources} as JavaScript (R1.2 judges that)")
    hits = [src for src, r in scripts if api_origin in r.text]
    last = scripts[-1][1]
    expect(hits, "R3.7", expected=f"the built bundle contains the API origin {api_origin}",
           seen=f"no mention of {api_origin} in {', '.join(src for src, _ in scripts)}", response=last)
