"""R3.7 and R3.8 in a real browser, without signing in: a live audit of the web app (any web URL).

Headless Chromium (Debian's ``chromium``, over the DevTools pipe) opens the web URL the way a visitor
does — through ``--connect-to`` (``--host-resolver-rules``) and, with ``--ca-bundle``, trusting only
the leaf each host serves after Python's ``ssl`` verified it against the bundle — follows a few
in-app links, and records every request, console error, ``securitypolicyviolation`` and CORS failure
(``stackfast_conformance/browser.py``, ``audit_web_app``).

- R3.7: the SPA's API calls go to the API origin directly (none to ``/api`` on the web host), and the
  browser lets them through (no CSP ``connect-src`` violation, no mixed-content block);
- R3.8: no API answer to the SPA is blocked by the browser (CORS, CSP). A visitor has no session, so
  this check can only fail here; with ``STACKFAST_SESSION_COOKIE`` the browser also makes a
  credentialed get-session call from the web origin, which must answer with a user (and pass CORS).

Read-only: one page load and a few in-app navigations (a handful of read requests).
"""

from __future__ import annotations

import json

import pytest
from _applicability import require_applicable

from stackfast_conformance._transient import note_unresolved
from stackfast_conformance.checks import expect, fail
from stackfast_conformance.failures import CouldNotDecide
from stackfast_conformance.har import csp_allows, origin_of
from stackfast_conformance.sessions import session_from_env


@pytest.fixture(autouse=True)
def _only_where_it_applies(request, target):
    require_applicable(request, target)


@pytest.fixture(scope="module")
def origins(target):
    web, api = origin_of(target.web_url), origin_of(target.expected_api_origin)
    if not web or not api:
        pytest.skip("no web or API URL to audit (give --web and --api)")
    return web, api


@pytest.fixture(scope="module")
def web_audit(target, origins):
    """One Chromium visit of the web app (module-wide; the browser is closed after it)."""
    from stackfast_conformance.browser import (
        INSTALL_HINT,
        Browser,
        BrowserError,
        audit_web_app,
        find_chromium,
        target_launch_args,
    )

    if find_chromium() is None:
        pytest.skip(INSTALL_HINT)
    web, api = origins
    session = target.settings.secrets.get("session_cookie") or ""
    try:
        args = target_launch_args([target.web_url, api], target.connect_to, target.ca_bundle, target.settings.timeout)
        earlier: list[str] = []
        for attempt in range(1, VISITS + 1):  # a visit the network disturbed is redone in a fresh browser
            with Browser.launch(extra_args=args) as browser:
                page = browser.new_page()
                audit = audit_web_app(page, target.web_url)
                audit.session_call = _session_call(page, web, api, session) if session else None
            audit.earlier = list(earlier)
            if not audit.disturbed:
                return audit
            earlier.append(f"browser visit {attempt} of at most {VISITS} disturbed by the network: "
                           + ", ".join(f"{url} ({what})" for url, what in audit.disturbed[:4]))
        return audit  # still disturbed: the checks leave the disturbed requests unjudged
    except BrowserError as exc:  # CertificateNotTrusted included: the browser is never told to ignore it
        raise CouldNotDecide(f"the browser audit of {target.web_url} could not complete: {exc}") from None


VISITS = 3


def _session_call(page, web: str, api: str, raw_cookie: str) -> dict:
    """A credentialed GET get-session from the web page with the operator's session cookie (value never kept)."""
    from stackfast_conformance.browser import _network_idle, network_disturbances

    session = session_from_env(raw_cookie)  # registers the value with the masker
    page.send("Network.setCookie", {"name": session.name, "value": session.value, "url": api + "/",
                                    "path": "/", "secure": True, "httpOnly": True,
                                    "sameSite": "None"})
    before = len(page.events("Network.requestWillBeSent"))
    answer = page.evaluate(
        f"fetch({json.dumps(api + '/api/auth/get-session')}, {{credentials: 'include'}})"
        ".then(async (r) => ({status: r.status, body: await r.text()}))"
        ".catch((e) => ({status: null, error: String(e)}))")
    _network_idle(page, timeout=10)
    sent = page.events("Network.requestWillBeSent")[before:]
    request_id = next((e["requestId"] for e in sent if e["request"]["url"].endswith("/api/auth/get-session")), None)
    failed = next((e for e in page.events("Network.loadingFailed") if e.get("requestId") == request_id), None)
    disturbed = next((what for rid, _, what in network_disturbances(page) if rid == request_id), None)
    answer = answer or {}
    try:
        body = json.loads(answer.get("body") or "null")
    except ValueError:
        body = None
    return {"status": answer.get("status"), "error": answer.get("error"),
            "has_user": isinstance(body, dict) and isinstance(body.get("user"), dict),
            "blocked": failed and ((failed.get("corsErrorStatus") or {}).get("corsError")
                                   or failed.get("blockedReason") or failed.get("errorText")),
            "cookie": session.name, "disturbed": disturbed}


