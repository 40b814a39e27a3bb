"""R4 Upstash Redis rate limiter, over HTTP: buckets, keys, Retry-After, exempt routes.

Every check spends rate-limit budget (safety class ``quota``) from fresh client identities
(``x-forwarded-for``) obtained through the run's quota plan (``stackfast_conformance.quota``),
so checks never share a bucket and can run in any order or in parallel. Bursts are sequential
requests over one pooled connection; the only sleep is R4.7's bounded wait for a reset.
When the target cannot tell clients apart (an edge that overwrites x-forwarded-for), every check
judges its part of the run's one shared session (``quota_plan.shared_evidence``) instead. A burst
the network disturbed is judged with bounds (``quota.Burst.limited_too_early``: a disturbed request may
or may not have spent a token); one the bounds cannot decide runs again with fresh identities
(``rerun_if_disturbed``).
"""

from __future__ import annotations

import time

import pytest

from stackfast_conformance.checks import expect, fail
from stackfast_conformance.failures import CouldNotDecide
from stackfast_conformance.quota import (
    BLUEPRINTS,
    GENERATION_CALLS,
    READ_CALLS,
    edge_is_transparent,
    note_burst,
    parse_retry_after,
    require_fresh,
    require_within_window,
    rerun_if_disturbed,
    send_answered,
    spend,
    spend_until_limited,
)

pytestmark = pytest.mark.safety("quota")


def _statuses(responses) -> str:
    return ", ".join(str(r.status_code) for r in responses)


def _burst_to_the_limit(http, target, quota_plan, fresh_identity, findings, recorder, *, bucket, calls, limit,
                        shape, criterion, allowed):
    """One client's ``limit`` requests over ``calls``, then one more on each (the shared burst behind an edge
    that hides clients, else a fresh client's): returns (burst, the requests after the limit).

    FAILs ``criterion`` when a 429 came before ``limit`` answers (``allowed`` says what was expected);
    undecided (SKIPPED) when a request after the limit was allowed but the window may have reset."""
    what = f"{limit} + {len(calls)} {bucket} requests"
    shared = quota_plan.shared_evidence(http, findings, fresh_identity)
    if shared:
        shared.note(recorder, f"the {bucket} burst ({limit} {shape}, then one more on each)")
        shared.require_uncrowded(bucket)
        burst = shared.generation if bucket == "generation" else shared.reads
        over = burst.responses[limit:]
    else:
        with quota_plan.clients(http, findings, fresh_identity, (bucket,)) as new_client:
            client = new_client()
            burst = spend(http, calls, limit, client)
            require_fresh(burst, f"a fresh client's {bucket} burst", findings)
            over = [send_answered(http, call, client, None, burst) for call in calls]
    note_burst(burst, target.window_seconds, what, recorder)
    too_early = burst.limited_too_early(limit, what)
    if too_early:
        early, response = too_early
        fail(criterion, expected=allowed, seen=f"429 at {burst.where(early)} ({calls[(early - 1) % len(calls)]})",
             response=response)
    if any(r.status_code != 429 for r in over):
        require_within_window(burst, target.window_seconds, what)
    else:
        burst.limited_too_late(limit, what)  # a higher limit looks the same?
    return burst, over


# --- R4.2 generation bucket -------------------------------------------------------------------

@pytest.mark.requirement("R4.2")
@rerun_if_disturbed
def test_generation_bucket_allows_exactly_the_limit_shared_by_blueprints_and_scaffolds(
        http, target, quota_plan, fresh_identity, findings, recorder):
    """`limit` generation requests alternating over both routes are allowed; the next on either is 429."""
    limit = target.generation_limit
    burst, over = _burst_to_the_limit(
        http, target, quota_plan, fresh_identity, findings, recorder, bucket="generation", calls=GENERATION_CALLS,
        limit=limit, shape="alternating over both routes", criterion="R4.2",
        allowed=f"the first {limit} generation requests of one client (alternating blueprints/scaffolds) allowed "
                "(not 429)")
    for position, (call, r) in enumerate(zip(GENERATION_CALLS, over, strict=True), limit + 1):
        expect(r.status_code == 429, "R4.2",
               expected=f"{burst.where(position)} of the client, on {call}, answered 429: blueprints and "
                        f"scaffolds share one bucket of {limit}",
               seen=f"status {r.status_code} after {limit // 2 + limit % 2} blueprints + {limit // 2} scaffolds "
                    "were allowed", response=r)


