"""The evidence-recording HTTP client every check uses.

Each exchange (method, URL, status, headers, body excerpt, timing) is recorded with secrets
masked, and every response passes the response-wide invariant observers (R4.8, R10.3) once.
A transport error (refused, TLS, timeout) raises ``CouldNotDecide``: an ERROR, never a FAILED.
Gateway noise (an edge's 502/503/504 page, a dropped connection) is retried for idempotent
requests and never judged (``_transient.py``): ``TransientFault``, an ERROR of class "transient".
"""

from __future__ import annotations

import itertools
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import httpx

from stackfast_conformance import _transient
from stackfast_conformance import redact as _redact
from stackfast_conformance._sendable import unsendable_reason
from stackfast_conformance._transient import DEFAULT_POLICY, IDEMPOTENT_METHODS, RetryPolicy
from stackfast_conformance.curl import to_curl
from stackfast_conformance.failures import CouldNotDecide, HarnessError

BODY_EXCERPT = 2048
MASK = "***"
_SECRET_HEADERS = {"authorization", "x-admin-api-key", "cookie", "set-cookie", "proxy-authorization"}
_ids = itertools.count(1)
_ids_lock = threading.Lock()
_REGISTERED_SECRETS: dict[str, str] = {}  # value -> label; consulted by every Masker
_ANSWERED_HOSTS: set[str] = set()  # hosts that answered once: a refusal after that is a transient fault


def register_secret(value: str, label: str = "") -> list[str]:
    """Make every ``Masker`` (and every redaction, ``redact.py``) of this process mask the secret in ``value``;
    returns what was registered (a URL gives its credentials, a public value nothing: ``redact.register_secret``)."""
    registered = _redact.register_secret(value, label)
    with _ids_lock:
        for secret in registered:
            _REGISTERED_SECRETS[secret] = label
    return registered


def _next_id() -> str:
    with _ids_lock:
        return f"x{os.getpid()}-{next(_ids)}"


@dataclass
class Exchange:
    id: str
    check: str
    started_at: str
    elapsed_ms: float
    method: str
    url: str
    request_headers: dict[str, str]
    request_body: str | None
    status: int | None
    response_headers: dict[str, str]
    response_body: str | None
    error: str | None
    curl: str
    # set when this answer was an edge's error page or a dropped connection (see _transient.py)
    transient: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Violation:
    criterion: str
    message: str
    exchange: str


@dataclass
class Recorder:
    """What one check saw: exchanges, invariant violations, findings, timeline."""

    check: str
    exchanges: list[Exchange] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    observed: dict[str, int] = field(default_factory=dict)  # invariant criterion -> responses checked
    findings: list[dict[str, Any]] = field(default_factory=list)
    timeline: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    extra: dict[str, Any] = field(default_factory=dict)

    reporter: Callable[[str], None] | None = field(default=None, repr=False, compare=False)

    def mark(self, kind: str, label: str, ok: bool = True, **data: Any) -> None:
        self.timeline.append(
            {"t": round(time.monotonic() - self.started, 3), "kind": kind, "label": label, "ok": ok, **data}
        )

    def progress(self, message: str, seconds: float | None = None) -> None:
        """Tell the person watching what a long check is doing now; ``seconds``: a wait, shown with a countdown."""
        from stackfast_conformance.console import announce

        announce(self.check, message, seconds)  # the CLI's progress line (any process, xdist workers too)
        if self.reporter is not None:
            self.reporter(f"{self.check}: {message}")

    def forced_wait(self, seconds: float, why: str) -> None:
        """Record a wait the criterion itself forces (the benchmark's inherent minimum) and announce it."""
        self.notes.append(f"forced wait {seconds:.1f} s: {why}")
        self.progress(f"waiting {seconds:.0f} s: {why}", seconds=seconds)


