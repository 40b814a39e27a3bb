"""Fixtures shared by the conformance checks: the session a signed-in user has.

``signed_in_session`` -> ``stackfast_conformance.sessions.Session`` (``.name``, ``.cookie_header``,
``.source``). On the embedded reference it is a real session from an OAuth round trip through the
fake GitHub (driven once per run, by the first check that asks; that check's evidence shows the
exchanges). Elsewhere it is ``STACKFAST_SESSION_COOKIE``; without it the check is SKIPPED with
that reason. A reference sign-in that fails is an ERROR of the asking check (CouldNotDecide).

``session_cookie_header`` -> the ``Cookie:`` header value (``name=value``) or ``None`` when the run
has no session source; for checks that use a session when one exists (R6.1's authenticated burst):

    def test_burst(http, session_cookie_header, fresh_identity):
        headers = {"cookie": session_cookie_header} if session_cookie_header else {}

The value is a secret already registered with the evidence masker: send it only as a header and
never put it into a message.
"""

from __future__ import annotations

import pytest

from stackfast_conformance.sessions import NO_SESSION_SOURCE, Session, obtain_session

_SESSION = pytest.StashKey[dict]()


def _cached_session(request: pytest.FixtureRequest, target, http, fresh_identity) -> Session | None:
    cache = request.config.stash.setdefault(_SESSION, {})
    if "session" not in cache:
        cache["session"] = obtain_session(target, http, identity=fresh_identity())
    return cache["session"]


@pytest.fixture
def signed_in_session(request, target, http, fresh_identity) -> Session:
    """A signed-in user's session (see the module docstring); SKIPPED when the run has none."""
    session = _cached_session(request, target, http, fresh_identity)
    if session is None:
        pytest.skip(NO_SESSION_SOURCE)
    return session


@pytest.fixture
def session_cookie_header(request, target, http, fresh_identity) -> str | None:
    """The ``Cookie:`` header value of the run's session, or None when there is no session source."""
    session = _cached_session(request, target, http, fresh_identity)
    return session.cookie_header if session is not None else None