def _log(recorder, audit) -> None:
    recorder.notes.extend(audit.earlier)
    recorder.notes.extend(f"disturbed by the network, not judged: {url} ({what})" for url, what in audit.disturbed)
    for r in audit.requests:
        label = f"chromium {r['method']} {r['url']} -> {r['status'] or r['error'] or '(no answer)'}"
        recorder.mark("request", label, ok=bool(r["status"]) and r["status"] < 400)
    recorder.notes.extend(f"visited {url}" for url in audit.visited)
    recorder.notes.extend(f"console: {line}" for line in audit.console[:20])
    recorder.notes.extend(f"CSP violation: {_violation(v)}" for v in audit.violations[:20])


def _violation(v: dict) -> str:
    return (f"{v.get('directive')} blocked {v.get('blocked')} on {v.get('page')} "
            f"(policy `{str(v.get('policy'))[:200]}`, {v.get('disposition')})")


def _api_calls(audit, api: str, web: str) -> list[dict]:
    return [r for r in audit.requests if r["type"] in ("fetch", "xhr")
            and (r["url"].startswith(api + "/api") or r["url"].startswith(web + "/api"))]


def _blocked_violations(audit, api: str) -> list[dict]:
    return [v for v in audit.violations if v.get("disposition") == "enforce"
            and v.get("directive") == "connect-src" and origin_of(str(v.get("blocked"))) in (api, "")
            and str(v.get("blocked")) not in ("", "inline", "eval")]


def _document_policies(audit, web: str) -> list[str]:
    policies = []
    for entry in (audit.har or {}).get("log", {}).get("entries", []):
        if entry["_resourceType"] == "document" and origin_of(entry["request"]["url"]) == web:
            policies += [h["value"] for h in entry["response"]["headers"]
                         if h["name"].lower() == "content-security-policy"]
    return policies


@pytest.mark.requirement("R3.7")
def test_live_spa_calls_the_api_origin_directly(target, origins, web_audit, recorder):
    """In Chromium the SPA's API calls go to the API origin, none to /api on its own host, and CSP lets them out."""
    web, api = origins
    _log(recorder, web_audit)
    calls = _api_calls(web_audit, api, web)
    proxied = [c for c in calls if c["url"].startswith(web + "/api")]
    expect(not proxied, "R3.7", expected=f"the SPA calls {api} directly, never /api on its own origin",
           seen="the SPA called " + ", ".join(f"{c['method']} {c['url']}" for c in proxied[:5])
           + f" (pages visited: {', '.join(web_audit.visited)})")
    for violation in _blocked_violations(web_audit, api):
        fail("R3.7", expected=f"the page's Content-Security-Policy lets the SPA connect to {api}",
             seen=f"securitypolicyviolation: {_violation(violation)}")
    for policy in _document_policies(web_audit, web):
        expect(csp_allows(policy, api + "/api/", web), "R3.7",
               expected=f"the page's Content-Security-Policy connect-src allows {api}",
               seen=f"`{policy[:300]}` on {web}: the browser would block the SPA's calls to {api}")
    for call in calls:
        if call["blocked"] in ("csp", "mixed-content"):
            fail("R3.7", expected=f"the SPA's call reaches {api}",
                 seen=f"Chromium blocked {call['method']} {call['url']}: {call['blocked']} ({call['error']})")
    if not calls:
        pytest.skip(f"the web app made no API call in Chromium (pages visited: {', '.join(web_audit.visited)})")
    recorder.notes.extend(f"SPA call to the API origin: {c['method']} {c['url']} -> {c['status']}" for c in calls)


@pytest.mark.requirement("R3.8")
def test_live_browser_accepts_the_api_answers_to_the_spa(target, origins, web_audit, recorder):
    """Chromium blocks none of the SPA's calls to the API (CORS, CSP); with a session cookie get-session has a user."""
    web, api = origins
    _log(recorder, web_audit)
    for violation in _blocked_violations(web_audit, api):
        fail("R3.8", expected=f"the browser lets the SPA's credentialed calls reach {api}",
             seen=f"securitypolicyviolation: {_violation(violation)}")
    for call in _api_calls(web_audit, api, web):
        if call["disturbed"]:
            continue  # an edge's 502 page has no CORS headers: Chromium's CORS error is the network's, not the API's
        if call["cors"] or call["blocked"] in ("csp", "mixed-content"):
            fail("R3.8", expected=f"the browser accepts the API's answer to the SPA on {web}",
                 seen=f"Chromium blocked {call['method']} {call['url']}: "
                      + (f"CORS error {call['cors']}" if call["cors"] else str(call["blocked"]))
                      + f" (ACAO {call['acao']!r}, ACAC {call['acac']!r})")
    session = web_audit.session_call
    if session is not None and session["disturbed"]:
        note_unresolved(recorder, f"chromium GET {api}/api/auth/get-session", session["disturbed"])
    if session is None:
        pytest.skip("no session: a visitor's browser blocked none of the SPA's API calls; a signed-in browser "
                    "decides R3.8 (give --har FILE or STACKFAST_SESSION_COOKIE)")
    expect(not session["blocked"] and session["status"] == 200 and session["has_user"], "R3.8",
           expected=f"a credentialed GET {api}/api/auth/get-session from {web} with {session['cookie']} answers "
                    "200 with the user, and the browser accepts its CORS headers",
           seen=f"status {session['status']}, " + ("a user" if session["has_user"] else "no user")
           + (f"; blocked: {session['blocked']}" if session["blocked"] else "")
           + (f"; {session['error']}" if session["error"] else ""))