class Masker:
    """Replaces secret values (and long fragments of them) wherever they could leak."""

    def __init__(self, secrets: Mapping[str, str]) -> None:
        # env var name -> value, so a curl command can say "$STACKFAST_ADMIN_KEY" instead
        self._secrets = {value: name for name, value in secrets.items() if value}
        self._compiled: tuple[tuple[tuple[str, str], ...], re.Pattern[str] | None, re.Pattern[str] | None] | None = None

    def add(self, value: str, env_name: str | None = None) -> None:
        if value and len(value) >= 6:
            self._secrets[value] = env_name or ""

    def _all(self) -> dict[str, str]:
        return {**_REGISTERED_SECRETS, **self._secrets}

    def text(self, text: str | None) -> str | None:
        if not text:
            return text
        whole, pieces, labels = self._patterns()
        if whole is not None:
            text = whole.sub(lambda m: f"${{{labels[m[0]]}}}" if labels.get(m[0]) else MASK, text)
        if pieces is not None:  # a prefix or suffix of a secret (as a property may send) is masked too
            text = pieces.sub(MASK, text)
        return _redact.redact_text(text)  # and every secret shape (redact.py)

    def _patterns(self) -> tuple[re.Pattern[str] | None, re.Pattern[str] | None, dict[str, str]]:
        """One regex of every secret value and one of their pieces (compiled once per set of secrets), with
        the secrets they were compiled from (value -> env var name, for the replacement).

        Pieces: for a value of 16+ characters, its first and last ``len - 1``, ``len // 2`` and 12
        characters. Longer alternatives come first, so the longest piece present is the one masked."""
        secrets = self._all()
        key = tuple(secrets.items())
        cached = self._compiled
        if cached is not None and cached[0] == key:
            return cached[1], cached[2], secrets
        values = sorted(secrets, key=len, reverse=True)
        pieces: set[str] = set()
        for value in values:
            if len(value) < 16:
                continue
            for size in (len(value) - 1, len(value) // 2, 12):
                pieces.update(p for p in (value[:size], value[len(value) - size:]) if len(p) >= 12)
        whole = re.compile("|".join(map(re.escape, values))) if values else None
        piece = re.compile("|".join(map(re.escape, sorted(pieces, key=len, reverse=True)))) if pieces else None
        self._compiled = (key, whole, piece)
        return whole, piece, secrets

    def header(self, name: str, value: str) -> str:
        lowered = name.lower()
        if lowered not in _SECRET_HEADERS and _redact.is_secret_name(lowered) and value and \
                not value.startswith(_redact.MASK):
            return _redact.mask_value(value)  # e.g. x-upstash-token: the whole value is the secret
        masked = self.text(value) or ""
        if lowered == "set-cookie":
            cookie, _, attributes = masked.partition(";")
            cookie_name, _, _ = cookie.partition("=")
            return f"{cookie_name}={MASK}" + (";" + attributes if attributes else "")
        if lowered == "cookie":
            return "; ".join(f"{c.partition('=')[0].strip()}={MASK}" for c in masked.split(";") if c.strip())
        if lowered in _SECRET_HEADERS and "${" not in masked and masked == value:
            scheme, _, rest = value.partition(" ")
            if lowered in {"authorization", "proxy-authorization"} and rest:
                return f"{scheme} {MASK}" if len(rest) >= 16 else value
            return value if len(value) < 16 else MASK
        return masked


Observer = Callable[[httpx.Response, Exchange, Recorder], None]


class EvidenceClient:
    """An httpx client bound to one check: records and masks every exchange.

    ``base`` picks the base URL ("api", "web", "staging_api", "staging_web"); a full URL is used as is.
    ``identity`` sets ``x-forwarded-for`` so quota checks use their own bucket.
    """

    def __init__(
        self,
        client: httpx.Client,
        recorder: Recorder,
        bases: Mapping[str, str | None],
        masker: Masker,
        observers: Iterable[Observer] = (),
        connect_to: Iterable[str] = (),
        ca_bundle: str | None = None,
        counter: Callable[[], None] | None = None,
    ) -> None:
        self._client = client
        self.recorder = recorder
        self._bases = bases
        self._masker = masker
        self._observers = list(observers)
        self._connect_to = tuple(connect_to)
        self._ca_bundle = ca_bundle
        self._counter = counter

    def url(self, path_or_url: str, base: str = "api") -> str:
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        root = self._bases.get(base)
        if not root:
            import pytest

            pytest.skip(f"no {base.replace('_', ' ')} URL configured (give --{base.replace('_', '-')})")
        return urljoin(root.rstrip("/") + "/", path_or_url.lstrip("/"))

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("POST", path, **kw)

    def options(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("OPTIONS", path, **kw)

    # Operator-action checks judge availability itself: no retries, a gateway answer is their evidence.
    raw_transients: bool = False
    # A read-only check's requests have no effect by contract (refused probes, validation errors), so one
    # lost without an answer may go again; a quota or mutating check's may not (it would count twice).
    resend_unanswered: bool = False
    retry_policy: RetryPolicy = DEFAULT_POLICY

    def request(self, method: str, path: str, *, retry: bool | None = None, status_only: bool = False,
                **kw: Any) -> httpx.Response:
        """Send one request; a transient fault (an edge's 502/503/504 page, a dropped connection) is not an answer.

        A disturbed request goes again (short bounded back-off; every attempt is an exchange of the
        check) when that cannot change what the target saw: idempotent methods, ``retry=True``, a request
        that never reached the service (an edge's 502/503 page, no connection), one the target refused
        (a 4xx status line came before the connection was lost), and, in a read-only check
        (``resend_unanswered``), any request. When no answer of the target's own comes back,
        ``TransientFault`` (ERROR "transient: N gateway errors (...)"). A request that may not go again
        (a POST of a quota/mutating check, or ``retry=False`` as a quota burst sends) gets its gateway
        answer back with ``response.transient`` set: the check cannot judge it (``checks.fail`` refuses
        to). ``raw_transients``: no retries, the answer as it came (the timeline of an availability
        check decides).

        Whether a disturbed request reached the service (``.reached`` on the marked response or the raised
        ``TransientFault``): ``"no"`` for an edge's 502/503 page (the edge answered instead of the service)
        or a connection that was never established; ``"maybe"`` for a 504 page or a connection lost after
        the request was sent. ``status_only=True`` (quota bursts, which judge only status and headers): a
        connection lost *after* the status line still is the target's answer; it comes back with an empty
        body and ``response.cut`` set (the exchange says so in ``transient``).
        """
        method = method.upper()
        if self.raw_transients:
            return self._request_once(method, path, **kw)
        url = self.url(path, kw.get("base", "api"))
        host = httpx.URL(url).host
        policy, seen = self.retry_policy, []
        for attempt in range(policy.attempts):
            last = attempt == policy.attempts - 1
            try:
                response = self._request_once(method, path, **kw)
            except HarnessError:
                raise
            except CouldNotDecide as exc:
                cause = exc.__context__
                what = _transient.transient_transport_error(cause, host in _ANSWERED_HOSTS) if cause else None
                if what is None:
                    raise
                cut = getattr(exc, "cut_response", None)
                if cut is not None:
                    what = f"connection lost after the status line ({cut.status_code}): body cut"
                if self.recorder.exchanges:
                    self.recorder.exchanges[-1].transient = what
                if cut is not None and status_only and cut.status_code not in _transient.GATEWAY_STATUSES:
                    _ANSWERED_HOSTS.add(host)
                    cut.cut = what
                    return cut
                reached = "no" if isinstance(cause, httpx.ConnectError) else "maybe"
                seen.append(what)
                may_resend = self._may_resend(method, retry, reached, cut.status_code if cut is not None else None)
                if not may_resend or last or not self._may_retry_again():
                    error = _transient.fault(
                        seen, f"for {method} {url}: no answer of the target's own"
                        + ("" if may_resend else " (not sent again: the request is not idempotent)"), exc.curl)
                    error.reached = reached
                    raise error from None
            else:
                _ANSWERED_HOSTS.add(host)
                what = _transient.gateway_error(response)
                exchange = response.exchange  # type: ignore[attr-defined]
                if what is None:
                    if seen:
                        self.recorder.notes.append(f"{method} {url}: answered {response.status_code} after "
                                                   f"{_transient.reason(seen, 'sent again')}")
                    return response
                exchange.transient = what
                seen.append(what)
                reached = _transient.reached_service(response)
                may_resend = self._may_resend(method, retry, reached, None)
                if may_resend and (last or not self._may_retry_again()):
                    raise _transient.fault(
                        seen, f"for {method} {url} after {len(seen)} attempts: the target's own answer was "
                              "never seen", exchange.curl)
                if not may_resend:
                    response.transient = what  # type: ignore[attr-defined]
                    response.reached = reached  # type: ignore[attr-defined]
                    _transient.note_unresolved(self.recorder, exchange.id, what)
                    return response
            wait = policy.wait(attempt)
            self.recorder.mark("retry", f"{method} {url}: {what}; sent again after {wait:.1f} s", ok=False)
        raise AssertionError("unreachable: the retry loop returns or raises")  # pragma: no cover

    def _may_resend(self, method: str, retry: bool | None, reached: str, cut_status: int | None) -> bool:
        """Whether a request the network disturbed may go again (see ``request``)."""
        if retry is not None:
            return retry
        if method in IDEMPOTENT_METHODS or reached == "no":
            return True  # idempotent, or it never reached the service: nothing happened there
        if cut_status is not None and 400 <= cut_status < 500:
            return True  # the target refused it (its status line came): it had no effect
        return self.resend_unanswered

    def _may_retry_again(self) -> bool:
        return _transient.count_retry(self.recorder) <= self.retry_policy.budget(len(self.recorder.exchanges))

    def _request_once(
        self,
        method: str,
        path: str,
        *,
        base: str = "api",
        headers: Mapping[str, str] | None = None,
        identity: str | None = None,
        json: Any = None,
        content: str | bytes | None = None,
        params: Mapping[str, str] | None = None,
        timeout: float | None = None,
        follow_redirects: bool = False,
    ) -> httpx.Response:
        url = self.url(path, base)
        all_headers = dict(headers or {})
        if identity is not None:
            all_headers["x-forwarded-for"] = identity
        try:
            request = self._client.build_request(
                method, url, headers=all_headers, json=json, content=content, params=params,
                timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
            )
        except (httpx.InvalidURL, UnicodeEncodeError, ValueError) as exc:  # never sent: the harness's defect
            raise HarnessError(self._masker.text(f"{method} {url}: {type(exc).__name__}: {exc}") or "") from None
        started_at = datetime.now(UTC).isoformat(timespec="milliseconds")
        t0 = time.perf_counter()
        body_text = _masked_excerpt(self._masker, request.content) if request.content else None
        unsendable = unsendable_reason(request.headers.raw)
        if unsendable:
            exchange = self._record(request, started_at, t0, body_text, None, f"not sent: {unsendable}")
            raise HarnessError(f"{method} {exchange.url}: {exchange.error}", exchange.curl)
        if self._counter:
            self._counter()
        head: httpx.Response | None = None  # the status line and headers, once they arrived
        try:
            head = self._client.send(request, follow_redirects=follow_redirects, stream=True)
            head.read()
            response = head
        except httpx.LocalProtocolError as exc:  # httpx/h11 refused what the harness built: not the target's fault
            exchange = self._record(request, started_at, t0, body_text, None, f"{type(exc).__name__}: {exc}")
            raise HarnessError(f"{method} {exchange.url}: {exchange.error}", exchange.curl) from None
        except httpx.TransportError as exc:
            if head is not None:  # the target answered (status, headers); the body was lost on the way
                head.close()
                kept = [(k, v) for k, v in head.headers.multi_items() if k.lower() != "content-encoding"]
                cut = httpx.Response(head.status_code, headers=kept, content=b"", request=request)
                exchange = self._record(request, started_at, t0, body_text, cut,
                                        f"body cut: {type(exc).__name__}: {exc}")
                cut.exchange = exchange  # type: ignore[attr-defined]
                error = CouldNotDecide(f"could not read the answer: {method} {url}: {type(exc).__name__}: {exc}",
                                       exchange.curl)
                error.cut_response = cut  # type: ignore[attr-defined]
                raise error from exc
            exchange = self._record(request, started_at, t0, body_text, None, f"{type(exc).__name__}: {exc}")
            from stackfast_conformance._tlshint import untrusted_certificate_hint

            hint = untrusted_certificate_hint(exc, str(request.url), self._connect_to, self._ca_bundle)
            raise CouldNotDecide(
                f"could not reach the target: {method} {url}: {type(exc).__name__}: {exc}"
                + (f" — {hint}" if hint else ""), exchange.curl
            ) from None
        exchange = self._record(request, started_at, t0, body_text, response, None)
        response.exchange = exchange  # type: ignore[attr-defined]
        if _transient.gateway_error(response) is None:  # an edge's error page is not the target's answer
            for observer in self._observers:
                observer(response, exchange, self.recorder)
        return response

    def _record(
        self,
        request: httpx.Request,
        started_at: str,
        t0: float,
        body_text: str | None,
        response: httpx.Response | None,
        error: str | None,
    ) -> Exchange:
        m = self._masker
        request_headers = {k: m.header(k, v) for k, v in request.headers.items()}
        response_headers: dict[str, str] = {}
        if response is not None:
            for key, value in response.headers.multi_items():
                value = m.header(key, value)
                response_headers[key] = response_headers[key] + "\n" + value if key in response_headers else value
        url = m.text(str(request.url)) or ""
        masked_body = m.text(body_text)
        exchange = Exchange(
            id=_next_id(),
            check=self.recorder.check,
            started_at=started_at,
            elapsed_ms=round((time.perf_counter() - t0) * 1000, 2),
            method=request.method,
            url=url,
            request_headers=request_headers,
            request_body=masked_body,
            status=response.status_code if response is not None else None,
            response_headers=response_headers,
            response_body=_masked_excerpt(m, response.content) if response is not None else None,
            error=m.text(error),
            curl=to_curl(request.method, url, request_headers, masked_body, self._connect_to, self._ca_bundle),
        )
        self.recorder.exchanges.append(exchange)
        return exchange


def _masked_excerpt(masker: Masker, data: bytes) -> str:
    """Mask the whole (bounded) body first, then cut: a cut must never leave half a secret unmasked."""
    text = data[:BODY_EXCERPT * 32].decode("utf-8", errors="replace")
    masked = masker.text(text) or ""
    return masked[:BODY_EXCERPT] + (f"… [{len(data)} bytes]" if len(masked) > BODY_EXCERPT or
                                    len(data) > BODY_EXCERPT * 32 else "")


def _excerpt(data: bytes) -> str:
    text = data[:BODY_EXCERPT].decode("utf-8", errors="replace")
    return text + (f"… [{len(data)} bytes]" if len(data) > BODY_EXCERPT else "")


def response_wide_observers(environment: str) -> list[Observer]:
    """Invariants checked on every response any check sees (R4.8, R10.3)."""

    def no_retry_after_on_non_429(response: httpx.Response, exchange: Exchange, rec: Recorder) -> None:
        rec.observed["R4.8"] = rec.observed.get("R4.8", 0) + 1
        if response.status_code != 429 and "retry-after" in response.headers:
            rec.violations.append(Violation(
                "R4.8", f"Retry-After: {response.headers['retry-after']} on a {response.status_code} response "
                f"to {exchange.method} {exchange.url}", exchange.id))

    def never_wildcard_acao(response: httpx.Response, exchange: Exchange, rec: Recorder) -> None:
        rec.observed["R10.3"] = rec.observed.get("R10.3", 0) + 1
        if response.headers.get("access-control-allow-origin", "").strip() == "*":
            rec.violations.append(Violation(
                "R10.3", f"Access-Control-Allow-Origin: * on {exchange.method} {exchange.url}", exchange.id))

    observers: list[Observer] = [no_retry_after_on_non_429]
    if environment != "local-dev":
        observers.append(never_wildcard_acao)
    return observers
