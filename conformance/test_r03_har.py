"""R3 and R10.2 from a HAR file: a sign-in a person recorded in a real browser (``--har FILE``).

Against a deployed Stackfast the harness cannot sign in through GitHub by itself; a release
engineer can, once, with the browser's Network panel open, and save it as HAR with sensitive data.
These checks read that file (``stackfast_conformance/har.py``) and cite the entry behind every
verdict (file, index, method, URL without its query, start time):

- R3.1: the GitHub authorize redirect's ``redirect_uri`` is ``<API origin>/api/auth/callback/github``;
- R3.3/R3.4: the session cookie's ``Set-Cookie`` is Secure, HttpOnly, SameSite=None, Domain=.stackfast.app;
- R3.7: the SPA's API calls go to the API origin, none to ``/api`` on the web host, and the page's
  Content-Security-Policy lets them through;
- R3.8: the SPA's credentialed cross-origin calls carry the session cookie, the browser accepts the
  answers, and get-session returns a user;
- R10.2: every API answer to the web origin allows it with credentials.

A request the browser blocked (status 0 with ``_error``: CSP, CORS, mixed content) is FAILED on the
criterion it breaks, with the block reason. A HAR without cookies (browsers strip them by default)
is named as such and never read as a cookie without attributes. Without ``--har`` every check here
is SKIPPED. No cookie value or token from the file reaches any output: they are registered with the
masker when the file is loaded, and messages show cookie names and URLs without their query.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from _applicability import require_applicable

from stackfast_conformance.checks import expect, fail
from stackfast_conformance.har import SANITIZED_HINT, csp_allows, load_hars, origin_of
from stackfast_conformance.sessions import is_session_cookie, parse_set_cookie

CALLBACK_PATH = "/api/auth/callback/github"
AUTHORIZE_PATH = "/login/oauth/authorize"
NO_HAR = ("no HAR given: record a sign-in in a real browser and pass it with --har FILE "
          "(see README, 'Evidence from a real browser')")


@pytest.fixture
def hars(settings, _only_where_it_applies):
    # function scope, after the scope check: a local-dev target is NOT_APPLICABLE, not "no HAR given"
    if not settings.har:
        pytest.skip(NO_HAR)
    return load_hars(settings.har)  # validated before the run already; loading registers its secrets again


@pytest.fixture(autouse=True)
def _only_where_it_applies(request, target):
    require_applicable(request, target)


@pytest.fixture
def origins(target):
    web, api = origin_of(target.expected_web_origin), origin_of(target.expected_api_origin)
    if not web or not api:
        pytest.skip("no expected web/API origin (give --web/--api or expected.* in the profile file)")
    return web, api


def _entries(hars):
    return [entry for har in hars for entry in har.entries]


def _files(hars) -> str:
    return ", ".join(har.name for har in hars)


def _is_script_call(entry) -> bool:
    """A fetch/XHR (not a navigation, script or image): what the SPA's code sends."""
    if entry.resource_type:
        return entry.resource_type in ("fetch", "xhr", "preflight")
    dest = (entry.header("sec-fetch-dest", response=False) or "").lower()
    return dest == "empty" or entry.method == "OPTIONS"


def _is_api_path(entry) -> bool:
    return entry.path == "/api" or entry.path.startswith("/api/")


def _cite_all(recorder, entries, what: str) -> None:
    for entry in entries[:20]:
        recorder.notes.append(f"{what}: {entry.cite()}")


def _csp_blocks(hars, web: str, api: str):
    """(document entry, policy) of every page of the web origin whose CSP forbids connecting to the API."""
    found = []
    for entry in _entries(hars):
        if entry.origin != web or entry.status == 0:
            continue
        if entry.resource_type not in ("document", "") or "html" not in (entry.header("content-type") or "html"):
            continue
        for name, policy in entry.response_headers:
            if name.lower() == "content-security-policy" and not csp_allows(policy, api + "/api/", web):
                found.append((entry, policy))
    return found


def _session_set_cookies(hars, api: str):
    """(entry, SetCookie) of every session cookie the API set (deletions, e.g. at sign-out, left out)."""
    found = []
    for entry in _entries(hars):
        for line in entry.response_set_cookies:
            cookie = parse_set_cookie(line)
            if cookie is None or not is_session_cookie(cookie.name) or not cookie.value:
                continue
            if (cookie.attribute("max-age") or "1").lstrip("-").isdigit() and int(cookie.attribute("max-age") or 1) <= 0:
                continue
            found.append((entry, cookie))
    return found


def _no_session_cookie(hars) -> None:
    if any(har.sanitized for har in hars):
        pytest.skip(f"{', '.join(h.name for h in hars if h.sanitized)}: {SANITIZED_HINT}")
    pytest.skip(f"{_files(hars)} holds no Set-Cookie of the session cookie: record the whole sign-in, from the "
                "click on Sign in to the page GitHub sends you back to")


