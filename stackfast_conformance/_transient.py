"""Gateway noise is not evidence: recognising transient faults of the network between harness and target.

An edge in front of a deployment (Railway's, Cloudflare, an nginx/Envoy proxy) now and then answers
``502``/``503``/``504`` with its own page, or drops a connection, during deploys and restarts. Such an
answer says nothing about CORS, admin gating or rate limits, so:

- ``gateway_error(response)`` names an edge's error page: a 502/503/504 whose body is *not* the
  API's own answer (not JSON) but an HTML page, an edge's signature header, or a proxy's stock
  text ("Bad Gateway", "upstream connect error", ...). An API's own ``503 {"error": ...}`` or a
  ``/health`` that answers ``503 Service Unavailable`` itself stays evidence.
- ``transient_transport_error(exc, answered_before)`` names a connection reset, a peer that closed
  without answering, a TLS EOF, or a refusal after the host had answered earlier in the run. A
  certificate the harness rejects, a timeout, or a host that never answered are not transient.
- ``RetryPolicy``: idempotent probes (GET/HEAD/OPTIONS) retry with a short bounded back-off; every
  attempt stays in the check's evidence. A non-idempotent answer is never retried (a disturbed POST
  may or may not have been processed): it is marked, and a check cannot judge it.
- ``unresolved`` / ``withheld_failure_reason``: a check that would FAIL while its evidence holds a
  gateway error it could not get past ends ERROR (``TransientFault``) instead, with the reason
  "transient: N gateway errors (...)".

Checks judging availability itself (operator-action checks: R1.5/R1.6, R5.2, R12.x) run in *raw*
mode: no retries, gateway answers are evidence, their timeline decides.
"""

from __future__ import annotations

import json
import ssl
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx

__all__ = [
    "GATEWAY_STATUSES",
    "IDEMPOTENT_METHODS",
    "RetryPolicy",
    "browser_gateway_error",
    "browser_transport_error",
    "describe",
    "gateway_error",
    "mark_resolved",
    "note_unresolved",
    "reached_service",
    "transient_transport_error",
    "unresolved",
    "withheld_failure_reason",
]

