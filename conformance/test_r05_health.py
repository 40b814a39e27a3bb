"""R5 Production health check: GET /health answers 200 `OK` without authentication."""

from datetime import UTC, datetime

import pytest

from stackfast_conformance.checks import expect


@pytest.mark.requirement("R5.1")
def test_health_answers_200_with_body_ok(http):
    """GET /health -> 200 with body OK."""
    r = http.get("/health")
    expect(r.status_code == 200, "R5.1", expected="status 200", seen=f"status {r.status_code}", response=r)
    expect(r.text.strip() == "OK", "R5.1", expected="body 'OK'", seen=f"body {r.text[:80]!r}", response=r)


@pytest.mark.requirement("R5.3")
def test_health_needs_no_authentication(http):
    """/health answers without any credential: no Authorization, no admin key, no cookie."""
    r = http.get("/health")
    for header in ("authorization", "x-admin-api-key", "cookie"):
        assert header not in {k.lower() for k in r.request.headers}, f"the probe must not send {header}"
    # Only a demand for credentials breaks R5.3; a broken /health (5xx, wrong body) is R5.1's business.
    expect(r.status_code not in (401, 403, 407), "R5.3", expected="an answer without credentials (not 401/403)",
           seen=f"status {r.status_code} {r.reason_phrase}", response=r)


@pytest.mark.requirement("R5.4")
def test_health_status_and_body_are_recorded_as_deploy_evidence(http, recorder):
    """The run's report keeps /health's status and body as the deploy verification record."""
    r = http.get("/health")
    evidence = {"url": str(r.request.url), "status": r.status_code, "body": r.text[:200],
                "at": datetime.now(UTC).isoformat(timespec="seconds"), "exchange": r.exchange.id}
    recorder.extra["deploy_evidence"] = {"health": evidence}
    expect(r.text.strip() != "", "R5.4",
           expected="a /health status and body to record as deploy evidence",
           seen=f"status {r.status_code} with an empty body", response=r)
