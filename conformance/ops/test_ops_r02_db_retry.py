"""R2 Neon database: on the first DB-backed request the API retries transient connection
failures for up to 30 s before answering with an error.

Two outages through the operator's ``db-outage-start`` / ``db-outage-end``: a brief one (the
request must wait and succeed) and one longer than the retry budget (the request must answer
an error, not hang). The budget is the spec's 30 s against a real target and the embedded
reference's own (``--reference-db-retry-seconds``) against it.
"""

import time

import pytest
from _ops_checks import SESSION_PATH

from stackfast_conformance.checks import expect, fail
from stackfast_conformance.failures import CouldNotDecide

SPEC_RETRY_SECONDS = 30.0
BRIEF_OUTAGE_SECONDS = 1.0


def _budget(target) -> float:
    if target.reference is not None:
        return float(target.reference.state.get("db_retry_seconds") or SPEC_RETRY_SECONDS)
    return SPEC_RETRY_SECONDS


def _patience(budget: float) -> float:
    """How long to wait for an answer before calling it a hang."""
    return budget + max(5.0, budget * 0.5)


@pytest.mark.requirement("R2.3")
@pytest.mark.safety("disruptive")
def test_db_backed_request_waits_out_a_brief_database_outage(http, operator, target, recorder):
    """Database unreachable for ~1 s: GET /api/auth/get-session waits and answers 200."""
    operator.require("db-outage-start", "db-outage-end")
    budget = _budget(target)
    outage = min(BRIEF_OUTAGE_SECONDS, budget / 3)
    operator.run("db-outage-start")
    ender = operator.run_later("db-outage-end", outage)
    try:
        started = time.monotonic()
        r = http.get(SESSION_PATH, timeout=_patience(budget))
        waited = time.monotonic() - started
    finally:
        ender.join(outage + 120)
        end = operator.last("db-outage-end")
        if end is None or not end.ok:
            operator.run("db-outage-end")  # never leave the database down; a failure here is an ERROR
    recorder.mark("note", f"get-session answered {r.status_code} after {waited:.2f} s", r.status_code == 200)
    expect(r.status_code == 200, "R2.3",
           expected=f"the first DB-backed request during a {outage:g} s database outage waits and answers 200 "
                    f"(the API retries for up to {budget:g} s)",
           seen=f"status {r.status_code} after {waited:.2f} s", response=r)


@pytest.mark.requirement("R2.3")
@pytest.mark.safety("disruptive")
def test_db_backed_request_errors_not_hangs_when_the_outage_outlasts_the_retries(http, operator, target, recorder):
    """Database unreachable for longer than the retry budget: an error answer, not a hang."""
    operator.require("db-outage-start", "db-outage-end")
    budget = _budget(target)
    patience = _patience(budget)
    operator.run("db-outage-start")
    try:
        started = time.monotonic()
        recorder.progress(f"R2.3: database down; waiting for the API to give up retrying (budget {budget:g} s)",
                          seconds=patience)
        try:
            r = http.get(SESSION_PATH, timeout=patience)
        except CouldNotDecide:
            waited = time.monotonic() - started
            error = recorder.exchanges[-1].error if recorder.exchanges else ""
            if "Timeout" not in (error or "") or waited < patience - 1:
                raise
            recorder.mark("note", f"no answer after {waited:.1f} s", False)
            fail("R2.3", expected=f"an error answer once the retries give up (budget {budget:g} s; waited up to "
                                  f"{patience:g} s) while the database stays unreachable",
                 seen=f"no answer within {waited:.1f} s: the request hangs", curl=recorder.exchanges[-1].curl)
        waited = time.monotonic() - started
    finally:
        operator.run("db-outage-end")
    recorder.mark("note", f"get-session answered {r.status_code} after {waited:.2f} s", r.status_code >= 500)
    if r.status_code < 400:
        raise CouldNotDecide(f"GET {SESSION_PATH} answered {r.status_code} while the database was unreachable: "
                             "the outage action did not reach the API's database", r.exchange.curl)
    expect(r.status_code >= 500, "R2.3",
           expected=f"an error status (5xx) after retrying for up to {budget:g} s",
           seen=f"status {r.status_code} after {waited:.2f} s", response=r)
