"""R6 Post-deploy verification: a restart of the API keeps each client's bucket count.

Also the black-box evidence for R4.1 (counts live in Upstash, not in an in-process Map):
spend part of a fresh client's generation bucket, restart the API, spend the rest; the request
past the limit is still 429. The whole sequence must fit inside one rate-limit window, or the
bucket could have reset on its own: then the check SKIPs and asks for a longer window.
"""

import time

import pytest
from _ops_checks import Stopwatch, ensure_not_limited, generation_posts, skip_longer_window, statuses

from stackfast_conformance.checks import fail
from stackfast_conformance.operator import Poller


@pytest.mark.requirement("R6.4", "R4.1")
@pytest.mark.safety("disruptive")
def test_bucket_count_survives_an_api_restart(http, operator, target, fresh_identity, recorder,
                                              poll_interval):
    """Spend 2/3 of a bucket, restart-api, spend the rest: request limit+1 is still 429."""
    operator.require("restart-api")
    if not target.settings.opted_in("quota"):
        pytest.skip("not opted in: this check also spends rate-limit quota; opt in with --allow-quota")
    limit, window = target.generation_limit, target.window_seconds
    before_restart = max(1, (limit * 2) // 3)
    identity = fresh_identity()
    clock = Stopwatch()
    spent = generation_posts(http, before_restart, identity)
    ensure_not_limited(spent, f"{before_restart} requests before the restart")
    recorder.mark("note", f"spent {before_restart} of {limit} ({statuses(spent)})")
    restart = operator.run("restart-api")
    # a restart command may return before the new process answers: wait (bounded) for /health
    deadline = time.monotonic() + max(0.0, window - clock.elapsed)
    while not Poller.once(http, "/health", "api", 2.0, lambda r: r.status_code == 200, recorder).ok:
        if time.monotonic() >= deadline:
            skip_longer_window(f"restart-api ({restart.duration_s:.1f} s) and waiting for /health", clock.elapsed,
                               window)
        time.sleep(poll_interval)
    rest = generation_posts(http, limit - before_restart, identity)
    past = http.post("/api/v1/blueprints", json={}, identity=identity)
    elapsed = clock.elapsed
    recorder.mark("note", f"request {limit + 1} -> {past.status_code} ({elapsed:.2f} s after the first)",
                  past.status_code == 429)
    if past.status_code == 429:
        return
    if elapsed >= window:
        skip_longer_window(f"spending {limit + 1} requests around restart-api ({restart.duration_s:.1f} s)",
                           elapsed, window)
    fail("R6.4", expected=f"request {limit + 1} of one client within one window ({window:g} s) answered 429 even "
                          f"though the API restarted after request {before_restart}",
         seen=f"status {past.status_code} ({elapsed:.2f} s after the first request; before the restart: "
              f"{statuses(spent)}; after: {statuses(rest)}): the restart reset the bucket count",
         response=past,
         hint="counts kept in process memory (the old Map limiter) are lost on restart; R4.1 asks for "
              "@upstash/ratelimit + @upstash/redis")
