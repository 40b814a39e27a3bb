"""R8 admin gating as properties: the guard precedes everything under /admin and /internal.

One property per criterion, so a fault flags only its own:
R8.1 no credentials on plain paths (known and unknown, any method and body) -> 401;
R8.6 spellings a raw-path guard misses (percent-encoding, doubled or encoded slashes, case, dot
segments, trailing slashes) -> 401 when they decode to /admin or /internal, else no handler (401/404);
R8.3 credentials that do not match (empty, whitespace, fragments and other case of the real key,
other schemes) on the known routes -> 401; R8.4 the real key in either style, Bearer in any case -> not 401.

Methods that could change state (POST, PUT, PATCH, DELETE) are generated only where the run opted in
to ``mutating`` (a broken guard would let them through); otherwise GET, HEAD and non-preflight OPTIONS.
The real key is never sent with a body a handler would accept.

What the guard must hold without the key is no handler result, no data, no side effect: a bodiless
2xx answer to OPTIONS is CORS answering before the guard (Hono's ``cors()`` on ``*``), not a breach;
an OPTIONS answered with a body, or a handler's status, is (``guard_held``).
"""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

import pytest
from hypothesis import example
from hypothesis import strategies as st

from stackfast_conformance.checks import fail
from stackfast_conformance.properties import (
    KNOWN_ADMIN_ROUTES,
    AdminPath,
    admin_canonical_paths,
    admin_path_variants,
    bare_key_note,
    guard_held,
    request_line,
    right_admin_credentials,
    wrong_admin_credentials,
)

pytestmark = pytest.mark.usefixtures("applicable")

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
INVALID_BODIES = (None, "", "{not json", "{}", '{"tools": []}', '{"toolId": ""}', "[]", "null")


def _methods(settings) -> st.SearchStrategy[str]:
    return st.sampled_from(SAFE_METHODS + (WRITE_METHODS if settings.opted_in("mutating") else ()))


def _send(http, target, method, path, headers=None, body=None):
    """Send to the exact request target (a full URL keeps doubled slashes and percent-escapes)."""
    headers = dict(headers or {})
    if body is not None:
        headers["Content-Type"] = "application/json"
    return http.request(method, target.api_url.rstrip("/") + path, headers=headers, content=body)


def _after_redirect(http, method, r):
    """A same-origin redirect (e.g. a trailing-slash trim) is no handler result: judge where it leads (one hop)."""
    location = r.headers.get("location")
    if not (300 <= r.status_code < 400 and location):
        return r
    url = urljoin(str(r.request.url), location)
    if urlsplit(url).netloc != r.request.url.netloc:
        return r
    return http.request(method, url)


def _seen(r) -> str:
    return f"status {r.status_code}, body {r.text[:120]!r}"


@pytest.mark.requirement("R8.1")
def test_no_credentials_means_401_before_anything(http, target, settings, prop):
    """Without X-Admin-API-Key and Authorization: 401 on every plain /admin and /internal path, for any
    method and body (401, not 400 for a bad body, not 404 for an unknown path)."""

    @prop.given(path=admin_canonical_paths(), method=_methods(settings), body=st.sampled_from(INVALID_BODIES))
    @example(path="/admin/users/export", method="GET", body=None)
    @example(path="/admin/tools/import", method="OPTIONS", body=None)
    def guard_answers_401_without_credentials(path, method, body):
        body = body if method in WRITE_METHODS else None
        r = _send(http, target, method, path, body=body)
        if not guard_held(method, r):
            fail("R8.1", expected=f"401 for {request_line(method, path)} without any admin credential"
                 + (f" and body {body!r}" if body is not None else "")
                 + (" (or CORS's bodiless 2xx preflight answer: no handler result, no data)"
                    if method == "OPTIONS" else ""), seen=_seen(r), response=r)

    prop.run(guard_answers_401_without_credentials)


@pytest.mark.requirement("R8.6")
def test_guard_covers_every_spelling_of_the_guarded_prefixes(http, target, settings, prop):
    """Percent-encoded, doubled/encoded slashes, case variants, dot segments, trailing slashes: a path that
    decodes to /admin or /internal gets 401; any other spelling reaches no handler (401 or 404)."""

    @prop.given(variant=admin_path_variants(), method=_methods(settings))
    @example(variant=AdminPath("/%61dmin/tools/import", True), method="GET")
    @example(variant=AdminPath("/internal/enrich-tool", True), method="OPTIONS")
    def no_spelling_reaches_a_handler(variant, method):
        r = _after_redirect(http, method, _send(http, target, method, variant.target))
        allowed = (401,) if variant.must_be_401 else (401, 404)
        if r.status_code not in allowed and not guard_held(method, r):
            why = ("it decodes to a guarded path" if variant.must_be_401
                   else "it must reach no admin handler")
            fail("R8.6", expected=f"{' or '.join(map(str, allowed))} for {method} {variant.target} without "
                 f"credentials ({why})", seen=_seen(r), response=r)

    prop.run(no_spelling_reaches_a_handler)


@pytest.mark.requirement("R8.3")
def test_credentials_that_do_not_match_get_401(http, target, settings, prop):
    """Neither a matching X-Admin-API-Key nor a matching Bearer: 401 (fragments, other case, empty,
    whitespace, Basic/Token schemes, the bare key in Authorization)."""

    @prop.given(path=st.sampled_from(KNOWN_ADMIN_ROUTES), method=_methods(settings),
                headers=wrong_admin_credentials(target.admin_key))
    @example(path="/internal/enrich-tool", method="OPTIONS", headers={"X-Admin-API-Key": "not-the-admin-key"})
    def wrong_key_is_refused(path, method, headers):
        r = _send(http, target, method, path, headers=headers)
        if not guard_held(method, r):
            fail("R8.3", expected=f"401 for {request_line(method, path)} with a key that does not match "
                 f"(style: {', '.join(headers)})", seen=_seen(r) + bare_key_note(headers, target.admin_key),
                 response=r)

    prop.run(wrong_key_is_refused)


@pytest.mark.requirement("R8.4")
def test_the_real_key_in_either_style_is_not_refused(http, target, settings, prop):
    """The real key as X-Admin-API-Key or Authorization: Bearer (scheme in any case) is never 401; the body
    is never one a handler accepts, so nothing changes."""
    if not target.admin_key:
        pytest.skip("no admin key for this target (STACKFAST_ADMIN_KEY): the authorized side is not probed")
    methods = ("GET", "HEAD", "PUT", "PATCH", "DELETE", "POST") if settings.opted_in("mutating") else SAFE_METHODS

    @prop.given(path=st.one_of(st.sampled_from(KNOWN_ADMIN_ROUTES), admin_canonical_paths()),
                method=st.sampled_from(methods), headers=right_admin_credentials(target.admin_key),
                body=st.sampled_from(["", "{not json", "[]"]))
    def real_key_is_accepted(path, method, headers, body):
        if method == "POST" and path.rstrip("/") == "/admin/compatibility/recompute":
            method = "PUT"  # that route has no body to reject: a POST with the real key would run it
        r = _send(http, target, method, path, headers=headers, body=body if method == "POST" else None)
        if r.status_code == 401:
            fail("R8.4", expected=f"not 401 for {method} {path} with the real key as {', '.join(headers)}",
                 seen=_seen(r), response=r)

    prop.run(real_key_is_accepted, scale=0.5)
