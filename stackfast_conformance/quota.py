"""Quota planning for the checks that spend rate-limit budget (R4.x, R6.x).

Quota checks give every client they need its own bucket by sending a fresh ``x-forwarded-for``
(``fresh_identity``). That only works when the target honours a client-supplied header, so once
per run (per xdist worker) ``QuotaPlan`` finds out with the cheapest probe: exhaust one fresh
identity's generation bucket, then one request from a second fresh identity must be allowed.

- Honoured: every quota check gets fresh identities and runs independently (also in parallel).
  An advisory finding says that anyone can evade the limits by rotating the header.
- Not honoured (an edge that overwrites the header, or an API that keys everyone alike): every
  client of the run shares one bucket. The checks then run one after another from that one
  identity: before a check the plan drains the buckets it needs and waits out the window (so
  they start fresh), after it waits the window out again (so the next check, of any kind, is not
  throttled by this one). Checks that need two distinct clients cannot be planned and SKIP.

Also here: the small helpers every limiter check uses to send bursts, read ``Retry-After`` and
tell "the target is wrong" from "the bucket was not fresh" (a 429 on the first request of a
fresh identity is never evidence against the limit itself).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

from stackfast_conformance.failures import CouldNotDecide

__all__ = [
    "GENERATION_CALLS",
    "READ_CALLS",
    "Burst",
    "Call",
    "QuotaPlan",
    "edge_is_transparent",
    "parse_retry_after",
    "plan_for",
    "require_fresh",
    "note_burst",
    "require_within_window",
    "spend",
    "spend_until_limited",
]

# Margin added to every wait for a reset, so a window that ends "now" has ended on the server too.
RESET_MARGIN_SECONDS = 0.25


@dataclass(frozen=True)
class Call:
    """One request shape a burst repeats."""

    method: str
    path: str
    json: Any = None
    params: Mapping[str, str] | None = None

    def send(self, http: Any, identity: str | None = None, headers: Mapping[str, str] | None = None) -> Any:
        return http.request(self.method, self.path, json=self.json, params=self.params,
                             identity=identity, headers=headers)

    def __str__(self) -> str:
        query = "?" + "&".join(f"{k}={v}" for k, v in self.params.items()) if self.params else ""
        return f"{self.method} {self.path}{query}"


# Generation bucket: the limiter runs before auth and body validation, so `{}` spends a token
# (and answers 401 without a session, 400 with one) without ever running a generation.
BLUEPRINTS = Call("POST", "/api/v1/blueprints", json={})
SCAFFOLDS = Call("POST", "/api/v1/scaffolds", json={})
GENERATION_CALLS = (BLUEPRINTS, SCAFFOLDS)

# Read bucket: "the remaining /api/v1/* routes" (a 404 for an unknown id still spends a token).
SEARCH = Call("GET", "/api/v1/tools/search", params={"q": "react"})
READ_CALLS = (
    SEARCH,
    Call("GET", "/api/v1/categories"),
    Call("GET", "/api/v1/catalog"),
    Call("GET", "/api/v1/tools/react"),
    Call("GET", "/api/v1/compatibility/react/vite"),
    Call("GET", "/api/v1/migrations/vue/react"),
    Call("POST", "/api/v1/stacks/analyze", json={}),
)

BUCKET_CALLS = {"generation": BLUEPRINTS, "read": Call("GET", "/api/v1/categories")}


@dataclass
class Burst:
    """Responses of a sequential burst, with the time from the first send to the last answer."""

    responses: list[Any] = field(default_factory=list)
    started: float = 0.0
    finished: float = 0.0

    @property
    def elapsed(self) -> float:
        return self.finished - self.started

    @property
    def statuses(self) -> list[int]:
        return [r.status_code for r in self.responses]

    def first_limited(self) -> int | None:
        """1-based position of the first 429, or None."""
        return next((i for i, r in enumerate(self.responses, 1) if r.status_code == 429), None)

    def summary(self) -> str:
        counts: dict[int, int] = {}
        for status in self.statuses:
            counts[status] = counts.get(status, 0) + 1
        spread = ", ".join(f"{n}x{s}" for s, n in sorted(counts.items()))
        return f"{len(self.responses)} requests in {self.elapsed:.2f} s ({spread})"


def spend(http: Any, calls: Sequence[Call], count: int, identity: str | None = None,
          headers: Mapping[str, str] | None = None) -> Burst:
    """Send ``count`` requests cycling through ``calls`` (sequential, one pooled connection)."""
    burst = Burst(started=time.monotonic())
    for i in range(count):
        burst.responses.append(calls[i % len(calls)].send(http, identity, headers))
    burst.finished = time.monotonic()
    return burst


def spend_until_limited(http: Any, calls: Sequence[Call], most: int, identity: str | None = None,
                        headers: Mapping[str, str] | None = None) -> Burst:
    """Send requests cycling through ``calls`` until the first 429 (at most ``most`` requests)."""
    burst = Burst(started=time.monotonic())
    for i in range(most):
        r = calls[i % len(calls)].send(http, identity, headers)
        burst.responses.append(r)
        if r.status_code == 429:
            break
    burst.finished = time.monotonic()
    return burst


def require_fresh(burst: Burst, what: str, findings: Any = None) -> None:
    """A 429 on the very first request of a fresh identity: the bucket was not fresh -> ERROR.

    That is evidence about the bucket key (R4.4, a finding), never about the limit under test.
    """
    if burst.responses and burst.responses[0].status_code == 429:
        first = burst.responses[0]
        detail = (f"the first request of {what} was already 429: the bucket was not fresh, so the "
                  "target does not key its buckets on the client-supplied x-forwarded-for "
                  "(everyone may share one bucket)")
        if findings is not None:
            findings.add("a fresh client identity was throttled at its first request", detail,
                         criteria=("R4.4",), exchange=first)
        raise CouldNotDecide(f"could not decide: {detail}", first.exchange.curl)


def note_burst(burst: Burst, window_seconds: float, what: str, recorder: Any) -> bool:
    """Record the burst's size, statuses and timing in the check's evidence; True if it fitted in one window.

    The time runs from the first send to the last answer: an upper bound of what the server saw.
    """
    within = burst.elapsed < window_seconds
    recorder.mark("burst", what, ok=within, requests=len(burst.responses),
                  elapsed_s=round(burst.elapsed, 3), window_s=window_seconds)
    recorder.notes.append(f"{what}: {burst.summary()}; window {window_seconds:g} s; "
                          + ("all within one window" if within else "NOT within one window"))
    return within


def require_within_window(burst: Burst, window_seconds: float, what: str) -> None:
    """Before concluding from an *allowed* answer: a burst longer than the window proves nothing -> SKIPPED.

    A reset mid-burst explains any extra allowed request, so the check cannot decide; that is the
    harness's limit (too slow a path for this window), not the target's fault, hence a SKIP whose
    reason says how to rerun. An unexpected 429 needs no such guard: a reset never makes a limiter
    stricter.
    """
    if burst.elapsed >= window_seconds:
        pytest.skip(
            f"{what} took {burst.elapsed:.2f} s, longer than the {window_seconds:g} s window (the bucket may have "
            "reset mid-burst), so it cannot show the limit; rerun with a longer --window-seconds or closer to the "
            "target")


def parse_retry_after(value: str | None) -> int | None:
    """The integer number of seconds in a Retry-After header, or None when it is not one."""
    if value is None:
        return None
    text = value.strip()
    return int(text) if text.isdigit() else None


def edge_is_transparent(settings: Any) -> bool:
    """Whether what reaches the API is known to be exactly the client's x-forwarded-for / cf-connecting-ip.

    True for the embedded reference (its edge adds no request headers). For a real deployment the
    harness cannot know: an edge may overwrite or add those headers, so a key that seems to ignore
    them is not by itself evidence against the API.
    """
    return getattr(settings, "profile", None) == "reference"


def wait_for_reset(retry_after: int | None, window_seconds: float, recorder: Any = None, why: str = "") -> float:
    """Sleep until a bucket that just answered 429 has reset; bounded by the window. Returns the wait."""
    wait = retry_after if retry_after is not None and 1 <= retry_after <= window_seconds else window_seconds
    wait = float(wait) + RESET_MARGIN_SECONDS
    if recorder is not None:
        recorder.mark("wait", f"waiting {wait:.2f} s for the bucket to reset" + (f" ({why})" if why else ""))
        recorder.progress("waiting for a rate-limit bucket to reset" + (f" ({why})" if why else ""), seconds=wait)
    time.sleep(wait)
    return wait


class QuotaPlan:
    """Session-wide: does the target honour client-supplied x-forwarded-for? (probed once, lazily).

    The probe runs inside the first quota check that asks, with that check's evidence client, so
    its exchanges are in the report next to the note that states the result.
    """

    def __init__(self, target: Any) -> None:
        self.target = target
        self.honours_forwarded_for: bool | None = None
        self.probed = False
        self.probed_in: str | None = None
        self.summary = ""
        self._lock = threading.Lock()

    # --- the probe -------------------------------------------------------------------------------
    def probe(self, http: Any, findings: Any, new_identity: Callable[[], str]) -> bool | None:
        """Run the probe once; later calls add a note pointing at the probe's result."""
        with self._lock:
            recorder = http.recorder
            if self.probed:
                recorder.notes.append(f"quota plan: {self.summary} (probed in {self.probed_in})")
                return self.honours_forwarded_for
            self.probed, self.probed_in = True, recorder.check
            limit, window = self.target.generation_limit, self.target.window_seconds
            first, second = new_identity(), new_identity()
            recorder.mark("probe", "does the target honour client-supplied x-forwarded-for?")
            burst = spend_until_limited(http, (BLUEPRINTS,), limit + 3, identity=first)
            limited_at = burst.first_limited()
            if limited_at is None:
                self.honours_forwarded_for = None
                self.summary = (f"probe inconclusive: {burst.summary()} from one fresh identity and no 429 — "
                                "the generation limiter did not limit; quota checks use fresh identities "
                                "and decide on their own")
            elif limited_at == 1:
                self.honours_forwarded_for = False
                self.summary = ("target ignores client-supplied x-forwarded-for: a never-used identity got 429 "
                                "at its first request (its bucket is shared)")
            else:
                other = BLUEPRINTS.send(http, second)
                self.honours_forwarded_for = other.status_code != 429
                self.summary = (
                    f"target honours client-supplied x-forwarded-for: after one identity was throttled "
                    f"(429 at request {limited_at}) a second one was answered {other.status_code}"
                    if self.honours_forwarded_for else
                    f"target ignores client-supplied x-forwarded-for: after one identity was throttled "
                    f"(429 at request {limited_at}) a second, never-used one got 429 too (one shared bucket)")
            recorder.mark("probe", self.summary, ok=self.honours_forwarded_for is not False)
            recorder.notes.append("quota plan: " + self.summary)
            if self.honours_forwarded_for:
                findings.add(
                    "client-controlled x-forwarded-for lets anyone evade the rate limits",
                    "The limiter keys buckets on the x-forwarded-for value the client sends (as R4.4 says), "
                    "so a client that rotates the header gets a fresh bucket for every request. Beyond the "
                    "spec: let the edge overwrite the header (or key on the edge's own client address).",
                    criteria=("R4.4",), exchange=burst.responses[-1])
            if self.honours_forwarded_for is False:
                # The probe exhausted the one shared bucket: let it reset before anyone else uses it.
                wait_for_reset(parse_retry_after(burst.responses[-1].headers.get("retry-after")), window,
                               recorder, "the probe exhausted the shared generation bucket")
            return self.honours_forwarded_for

    # --- what a quota check asks for ------------------------------------------------------------
    @contextmanager
    def clients(self, http: Any, findings: Any, new_identity: Callable[[], str],
                buckets: Sequence[str] = ("generation",), distinct: bool = False) -> Iterator[Callable[[], str]]:
        """Yield a callable returning client identities whose ``buckets`` start fresh.

        ``distinct=True``: the check needs clients with separate buckets (SKIP if not honoured).
        """
        honoured = self.probe(http, findings, new_identity)
        if honoured is not False:
            yield new_identity
            return
        rerun = ("rerun against a deployment that honours x-forwarded-for, or with --criteria "
                 "limited to one quota check per window")
        if distinct:
            pytest.skip("target ignores x-forwarded-for: this check needs clients with separate buckets, "
                        f"which the target cannot tell apart; {rerun}")
        if os.environ.get("PYTEST_XDIST_WORKER"):
            pytest.skip("target ignores x-forwarded-for: quota checks need a fresh window each and run one "
                        "after another from the one identity; rerun without --workers (xdist workers would "
                        "share the one bucket)")
        recorder = http.recorder
        window = self.target.window_seconds
        limits = {"generation": self.target.generation_limit, "read": self.target.read_limit}
        for bucket in buckets:
            recorder.mark("plan", f"draining the shared {bucket} bucket, then waiting for its reset")
            burst = spend_until_limited(http, (BUCKET_CALLS[bucket],), limits[bucket] + 3, new_identity())
            if burst.first_limited() is None:
                require_within_window(burst, window, f"draining the shared {bucket} bucket")
                raise CouldNotDecide(f"could not decide: the shared {bucket} bucket never answered 429 "
                                     f"({burst.summary()}), so its window cannot be planned")
            wait_for_reset(parse_retry_after(burst.responses[-1].headers.get("retry-after")), window,
                           recorder, f"fresh {bucket} window for this check")
        try:
            yield new_identity
        finally:
            # Whatever this check left exhausted in the shared bucket resets before the next check.
            wait_for_reset(None, window, recorder, "leave the shared buckets fresh for the next check")


_PLANS: dict[str, QuotaPlan] = {}
_PLANS_LOCK = threading.Lock()


def plan_for(target: Any) -> QuotaPlan:
    """The one ``QuotaPlan`` of this process for ``target`` (keyed by its API URL)."""
    with _PLANS_LOCK:
        key = str(target.api_url)
        if key not in _PLANS:
            _PLANS[key] = QuotaPlan(target)
        return _PLANS[key]