# ---- R3.1 ------------------------------------------------------------------------------------------

def _authorize_urls(hars):
    """(entry, authorize URL) for each place the HAR shows GitHub's authorize URL."""
    found = []
    for entry in _entries(hars):
        if entry.path.endswith(AUTHORIZE_PATH):
            found.append((entry, entry.url))
        location = entry.header("location") or ""
        if urlsplit(location).path.endswith(AUTHORIZE_PATH):
            found.append((entry, location))
        if entry.path.endswith("/api/auth/sign-in/social") and entry.response_text:
            try:
                url = json.loads(entry.response_text).get("url", "")
            except (ValueError, AttributeError):
                url = ""
            if urlsplit(str(url)).path.endswith(AUTHORIZE_PATH):
                found.append((entry, str(url)))
    return found


@pytest.mark.requirement("R3.1")
def test_har_authorize_redirect_uri_is_the_api_callback(hars, origins, recorder):
    """Every GitHub authorize URL in the HAR carries redirect_uri=<API origin>/api/auth/callback/github."""
    _, api = origins
    found = _authorize_urls(hars)
    if not found:
        pytest.skip(f"{_files(hars)} holds no GitHub authorize redirect: start the recording before the click on "
                    "Sign in")
    wanted = api + CALLBACK_PATH
    for entry, url in found:
        seen = parse_qs(urlsplit(url).query).get("redirect_uri", [])
        expect(seen == [wanted], "R3.1", expected=f"redirect_uri={wanted}",
               seen=f"redirect_uri={seen or '(none)'} in the authorize URL of {entry.cite()}")
    _cite_all(recorder, [e for e, _ in found], "authorize redirect judged")


# ---- R3.3 / R3.4 -----------------------------------------------------------------------------------

@pytest.mark.requirement("R3.3")
def test_har_session_cookie_is_secure_httponly_samesite_none(hars, origins, recorder):
    """The session cookie's Set-Cookie in the HAR carries Secure, HttpOnly and SameSite=None."""
    _, api = origins
    found = _session_set_cookies(hars, api)
    if not found:
        _no_session_cookie(hars)
    for entry, cookie in found:
        missing = cookie.missing_production_flags()
        expect(not missing, "R3.3", expected=f"{cookie.name} with Secure, HttpOnly, SameSite=None",
               seen=f"`{cookie.describe()}` (missing {', '.join(missing)}) set by {entry.cite()}")
    _cite_all(recorder, [e for e, _ in found], "session Set-Cookie judged")


@pytest.mark.requirement("R3.4")
def test_har_session_cookie_domain_is_the_parent_domain(hars, origins, target, recorder):
    """The session cookie's Set-Cookie in the HAR carries Domain=.stackfast.app (not host-only)."""
    _, api = origins
    wanted = target.expected_cookie_domain
    if not wanted:
        pytest.skip("no expected cookie domain for this environment (expected.cookie_domain in the profile file)")
    found = _session_set_cookies(hars, api)
    if not found:
        _no_session_cookie(hars)
    for entry, cookie in found:
        domain = (cookie.attribute("domain") or "").lstrip(".").lower()
        expect(domain == wanted.lstrip(".").lower(), "R3.4", expected=f"{cookie.name} with Domain={wanted}",
               seen=f"`{cookie.describe()}`" + ("" if domain else f" (host-only for {urlsplit(entry.url).hostname})")
               + f" set by {entry.cite()}")
    _cite_all(recorder, [e for e, _ in found], "session Set-Cookie judged")


# ---- R3.7 ------------------------------------------------------------------------------------------

@pytest.mark.requirement("R3.7")
def test_har_spa_calls_the_api_origin_directly(hars, origins, recorder):
    """The SPA's API calls go to the API origin (none to /api on the web host) and the page's CSP allows them."""
    web, api = origins
    calls = [e for e in _entries(hars) if _is_script_call(e) and _is_api_path(e)]
    proxied = [e for e in calls if e.origin == web]
    if proxied:
        fail("R3.7", expected=f"the SPA calls {api} directly, never /api on its own origin",
             seen=f"{len(proxied)} call(s) to {web}/api…, first {proxied[0].cite()}")
    for entry, policy in _csp_blocks(hars, web, api):
        fail("R3.7", expected=f"the page's Content-Security-Policy connect-src allows {api}",
             seen=f"`{policy[:300]}` on {entry.cite()}: the browser blocks every call of the SPA to {api}")
    for entry in calls:
        if entry.blocked and entry.block_kind() in ("csp", "mixed-content"):
            fail("R3.7", expected=f"the SPA's call reaches {api}",
                 seen=f"the browser blocked {entry.cite()}: {entry.block_reason()}")
    direct = [e for e in calls if e.origin == api]
    if not direct:
        pytest.skip(f"{_files(hars)} holds no API call of the SPA (fetch/XHR to /api/…): record a page load")
    _cite_all(recorder, direct, "SPA call to the API origin")


