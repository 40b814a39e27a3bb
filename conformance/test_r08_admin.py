"""R8 Admin API key: the guard in front of every /admin and /internal route.

The guard must answer 401 before routing, body parsing or any handler (R8.1), refuse every key
that is not the configured one in either header style (R8.3), accept the right key as
``Authorization: Bearer`` (R8.4), refuse everything when no key is configured (R8.5) and cover
paths nobody has written yet (R8.6).

Safety: without the key every request here is refused by a conforming guard, and every request
that *could* slip past a broken guard carries no body or an invalid one, so a broken guard answers
400/404/405 from the handler instead of changing anything. The only state-changing request (a
valid import with the real key) is opt-in (``mutating``).
"""

from __future__ import annotations

import base64

import pytest
from _applicability import require_applicable
from _variant_api import variant_api

from stackfast_conformance.checks import expect, fail
from stackfast_conformance.properties import bare_key_note

KNOWN_ROUTES = ("/admin/tools/import", "/admin/compatibility/recompute", "/internal/enrich-tool")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# Paths under both prefixes that no handler serves today (the guard must still own them).
UNKNOWN_PATHS = ("/admin", "/admin/", "/internal", "/admin/tools/export", "/admin/users/1/roles",
                 "/internal/jobs/replay", "/internal/enrich-tool/v2")
# Spellings of a known route that normalise to it (percent-encoding, doubled slashes): they either
# reach nothing (404) or must be guarded (401); a handler's 400/405/2xx means the guard was skipped.
ENCODED_VARIANTS = ("//admin/tools/import", "/%61dmin/tools/import", "/%2Fadmin/tools/import",
                    "//internal/enrich-tool", "/%69nternal/enrich-tool",
                    # case variants: a router that matches case-insensitively must not outrun the guard
                    "/Admin/tools/import", "/INTERNAL/enrich-tool")
INVALID_BODIES = {
    "/admin/tools/import": ('{"tools": []}', '{"tools": [{"id": ""}]}', "{not json"),
    "/admin/compatibility/recompute": ('{"unexpected": true}', "{not json"),
    "/internal/enrich-tool": ('{"toolId": ""}', '{"tool": 1}', "{not json"),
}
NO_KEY_ADVICE = "set STACKFAST_ADMIN_KEY to the target's admin key to prove that the right key is accepted"


@pytest.fixture(autouse=True)
def _only_where_it_applies(request, target):
    require_applicable(request, target)


def _status(r) -> str:
    return f"status {r.status_code}, body {r.text[:100]!r}"


# ---- R8.1: no key ---------------------------------------------------------------------------

@pytest.mark.requirement("R8.1")
def test_admin_routes_answer_401_without_any_key_for_every_method(http):
    """Every method on every known admin/internal route, without X-Admin-API-Key or Authorization -> 401."""
    for path in KNOWN_ROUTES:
        for method in METHODS:
            r = http.request(method, path)
            expect(r.status_code == 401, "R8.1", expected=f"401 for {method} {path} without any admin key",
                   seen=_status(r), response=r)


@pytest.mark.requirement("R8.1")
def test_unknown_admin_paths_answer_401_not_404_without_a_key(http):
    """Unknown paths under /admin and /internal answer 401 (the guard runs before routing), not 404/405."""
    for path in UNKNOWN_PATHS:
        for method in ("GET", "POST"):
            r = http.request(method, path)
            expect(r.status_code == 401, "R8.1", expected=f"401 (not 404/405) for {method} {path} without a key",
                   seen=_status(r), response=r)


@pytest.mark.requirement("R8.1")
def test_invalid_admin_body_without_a_key_is_401_not_400(http):
    """An invalid body without a key is refused by the guard (401) before any validation (400)."""
    for path, bodies in INVALID_BODIES.items():
        for body in bodies:
            r = http.post(path, content=body, headers={"content-type": "application/json"})
            expect(r.status_code == 401, "R8.1",
                   expected=f"401 (the guard runs before body validation) for POST {path} with body {body!r}",
                   seen=_status(r), response=r)


