"""R4.5 the limiter fails open: while Upstash refuses connections or errors, no generated request
sequence is refused by the limiter (no 429, no 5xx), even one longer than a bucket's limit for one
client. The outage is an operator action (``upstash-outage-refuse`` / ``-error``, then
``upstash-recover`` in a finally): safety disruptive; SKIPPED where the target has no such action."""

from __future__ import annotations

import pytest
from hypothesis import example
from hypothesis import strategies as st

from stackfast_conformance.checks import fail
from stackfast_conformance.properties import (
    GENERATION_ROUTES,
    READ_ROUTES,
    operator_action,
    run_operator_action,
    status_classes,
)

pytestmark = pytest.mark.usefixtures("applicable")

_STEP = st.one_of(
    st.sampled_from(READ_ROUTES).map(lambda p: ("GET", p)),
    st.sampled_from(GENERATION_ROUTES).map(lambda p: ("POST", p)),
    st.just(("POST", "/api/v1/stacks/analyze")),
)


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

    @prop.given(steps=st.lists(_STEP, min_size=1, max_size=target.generation_limit + 5))
    @example(steps=past_generation_limit)
    def every_request_is_let_through(steps):
        identity = fresh_identity()
        statuses = []
        for method, path in steps:
            r = http.request(method, path, identity=identity, content="{}" if method == "POST" else None,
                             headers={"Content-Type": "application/json"} if method == "POST" else None)
            statuses.append(r.status_code)
            if r.status_code == 429 or r.status_code >= 500:
                fail("R4.5", expected=f"every request let through while Upstash is down ({mode}): no 429, no 5xx",
                     seen=f"request {len(statuses)} of {len(steps)} ({method} {path}) answered {r.status_code} "
                     f"{r.text[:100]!r}; statuses so far {status_classes(statuses)}", response=r)

    run_operator_action(outage, recorder)
    try:
        prop.run(every_request_is_let_through, scale=0.1)
    finally:
        run_operator_action(recover, recorder)