# --- R4.3 read bucket -------------------------------------------------------------------------

@pytest.mark.requirement("R4.3")
@rerun_if_disturbed
def test_read_bucket_is_shared_by_every_read_route(http, target, quota_plan, fresh_identity, findings, recorder):
    """`read_limit` requests spread over all read routes are allowed; the next on any read route is 429."""
    limit = target.read_limit
    _, over = _burst_to_the_limit(
        http, target, quota_plan, fresh_identity, findings, recorder, bucket="read", calls=READ_CALLS, limit=limit,
        shape="over every read route", criterion="R4.3",
        allowed=f"the first {limit} read requests of one client allowed (not 429)")
    for call, r in zip(READ_CALLS, over, strict=True):
        expect(r.status_code == 429, "R4.3",
               expected=f"after {limit} reads spread over {len(READ_CALLS)} read routes, {call} answers 429 "
                        "(one read bucket for every remaining /api/v1 route)",
               seen=f"status {r.status_code}", response=r)


@pytest.mark.requirement("R4.3")
@rerun_if_disturbed
def test_generation_requests_do_not_draw_on_the_read_bucket(
        http, target, quota_plan, fresh_identity, findings, recorder):
    """After a client spent its whole generation bucket it still has all `read_limit` reads."""
    generation, limit = target.generation_limit, target.read_limit
    shared = quota_plan.shared_evidence(http, findings, fresh_identity)
    if shared:
        shared.note(recorder, f"the generation burst ({generation + 2} requests) then the read burst's first {limit}")
        shared.require_uncrowded("read")
        spent = shared.generation
        reads = shared.reads.head(limit)
        reads.started = spent.started
    else:
        with quota_plan.clients(http, findings, fresh_identity, ("generation", "read")) as new_client:
            client = new_client()
            spent = spend(http, GENERATION_CALLS, generation + 1, client)
            require_fresh(spent, "a fresh client's generation burst", findings)
            reads = spend(http, READ_CALLS, limit, client)
            reads.started = spent.started
    note_burst(reads, target.window_seconds, f"{generation + 1} generation then {limit} read requests", recorder)
    if reads.first_limited() is None:  # all allowed proves something only if no reset could have refilled the bucket
        require_within_window(reads, target.window_seconds, f"{generation + 1} generation then {limit} reads")
    too_early = reads.limited_too_early(limit, f"{limit} reads after {generation + 1} generation requests")
    if too_early:
        early, response = too_early
        fail("R4.3", expected=f"all {limit} reads allowed after {generation + 1} generation requests (the "
                              "generation routes are not among 'the remaining routes', so they spend no read token)",
             seen=f"read {reads.where(early)} of {limit} answered 429 (generation: {spent.summary()})",
             response=response)


# --- R4.4 bucket key ---------------------------------------------------------------------------

def _exhaust(http, target, findings, what, identity=None, headers=None):
    """Spend one client's generation bucket until 429 (the first request must be allowed)."""
    burst = spend_until_limited(http, (BLUEPRINTS,), target.generation_limit + 3, identity, headers)
    require_fresh(burst, what, findings)
    if burst.first_limited() is None:
        require_within_window(burst, target.window_seconds, what)
        raise CouldNotDecide(f"could not decide: {what}: no 429 after {burst.summary()} — the generation "
                             "limiter did not limit (R4.2's checks say more)", burst.responses[-1].exchange.curl)
    return burst


def _still_in_window(burst, target, what):
    """Before failing on an *allowed* answer after ``burst`` exhausted a bucket: it must be the same window."""
    burst.finished = time.monotonic()
    require_within_window(burst, target.window_seconds, what)


