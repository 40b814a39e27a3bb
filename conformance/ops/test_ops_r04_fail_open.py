"""R4 Rate limiting: if Upstash is unreachable, times out or errors, the request is allowed
and one warning log line names the failure.

For each way the spec names (the operator actions ``upstash-outage-refuse|hang|error``):
a fresh client sends more requests than its bucket holds while Upstash is down — every one
must get the answer it gets without an outage (no 429, no 5xx from the limiter); with a log
command, the outage writes exactly one ``[rate-limit] upstash unavailable: <why>`` line per
window; after ``upstash-recover`` limiting resumes. A request that hangs while the outage lasts (the
route answered before it, /health answers during it) is R4.5 FAILED with both observations
(``outage.py``). The latency the outage adds is recorded
(an advisory finding when it is about a second or more): the slower of two requests sent alone,
since the first one after the outage starts may meet a pooled connection the outage just closed
and fail open at once, while the next one pays what every request pays while the outage lasts.
"""

import statistics
from concurrent.futures import ThreadPoolExecutor

import pytest
from _ops_checks import (
    GENERATION_PATH,
    Stopwatch,
    ensure_not_limited,
    generation_posts,
    skip_longer_window,
    statuses,
)

from stackfast_conformance.checks import expect, fail
from stackfast_conformance.outage import Hung, probe_other_route, request_or_hang, unreachable

WARNING = "[rate-limit] upstash unavailable:"
ALONE_REQUESTS = 2  # the first after the outage starts may fail open at once on a connection it closed
ADVISORY_LATENCY_SECONDS = 0.75  # "seconds": about a second or more (a 1 s client timeout measures ~0.95 s)


