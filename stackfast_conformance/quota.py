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

A burst through a noisy edge is judged with bounds (``Burst``): a request the edge answered with its
own 502/503 page never reached the service (no token spent), so the burst counts it as not sent and
sends it again; a request whose connection was lost after it was sent *may* have spent a token
(``Disturbance.reached == "maybe"``); one lost after the status line is the target's answer (its
status is known). With ``c`` answers before a request and ``m`` "maybe" requests among them, the
target had spent between ``c`` and ``c + m`` tokens: a check FAILS only when even the most favourable
reading breaks the criterion, PASSES when every reading satisfies it, and otherwise the burst proves
nothing (``BurstDisturbed``: the check runs again with fresh identities, ``rerun_if_disturbed``).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from stackfast_conformance import _transient
from stackfast_conformance.failures import CouldNotDecide, TransientFault

__all__ = [
    "GENERATION_CALLS",
    "READ_CALLS",
    "Burst",
    "BurstDisturbed",
    "Call",
    "Disturbance",
    "QuotaPlan",
    "edge_is_transparent",
    "parse_retry_after",
    "plan_for",
    "require_fresh",
    "note_burst",
    "send_answered",
    "require_within_window",
    "rerun_if_disturbed",
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

    def send_once(self, http: Any, identity: str | None = None, headers: Mapping[str, str] | None = None) -> Any:
        """One request, never retried by the client: a retry would spend a token the check does not count.
        A gateway answer comes back marked ``.transient`` (see ``_transient.py``); an answer whose body
        was cut after the status line counts (quota checks judge status and headers only)."""
        return http.request(self.method, self.path, json=self.json, params=self.params,
                             identity=identity, headers=headers, retry=False, status_only=True)

    def send(self, http: Any, identity: str | None = None, headers: Mapping[str, str] | None = None) -> Any:
        """One request outside a burst until the target answers (``send_answered``): the single probes of
        the quota checks (a never-used client, a request after a bucket is exhausted) are far from the
        limit, so a disturbed attempt that may have spent one more token changes none of their answers."""
        return send_answered(http, self, identity, headers, Burst(started=time.monotonic()))

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
# Outside rate-limit accounting (R4.9).
EXEMPT_PATHS = ("/health", "/openapi.json")


@dataclass(frozen=True)
class Disturbance:
    """A burst request the network disturbed, in the order of the burst.

    ``at``: answers the burst had before it; ``reached``: "no" (the edge answered instead of the service,
    or no connection: no token spent, the burst sends it again) or "maybe" (sent, no answer came back:
    a token may have been spent).
    """

    at: int
    what: str
    reached: str
    exchange: str


@dataclass
class Burst:
    """Answers of a sequential burst (``responses``; the target's own only), the requests the network
    disturbed (``disturbed``), and the time from the first send to the last answer."""

    responses: list[Any] = field(default_factory=list)
    started: float = 0.0
    finished: float = 0.0
    disturbed: list[Disturbance] = field(default_factory=list)

    @property
    def elapsed(self) -> float:
        return self.finished - self.started

    @property
    def statuses(self) -> list[int]:
        return [r.status_code for r in self.responses]

    def first_limited(self) -> int | None:
        """1-based position of the first 429 among the answers, or None."""
        return next((i for i, r in enumerate(self.responses, 1) if r.status_code == 429), None)

    def maybe_spent_before(self, answers: int) -> int:
        """Disturbed requests that may have spent a token before the answer with 0-based index ``answers``."""
        return sum(1 for d in self.disturbed if d.reached == "maybe" and d.at <= answers)

    def head(self, answers: int) -> Burst:
        """The burst up to its first ``answers`` answers (with the disturbances among them)."""
        return Burst(self.responses[:answers], self.started, self.finished,
                     [d for d in self.disturbed if d.at < answers])

    def limited_too_early(self, limit: int, what: str) -> tuple[int, Any] | None:
        """Judge "the first ``limit`` requests of a fresh bucket are admitted" with bounds.

        The first 429 came after ``c`` answers with ``m`` possibly spent tokens before it: the target had
        spent between ``c`` and ``c + m``. Returns (position, response) when even ``c + m < limit`` (the
        limit is broken under every reading); None when no 429 came before ``limit`` answers (every
        reading satisfies it); raises ``BurstDisturbed`` when only the readings disagree.
        """
        early = self.first_limited()
        if early is None or early > limit:
            return None
        maybe = self.maybe_spent_before(early - 1)
        if early - 1 + maybe < limit:
            return early, self.responses[early - 1]
        raise BurstDisturbed(_transient.reason(
            [d.what for d in self.disturbed if d.reached == "maybe" and d.at < early],
            f"in {what}: 429 after {early - 1} answers, and {maybe} disturbed request(s) before it may or may "
            f"not have spent a token (between {early - 1} and {early - 1 + maybe} spent of {limit}), so the "
            "burst cannot show whether the limit was reached early"))

    def limited_too_late(self, limit: int, what: str) -> tuple[int, Any] | None:
        """Judge "no request beyond the first ``limit`` is admitted" (the request after ``limit`` answers: 429).

        An answer admitted after ``c >= limit`` answers breaks it under every reading: returns (position,
        response). The first 429 after ``c`` answers with ``m`` possibly spent tokens before it bounds the
        limit by ``c + m``: None when ``c + m <= limit`` (every reading satisfies it); otherwise a limit
        up to ``c + m`` would have answered the same, and ``BurstDisturbed`` says the burst cannot tell.
        """
        for position, r in enumerate(self.responses[limit:], limit + 1):
            if r.status_code != 429:
                return position, r
        early = self.first_limited()
        if early is None:
            return None  # fewer than limit + 1 answers: the caller judges what it has
        maybe = self.maybe_spent_before(early - 1)
        if early - 1 + maybe <= limit:
            return None
        raise BurstDisturbed(_transient.reason(
            [d.what for d in self.disturbed if d.reached == "maybe" and d.at < early],
            f"in {what}: the first 429 came after {early - 1} answers, and {maybe} disturbed request(s) before it "
            f"may have spent a token, so a limit of up to {early - 1 + maybe} (not {limit}) would have answered "
            "the same"))

    def where(self, position: int) -> str:
        """"request 31" or, with disturbances before it, "answer 31 (2 disturbed requests before it: …)"."""
        before = [d for d in self.disturbed if d.at < position]
        if not before:
            return f"request {position}"
        maybe = sum(1 for d in before if d.reached == "maybe")
        return (f"answer {position} ({len(before)} disturbed request(s) before it, {maybe} of which may have "
                f"spent a token: {_transient.describe(d.what for d in before)})")

    def summary(self) -> str:
        counts: dict[int, int] = {}
        for status in self.statuses:
            counts[status] = counts.get(status, 0) + 1
        spread = ", ".join(f"{n}x{s}" for s, n in sorted(counts.items()))
        disturbed = ""
        if self.disturbed:
            maybe = sum(1 for d in self.disturbed if d.reached == "maybe")
            disturbed = (f"; {len(self.disturbed)} more disturbed by the network, {maybe} of which may have spent "
                         f"a token ({_transient.describe(d.what for d in self.disturbed)})")
        return f"{len(self.responses)} answers in {self.elapsed:.2f} s ({spread}){disturbed}"


class BurstDisturbed(TransientFault):
    """The network disturbed a burst so that its bounds cannot decide (``Burst.limited_too_early``), or
    so often that it could not be sent. ``rerun_if_disturbed`` runs the check again with fresh identities."""


# A burst sends at most this many requests beyond the answers it needs; the rest is a dead edge.
def _spare_sends(answers: int) -> int:
    return max(8, answers // 2)


def _send_counted(http: Any, call: Call, identity: str | None, headers: Mapping[str, str] | None,
                  burst: Burst) -> Any | None:
    """One request of ``burst``: the target's answer, or None when the network disturbed it (recorded in
    ``burst.disturbed``; the burst's bounds account for it, so it is no unresolved gateway error)."""
    recorder = getattr(http, "recorder", None)
    before = len(_transient.unresolved(recorder)) if recorder is not None else 0
    try:
        r = call.send_once(http, identity, headers)
    except TransientFault as exc:
        what = getattr(exc, "what", None) or str(exc).splitlines()[0]
        reached, exchange = getattr(exc, "reached", "maybe"), ""
        if recorder is not None and recorder.exchanges:
            exchange = recorder.exchanges[-1].id
    else:
        if not getattr(r, "transient", None):
            return r
        what, reached, exchange = r.transient, getattr(r, "reached", "maybe"), r.exchange.id
    if recorder is not None:
        _transient.mark_resolved(recorder, before)
    burst.disturbed.append(Disturbance(len(burst.responses), what, reached, exchange))
    return None


def send_answered(http: Any, call: Call, identity: str | None, headers: Mapping[str, str] | None,
                  burst: Burst, attempts: int = 4) -> Any:
    """Send ``call`` until the target answers (at most ``attempts`` times); the answer joins ``burst``."""
    for _ in range(attempts):
        r = _send_counted(http, call, identity, headers, burst)
        if r is not None:
            burst.responses.append(r)
            burst.finished = time.monotonic()
            return r
    raise _disturbed(burst, f"{call} was disturbed {attempts} times in a row")


def _disturbed(burst: Burst, context: str) -> BurstDisturbed:
    return BurstDisturbed(_transient.reason([d.what for d in burst.disturbed],
                                            f"in a burst ({context}): the target's own answers are too few "
                                            "to judge"))


def spend(http: Any, calls: Sequence[Call], count: int, identity: str | None = None,
          headers: Mapping[str, str] | None = None) -> Burst:
    """Collect ``count`` answers cycling through ``calls`` (sequential, one pooled connection).

    A disturbed request is not an answer: the same call goes again (bounded by ``_spare_sends``).
    """
    burst = Burst(started=time.monotonic())
    for _ in range(count + _spare_sends(count)):
        if len(burst.responses) >= count:
            break
        r = _send_counted(http, calls[len(burst.responses) % len(calls)], identity, headers, burst)
        if r is not None:
            burst.responses.append(r)
    burst.finished = time.monotonic()
    if len(burst.responses) < count:
        raise _disturbed(burst, f"{len(burst.responses)} answers of {count}")
    return burst


def spend_until_limited(http: Any, calls: Sequence[Call], most: int, identity: str | None = None,
                        headers: Mapping[str, str] | None = None) -> Burst:
    """Collect answers cycling through ``calls`` until the first 429 (at most ``most`` answers)."""
    burst = Burst(started=time.monotonic())
    for _ in range(most + _spare_sends(most)):
        if len(burst.responses) >= most or burst.first_limited():
            break
        r = _send_counted(http, calls[len(burst.responses) % len(calls)], identity, headers, burst)
        if r is not None:
            burst.responses.append(r)
    burst.finished = time.monotonic()
    if len(burst.responses) < most and not burst.first_limited():
        raise _disturbed(burst, f"{len(burst.responses)} answers and no 429 yet")
    return burst


# A burst's disturbance costs one more burst (no window waits): a check is redone this often at most.
RERUNS = 5


def rerun_if_disturbed(check: Callable[..., None]) -> Callable[..., None]:
    """Run a quota check again (fresh identities) when the network left one of its bursts undecided.

    Each attempt is an independent experiment with new buckets, costing one burst; after ``RERUNS``
    reruns: ERROR ``TransientFault`` ("transient: ..."), never FAILED. The earlier attempts' exchanges stay
    in the evidence, with a note.
    """

    @functools.wraps(check)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        recorder = kwargs.get("recorder") or getattr(kwargs.get("http"), "recorder", None)
        for attempt in range(1, RERUNS + 2):
            before = len(_transient.unresolved(recorder)) if recorder is not None else 0
            try:
                check(*args, **kwargs)
                return
            except BurstDisturbed as exc:
                if attempt == RERUNS + 1 or recorder is None:
                    raise
                _transient.mark_resolved(recorder, before)
                recorder.notes.append(f"burst disturbed (attempt {attempt}), the check runs again with fresh "
                                      f"identities: {str(exc).splitlines()[0]}")
                recorder.mark("retry", "burst disturbed by a gateway error: rerun with fresh identities", ok=False)

    return wrapper


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


def edge_is_transparent(target: Any) -> bool:
    """Whether what reaches the API is known to be exactly the client's x-forwarded-for / cf-connecting-ip.

    True for the embedded reference (its edge adds no request headers), unless it runs the
    ``xff-blind`` variant (an edge that overwrites x-forwarded-for, as Railway's does). For a real
    deployment the harness cannot know: an edge may overwrite or add those headers, so a key that
    seems to ignore them is not by itself evidence against the API. Takes a ``Target`` (or settings).
    """
    settings = getattr(target, "settings", target)
    if getattr(settings, "profile", None) != "reference":
        return False
    reference = getattr(target, "reference", None)
    state = getattr(reference, "state", None) or {}
    switches = set(state.get("variants") or ()) | set(state.get("faults") or ())
    return "xff-blind" not in switches


def wait_for_reset(retry_after: int | None, window_seconds: float, recorder: Any = None, why: str = "") -> float:
    """Sleep until a bucket that just answered 429 has reset; bounded by the window. Returns the wait."""
    wait = retry_after if retry_after is not None and 1 <= retry_after <= window_seconds else window_seconds
    wait = float(wait) + RESET_MARGIN_SECONDS
    if recorder is not None:
        recorder.mark("wait", f"waiting {wait:.2f} s for the bucket to reset" + (f" ({why})" if why else ""))
        recorder.progress("waiting for a rate-limit bucket to reset" + (f" ({why})" if why else ""), seconds=wait)
    time.sleep(wait)
    return wait


class _PlanFile:
    """The run's quota plan on disk, shared by every process of the run (xdist workers) under a lock.

    ``<report dir>/.quota-plan/plan-<target hash>.json`` (one report dir per run, shared by the CLI's two phases, so
    the serial phase does not probe again); without a report dir, one per process. Holding the lock,
    the first quota check probes (and, for a shared bucket, gathers the shared evidence); every other
    check waits for the lock and reads what it found.
    """

    def __init__(self, target: Any) -> None:
        report_dir = getattr(getattr(target, "settings", None), "report_dir", None)
        directory = Path(report_dir) if report_dir else Path(tempfile.gettempdir()) / f"stackfast-{os.getpid()}"
        self.directory = directory / ".quota-plan"
        key = f"{getattr(target, 'api_url', '')}|{getattr(target, 'window_seconds', '')}"
        self.path = self.directory / f"plan-{hashlib.sha256(key.encode()).hexdigest()[:12]}.json"

    @contextmanager
    def locked(self) -> Iterator[dict[str, Any]]:
        """Hold the run's lock; yield the plan (a dict) and write back whatever the caller changed."""
        import fcntl

        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                data = json.loads(self.path.read_text()) if self.path.is_file() else {}
                before = json.dumps(data, sort_keys=True)
                yield data
                if json.dumps(data, sort_keys=True) != before:
                    tmp = self.path.with_suffix(".tmp")
                    tmp.write_text(json.dumps(data))
                    tmp.replace(self.path)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


class Observed:
    """A response the shared session recorded, read back by any check (status, Retry-After, curl)."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = dict(data)
        self.status_code = int(data["status"])
        self.headers = dict(data.get("headers") or {})
        self.exchange = SimpleNamespace(id=data["exchange"], curl=data["curl"], elapsed_ms=data["elapsed_ms"])
        self.request = SimpleNamespace(method=data["method"], url=SimpleNamespace(path=data["path"]))
        self.transient = None

    @classmethod
    def of(cls, response: Any) -> dict[str, Any]:
        headers = {k: response.headers[k] for k in ("retry-after",) if k in response.headers}
        return {"status": response.status_code, "headers": headers, "method": response.request.method,
                "path": response.request.url.path, "exchange": response.exchange.id, "curl": response.exchange.curl,
                "elapsed_ms": response.exchange.elapsed_ms}


def _burst_data(burst: Burst) -> dict[str, Any]:
    return {"responses": [Observed.of(r) for r in burst.responses], "started": burst.started,
            "finished": burst.finished, "disturbed": [d.__dict__ for d in burst.disturbed]}


def _burst_of(data: Mapping[str, Any]) -> Burst:
    return Burst([Observed(r) for r in data["responses"]], float(data["started"]), float(data["finished"]),
                 [Disturbance(**d) for d in data.get("disturbed", ())])


@dataclass
class SharedEvidence:
    """What one run of the shared session saw; every quota check judges its part of it.

    Order (one client, the edge's address): ``hammer`` (read_limit + 5 GET /health, /openapi.json),
    ``generation`` (generation_limit requests alternating blueprints/scaffolds, then one more on each),
    ``reads`` (read_limit requests over every read route, then one more on each; the first of those is a
    search), ``exempt`` (GET /health, /openapi.json with both buckets exhausted), ``countdown`` (the
    generation 429's Retry-After watched until a request is allowed). Clocks are ``time.monotonic``
    (system-wide on Linux, so comparable across the run's processes).
    """

    gathered_in: str
    exchanges: str
    hammer: list[Observed]
    generation: Burst
    reads: Burst
    exempt: list[Observed]
    countdown: list[tuple[float, float, Observed]]  # (sent, received, response), 429s then the allowed one
    crowded: dict[str, str]  # bucket -> why its "first N allowed" cannot be judged (other checks spent it)

    @classmethod
    def load(cls, data: Mapping[str, Any]) -> SharedEvidence:
        return cls(data["gathered_in"], data["exchanges"], [Observed(r) for r in data["hammer"]],
                   _burst_of(data["generation"]), _burst_of(data["reads"]), [Observed(r) for r in data["exempt"]],
                   [(float(s), float(g), Observed(r)) for s, g, r in data["countdown"]], dict(data["crowded"]))

    def note(self, recorder: Any, what: str) -> None:
        recorder.notes.append(
            f"quota plan: the target cannot tell clients apart, so every quota check judges the one shared "
            f"session gathered in {self.gathered_in} (exchanges {self.exchanges}); this check's part: {what}")

    def require_uncrowded(self, bucket: str) -> None:
        """SKIP a judgement of "the first N allowed" when the run's other checks spent the shared bucket too."""
        if bucket in self.crowded:
            pytest.skip(f"cannot decide from the shared {bucket} bucket: {self.crowded[bucket]}; rerun with "
                        "--criteria limited to the rate-limit criteria (R4.2,R4.3,R4.7,R4.9,R6.1-R6.3) so the "
                        "quota checks have the target to themselves")


# The criteria whose checks, behind an edge that hides the clients, only read the shared session (R4.4's
# checks SKIP after the probe): a run limited to them sends nothing else to the shared buckets.
SHARED_SESSION_CRITERIA = frozenset({"R4.2", "R4.3", "R4.4", "R4.7", "R4.9", "R6.1", "R6.2", "R6.3"})


class QuotaPlan:
    """Run-wide: does the target honour client-supplied x-forwarded-for? (probed once per run, lazily).

    The probe runs inside the first quota check that asks (in whichever xdist worker), with that
    check's evidence client, so its exchanges are in the report next to the note that states the
    result; the plan file (``_PlanFile``) gives the answer to every other process.

    - Honoured (or inconclusive): ``clients()`` yields fresh identities; every check bursts on its own.
    - Not honoured: one bucket per route family for the whole run. ``shared_evidence()`` then runs the
      *shared session* once (in the first check that asks, under the run's lock) and every quota check
      judges its part of it: about one window for the probe's reset and one for R4.7's countdown,
      instead of one or two windows per check. Checks that need clients with separate buckets SKIP.
    """

    def __init__(self, target: Any) -> None:
        self.target = target
        self.honours_forwarded_for: bool | None = None
        self.probed = False
        self.probed_in: str | None = None
        self.summary = ""
        self._lock = threading.Lock()
        self._file = _PlanFile(target)
        self._shared: SharedEvidence | None = None

    # --- the probe -------------------------------------------------------------------------------
    def probe(self, http: Any, findings: Any, new_identity: Callable[[], str]) -> bool | None:
        """Run the probe once per run; later calls add a note pointing at the probe's result."""
        with self._lock:
            recorder = http.recorder
            if not self.probed:
                with self._file.locked() as plan:
                    if "probe" not in plan:
                        plan["probe"] = self._run_probe(http, findings, new_identity)
                        self.probed = True
                        return self.honours_forwarded_for
                    found = plan["probe"]
                    self.honours_forwarded_for = found["honours"]
                    self.summary, self.probed_in, self.probed = found["summary"], found["probed_in"], True
            recorder.notes.append(f"quota plan: {self.summary} (probed in {self.probed_in})")
            return self.honours_forwarded_for

    def _run_probe(self, http: Any, findings: Any, new_identity: Callable[[], str]) -> dict[str, Any]:
        recorder = http.recorder
        self.probed_in = recorder.check
        limit, window = self.target.generation_limit, self.target.window_seconds
        first, second = new_identity(), new_identity()
        recorder.mark("probe", "does the target honour client-supplied x-forwarded-for?")
        for attempt in (1, 2):
            try:
                burst = spend_until_limited(http, (BLUEPRINTS,), limit + 3, identity=first)
                break
            except BurstDisturbed as exc:  # the probe decides the whole plan: once more with a fresh identity
                if attempt == 2:
                    raise
                recorder.notes.append(f"quota plan: probe disturbed ({str(exc).splitlines()[0]}); probing again")
                first = new_identity()
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
            # The probe exhausted the one shared bucket: let it reset before the shared session uses it.
            wait_for_reset(parse_retry_after(burst.responses[-1].headers.get("retry-after")), window,
                           recorder, "the probe exhausted the shared generation bucket")
        return {"honours": self.honours_forwarded_for, "summary": self.summary, "probed_in": self.probed_in}

    # --- what a quota check asks for ------------------------------------------------------------
    @contextmanager
    def clients(self, http: Any, findings: Any, new_identity: Callable[[], str],
                buckets: Sequence[str] = ("generation",), distinct: bool = False) -> Iterator[Callable[[], str]]:
        """Yield a callable returning client identities whose ``buckets`` start fresh.

        ``distinct=True``: the check needs clients with separate buckets (SKIP if not honoured). A check
        that can judge the shared session calls ``shared_evidence`` first; one that cannot SKIPs here.
        """
        honoured = self.probe(http, findings, new_identity)
        if honoured is not False:
            yield new_identity
            return
        if distinct:
            pytest.skip("target ignores x-forwarded-for: this check needs clients with separate buckets, "
                        "which the target cannot tell apart; rerun against a deployment that honours "
                        "x-forwarded-for (R4.4 cannot be observed through this edge)")
        pytest.skip("target ignores x-forwarded-for: this check needs a bucket of its own, and every client of "
                    "the run shares one; the shared session's checks decide the rate-limit criteria")

    def crowd(self) -> str | None:
        """Who else may spend the shared buckets while the shared session runs; None when nobody can.

        Behind an edge that hides the clients every request of the run shares one bucket per route
        family. A run limited to ``SHARED_SESSION_CRITERIA`` sends nothing else to them (those checks
        wait for the shared session under the run's lock); any other run has checks in parallel
        (the SPA's sign-in, properties, auth checks) that spend the generation bucket as soon as it resets.
        """
        selected = set(getattr(getattr(self.target, "settings", None), "criteria", ()) or ())
        if selected and selected <= SHARED_SESSION_CRITERIA:
            return None
        return ("the run's other checks (" + (", ".join(sorted(selected - SHARED_SESSION_CRITERIA)[:6])
                                              if selected else "every criterion selected")
                + ") send requests into the same buckets in parallel")

    def shared_evidence(self, http: Any, findings: Any, new_identity: Callable[[], str]) -> SharedEvidence | None:
        """None when clients can be told apart; else the run's one shared session (gathered on first use)."""
        if self.probe(http, findings, new_identity) is not False:
            return None
        with self._lock:
            if self._shared is None:
                with self._file.locked() as plan:
                    if "shared" not in plan:
                        plan["shared"] = self._gather(http, new_identity)
                    data = plan["shared"]
                if data.get("error"):
                    http.recorder.notes.append(f"quota plan: the shared session failed in {data['gathered_in']}")
                    raise TransientFault(data["error"]) if data.get("transient") else CouldNotDecide(data["error"])
                self._shared = SharedEvidence.load(data)
        return self._shared

    def _gather(self, http: Any, new_identity: Callable[[], str]) -> dict[str, Any]:
        recorder = http.recorder
        first_exchange = len(recorder.exchanges)
        for attempt in (1, 2):
            before = len(_transient.unresolved(recorder))
            try:
                data = self._session(http, new_identity(), recorder)
                break
            except BurstDisturbed as exc:
                _transient.mark_resolved(recorder, before)
                reason = str(exc).splitlines()[0]
                recorder.notes.append(f"quota plan: shared session disturbed ({reason})")
                if attempt == 2:
                    return {"error": reason + " (the shared session was disturbed twice)", "transient": True,
                            "gathered_in": recorder.check}
                wait_for_reset(None, self.target.window_seconds, recorder, "a disturbed shared session starts over")
            except CouldNotDecide as exc:
                return {"error": str(exc).splitlines()[0], "transient": isinstance(exc, TransientFault),
                        "gathered_in": recorder.check}
        ids = [x.id for x in recorder.exchanges[first_exchange:]]
        data["gathered_in"] = recorder.check
        data["exchanges"] = f"{ids[0]} … {ids[-1]}" if ids else "none"
        return data

    def _session(self, http: Any, client: str, recorder: Any) -> dict[str, Any]:
        target = self.target
        window, g_limit, r_limit = target.window_seconds, target.generation_limit, target.read_limit
        crowded: dict[str, str] = {}
        recorder.mark("plan", "shared session: one exhausted bucket per route family serves every quota check")
        recorder.progress("shared rate-limit session: both buckets once, then Retry-After until the reset")
        hammer = [http.get(EXEMPT_PATHS[i % 2], identity=client) for i in range(r_limit + 5)]

        crowd = self.crowd()

        def exhaust(calls: Sequence[Call], limit: int, bucket: str) -> tuple[Burst, list[Any]]:
            for attempt in (1, 2):
                burst = spend(http, calls, limit, client)
                over = [send_answered(http, call, client, None, burst) for call in calls]
                early = burst.first_limited()
                if crowd and early is None and all(r.status_code != 429 for r in over):
                    # another check's request may have opened the bucket's window before this burst, so it
                    # reset in the middle of it: no evidence while others share the bucket
                    why = f"no 429 after {burst.summary()} ({crowd}; one may have opened the window earlier)"
                    if attempt == 1:
                        recorder.notes.append(f"shared {bucket} bucket: {why}; once more")
                        continue
                    crowded[bucket] = why
                    return burst, over
                if early is None or early > limit:
                    return burst, over
                if early - 1 + burst.maybe_spent_before(early - 1) >= limit:
                    # a disturbed request may explain the early 429: once more, then the checks' bounds decide
                    if attempt == 2:
                        return burst, over
                    why = f"429 at answer {early}, after disturbed requests that may have spent tokens"
                    recorder.notes.append(f"shared {bucket} bucket: {why}; once more after a reset")
                    wait_for_reset(None, window, recorder, f"the shared {bucket} burst was disturbed")
                    continue
                why = (f"429 already at request {early} of {limit} (the run's other checks share the bucket, "
                       "or it had not reset)")
                if attempt == 1:
                    recorder.notes.append(f"shared {bucket} bucket: {why}; once more after a reset")
                    wait_for_reset(parse_retry_after(burst.responses[early - 1].headers.get("retry-after")),
                                   window, recorder, f"the shared {bucket} bucket was not fresh")
                    continue
                crowded[bucket] = why
            return burst, over

        generation, over_generation = exhaust(GENERATION_CALLS, g_limit, "generation")
        reads, _ = exhaust(READ_CALLS, r_limit, "read")
        exempt = [http.get(path, identity=client) for path in EXEMPT_PATHS]
        countdown: list[tuple[float, float, Any]] = []
        first = over_generation[0]
        long_wait = target.profile == "production" and window > 10  # as R4.7's own check: no waiting there
        if first.status_code == 429 and not long_wait:
            received = generation.finished
            countdown.append((received - first.exchange.elapsed_ms / 1000, received, first))
            deadline, interval = received + window + 1, max(0.2, window / 50)
            recorder.progress("R4.7: watching Retry-After count down until the shared bucket resets")
            while time.monotonic() < deadline:
                time.sleep(interval)
                sent = time.monotonic()
                # waiting for the reset, an extra token spent by a retried gateway error changes nothing
                r = http.request("POST", BLUEPRINTS.path, json=BLUEPRINTS.json, identity=client, retry=True)
                countdown.append((sent, time.monotonic(), r))
                if r.status_code != 429:
                    break
        return {"hammer": [Observed.of(r) for r in hammer], "generation": _burst_data(generation),
                "reads": _burst_data(reads), "exempt": [Observed.of(r) for r in exempt],
                "countdown": [(s, g, Observed.of(r)) for s, g, r in countdown], "crowded": crowded}


_PLANS: dict[str, QuotaPlan] = {}
_PLANS_LOCK = threading.Lock()


def plan_for(target: Any) -> QuotaPlan:
    """The one ``QuotaPlan`` of this process for ``target`` (keyed by its API URL)."""
    with _PLANS_LOCK:
        key = str(target.api_url)
        if key not in _PLANS:
            _PLANS[key] = QuotaPlan(target)
        return _PLANS[key]