def _not_keyed_as_specified(target, message, response):
    """A key that ignores the client's headers: FAILED where the edge is known to pass them through."""
    if edge_is_transparent(target):
        fail("R4.4", expected=message[0], seen=message[1], response=response)
    pytest.skip(f"R4.4 not observable through this edge: {message[1]}; an edge that overwrites or adds "
                "x-forwarded-for/cf-connecting-ip would look the same — verify the key in the API's code/config")


@pytest.mark.requirement("R4.4")
@rerun_if_disturbed
def test_distinct_client_ids_have_separate_buckets(http, target, quota_plan, fresh_identity, findings, recorder):
    """Client A exhausts its generation bucket; a never-used client B is still allowed.

    The run's quota probe is this very experiment: when it found one shared bucket the check judges
    the probe's evidence instead of exhausting the shared bucket again (which would cost a window).
    """
    if quota_plan.probe(http, findings, fresh_identity) is False:
        seen = f"{quota_plan.summary} (the run's quota probe, in {quota_plan.probed_in})"
        findings.add("client identities share one rate-limit bucket",
                     f"{seen}: everyone is throttled together (a single client can lock out all others)",
                     criteria=("R4.4",))
        _not_keyed_as_specified(
            target, ("clients with different x-forwarded-for have separate buckets (key generation:{clientId})",
                     seen), None)
    a, b = fresh_identity(), fresh_identity()
    first = spend_until_limited(http, (BLUEPRINTS,), target.generation_limit + 3, a)
    if first.first_limited() is None:
        require_within_window(first, target.window_seconds, "exhausting client A's generation bucket")
        raise CouldNotDecide(f"could not decide: no 429 for client A after {first.summary()}")
    r = BLUEPRINTS.send(http, b)
    recorder.notes.append(f"client A: {first.summary()}; client B's first request: {r.status_code}")
    isolated = r.status_code != 429 and first.first_limited() != 1
    if not isolated:
        culprit = r if r.status_code == 429 else first.responses[0]
        seen = (f"client A ({a}) was throttled at its first request" if first.first_limited() == 1 else
                f"after client A ({a}) was throttled, never-used client B ({b}) got {r.status_code}")
        findings.add("client identities share one rate-limit bucket",
                     f"{seen}: everyone is throttled together (a single client can lock out all others)",
                     criteria=("R4.4",), exchange=culprit)
        try:
            _not_keyed_as_specified(
                target, ("clients with different x-forwarded-for have separate buckets (key generation:{clientId})",
                         seen), culprit)
        finally:
            # the shared bucket is exhausted: let it reset so later checks are not throttled by this one
            recorder.progress("letting the shared bucket reset", seconds=target.window_seconds + 0.25)
            time.sleep(target.window_seconds + 0.25)


@pytest.mark.requirement("R4.4")
@rerun_if_disturbed
def test_x_forwarded_for_takes_precedence_over_cf_connecting_ip(
        http, target, quota_plan, fresh_identity, findings, recorder):
    """With both headers the bucket is the x-forwarded-for client's, in both directions."""
    with quota_plan.clients(http, findings, fresh_identity, distinct=True) as new_client:
        xff, cf = new_client(), new_client()
        exhausted = _exhaust(http, target, findings, f"x-forwarded-for {xff}", identity=xff)
        both = BLUEPRINTS.send(http, headers={"x-forwarded-for": xff, "cf-connecting-ip": cf})
        if both.status_code != 429:
            _still_in_window(exhausted, target, f"exhausting x-forwarded-for {xff} and the request after it")
        expect(both.status_code == 429, "R4.4",
               expected=f"x-forwarded-for {xff} (exhausted) + cf-connecting-ip {cf} (never used) keyed on "
                        "x-forwarded-for: 429",
               seen=f"status {both.status_code} (keyed on cf-connecting-ip?)", response=both)
        cf_only, xff2 = new_client(), new_client()
        _exhaust(http, target, findings, f"cf-connecting-ip {cf_only}", headers={"cf-connecting-ip": cf_only})
        reverse = BLUEPRINTS.send(http, headers={"x-forwarded-for": xff2, "cf-connecting-ip": cf_only})
        expect(reverse.status_code != 429, "R4.4",
               expected=f"x-forwarded-for {xff2} (never used) + cf-connecting-ip {cf_only} (exhausted) keyed on "
                        "x-forwarded-for: allowed",
               seen=f"status {reverse.status_code} (keyed on cf-connecting-ip?)", response=reverse)


