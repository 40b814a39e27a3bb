"""R4.5 the limiter fails open: while Upstash refuses connections or errors, no generated request
sequence is refused by the limiter (no 429, no 5xx the same request does not get without the outage),
even one longer than a bucket's limit for one client. Each request is judged against its no-outage
baseline (a 503 a route answers anyway, e.g. "Authentication is not configured", is not the limiter);
a request that hangs while /health answers is the target's too (``outage.py``). The outage is an
operator action (``upstash-outage-refuse`` / ``-error``, then ``upstash-recover`` in a finally): safety disruptive; SKIPPED where the target has no such action."""

from __future__ import annotations

import pytest
from hypothesis import example
from hypothesis import strategies as st

from stackfast_conformance.checks import fail
from stackfast_conformance.outage import Hung, probe_other_route, request_or_hang, unreachable
from stackfast_conformance.properties import (
    GENERATION_ROUTES,
    READ_ROUTES,
    operator_action,
    run_operator_action,
    status_classes,
)

pytestmark = pytest.mark.usefixtures("applicable")

_STEPS = ([("GET", p) for p in READ_ROUTES] + [("POST", p) for p in GENERATION_ROUTES]
          + [("POST", "/api/v1/stacks/analyze")])
_STEP = st.sampled_from(_STEPS)


@pytest.mark.requirement("R4.5")
@pytest.mark.safety("disruptive")
@pytest.mark.parametrize("mode", ["refuse", "error"])
def test_no_request_is_refused_while_upstash_is_down(http, target, fresh_identity, recorder, prop, mode):
    """During the outage every request of a generated sequence (up to past a bucket's limit, one client)
    is let through: never 429, never a 5xx."""
    outage = operator_action(target, f"upstash-outage-{mode}")
    recover = operator_action(target, "upstash-recover")
    if outage is None or recover is None:
        pytest.skip(f"no operator actions upstash-outage-{mode} and upstash-recover configured for this target "
                    "(profile file 'operator:')")
    past_generation_limit = [("POST", GENERATION_ROUTES[0])] * (target.generation_limit + 3)
    # what each request answers without the outage (a fresh client each): a 503 the route gives anyway
    # (e.g. "Authentication is not configured" without a database) is not the limiter refusing
    baseline = {step: _send(http, *step, fresh_identity()) for step in _STEPS}
    hung: list[tuple[Hung, object]] = []

    @prop.given(steps=st.lists(_STEP, min_size=1, max_size=target.generation_limit + 5))
    @example(steps=past_generation_limit)
    def every_request_is_let_through(steps):
        if hung:
            return  # one hang is the verdict; more would only wait for more timeouts
        identity = fresh_identity()
        statuses = []
        for method, path in steps:
            r = _send(http, method, path, identity)
            if isinstance(r, Hung):
                hung.append((r, probe_other_route(http)))
                return  # judged after the outage, with /health's answer during it
            statuses.append(r.status_code)
            normal = baseline[(method, path)]
            refused = r.status_code == 429 or (r.status_code >= 500 and r.status_code != _status(normal))
            if refused:
                fail("R4.5", expected=f"every request let through while Upstash is down ({mode}): no 429, and no "
                                      f"5xx the request does not get without the outage ({_status(normal)})",
                     seen=f"request {len(statuses)} of {len(steps)} ({method} {path}) answered {r.status_code} "
                     f"{r.text[:100]!r}; statuses so far {status_classes(statuses)}", response=r)

    run_operator_action(outage, recorder)
    try:
        prop.run(every_request_is_let_through, scale=0.1)
    finally:
        run_operator_action(recover, recorder)
    if hung:
        request, health = hung[0]
        if health is None:
            raise unreachable(request, f"the Upstash outage ({mode})")
        normal = baseline[(request.method, request.path)]
        fail("R4.5", expected=f"every request let through while Upstash is down ({mode})",
             seen=f"{request.describe()} while Upstash was down ({mode}); without the outage it answered "
                  f"{_status(normal)}, and during it GET /health answered {health.status_code}: the target was up",
             curl=request.curl)


def _send(http, method, path, identity):
    """One step as the property sends it: the response, or ``Hung`` when the target never answered."""
    post = method == "POST"
    return request_or_hang(http, method, path, identity=identity, content="{}" if post else None,
                           headers={"Content-Type": "application/json"} if post else None)


def _status(response) -> int | None:
    return getattr(response, "status_code", None)