@pytest.mark.requirement("R4.5")
@pytest.mark.safety("disruptive")
@pytest.mark.parametrize("mode", ["refuse", "hang", "error"])
def test_limiter_fails_open_while_upstash_is_down(mode, http, operator, target, fresh_identity, findings,
                                                  recorder):
    """Upstash down (refuse | hang | error): requests past the limit allowed, one warning per window."""
    outage = f"upstash-outage-{mode}"
    operator.require(outage, "upstash-recover")
    limit, window = target.generation_limit, target.window_seconds
    baseline = generation_posts(http, 2, fresh_identity())
    ensure_not_limited(baseline, "the baseline requests")
    normal = baseline[-1]
    log_before = operator.logs(WARNING)  # only the warning lines are read and recorded
    clock = Stopwatch()
    operator.run(outage)
    hung = health = None
    try:
        identity = fresh_identity()
        # the outage's cost to one request, without queueing; a limiter without a timeout never answers it.
        # The first request may meet a pooled connection the outage closed (an instant error, fail-open at
        # once); the second shows what each request pays while the outage lasts.
        alones = _alone_or_hang(http, ALONE_REQUESTS, identity)
        burst = [] if isinstance(alones[-1], Hung) else _burst_or_hang(http, limit + 1, identity)
        during = alones + burst  # in the order sent
        hangs = [r for r in during if isinstance(r, Hung)]
        if hangs:  # the first read timeout says most (a pool timeout only queued behind hung requests)
            hung = next((h for h in hangs if h.error == "ReadTimeout"), hangs[0])
            health = probe_other_route(http)  # is the target up while the route hangs?
        log_after = operator.logs(WARNING)
        outage_span = clock.elapsed
    finally:
        operator.run("upstash-recover")

    if hung is not None:
        if len(hangs) > 1:
            recorder.mark("note", f"{len(hangs)} of {len(during)} requests during the outage got no answer", False)
        if health is None:
            raise unreachable(hung, f"the Upstash outage ({mode})")
        fail("R4.5", expected=f"the request allowed while Upstash is down ({mode}), as before the outage",
             seen=f"{hung.describe()} while Upstash was down ({mode}); before the outage the same request "
                  f"answered {normal.status_code} in {normal.exchange.elapsed_ms / 1000:.2f} s, and during it "
                  f"GET /health answered {health.status_code} in {health.exchange.elapsed_ms / 1000:.2f} s: the "
                  "target was up, the rate-limited route waited on Upstash without a timeout",
             curl=hung.curl)

    wrong = [r for r in during if r.status_code != normal.status_code]
    expect(not wrong, "R4.5",
           expected=f"all {len(during)} requests of one client during the Upstash outage ({mode}) allowed: status "
                    f"{normal.status_code} as without the outage, none 429 or 5xx",
           seen=statuses(during), response=wrong[0] if wrong else None)

    # a request sent alone shows the outage's own cost; the burst's requests also queue behind each other
    alone = max(alones, key=lambda r: r.exchange.elapsed_ms)
    added = (alone.exchange.elapsed_ms - normal.exchange.elapsed_ms) / 1000
    burst_median = statistics.median(r.exchange.elapsed_ms / 1000 for r in burst)
    recorder.mark("note", f"Upstash {mode}: +{added:.2f} s for a request alone (slower of "
                          f"{', '.join(f'{r.exchange.elapsed_ms / 1000:.2f}' for r in alones)} s sent one after "
                          f"the other; median of {limit + 1} sent at once: {burst_median:.2f} s)",
                  added < ADVISORY_LATENCY_SECONDS)
    if added >= ADVISORY_LATENCY_SECONDS:
        slowest = max(burst, key=lambda r: r.exchange.elapsed_ms)
        findings.add(f"Upstash outage ({mode}) adds {added:.1f} s to every rate-limited request",
                     f"While Upstash {mode}s, each /api/v1/* request waits for the Upstash client's timeout before "
                     f"it is allowed: +{added:.2f} s for a request alone, {slowest.exchange.elapsed_ms / 1000:.2f} s "
                     f"for the slowest of {limit + 1} concurrent requests. A shorter Upstash timeout keeps the API "
                     "responsive during an outage.",
                     criteria=("R4.5",), exchange=slowest)

    if log_before is None:
        recorder.mark("note", "no log command configured (operator.logs): warning lines not checked")
    else:
        new = (log_after or [])[len(log_before):]
        allowed = int(outage_span // window) + 1
        expect(1 <= len(new) <= allowed, "R4.5",
               expected=f"one '{WARNING} <why>' log line per window of the outage ({outage_span:.1f} s with a "
                        f"{window:g} s window: 1 to {allowed} lines)",
               seen=f"{len(new)} such lines" + (f", e.g. {new[0].strip()[:160]!r}" if new else ""))
        unnamed = [line for line in new if not line.split(WARNING, 1)[1].strip()]
        expect(not unnamed, "R4.5", expected="the warning names the failure after the colon",
               seen=f"{unnamed[0].strip()!r}" if unnamed else "")

    identity = fresh_identity()
    clock = Stopwatch()
    after = generation_posts(http, limit + 1, identity)
    if after[-1].status_code != 429:
        ensure_not_limited(after[:-1], "after recovery")
        if clock.elapsed >= window:
            skip_longer_window(f"{limit + 1} requests after recovery", clock.elapsed, window)
    expect(after[-1].status_code == 429, "R4.5",
           expected=f"limiting resumes after upstash-recover: request {limit + 1} of a client within one window "
                    "answered 429",
           seen=f"{statuses(after)}", response=after[-1])


def _alone_or_hang(http, count: int, identity: str) -> list:
    """Up to ``count`` generation POSTs one after the other as ``identity``; stops at the first ``Hung``."""
    sent: list = []
    while len(sent) < count and not (sent and isinstance(sent[-1], Hung)):
        sent.append(request_or_hang(http, "POST", GENERATION_PATH, json={}, identity=identity))
    return sent


def _burst_or_hang(http, count: int, identity: str) -> list:
    """``count`` generation POSTs at once as ``identity``; each a response or a ``Hung``."""
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(lambda _: request_or_hang(http, "POST", GENERATION_PATH, json={}, identity=identity),
                             range(count)))