# ---- R8.3: wrong keys -----------------------------------------------------------------------

def _wrong_credentials(real_key: str) -> list[tuple[str, dict[str, str]]]:
    """(label, headers) of credentials that must not match; derived from the real key when known."""
    wrong = "wrong-" + "k" * 38
    basic = base64.b64encode(f"admin:{wrong}".encode()).decode()
    cases = [
        ("a wrong X-Admin-API-Key", {"x-admin-api-key": wrong}),
        ("an empty X-Admin-API-Key", {"x-admin-api-key": ""}),
        ("a wrong Bearer token", {"authorization": f"Bearer {wrong}"}),
        ("'Bearer' without a token", {"authorization": "Bearer"}),
        ("Basic credentials", {"authorization": f"Basic {basic}"}),
    ]
    if real_key:
        cases += [
            ("the key without its last character", {"x-admin-api-key": real_key[:-1]}),
            ("the first half of the key", {"x-admin-api-key": real_key[: len(real_key) // 2]}),
            ("the key with a character appended", {"x-admin-api-key": real_key + "x"}),
            ("a Bearer token of the key without its last character", {"authorization": f"Bearer {real_key[:-1]}"}),
            ("a Bearer token of the first half of the key",
             {"authorization": f"Bearer {real_key[: len(real_key) // 2]}"}),
            ("the key as Authorization without the Bearer scheme", {"authorization": real_key}),
            ("the key as Basic credentials", {"authorization": f"Basic {real_key}"}),
        ]
        if real_key.swapcase() != real_key:
            cases.append(("the key with its letter case swapped", {"x-admin-api-key": real_key.swapcase()}))
    return cases


@pytest.mark.requirement("R8.3")
def test_wrong_keys_in_either_header_style_answer_401(http, target, recorder):
    """Wrong, empty, partial and mis-schemed keys in X-Admin-API-Key or Authorization -> 401.

    Bodyless POSTs: a guard that wrongly lets one through reaches a handler that refuses the
    missing body (400), so nothing is imported or recomputed."""
    if not target.admin_key:
        recorder.notes.append("no admin key configured: only keys unrelated to the real one were tried "
                              "(" + NO_KEY_ADVICE + " and to try its prefixes)")
    for label, headers in _wrong_credentials(target.admin_key):
        for path in KNOWN_ROUTES:
            r = http.post(path, headers=headers)
            expect(r.status_code == 401, "R8.3", expected=f"401 for POST {path} with {label}",
                   seen=_status(r) + bare_key_note(headers, target.admin_key), response=r)


# ---- R8.4: the right key as Bearer ----------------------------------------------------------

def _real_key(target) -> str:
    if not target.admin_key:
        pytest.skip(f"no admin key: {NO_KEY_ADVICE}")
    return target.admin_key


@pytest.mark.requirement("R8.4")
def test_right_key_as_bearer_is_authorized_shown_by_a_validation_error(http, target, findings):
    """``Authorization: Bearer <key>`` with an INVALID body gets the route's validation error (400), not 401.

    This proves authorization without changing anything: the handler refuses the body."""
    key = _real_key(target)
    for path, body in (("/admin/tools/import", '{"tools": []}'), ("/internal/enrich-tool", '{"toolId": ""}')):
        r = http.post(path, content=body, headers={"authorization": f"Bearer {key}",
                                                   "content-type": "application/json"})
        expect(r.status_code not in (401, 403), "R8.4",
               expected=f"the guard accepts Authorization: Bearer <key> on POST {path}",
               seen=_status(r), response=r)
        expect(r.status_code in (400, 422), "R8.4",
               expected=f"a validation error (400) for the invalid body {body!r} once authorized",
               seen=_status(r), response=r)
    r = http.post("/admin/tools/import", content='{"tools": []}',
                  headers={"authorization": f"bearer {key}", "content-type": "application/json"})
    if r.status_code in (401, 403):
        findings.add("Admin guard refuses a lower-case 'bearer' scheme",
                     "Authorization schemes are case-insensitive (RFC 9110) and the design says the guard "
                     f"accepts 'Bearer' in any case; 'bearer <key>' got {r.status_code}",
                     criteria=("R8.4",), exchange=r)


@pytest.mark.requirement("R8.4")
@pytest.mark.safety("mutating")
def test_right_key_as_bearer_runs_a_valid_admin_import(http, target):
    """A valid import with ``Authorization: Bearer <key>`` is accepted (202). Imports one probe tool."""
    key = _real_key(target)
    r = http.post("/admin/tools/import", headers={"authorization": f"Bearer {key}"},
                  json={"tools": [{"id": "conformance-probe", "name": "Conformance probe"}]})
    expect(r.status_code == 202, "R8.4", expected="202 for a valid POST /admin/tools/import with Bearer <key>",
           seen=_status(r), response=r)


# ---- R8.5: no key configured ----------------------------------------------------------------

@pytest.mark.requirement("R8.5")
@pytest.mark.safety("disruptive")
@pytest.mark.parametrize("configured", ["unset", "empty"])
def test_api_without_an_admin_key_refuses_every_admin_request(http, target, recorder, configured):
    """The API started with ADMIN_API_KEY unset (or empty) answers 401 to every admin request,
    including an empty key and a Bearer scheme without a token (an all-whitespace value cannot be sent:
    HTTP strips a field value's surrounding whitespace, so it arrives as the empty key)."""
    if target.reference is None:
        pytest.skip("R8.5 needs the API running with ADMIN_API_KEY unset or empty: an operator action this "
                    "target cannot take; observed against the embedded reference (or attest it)")
    with variant_api(target.reference, ADMIN_API_KEY=None if configured == "unset" else "") as base:
        recorder.notes.append(f"variant API at {base}: the reference's production configuration with "
                              f"ADMIN_API_KEY {configured} (faults {target.reference.state.get('faults') or '-'})")
        credentials = [("no key", {}), ("an empty X-Admin-API-Key", {"x-admin-api-key": ""}),
                       ("'Bearer' alone", {"authorization": "Bearer"}),
                       ("some key", {"x-admin-api-key": "some-key-from-another-environment"})]
        if target.admin_key:
            credentials.append(("the production key", {"authorization": f"Bearer {target.admin_key}"}))
        for label, headers in credentials:
            for path in (*KNOWN_ROUTES, "/admin/anything"):
                r = http.post(base + path, headers=headers)
                expect(r.status_code == 401, "R8.5",
                       expected=f"401 for POST {path} with {label} while ADMIN_API_KEY is {configured}",
                       seen=_status(r), response=r)


# ---- R8.6: every current and future path ----------------------------------------------------

@pytest.mark.requirement("R8.6")
def test_guard_covers_unknown_paths_under_both_prefixes(http):
    """Paths no handler serves yet, under /admin and /internal, with several methods -> 401."""
    for path in UNKNOWN_PATHS:
        for method in ("GET", "POST", "DELETE"):
            r = http.request(method, path)
            expect(r.status_code == 401, "R8.6", expected=f"401 for {method} {path} (a future admin route)",
                   seen=_status(r), response=r)


@pytest.mark.requirement("R8.6")
def test_guard_covers_encoded_and_doubled_slash_spellings(http, target):
    """/%61dmin/..., //admin/..., /%2Fadmin/..., /Admin/...: guarded (401) or routed nowhere (404), never a handler."""
    api = (target.api_url or "").rstrip("/")
    if not api:
        pytest.skip("no API URL configured (give --api)")
    for variant in ENCODED_VARIANTS:
        for method in ("POST", "GET"):
            r = http.request(method, api + variant)
            if r.status_code in (401, 404):
                continue
            fail("R8.6", expected=f"401 (guarded) or 404 (routes nowhere) for {method} {variant} without a key",
                 seen=_status(r) + " — an admin handler answered without the key", response=r)