@pytest.mark.requirement("R4.4")
@rerun_if_disturbed
def test_cf_connecting_ip_keys_the_bucket_without_x_forwarded_for(
        http, target, quota_plan, fresh_identity, findings, recorder):
    """cf-connecting-ip alone is the client id: its own bucket, the same key as that id in x-forwarded-for."""
    with quota_plan.clients(http, findings, fresh_identity, distinct=True) as new_client:
        cf, other = new_client(), new_client()
        exhausted = _exhaust(http, target, findings, f"cf-connecting-ip {cf}", headers={"cf-connecting-ip": cf})
        r = BLUEPRINTS.send(http, headers={"cf-connecting-ip": other})
        if r.status_code == 429:
            _not_keyed_as_specified(
                target, (f"cf-connecting-ip alone keys the bucket: never-used {other} allowed after {cf} was "
                         "throttled", f"cf-connecting-ip {other} got 429 too (not keyed on cf-connecting-ip)"), r)
        same_key = BLUEPRINTS.send(http, identity=cf)
        if same_key.status_code != 429:
            _still_in_window(exhausted, target, f"exhausting cf-connecting-ip {cf} and the requests after it")
        expect(same_key.status_code == 429, "R4.4",
               expected=f"x-forwarded-for {cf} shares the bucket generation:{cf} with cf-connecting-ip {cf} "
                        "(the key is {bucket}:{clientId}, whichever header gave the id): 429",
               seen=f"status {same_key.status_code}", response=same_key)


@pytest.mark.requirement("R4.4")
@pytest.mark.exclusive  # the `local` bucket is every header-less client's (the SPA in the browser check too)
@rerun_if_disturbed
def test_requests_without_client_headers_share_the_local_bucket(http, target, quota_plan, fresh_identity,
                                                                findings, recorder):
    """No x-forwarded-for and no cf-connecting-ip -> client id `local` (the same key as x-forwarded-for: local).

    Done on the generation bucket only (other checks always send identities), and the check waits
    for `local` to reset before it ends, so it cannot throttle anything that runs after it.
    """
    with quota_plan.clients(http, findings, fresh_identity, distinct=True):
        burst = spend_until_limited(http, (BLUEPRINTS,), target.generation_limit + 3, identity="local")
        if burst.first_limited() is None:
            # `local` is every header-less client's bucket: one of them may have opened its window shortly
            # before, so it reset in the middle of this burst. The window it reopened is fresh: burst again.
            recorder.notes.append(f"the 'local' bucket reset during the first burst ({burst.summary()}); again")
            burst = spend_until_limited(http, (BLUEPRINTS,), target.generation_limit + 3, identity="local")
        if burst.first_limited() is None:
            require_within_window(burst, target.window_seconds, "exhausting x-forwarded-for 'local'")
            raise CouldNotDecide(f"could not decide: x-forwarded-for 'local' never throttled: {burst.summary()}")
        bare = BLUEPRINTS.send(http)
        try:
            if bare.status_code != 429:
                _still_in_window(burst, target, "exhausting x-forwarded-for 'local' and the bare request after it")
                _not_keyed_as_specified(
                    target, ("a request without x-forwarded-for/cf-connecting-ip keyed 'local': 429 once "
                             "x-forwarded-for 'local' is throttled",
                             f"status {bare.status_code} (not keyed on the literal 'local')"), bare)
        finally:
            # No wait for the reset: this check runs last (exclusive checks close the run) and nothing after
            # it sends header-less generation requests; a real edge sets x-forwarded-for, so no user is `local`.
            recorder.notes.append("the 'local' generation bucket stays exhausted for up to one window after this check")


# --- R4.7 Retry-After ----------------------------------------------------------------------------

def _limited_response(http, target, findings, new_client):
    client = new_client()
    burst = _exhaust(http, target, findings, "a fresh client's generation burst", identity=client)
    return client, burst.responses[-1]


