"""Attributing a request that hangs during an induced outage (issue 12 fact 5).

While the harness keeps Upstash hung (``upstash-outage-hang``: connections accepted, never
answered), a limiter without its own timeout never answers the rate-limited routes, though the
API itself is up. A client timeout there is then not "could not reach the target": when the same
route answered before the outage and another route (``/health``) answers during it, the hang is
the target's own behaviour under the outage — evidence for R4.5 (the request must be allowed),
so the check FAILS with both observations. When nothing answers, the target is unreachable and
the check stays ERROR.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from stackfast_conformance.failures import CouldNotDecide

__all__ = ["Hung", "probe_other_route", "request_or_hang", "timed_out"]

OTHER_ROUTE = "/health"
PROBE_TIMEOUT_SECONDS = 5.0


@dataclass
class Hung:
    """A request that got no answer within the client timeout (the target's evidence once attributed)."""

    method: str
    path: str
    seconds: float
    curl: str | None
    error: str

    def describe(self) -> str:
        return f"{self.method} {self.path} got no answer within {self.seconds:.1f} s ({self.error})"


def timed_out(exc: CouldNotDecide) -> bool:
    """True when the check's ERROR is a client timeout (the target accepted the request, never answered)."""
    if type(exc) is not CouldNotDecide:  # a harness or transient error is never a hang
        return False
    cause = exc.__context__ or exc.__cause__
    return isinstance(cause, httpx.TimeoutException) and not isinstance(cause, httpx.ConnectTimeout)


def request_or_hang(http: Any, method: str, path: str, **kw: Any) -> Any:
    """``http.request(...)``, or a ``Hung`` when the target accepted it and never answered in time."""
    try:
        return http.request(method, path, **kw)
    except CouldNotDecide as exc:
        if not timed_out(exc):
            raise
        last = http.recorder.exchanges[-1] if http.recorder.exchanges else None
        seconds = (last.elapsed_ms / 1000) if last is not None else 0.0
        error = (last.error or "timeout") if last is not None else "timeout"
        return Hung(method, path, seconds, exc.curl or (last.curl if last is not None else None),
                    error.split(":", 1)[0])


def probe_other_route(http: Any, path: str = OTHER_ROUTE) -> Any:
    """GET ``path`` with a short timeout; the response, or None when it does not answer either."""
    try:
        return http.get(path, timeout=PROBE_TIMEOUT_SECONDS)
    except CouldNotDecide:
        return None


def unreachable(hung: Hung, what: str) -> CouldNotDecide:
    """The ERROR when the other route did not answer either: the target as a whole was unreachable."""
    return CouldNotDecide(f"could not reach the target during {what}: {hung.describe()}, and "
                          f"GET {OTHER_ROUTE} did not answer either", hung.curl)
