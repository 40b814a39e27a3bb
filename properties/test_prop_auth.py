"""R11.2 auth fails closed: without a session, no requireSession() route ever runs its handler,
whatever the body, content type and headers (fake session cookies, bearer tokens, bypass-looking
headers). Each example spends one generation token of its own fresh client id (safety: quota)."""

from __future__ import annotations

import pytest
from hypothesis import strategies as st

from stackfast_conformance.checks import fail
from stackfast_conformance.properties import GENERATION_ROUTES, header_value, sample_bodies

pytestmark = pytest.mark.usefixtures("applicable")

_COOKIE_NAMES = ("better-auth.session_token", "__Secure-better-auth.session_token", "session", "sid")
_token = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.", max_size=60)


@st.composite
def _no_session_headers(draw: st.DrawFn) -> dict[str, str]:
    """Headers that look like credentials but carry no valid session."""
    headers: dict[str, str] = {}
    if draw(st.booleans()):
        headers["Cookie"] = f"{draw(st.sampled_from(_COOKIE_NAMES))}={draw(_token)}"
    if draw(st.booleans()):
        headers["Authorization"] = f"{draw(st.sampled_from(['Bearer', 'Basic', 'Session']))} {draw(_token)}".strip()
    extra = draw(st.sampled_from([None, ("X-Allow-Auth-Bypass", "true"), ("X-User-Id", "dev-user"),
                                  ("X-Forwarded-User", "admin"), ("Origin", "https://stackfast.app"),
                                  ("X-AI-Provider", "openai")]))
    if extra:
        headers[extra[0]] = extra[1]
    return headers


@pytest.mark.requirement("R11.2")
@pytest.mark.safety("quota")
def test_no_handler_result_without_a_session(http, fresh_identity, prop):
    """POST /api/v1/blueprints and /api/v1/scaffolds without a session never answer with a handler result
    (``generatedBy: handler`` or any 2xx)."""

    @prop.given(path=st.sampled_from(GENERATION_ROUTES), body=sample_bodies(), headers=_no_session_headers())
    def handler_never_runs_without_a_session(path, body, headers):
        content_type, content = body
        headers = dict(headers)
        if content_type:
            headers["Content-Type"] = content_type
        r = http.post(path, headers={k: header_value(v) for k, v in headers.items()}, identity=fresh_identity(),
                      content=content)
        if r.status_code == 429:
            return  # the limiter answered first: no handler ran either
        if 200 <= r.status_code < 300 or '"generatedBy"' in r.text:
            fail("R11.2", expected=f"no handler result for POST {path} without a session (401, or 503 while auth "
                 "is not ready)", seen=f"status {r.status_code}, body {r.text[:160]!r}", response=r)

    prop.run(handler_never_runs_without_a_session, scale=0.5)
