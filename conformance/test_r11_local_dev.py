"""R11.5: outside production, with ALLOW_AUTH_BYPASS not false, the auth bypass keeps working.

Local development runs with the bypass requested (ALLOW_AUTH_BYPASS unset or true, as the
reference's local-dev profile does): a generation route then runs its handler without a session.
In staging and production the bypass must never act (R11.2, R13.5), so this is not applicable there.
"""

from __future__ import annotations

import pytest

from stackfast_conformance.checks import expect, not_applicable


@pytest.mark.requirement("R11.5")
@pytest.mark.safety("quota")
def test_local_dev_generation_route_runs_without_a_session(target, http, fresh_identity):
    """POST /api/v1/blueprints without any cookie answers 2xx from the handler in local development."""
    if target.environment != "local-dev":
        not_applicable(f"R11.5 is about non-production with the bypass on; the target is {target.environment}")
    r = http.post("/api/v1/blueprints", identity=fresh_identity(),
                  json={"idea": "conformance check: auth bypass in local development", "constraints": []})
    expect(200 <= r.status_code < 300, "R11.5",
           expected="2xx: the handler runs as the bypass user without a session",
           seen=f"status {r.status_code}, body {r.text[:120]!r}", response=r)