# ---- R3.8 and R10.2 --------------------------------------------------------------------------------

def _cross_origin_calls(hars, web: str, api: str):
    return [e for e in _entries(hars) if e.origin == api and _is_script_call(e)
            and (e.header("origin", response=False) or web) == web]


def _blocked_calls(hars, web: str, api: str, kinds: tuple[str, ...]):
    return [e for e in _cross_origin_calls(hars, web, api) if e.blocked and e.block_kind() in kinds]


@pytest.mark.requirement("R3.8")
def test_har_credentialed_calls_from_the_web_origin_get_a_session(hars, origins, recorder):
    """After the sign-in the SPA's cross-origin calls carry the session cookie, are accepted, and get-session has a user."""
    web, api = origins
    same_origin = [e for e in _entries(hars) if _is_script_call(e) and _is_api_path(e) and e.origin == web]
    for entry, policy in [] if same_origin else _csp_blocks(hars, web, api):  # the SPA does not call across
        fail("R3.8", expected=f"the browser lets the SPA's credentialed calls reach {api}",
             seen=f"the page's Content-Security-Policy `{policy[:300]}` ({entry.cite()}) blocks them")
    for entry in _blocked_calls(hars, web, api, ("cors", "csp", "mixed-content", "failed")):
        fail("R3.8", expected=f"the browser accepts the API's answer to the SPA's call from {web}",
             seen=f"the browser blocked {entry.cite()}: {entry.block_reason()}")
    calls = [e for e in _cross_origin_calls(hars, web, api) if not e.blocked and e.method != "OPTIONS"]
    if not calls:
        pytest.skip(f"{_files(hars)} holds no call of the SPA from {web} to {api} (R3.7 says where the SPA's "
                    "calls went)")
    if any(har.sanitized for har in hars):
        pytest.skip(f"{', '.join(h.name for h in hars if h.sanitized)}: {SANITIZED_HINT}")
    carrying = [e for e in calls if any(is_session_cookie(name) for name in e.request_cookies)]
    if not carrying:
        if _session_set_cookies(hars, api):
            fail("R3.8", expected="the SPA's credentialed calls after the sign-in carry the session cookie",
                 seen=f"none of {len(calls)} call(s) from {web} carries it (the browser did not send the cookie "
                      f"the API set); last {calls[-1].cite()}")
        pytest.skip(f"{_files(hars)} shows no signed-in call (no session cookie set or sent): record the whole "
                    "sign-in")
    for entry in carrying:
        acao, acac = entry.header("access-control-allow-origin"), entry.header("access-control-allow-credentials")
        expect(acao == web and (acac or "").strip().lower() == "true", "R3.8",
               expected=f"Access-Control-Allow-Origin: {web} and Access-Control-Allow-Credentials: true",
               seen=f"ACAO {acao!r}, ACAC {acac!r} on {entry.cite()}")
    sessions = [e for e in carrying if e.path.endswith("/api/auth/get-session") and e.method == "GET"]
    if not sessions:
        pytest.skip(f"{_files(hars)} holds no credentialed GET /api/auth/get-session after the sign-in")
    last = sessions[-1]
    if last.response_text is None:
        pytest.skip(f"{last.cite()} has no response content: export the HAR with content")
    try:
        body = json.loads(last.response_text)
    except ValueError:
        body = None
    user = body.get("user") if isinstance(body, dict) else None
    expect(last.status == 200 and isinstance(user, dict) and bool(user.get("id")), "R3.8",
           expected="get-session with the session cookie answers 200 with the signed-in user",
           seen=f"status {last.status}, " + ("a user" if user else "no user") + f" on {last.cite()}")
    _cite_all(recorder, carrying, "credentialed call judged")


@pytest.mark.requirement("R10.2")
def test_har_api_answers_allow_the_web_origin_with_credentials(hars, origins, recorder):
    """Every API answer in the HAR to a request from the web origin has ACAO <web origin> and ACAC true."""
    web, api = origins
    for entry in _blocked_calls(hars, web, api, ("cors",)):
        fail("R10.2", expected=f"the browser accepts the API's CORS answer to {web}",
             seen=f"the browser blocked {entry.cite()}: {entry.block_reason()}")
    answered = [e for e in _entries(hars) if e.origin == api and not e.blocked
                and e.header("origin", response=False) == web]
    if not answered:
        pytest.skip(f"{_files(hars)} holds no request from {web} to {api} with an answer")
    for entry in answered:
        acao, acac = entry.header("access-control-allow-origin"), entry.header("access-control-allow-credentials")
        expect(acao == web and (acac or "").strip().lower() == "true", "R10.2",
               expected=f"Access-Control-Allow-Origin: {web} and Access-Control-Allow-Credentials: true",
               seen=f"ACAO {acao!r}, ACAC {acac!r} on {entry.cite()}")
    _cite_all(recorder, answered, "CORS answer judged")
