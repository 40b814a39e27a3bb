"""R6 Rate limiting verified in production: the post-deploy bursts.

R6.1/R6.2: `generation_limit + 1` (31) POST /api/v1/blueprints from one client within the window,
authenticated when a session source is configured (the ``session_cookie_header`` fixture),
otherwise anonymous (recorded). R6.3: `read_limit + 1` (101) GET /api/v1/tools/search.
Each burst is timed and the report records that it fitted in one window. A burst the network
disturbed is judged with bounds (``quota.Burst``: the "31st" request is the one after 30 answers of
the target's own; a disturbed request may or may not have spent a token); one the bounds cannot decide
runs again with a fresh client (``rerun_if_disturbed``). When the target cannot tell
clients apart, the checks judge the run's one shared session (``quota_plan.shared_evidence``): its
generation burst is 30 requests alternating blueprints/scaffolds (one bucket, R4.2) and then
POST /api/v1/blueprints as request 31; its read burst ends with GET /api/v1/tools/search as request 101.
"""

from __future__ import annotations

import pytest

from stackfast_conformance.checks import expect, fail
from stackfast_conformance.failures import CouldNotDecide
from stackfast_conformance.quota import (
    BLUEPRINTS,
    SEARCH,
    note_burst,
    require_fresh,
    require_within_window,
    rerun_if_disturbed,
    spend,
)

pytestmark = pytest.mark.safety("quota")


def _session_headers(request, recorder) -> dict[str, str]:
    """A Cookie header from the run's session source, or {} (the burst is then anonymous, and says so)."""
    try:
        cookie = request.getfixturevalue("session_cookie_header")
    except pytest.FixtureLookupError:
        cookie, source = None, "no session source"
    else:
        source = "no session configured"
    if cookie:
        recorder.notes.append("the burst was authenticated (session cookie from the run's session source)")
        return {"cookie": cookie}
    recorder.notes.append(f"the burst was anonymous ({source})")
    return {}


def _blueprint_burst(http, target, request, findings, recorder, quota_plan, fresh_identity):
    count = target.generation_limit + 1
    shared = quota_plan.shared_evidence(http, findings, fresh_identity)
    if shared:
        shared.note(recorder, f"the generation burst's first {count} requests (anonymous)")
        shared.require_uncrowded("generation")
        burst = shared.generation.head(count)
        what = f"the shared generation burst's first {count} requests (request {count}: POST /api/v1/blueprints)"
        note_burst(burst, target.window_seconds, what, recorder)
        return burst, what
    headers = _session_headers(request, recorder)
    with quota_plan.clients(http, findings, fresh_identity, ("generation",)) as new_client:
        client = new_client()
        burst = spend(http, (BLUEPRINTS,), count, client, headers)
    require_fresh(burst, "the verification burst's client", findings)
    what = f"{count} POST /api/v1/blueprints from {client}"
    note_burst(burst, target.window_seconds, what, recorder)
    recorder.extra["rate_limit_burst"] = {
        "requests": count, "client": client, "authenticated": bool(headers),
        "elapsed_s": round(burst.elapsed, 3), "window_s": target.window_seconds, "statuses": burst.statuses,
    }
    if headers and any(r.status_code == 401 for r in burst.responses):
        r = next(r for r in burst.responses if r.status_code == 401)
        raise CouldNotDecide("could not decide: the session from the session source was refused (401), so the "
                             "burst was not authenticated; renew the session", r.exchange.curl)
    return burst, what


@pytest.mark.requirement("R6.1")
@rerun_if_disturbed
def test_verification_sends_31_blueprint_requests_from_one_client_within_the_window(
        http, target, request, findings, recorder, quota_plan, fresh_identity):
    """The post-deploy burst: limit + 1 POST /api/v1/blueprints, one client, one window; the first `limit` admitted."""
    burst, what = _blueprint_burst(http, target, request, findings, recorder, quota_plan, fresh_identity)
    limit = target.generation_limit
    too_early = burst.limited_too_early(limit, what)
    if too_early:
        early, response = too_early
        fail("R6.1", expected=f"the verification's {limit + 1} POST /api/v1/blueprints from one client within "
                              f"{target.window_seconds:g} s reach the target: the first {limit} admitted (not 429)",
             seen=f"429 already at {burst.where(early)} ({burst.summary()})", response=response)
    require_within_window(burst, target.window_seconds, what)  # R6.1 itself: the burst fits in one window


@pytest.mark.requirement("R6.2")
@rerun_if_disturbed
def test_the_31st_generation_request_within_the_window_gets_429_with_retry_after(
        http, target, request, findings, recorder, quota_plan, fresh_identity):
    """Request limit + 1 of the burst answers 429 and carries Retry-After."""
    burst, what = _blueprint_burst(http, target, request, findings, recorder, quota_plan, fresh_identity)
    last = burst.responses[-1]
    n = len(burst.responses)
    if last.status_code != 429:
        require_within_window(burst, target.window_seconds, what)
    else:
        burst.limited_too_late(n - 1, what)  # with disturbed requests before it, a higher limit may look the same
    expect(last.status_code == 429, "R6.2",
           expected=f"{burst.where(n)} of one client's generation burst within {target.window_seconds:g} s "
                    "answered 429",
           seen=f"status {last.status_code} ({burst.summary()})", response=last)
    expect("retry-after" in last.headers, "R6.2", expected=f"the {n}st request's 429 carries Retry-After",
           seen="no Retry-After header", response=last)


@pytest.mark.requirement("R6.3")
@rerun_if_disturbed
def test_the_101st_search_request_within_the_window_gets_429(http, target, findings, recorder, quota_plan,
                                                              fresh_identity):
    """read_limit + 1 GET /api/v1/tools/search from one client within the window: the last answers 429."""
    count = target.read_limit + 1
    shared = quota_plan.shared_evidence(http, findings, fresh_identity)
    if shared:
        shared.note(recorder, f"the read burst's first {count} requests (request {count}: GET /api/v1/tools/search)")
        shared.require_uncrowded("read")  # another check's reads in the bucket would make a 429 no evidence
        burst = shared.reads.head(count)
        what = f"the shared read burst's first {count} requests"
    else:
        with quota_plan.clients(http, findings, fresh_identity, ("read",)) as new_client:
            client = new_client()
            burst = spend(http, (SEARCH,), count, client)
        require_fresh(burst, "the search burst's client", findings)
        what = f"{count} GET /api/v1/tools/search from {client}"
    note_burst(burst, target.window_seconds, what, recorder)
    last = burst.responses[-1]
    if last.status_code != 429:
        require_within_window(burst, target.window_seconds, what)
    else:
        burst.limited_too_late(count - 1, what)  # with disturbed requests before it, a higher limit may look the same
    expect(last.status_code == 429, "R6.3",
           expected=f"{burst.where(count)} of one client's GET /api/v1/tools/search within "
                    f"{target.window_seconds:g} s answered 429",
           seen=f"status {last.status_code} ({burst.summary()})", response=last)