def _expect_valid_retry_after(r, window_seconds: float) -> int:
    value = r.headers.get("retry-after")
    expect(value is not None, "R4.7", expected="a 429 carries Retry-After", seen="no Retry-After header", response=r)
    seconds = parse_retry_after(value)
    expect(seconds is not None, "R4.7", expected="Retry-After is an integer number of seconds",
           seen=f"Retry-After: {value!r}", response=r)
    top = max(1, int(-(-window_seconds // 1)))
    expect(1 <= seconds <= top, "R4.7",
           expected=f"Retry-After = seconds until the bucket resets: between 1 and the window ({top} s)",
           seen=f"Retry-After: {value}", response=r)
    return seconds


def _shared_limited(shared, target, recorder):
    """The shared session's first generation 429 (request limit + 1, a blueprint)."""
    limit = target.generation_limit
    shared.note(recorder, f"the generation burst's request {limit + 1} (POST /api/v1/blueprints over the limit)")
    limited = shared.generation.responses[limit]
    if limited.status_code != 429:
        shared.require_uncrowded("generation")
        require_within_window(shared.generation, target.window_seconds, "the shared generation burst")
        raise CouldNotDecide(f"could not decide: the shared generation burst never throttled "
                             f"({shared.generation.summary()}; R4.2's checks say more)", limited.exchange.curl)
    return limited


@pytest.mark.requirement("R4.7")
@rerun_if_disturbed
def test_429_retry_after_is_whole_seconds_within_the_window(http, target, quota_plan, fresh_identity, findings,
                                                            recorder):
    """Over the limit: 429 with Retry-After an integer number of seconds in [1, window]."""
    shared = quota_plan.shared_evidence(http, findings, fresh_identity)
    if shared:
        limited = _shared_limited(shared, target, recorder)
    else:
        with quota_plan.clients(http, findings, fresh_identity, ("generation",)) as new_client:
            _, limited = _limited_response(http, target, findings, new_client)
    _expect_valid_retry_after(limited, target.window_seconds)


@pytest.mark.requirement("R4.7")
@rerun_if_disturbed
def test_retry_after_counts_down_and_the_client_is_allowed_once_it_elapsed(
        http, target, quota_plan, fresh_identity, findings, recorder):
    """Retry-After shrinks as time passes, and a request is allowed once it has elapsed (wait <= window + 1 s)."""
    window = target.window_seconds
    if target.profile == "production" and window > 10:
        pytest.skip(f"waits up to the {window:g} s window for a reset; skipped in the production profile "
                    "(the Retry-After format is checked without waiting)")
    tolerance = 0.35
    shared = quota_plan.shared_evidence(http, findings, fresh_identity)
    if shared:
        _shared_limited(shared, target, recorder)
        recorder.notes.append("Retry-After watched by the shared session until a request was allowed")
        observations = [(sent, got, _expect_valid_retry_after(r, window), r)
                        for sent, got, r in shared.countdown if r.status_code == 429]
        allowed = next(((sent, got, r) for sent, got, r in shared.countdown if r.status_code != 429), None)
        _judge_countdown(observations, allowed, window, tolerance, recorder, crowd=quota_plan.crowd())
        return
    with quota_plan.clients(http, findings, fresh_identity, ("generation",)) as new_client:
        client, r = _limited_response(http, target, findings, new_client)
        observations = []  # (sent, received, Retry-After seconds, response)
        received = time.monotonic()
        observations.append((received - r.exchange.elapsed_ms / 1000, received, _expect_valid_retry_after(r, window), r))
        deadline = received + window + 1
        interval = max(0.2, window / 50)
        recorder.progress("R4.7: watching Retry-After count down until the bucket resets", seconds=window + 1)
        allowed = None
        while time.monotonic() < deadline:
            time.sleep(interval)
            sent = time.monotonic()
            # waiting for the reset, an extra token spent by a retried gateway error changes nothing
            r = http.request("POST", BLUEPRINTS.path, json=BLUEPRINTS.json, identity=client, retry=True)
            got = time.monotonic()
            if r.status_code != 429:
                allowed = (sent, got, r)
                break
            observations.append((sent, got, _expect_valid_retry_after(r, window), r))
    _judge_countdown(observations, allowed, window, tolerance, recorder)


def _judge_countdown(observations, allowed, window, tolerance, recorder, crowd=None):
    """R4.7 over time: Retry-After never grows, shrinks, and the reset comes when it said (not before).

    ``crowd`` (a shared bucket, quota.QuotaPlan.crowd): other checks of the run may spend the bucket the
    moment it resets, so a 429 after the promised reset is no evidence (the harness's own traffic, not
    the target's fault). The Retry-Afters before the promised reset are still judged, then the check SKIPs.
    A run limited to the rate-limit criteria has no such traffic (``crowd`` is None): everything is judged.
    """
    trail = ", ".join(f"{o[2]}s@{o[0] - observations[0][0]:.2f}" for o in observations)
    recorder.notes.append(f"Retry-After over time: {trail}; allowed "
                          + (f"at +{allowed[0] - observations[0][0]:.2f} s" if allowed else "never"))
    first_sent, first_received, first_ra, first_r = observations[0]
    reset_by = min(o[1] + o[2] for o in observations)  # every Retry-After promises: reset no later than this
    after_reset = [o for o in observations if o[0] > reset_by + tolerance]
    if crowd and after_reset:
        _judge_retry_after_shrinks([o for o in observations if o[0] <= reset_by + tolerance], trail)
        pytest.skip(f"the shared generation bucket was crowded by other checks of this run ({crowd}): 429 at "
                    f"+{after_reset[0][0] - first_sent:.2f} s although Retry-After promised the reset by "
                    f"+{reset_by - first_sent:.2f} s, and behind this edge that 429 may be another check's spending "
                    f"({trail}); the Retry-Afters before the reset were judged. Run --criteria R4.7 alone behind "
                    "this edge to decide the reset")
    if allowed is None:
        fail("R4.7", expected=f"a request allowed once Retry-After ({first_ra} s) elapsed (waited up to {window + 1:g} s)",
             seen=f"still 429 after {time.monotonic() - first_received:.2f} s; Retry-After trail {trail}",
             response=observations[-1][3])
    _judge_retry_after_shrinks(observations, trail)
    last_429_sent = observations[-1][0]
    expect(last_429_sent <= reset_by + tolerance, "R4.7",
           expected="once Retry-After has elapsed the request is allowed",
           seen=f"429 at +{last_429_sent - first_sent:.2f} s although a Retry-After promised the reset by "
                f"+{reset_by - first_sent:.2f} s ({trail})", response=observations[-1][3])
    reset_not_before = max(o[0] + o[2] - 1 for o in observations)
    expect(allowed[1] >= reset_not_before - tolerance, "R4.7",
           expected="Retry-After = the whole seconds until the reset (not more)",
           seen=f"allowed at +{allowed[0] - first_sent:.2f} s, before Retry-After said (reset not before "
                f"+{reset_not_before - first_sent:.2f} s; {trail})", response=allowed[2])


def _judge_retry_after_shrinks(observations, trail):
    """While the bucket stays exhausted Retry-After never grows, and it shrinks over 1.2 s or more."""
    first_sent, first_ra = observations[0][0], observations[0][2]
    for earlier, later in zip(observations, observations[1:], strict=False):
        expect(later[2] <= earlier[2], "R4.7", expected="Retry-After never grows while the bucket stays exhausted",
               seen=f"Retry-After {earlier[2]} then {later[2]} ({trail})", response=later[3])
    if observations[-1][0] - first_sent >= 1.2:
        expect(observations[-1][2] < first_ra, "R4.7", expected="Retry-After shrinks as time passes",
               seen=f"Retry-After stayed {first_ra} for {observations[-1][0] - first_sent:.2f} s ({trail})",
               response=observations[-1][3])


# --- R4.9 exempt routes --------------------------------------------------------------------------

EXEMPT = ("/health", "/openapi.json")


@pytest.mark.requirement("R4.9")
@rerun_if_disturbed
def test_health_and_openapi_are_not_limited_for_a_client_whose_buckets_are_exhausted(
        http, target, quota_plan, fresh_identity, findings, recorder):
    """A client throttled on both buckets still gets 200 from /health and /openapi.json."""
    shared = quota_plan.shared_evidence(http, findings, fresh_identity)
    if shared:
        shared.note(recorder, "GET /health and /openapi.json after both bursts")
        for burst, what in ((shared.generation, "generation"), (shared.reads, "read")):
            if burst.responses[-1].status_code != 429:
                shared.require_uncrowded(what)
                require_within_window(burst, target.window_seconds, f"exhausting the shared {what} bucket")
                raise CouldNotDecide(f"could not decide: the shared {what} bucket never throttled: {burst.summary()}")
        _judge_exempt(shared.exempt)
        return
    with quota_plan.clients(http, findings, fresh_identity, ("generation", "read")) as new_client:
        client = new_client()
        for calls, limit, what in (((BLUEPRINTS,), target.generation_limit, "generation"),
                                   (READ_CALLS, target.read_limit, "read")):
            burst = spend_until_limited(http, calls, limit + 3, client)
            require_fresh(burst, f"a fresh client's {what} burst", findings)
            if burst.first_limited() is None:
                require_within_window(burst, target.window_seconds, f"exhausting the {what} bucket")
                raise CouldNotDecide(f"could not decide: the {what} bucket never throttled: {burst.summary()}")
        answers = [http.get(path, identity=client) for path in EXEMPT]
    _judge_exempt(answers)


def _judge_exempt(answers):
    for path, r in zip(EXEMPT, answers, strict=True):
        # Only a rate-limit answer breaks R4.9; a /health that is broken for everyone is R5.1's business.
        expect(r.status_code != 429 and "retry-after" not in r.headers, "R4.9",
               expected=f"GET {path} is not rate limited for a client whose generation and read buckets are "
                        "exhausted (outside rate-limit accounting)",
               seen=f"status {r.status_code}" + (f", Retry-After {r.headers['retry-after']}"
                                                 if "retry-after" in r.headers else ""), response=r)


@pytest.mark.requirement("R4.9")
@rerun_if_disturbed
def test_hammering_health_and_openapi_spends_no_read_quota(http, target, quota_plan, fresh_identity, findings,
                                                           recorder):
    """read_limit + 5 requests to /health and /openapi.json, then the client still has all its reads."""
    limit = target.read_limit
    shared = quota_plan.shared_evidence(http, findings, fresh_identity)
    if shared:
        shared.note(recorder, f"{limit + 5} GET /health, /openapi.json first, then the read burst")
        shared.require_uncrowded("read")
        hammer, reads = shared.hammer, shared.reads
    else:
        with quota_plan.clients(http, findings, fresh_identity, ("read",)) as new_client:
            client = new_client()
            hammer = [http.get(EXEMPT[i % 2], identity=client) for i in range(limit + 5)]
            reads = spend_until_limited(http, READ_CALLS, limit + 3, client)
    recorder.notes.append(f"hammered /health and /openapi.json {len(hammer)} times: "
                          f"{_statuses(hammer[-10:])} (last 10)")
    note_burst(reads, target.window_seconds, "reads after the hammering", recorder)
    refused = next((r for r in hammer if r.status_code == 429), None)
    if refused is not None:
        fail("R4.9", expected=f"{limit + 5} requests to /health and /openapi.json from one client, none rate limited",
             seen=f"status {refused.status_code} for {refused.request.url.path} (request "
                  f"{hammer.index(refused) + 1})", response=refused)
    if reads.first_limited() is None:  # "all allowed" proves something only if no reset refilled the bucket
        require_within_window(reads, target.window_seconds, "the reads after the hammering")
    too_early = reads.limited_too_early(limit, f"the {limit} reads after the hammering")
    if too_early:
        early, response = too_early
        fail("R4.9", expected=f"all {limit} reads allowed after {limit + 5} /health + /openapi.json requests "
                              "(they spend no read token)",
             seen=f"read {reads.where(early)} of {limit} answered 429", response=response)
