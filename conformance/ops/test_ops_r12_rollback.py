"""R12 Rollback: one service rolls back to its previous build on its own.

A rollback needs a previous build, so each check redeploys first, then rolls back. The rolled-
back service's fingerprint (web: ``<meta name="stackfast-build">`` or its hashed assets; API:
``/openapi.json`` ``info.version``) must return to the build before the redeploy (R12.1/R12.2),
while the other service is polled throughout the rollback and keeps its fingerprint
(R12.6/R12.7). After an API rollback the DB-backed routes still answer (R12.3).
"""

import pytest
from _ops_checks import SESSION_PATH

from stackfast_conformance.checks import expect
from stackfast_conformance.operator import Poller, api_fingerprint, web_fingerprint

FINGERPRINTS = {"web": web_fingerprint, "api": api_fingerprint}
OTHER = {"web": "api", "api": "web"}
HEALTH_PATH = {"api": "/health", "web": "/"}


def _redeployed(http, operator, role):
    """Redeploy ``role``; return its fingerprint before (the build a rollback must restore)."""
    before, _ = FINGERPRINTS[role](http)
    operator.run(f"redeploy-{role}")
    new, _ = FINGERPRINTS[role](http)
    if new == before:
        pytest.skip(f"redeploy-{role} left the {role} fingerprint unchanged ({before}): a rollback cannot be told "
                    "apart from no change; give each build a distinct fingerprint (e.g. a build id in "
                    "<meta name=\"stackfast-build\"> or /openapi.json info.version)")
    return before


def _rolls_back_to_previous_build(http, operator, role, criterion):
    operator.require(f"redeploy-{role}", f"rollback-{role}")
    previous = _redeployed(http, operator, role)
    current, _ = FINGERPRINTS[role](http)
    operator.run(f"rollback-{role}")
    after, r = FINGERPRINTS[role](http)
    expect(after == previous, criterion,
           expected=f"rollback-{role} brings back the previous {role} build {previous}",
           seen=f"{role} build {after} (before the rollback: {current})", response=r)


def _other_untouched(http, operator, role, criterion, poll_interval):
    other = OTHER[role]
    operator.require(f"redeploy-{role}", f"rollback-{role}")
    _redeployed(http, operator, role)
    other_before, _ = FINGERPRINTS[other](http)
    with Poller(http, HEALTH_PATH[other], base=other, interval=poll_interval) as poller:
        poller.wait_for(1)
        operator.run(f"rollback-{role}")
        poller.wait_for(len(poller.polls) + 1)
    other_after, r = FINGERPRINTS[other](http)
    bad = next((p.response for p in poller.failures if p.response is not None), None)
    expect(not poller.failures, criterion,
           expected=f"{other} keeps answering 200 on {HEALTH_PATH[other]} throughout rollback-{role}",
           seen=poller.summary(), response=bad or r)
    expect(other_after == other_before, criterion,
           expected=f"{other} build unchanged by rollback-{role} ({other_before})",
           seen=f"{other} build {other_after}", response=r)


@pytest.mark.requirement("R12.1")
@pytest.mark.safety("disruptive")
def test_web_rollback_restores_the_previous_web_build(http, operator):
    """redeploy-web, rollback-web: web serves the build from before the redeploy."""
    _rolls_back_to_previous_build(http, operator, "web", "R12.1")


@pytest.mark.requirement("R12.2")
@pytest.mark.safety("disruptive")
def test_api_rollback_restores_the_previous_api_build(http, operator):
    """redeploy-api, rollback-api: the API serves the build from before the redeploy."""
    _rolls_back_to_previous_build(http, operator, "api", "R12.2")


@pytest.mark.requirement("R12.6")
@pytest.mark.safety("disruptive")
def test_web_rollback_leaves_the_api_serving_and_unchanged(http, operator, poll_interval):
    """rollback-web while polling the API: no failed poll, same API build."""
    _other_untouched(http, operator, "web", "R12.6", poll_interval)


@pytest.mark.requirement("R12.7")
@pytest.mark.safety("disruptive")
def test_api_rollback_leaves_web_serving_and_unchanged(http, operator, poll_interval):
    """rollback-api while polling web: no failed poll, same web build."""
    _other_untouched(http, operator, "api", "R12.7", poll_interval)


@pytest.mark.requirement("R12.3")
@pytest.mark.safety("disruptive")
def test_db_backed_routes_are_healthy_after_an_api_rollback(http, operator):
    """redeploy-api, rollback-api: GET /api/auth/get-session (a DB round trip) still answers 200."""
    operator.require("redeploy-api", "rollback-api")
    _redeployed(http, operator, "api")
    operator.run("rollback-api")
    r = http.get(SESSION_PATH)
    expect(r.status_code == 200, "R12.3",
           expected="the rolled-back API build still fits the schema: GET /api/auth/get-session answers 200",
           seen=f"status {r.status_code}: {r.text[:120]!r}", response=r)