GATEWAY_STATUSES = frozenset({502, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Headers only an edge's own error answer carries (Railway's fallback page sets the first).
_EDGE_HEADERS = ("x-railway-fallback", "x-edge-error")
# Stock texts of proxies' own error pages (nginx, Railway, Envoy, Cloudflare, the reference edge).
_EDGE_TEXTS = ("bad gateway", "gateway timeout", "gateway time-out", "application failed to respond",
               "upstream connect error", "no healthy upstream", "backend did not respond",
               "upstream request timeout", "web server is returning an unknown error")
_EXTRA_KEY = "transient"


def _looks_like_json(text: str) -> bool:
    stripped = text.lstrip()
    if not stripped.startswith(("{", "[")):
        return False
    try:
        json.loads(stripped)
    except ValueError:
        return False
    return True


def gateway_error(response: httpx.Response) -> str | None:
    """A short description ("502 HTML page") when ``response`` is an edge's error page, else None."""
    status = response.status_code
    if status not in GATEWAY_STATUSES:
        return None
    headers = response.headers
    for name in _EDGE_HEADERS:
        if name in headers:
            return f"{status} from the edge ({name})"
    content_type = headers.get("content-type", "").lower()
    try:
        text = response.content[:4096].decode("utf-8", errors="replace")
    except httpx.ResponseNotRead:
        return None
    if "json" in content_type or _looks_like_json(text):
        return None  # the API's own error answer: evidence
    lowered = text.lower()
    if "html" in content_type or lowered.lstrip().startswith(("<!doctype", "<html")):
        return f"{status} HTML page"
    marker = next((m for m in _EDGE_TEXTS if m in lowered), None)
    if marker:
        return f"{status} '{marker}'"
    return None


def browser_gateway_error(status: int, headers: dict[str, Any], body: bytes = b"") -> str | None:
    """``gateway_error`` for an answer Chromium saw (DevTools ``responseReceived[ExtraInfo]``: status, headers,
    and the body when DevTools still has it). Chromium reports an edge's 502 page to a cross-origin fetch as
    a CORS error (the page has no CORS headers): that is the network's answer, not the API's CORS."""
    if status not in GATEWAY_STATUSES:
        return None
    flat = {str(k): str(v).split("\n")[0] for k, v in (headers or {}).items()}
    return gateway_error(httpx.Response(status, headers=flat, content=body))


# Chromium's errors (``Network.loadingFailed`` errorText) for a connection lost on the way: the browser's
# names for transient_transport_error's cases. A refused connection, a certificate or a CORS/CSP block is not here.
_BROWSER_DROPPED = {
    "net::ERR_EMPTY_RESPONSE": "connection closed without an answer",
    "net::ERR_CONNECTION_CLOSED": "connection closed without an answer",
    "net::ERR_CONNECTION_RESET": "connection reset",
    "net::ERR_CONNECTION_ABORTED": "connection dropped",
    "net::ERR_CONTENT_LENGTH_MISMATCH": "connection dropped",
    "net::ERR_INCOMPLETE_CHUNKED_ENCODING": "connection dropped",
}


def browser_transport_error(error_text: str) -> str | None:
    """A short description when Chromium's ``errorText`` is a dropped connection, else None."""
    return _BROWSER_DROPPED.get(str(error_text).strip())


def reached_service(response: httpx.Response) -> str:
    """For an edge's error page: did the request reach the service? ``"no"`` or ``"maybe"``.

    A 502/503 page is the edge answering *instead of* the service (no upstream connection, no healthy
    upstream: Railway's "Application failed to respond" while a service deploys), so the request had
    no effect there; a 504 is the edge giving up on a service that had the request.
    """
    return "maybe" if response.status_code == 504 else "no"


_TLS_GARBLE = ("wrong version number", "bad record mac", "decryption failed", "record layer failure")


def transient_transport_error(exc: BaseException, answered_before: bool) -> str | None:
    """A short description when ``exc`` is a dropped connection (not a local or certificate error)."""
    if isinstance(exc, httpx.LocalProtocolError) or isinstance(exc, httpx.TimeoutException):
        return None
    text = f"{exc} {exc.__context__ or ''}".lower()
    if "certificate" in text or isinstance(exc.__context__, ssl.SSLCertVerificationError):
        return None
    if isinstance(exc, httpx.RemoteProtocolError):
        return "connection closed without an answer"
    if isinstance(exc, (httpx.ReadError, httpx.WriteError)):
        return "connection reset" if "reset" in text else "connection dropped"
    if isinstance(exc, httpx.ConnectError):
        if "eof" in text:
            return "TLS EOF"
        if answered_before and ("refused" in text or "reset" in text):
            return "connection refused mid-run" if "refused" in text else "connection reset"
        if answered_before and any(garble in text for garble in _TLS_GARBLE):
            # the host spoke TLS earlier in this run; a handshake that reads bytes no TLS server sent is a
            # connection broken on the way (a host that never speaks TLS stays "could not reach")
            return "TLS handshake garbled"
    return None


@dataclass(frozen=True)
class RetryPolicy:
    """How often an idempotent probe is retried after a transient fault, and how long to wait."""

    backoff_seconds: tuple[float, ...] = (0.2, 0.5, 1.0)
    # at most this many retries per check, plus one for every ``requests_per_extra_retry`` requests the
    # check sent: a target behind a dead edge is not retried forever, while a 200-request quota burst
    # through an edge that drops 3 % still has room for its 6 expected disturbances and their tail
    budget_per_check: int = 12
    requests_per_extra_retry: int = 10

    def budget(self, requests_sent: int) -> int:
        return self.budget_per_check + requests_sent // self.requests_per_extra_retry

    @property
    def attempts(self) -> int:
        return 1 + len(self.backoff_seconds)

    def wait(self, retry: int) -> float:
        seconds = self.backoff_seconds[min(retry, len(self.backoff_seconds) - 1)]
        time.sleep(seconds)
        return seconds


DEFAULT_POLICY = RetryPolicy()


# --- what a check's evidence holds ----------------------------------------------------------------

def _state(recorder: Any) -> dict[str, Any]:
    return recorder.extra.setdefault(_EXTRA_KEY, {"unresolved": [], "resolved": [], "retries": 0})


def note_unresolved(recorder: Any, exchange_id: str, what: str) -> None:
    """A gateway answer the check got and could not retry (a POST): it cannot be judged."""
    _state(recorder)["unresolved"].append({"exchange": exchange_id, "what": what})


def count_retry(recorder: Any) -> int:
    state = _state(recorder)
    state["retries"] += 1
    return int(state["retries"])


def unresolved(recorder: Any) -> list[dict[str, str]]:
    return list(recorder.extra.get(_EXTRA_KEY, {}).get("unresolved", ()))


def mark_resolved(recorder: Any, since: int = 0) -> int:
    """Move unresolved entries from index ``since`` on to resolved (their example or burst was redone)."""
    state = _state(recorder)
    moved = state["unresolved"][since:]
    del state["unresolved"][since:]
    state["resolved"].extend(moved)
    return len(moved)


def describe(whats: Iterable[str]) -> str:
    """``"502 HTML page ×2, connection reset ×1"``."""
    counts = Counter(whats)
    return ", ".join(f"{what} ×{n}" for what, n in counts.most_common())


def reason(whats: list[str], context: str) -> str:
    noun = "gateway error" if len(whats) == 1 else "gateway errors"
    return f"transient: {len(whats)} {noun} ({describe(whats)}) {context}"


def fault(whats: list[str], context: str, curl: str | None = None) -> Any:
    """The ``TransientFault`` to raise: reason "transient: N gateway errors (...) <context>"; ``.what`` = the last."""
    from stackfast_conformance.failures import TransientFault

    error = TransientFault(reason(whats, context), curl)
    error.what = whats[-1] if whats else "transient fault"  # type: ignore[attr-defined]
    return error


def withheld_failure_reason(recorder: Any) -> str | None:
    """For a check about to end FAILED: the TransientFault reason when its evidence is disturbed."""
    entries = unresolved(recorder)
    if not entries:
        return None
    ids = ", ".join(e["exchange"] for e in entries[:5])
    return reason([e["what"] for e in entries],
                  f"in the check's evidence (exchanges {ids}): the check cannot tell the target's answer "
                  "from the network's, so it does not judge; rerun it")
