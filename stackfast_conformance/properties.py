"""Strategies and the runner of the Hypothesis properties in ``properties/``.

A property is an inner ``@given`` function defined inside a check, so it can use the check's
function-scoped fixtures (``http``, ``fresh_identity``) without Hypothesis re-creating them::

    def test_never_wildcard(http, prop):
        @prop.given(origin=any_origin(...))
        def acao_is_never_star(origin):
            ...
        prop.run(acao_is_never_star)

``PropertyRunner.run`` applies the Hypothesis profile of the harness profile (``reference``,
``ci``, ``staging``, ``production``; overridable with the profile file's ``hypothesis:`` mapping),
a seed it records (``recorder.extra["seed"]``), the number of generated cases
(``recorder.extra["cases"]``) and an example database under ``<report dir>/hypothesis``. A
failure keeps the minimal request's curl (from the ``CheckFailure``) and gains a note with the
seed to replay it.
"""

from __future__ import annotations

import functools
import os
import random
import shlex
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from hypothesis import HealthCheck, given, seed
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase
from hypothesis.errors import FlakyFailure, Unsatisfiable

from stackfast_conformance import _transient
from stackfast_conformance.failures import CheckFailure, CouldNotDecide, TransientFault

__all__ = [
    "HYPOTHESIS_PROFILES", "PropertyRunner", "register_profiles", "operator_action", "run_operator_action",
    "foreign_origins", "any_origin", "same_origin", "surface_requests", "admin_canonical_paths",
    "admin_path_variants", "wrong_admin_credentials", "right_admin_credentials", "KNOWN_ADMIN_ROUTES",
    "READ_ROUTES", "GENERATION_ROUTES", "is_read_route",
]

# --- Hypothesis profiles ----------------------------------------------------------------------

# max_examples per property at scale 1.0; production is few and read-only by construction.
HYPOTHESIS_PROFILES: dict[str, dict[str, Any]] = {
    "reference": {"max_examples": 120},
    "ci": {"max_examples": 80},
    "staging": {"max_examples": 25},
    "production": {"max_examples": 8},
}
_SUPPRESSED = [HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large,
               HealthCheck.function_scoped_fixture, HealthCheck.large_base_example]
_PROFILE_KEYS = {"max_examples", "seed", "deadline", "scale", "shrink"}
# examples a gateway error may disturb before a property ends ERROR transient (or a fifth of its cases)
DISCARD_BUDGET = 5


def register_profiles() -> None:
    """Register one Hypothesis profile per harness profile (``stackfast-<name>``); idempotent."""
    for name, values in HYPOTHESIS_PROFILES.items():
        hypothesis_settings.register_profile(
            f"stackfast-{name}", deadline=None, suppress_health_check=_SUPPRESSED,
            report_multiple_bugs=False, print_blob=True, **values)


class PropertyRunner:
    """Runs one check's properties with the run's Hypothesis profile, seed and example database."""

    def __init__(self, settings: Any, recorder: Any, pytest_seed: Any = None) -> None:
        register_profiles()
        self.settings = settings
        self.recorder = recorder
        overrides = dict(settings.hypothesis or {})
        unknown = set(overrides) - _PROFILE_KEYS
        if unknown:
            raise ValueError(f"profile file 'hypothesis': unknown keys {sorted(unknown)}; "
                             f"use {sorted(_PROFILE_KEYS)}")
        self._overrides = overrides
        chosen = pytest_seed if pytest_seed is not None else overrides.get("seed")
        self.seed = int(chosen) if chosen is not None else random.SystemRandom().getrandbits(48)
        self.cases = 0
        self.discarded: list[str] = []  # examples a gateway error disturbed (not counterexamples)
        self.recorder.extra["seed"] = self.seed
        self.recorder.extra["cases"] = 0

    @property
    def profile(self) -> str:
        return str(self.settings.profile)

    def max_examples(self, scale: float = 1.0) -> int:
        base = int(self._overrides.get("max_examples") or HYPOTHESIS_PROFILES[self.profile]["max_examples"])
        return max(1, int(base * scale * float(self._overrides.get("scale", 1.0))))

    def hypothesis_settings(self, scale: float = 1.0) -> hypothesis_settings:
        profile = hypothesis_settings.get_profile(f"stackfast-{self.profile}")
        database = None
        if self.settings.report_dir:
            directory = Path(self.settings.report_dir) / "hypothesis"
            directory.mkdir(parents=True, exist_ok=True)
            database = DirectoryBasedExampleDatabase(str(directory))
        deadline = self._overrides.get("deadline")
        extra: dict[str, Any] = {}
        if self._overrides.get("shrink") is False:  # e.g. the kill matrix: a verdict fast, no minimal example
            from hypothesis import Phase

            extra["phases"] = [p for p in Phase if p is not Phase.shrink and p is not Phase.explain]
        return hypothesis_settings(profile, max_examples=self.max_examples(scale), database=database,
                                   deadline=deadline, **extra)

    def given(self, *args: Any, **kwargs: Any) -> Callable[[Callable[..., None]], Callable[..., None]]:
        """``hypothesis.given`` that also counts the generated cases into the report."""

        def decorate(fn: Callable[..., None]) -> Callable[..., None]:
            @functools.wraps(fn)
            def counted(*a: Any, **kw: Any) -> None:
                self.cases += 1
                self.recorder.extra["cases"] = self.cases
                before = len(_transient.unresolved(self.recorder))
                try:
                    fn(*a, **kw)
                except (TransientFault, AssertionError) as exc:
                    disturbed = isinstance(exc, TransientFault) or len(_transient.unresolved(self.recorder)) > before
                    if not disturbed:
                        raise
                    self._discard(exc, before)
                else:  # an unjudged gateway answer inside a passing example decided nothing
                    _transient.mark_resolved(self.recorder, before)

            return given(*args, **kwargs)(counted)

        return decorate

    def _discard(self, exc: BaseException, before: int) -> None:
        """A gateway error inside an example is no counterexample: discard the example (bounded)."""
        from hypothesis import reject

        whats = [e["what"] for e in _transient.unresolved(self.recorder)[before:]]
        _transient.mark_resolved(self.recorder, before)
        self.discarded.extend(whats or [getattr(exc, "what", None) or str(exc).splitlines()[0][:120]])
        reject()

    def _judge_discards(self, every_example: bool = False) -> None:
        """Too many disturbed examples leave too little evidence: ERROR transient, never a pass on noise."""
        allowed = max(DISCARD_BUDGET, self.cases // 5)
        if self.discarded and (every_example or len(self.discarded) > allowed):
            raise TransientFault(_transient.reason(
                self.discarded,
                f"disturbed {len(self.discarded)} of {self.cases} generated examples (more than {allowed} may be "
                "discarded): too little of the target's own answers to judge the property"))

    def run(self, prop: Callable[[], None], scale: float = 1.0) -> None:
        """Run the ``@prop.given`` function ``prop``; a failure names the seed that replays it."""
        test = seed(self.seed)(hypothesis_settings(self.hypothesis_settings(scale))(prop))
        try:
            test()
            self._judge_discards()
        except Unsatisfiable:
            self._judge_discards(every_example=True)
            raise
        except FlakyFailure as exc:  # one example, two answers: no verdict either way (issue 16 item 2)
            raise inconsistent_answers(exc, self.seed, self.recorder) from None
        except CheckFailure as exc:
            replay = (f"Hypothesis seed {self.seed} (profile {self.profile}); replay with "
                      f"`stackfast-conformance run ... -- --hypothesis-seed={self.seed}` or the profile file's "
                      f"hypothesis: {{seed: {self.seed}}}; the minimal falsifying request is the curl below")
            exc.detail.hint = f"{exc.detail.hint}; {replay}" if exc.detail.hint else replay
            raise
        finally:
            self.recorder.extra["cases"] = self.cases
            if self.discarded:
                self.recorder.notes.append(
                    f"{len(self.discarded)} generated examples discarded (a gateway error is no counterexample): "
                    + "; ".join(self.discarded[:3]))


def _outcome(exc: BaseException) -> tuple[str, str | None]:
    """(one line saying how the example ended, its curl) for one exception of a FlakyFailure."""
    if isinstance(exc, CheckFailure):
        d = exc.detail
        return f"{d.criterion} FAILED: expected {d.expected}; seen {d.seen}", d.curl
    curl = getattr(exc, "curl", None)
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first}"[:400], curl


def inconsistent_answers(exc: BaseExceptionGroup, seed_value: int, recorder: Any) -> CouldNotDecide:
    """A Hypothesis ``FlakyFailure``: the target answered one generated example two ways.

    Neither answer is a verdict, so the check is an ERROR "the target answered the same request
    differently", with both outcomes (and the curl of the first) as evidence in the check's notes.
    """
    outcomes = [_outcome(e) for e in exc.exceptions]
    first, curl = outcomes[0] if outcomes else ("failed", None)
    if len(outcomes) > 1 and outcomes[-1][0] != first:
        replay = f"on replay: {outcomes[-1][0]}"
    else:
        replay = "on replay the same example passed"
    recorder.notes.append(f"inconsistent answers (Hypothesis seed {seed_value}): first run: {first}")
    recorder.notes.append(f"inconsistent answers: {replay}")
    return CouldNotDecide(f"the target answered the same request differently: first {first}; {replay} "
                          f"(Hypothesis seed {seed_value}; both exchanges are in the evidence)", curl)


# --- operator actions ---------------------------------------------------------------------------

@dataclass(frozen=True)
class OperatorAction:
    name: str
    argv: tuple[str, ...]
    timeout: float


def operator_action(target: Any, name: str) -> OperatorAction | None:
    """The command of operator action ``name``: the embedded reference's, else the profile file's."""
    reference = getattr(target, "reference", None)
    if reference is not None and name in reference.actions:
        return OperatorAction(name, tuple(reference.actions[name]), 60.0)
    spec = (target.settings.operator or {}).get(name)
    if spec is None:
        return None
    if isinstance(spec, str):
        return OperatorAction(name, tuple(shlex.split(spec)), 300.0)
    return OperatorAction(name, tuple(shlex.split(spec["command"])), float(spec.get("timeout", 300)))


def run_operator_action(action: OperatorAction, recorder: Any) -> None:
    """Run the action to completion; a failing action is an ERROR of the check (RuntimeError)."""
    started = time.monotonic()
    proc = subprocess.run(list(action.argv), capture_output=True, text=True, timeout=action.timeout,
                          stdin=subprocess.DEVNULL, env=dict(os.environ))
    ok = proc.returncode == 0
    recorder.mark("action", action.name, ok=ok, seconds=round(time.monotonic() - started, 2))
    if not ok:
        raise RuntimeError(f"operator action {action.name} failed (exit {proc.returncode}): "
                           f"{(proc.stderr or proc.stdout).strip()[-400:]}")


# --- the application surface --------------------------------------------------------------------

KNOWN_ADMIN_ROUTES = ("/admin/tools/import", "/admin/compatibility/recompute", "/internal/enrich-tool")
GENERATION_ROUTES = ("/api/v1/blueprints", "/api/v1/scaffolds")
READ_ROUTES = ("/api/v1/tools/search?q=react", "/api/v1/tools/react", "/api/v1/categories", "/api/v1/catalog",
               "/api/v1/compatibility/react/vite", "/api/v1/migrations/express/hono")
OTHER_ROUTES = ("/health", "/openapi.json", "/api/auth/get-session", "/api/auth/sign-in/social",
                "/no-such-route", "/api/v1/no-such-route")


def is_read_route(method: str, path: str) -> bool:
    """True when the request spends a token of the read bucket (every other /api/v1 request)."""
    bare = path.split("?", 1)[0]
    if not (bare == "/api/v1" or bare.startswith("/api/v1/")):
        return False
    return not (method == "POST" and bare in GENERATION_ROUTES)


def _segment() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(["tools", "import", "users", "export", "debug", "config", "v2", "jobs", "enrich-tool",
                         "compatibility", "recompute", "health", "metrics", "flags", "keys"]),
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_.~", min_size=1, max_size=12)
        .filter(lambda s: s not in (".", "..")),
    )


@st.composite
def admin_canonical_paths(draw: st.DrawFn) -> str:
    """Plain spellings under /admin and /internal: known routes, unknown segments, trailing slashes."""
    if draw(st.booleans()):
        path = draw(st.sampled_from(KNOWN_ADMIN_ROUTES))
    else:
        prefix = draw(st.sampled_from(["/admin", "/internal"]))
        segments = draw(st.lists(_segment(), min_size=0, max_size=3))
        path = prefix + "".join("/" + quote(s, safe="-_.~") for s in segments)
    if draw(st.integers(0, 4)) == 0:
        path += "/"
    return path


def _encode_some(draw: st.DrawFn, word: str) -> str:
    out = []
    for ch in word:
        mode = draw(st.integers(0, 5))
        out.append(f"%{ord(ch):02X}" if mode == 0 else f"%{ord(ch):02x}" if mode == 1 else ch)
    return "".join(out)


def _case_variant(draw: st.DrawFn, word: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(word), max_size=len(word)))
    variant = "".join(c.upper() if f else c for c, f in zip(word, flips, strict=True))
    return variant if variant != word else word.upper()


@dataclass(frozen=True)
class AdminPath:
    """A request target under /admin or /internal and what the guard must make of it.

    ``must_be_401``: after percent-decoding and collapsing slashes the first segment is exactly
    ``admin``/``internal``, so the guard must answer 401. Otherwise (case variants, dot segments,
    look-alikes) the request must reach no handler: 401 or 404.
    """

    target: str
    must_be_401: bool


def classify_admin_target(target: str) -> AdminPath:
    decoded = unquote(target.split("?", 1)[0])
    collapsed = "/" + "/".join(s for s in decoded.split("/") if s)
    first = collapsed.lstrip("/").split("/", 1)[0]
    return AdminPath(target, first in ("admin", "internal"))


@st.composite
def admin_path_variants(draw: st.DrawFn) -> AdminPath:
    """Spellings a guard keyed on the raw path might miss (R8.6)."""
    base = draw(admin_canonical_paths())
    prefix, _, rest = base.lstrip("/").partition("/")
    rest = ("/" + rest) if rest or base.endswith("/") else ""
    trick = draw(st.sampled_from(["plain", "encoded", "slashes", "encoded-slash", "case", "dot", "dot-prefix",
                                  "trailing", "mixed"]))
    word = prefix
    lead = "/"
    if trick in ("encoded", "mixed"):
        word = _encode_some(draw, prefix)
        if word == prefix:
            word = f"%{ord(prefix[0]):02X}" + prefix[1:]
    if trick in ("slashes", "mixed"):
        lead = "/" * draw(st.integers(2, 4))
    if trick == "encoded-slash":
        lead = draw(st.sampled_from(["/%2F", "/%2f", "%2F"])) if draw(st.booleans()) else "/"
        rest = rest.replace("/", "%2F", 1) if rest else rest
        if lead == "%2F":
            lead = "/%2F"
    if trick == "case":
        word = _case_variant(draw, prefix)
    target = lead + word + rest
    if trick == "dot":
        target = f"/{prefix}/%2e%2e/{prefix}{rest}" if draw(st.booleans()) else f"/{prefix}/.%2F{rest.lstrip('/')}"
    if trick == "dot-prefix":
        other = draw(st.sampled_from(["api", "x", "health", "api/v1"]))
        dots = draw(st.sampled_from(["%2e%2e", "%2E%2E", ".%2e"]))
        target = f"/{other}/{dots}/{prefix}{rest}"
    if trick == "trailing":
        target = base.rstrip("/") + draw(st.sampled_from(["/", "//", "/.", "%2F", "?", "?x=1", "#"]))
        target = target.replace("#", "%23")
    return classify_admin_target(target)


def wrong_admin_credentials(real_key: str) -> st.SearchStrategy[dict[str, str]]:
    """Header sets that carry no matching admin key (R8.3): empty, whitespace, fragments, other case,
    other schemes, the key in the wrong header; never the key itself padded with optional whitespace."""
    # HTTP parsers strip leading/trailing whitespace of a header value (h11 refuses to send it), so
    # "whitespace" here is whitespace inside the value
    fakes = [st.just(""), st.just("a b"),
             st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_", min_size=1,
                     max_size=64)]
    if real_key:
        fakes += [
            st.integers(1, max(1, len(real_key) - 1)).map(lambda n: real_key[:n]),
            st.integers(1, max(1, len(real_key) - 1)).map(lambda n: real_key[n:]),
            st.text(alphabet="x0-_", min_size=1, max_size=4).map(lambda s: real_key + s),
            st.text(alphabet="x0-_", min_size=1, max_size=4).map(lambda s: s + real_key),
            st.just(real_key.swapcase()),
            st.integers(1, max(1, len(real_key) - 1)).map(lambda i: real_key[:i] + " " + real_key[i:]),
            st.integers(0, len(real_key) - 1).map(
                lambda i: real_key[:i] + ("A" if real_key[i] != "A" else "B") + real_key[i + 1:]),
        ]
    value = st.one_of(*fakes).filter(lambda v: not real_key or v.strip() != real_key)
    scheme = st.sampled_from(["Bearer", "bearer", "BEARER", "BeArEr"])

    @st.composite
    def headers(draw: st.DrawFn) -> dict[str, str]:
        return {k: v.strip() for k, v in draw(styled()).items()}

    @st.composite
    def styled(draw: st.DrawFn) -> dict[str, str]:
        style = draw(st.sampled_from(["x-admin", "bearer", "both", "basic", "token", "no-space", "admin-in-auth"]))
        v = draw(value)
        if style == "x-admin":
            return {"X-Admin-API-Key": v}
        if style == "bearer":
            return {"Authorization": f"{draw(scheme)} {v}"}
        if style == "both":
            return {"X-Admin-API-Key": v, "Authorization": f"{draw(scheme)} {draw(value)}"}
        key_or_fake = real_key or v
        if style == "basic":
            return {"Authorization": f"Basic {key_or_fake}"}
        if style == "token":
            return {"Authorization": f"Token {key_or_fake}"}
        if style == "no-space":
            return {"Authorization": f"Bearer{key_or_fake}"}
        return {"Authorization": key_or_fake}  # the bare key, no scheme

    return headers()


def guard_held(method: str, response: Any) -> bool:
    """Did the admin guard hold for a request that carried no matching key?

    Yes for 401. Yes for a bodiless 2xx answer to OPTIONS: CORS answering a preflight before the guard
    (Hono's ``cors()`` on ``*`` ends every OPTIONS with 204 — R10.5's ``X-Admin-API-Key`` in
    Allow-Headers only works if admin preflights succeed) runs no handler and returns no data. Anything
    else — an OPTIONS answer with a body, a handler's 400/404/405, any other method's 2xx — reached past
    the guard."""
    if response.status_code == 401:
        return True
    return method.upper() == "OPTIONS" and response.status_code in (200, 204) and not response.content


def bare_key_note(headers: dict[str, str], real_key: str) -> str:
    """Say so when the refused credential was the real key without its scheme (only the scheme was wrong)."""
    if real_key and any(k.lower() == "authorization" and v.strip() == real_key for k, v in headers.items()):
        return (" — the key itself was right (the real admin key); only the 'Bearer' scheme was missing, and "
                "the spec names 'Authorization: Bearer <key>'")
    return ""


def right_admin_credentials(real_key: str) -> st.SearchStrategy[dict[str, str]]:
    """The real key in either accepted style, ``Bearer`` in any case (R8.4's design fact)."""
    bearer = st.sampled_from(["Bearer", "bearer", "BEARER", "bEaReR"]).map(lambda s: {"Authorization": f"{s} {real_key}"})
    return st.one_of(st.just({"X-Admin-API-Key": real_key}), bearer)


# --- origins -------------------------------------------------------------------------------------

def _parts(origin: str) -> tuple[str, str, int] | None:
    try:
        parts = urlsplit(origin.strip())
        if parts.path not in ("",) or parts.query or parts.fragment or parts.username or parts.password:
            return None
        host = (parts.hostname or "").lower()
        if not parts.scheme or not host:
            return None
        port = parts.port or {"https": 443, "http": 80}.get(parts.scheme.lower(), -1)
        return parts.scheme.lower(), host, port
    except ValueError:
        return None


def same_origin(sent: str, configured: str) -> bool:
    """RFC 6454 comparison: scheme and host case-insensitive, default port implied."""
    a, b = _parts(sent), _parts(configured)
    return a is not None and a == b


def foreign_origins(configured: str) -> st.SearchStrategy[str]:
    """Origins that are not ``configured`` but look like it (R10.4's generated look-alikes)."""
    parts = urlsplit(configured)
    scheme, host = parts.scheme, parts.hostname or "stackfast.app"
    label, _, tld = host.partition(".")
    other_scheme = "http" if scheme == "https" else "https"
    unicode_host = host.replace("a", "\u0430", 1)  # Cyrillic a
    try:
        puny = "xn--" + unicode_host.split(".")[0].encode("punycode").decode() + "." + tld
    except UnicodeError:
        puny = "xn--stckfast-2nf." + tld
    fixed = [
        "null", f"{other_scheme}://{host}", f"{scheme}://{host}:8443", f"{scheme}://{host}:80",
        f"{scheme}://evil{host}", f"{scheme}://evil.{host}", f"{scheme}://{host}.evil.example",
        f"{scheme}://{host}.", f"{scheme}://{host}x", f"{scheme}://{label}-{tld}.evil.example",
        f"{scheme}://{label}.{tld}.evil.example", f"{scheme}://www.{host}", f"{scheme}://staging.{host}",
        f"{scheme}://api.{host}", f"{scheme}://{host}@evil.example", f"{scheme}://evil.example",
        f"{scheme}://{unicode_host}", f"{scheme}://{puny}", "http://localhost:5173", "http://127.0.0.1",
        "file://", f"{scheme}://{label}.{tld}0", f"{scheme}://{label}{tld}", f"ws://{host}",
    ]
    host_chars = "abcdefghijklmnopqrstuvwxyz0123456789-."
    generated = st.builds(
        lambda pre, post, sch, port: f"{sch}://{pre}{host}{post}" + (f":{port}" if port else ""),
        st.text(alphabet=host_chars, max_size=12), st.text(alphabet=host_chars, max_size=12),
        st.sampled_from([scheme, other_scheme, scheme.upper(), "ftp"]),
        st.sampled_from([None, 444, 8080, 1]),
    )
    long_value = st.integers(200, 3000).map(lambda n: f"{scheme}://" + "a" * n + "." + host)
    random_text = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=60)
    return st.one_of(st.sampled_from(fixed), generated, long_value, random_text).filter(
        lambda o: not same_origin(o, configured))


def any_origin(configured: str) -> st.SearchStrategy[str | None]:
    """No Origin, the configured one (and its case/port spellings), or a foreign one."""
    parts = urlsplit(configured)
    spellings = [configured, configured.upper(), f"{configured}:{parts.port or 443}"]
    return st.one_of(st.none(), st.sampled_from(spellings), foreign_origins(configured))


def header_value(value: str) -> str | bytes:
    """httpx refuses non-ASCII str header values; send those as UTF-8 bytes."""
    return value if value.isascii() else value.encode("utf-8")


# --- requests across the surface -----------------------------------------------------------------

@dataclass(frozen=True)
class SurfaceRequest:
    method: str
    path: str
    preflight_method: str | None = None
    request_headers: tuple[str, ...] = ()
    body: str | None = None

    @property
    def is_preflight(self) -> bool:
        return self.preflight_method is not None


_ALLOWED_REQUEST_HEADERS = ("content-type", "authorization", "x-admin-api-key", "x-request-id", "x-ai-provider")


@st.composite
def surface_requests(draw: st.DrawFn, allow_post: bool, allow_generation: bool) -> SurfaceRequest:
    """A request somewhere on the API surface: simple (GET/HEAD/OPTIONS, POST when allowed) or a preflight.

    POST goes only where it cannot change anything (no admin route; generation routes only when
    ``allow_generation``, i.e. quota was opted in). A preflight never reaches a handler.
    """
    paths = list(READ_ROUTES + OTHER_ROUTES + KNOWN_ADMIN_ROUTES + GENERATION_ROUTES)
    path = draw(st.sampled_from(paths))
    kind = draw(st.sampled_from(["simple", "preflight", "preflight"]))
    if kind == "preflight":
        method = draw(st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]))
        names = draw(st.lists(st.one_of(st.sampled_from(_ALLOWED_REQUEST_HEADERS),
                                        st.from_regex(r"\Ax-[a-z]{1,10}\Z")), max_size=4, unique=True))
        return SurfaceRequest("OPTIONS", path, method, tuple(names))
    methods = ["GET", "HEAD", "OPTIONS"]
    post_ok = allow_post and path not in KNOWN_ADMIN_ROUTES and (allow_generation or path not in GENERATION_ROUTES)
    if post_ok:
        methods.append("POST")
    method = draw(st.sampled_from(methods))
    body = draw(st.sampled_from(["{}", '{"idea": "x"}', "not json"])) if method == "POST" else None
    return SurfaceRequest(method, path, body=body)


def send_surface_request(http: Any, req: SurfaceRequest, origin: str | None, identity: str | None) -> Any:
    headers: dict[str, Any] = {}
    if origin is not None:
        headers["Origin"] = header_value(origin)
    if req.is_preflight:
        headers["Access-Control-Request-Method"] = req.preflight_method
        if req.request_headers:
            headers["Access-Control-Request-Headers"] = ", ".join(req.request_headers)
    if req.body is not None:
        headers["Content-Type"] = "application/json"
    return http.request(req.method, req.path, headers=headers, identity=identity, content=req.body)


def describe(response: Any) -> str:
    acao = response.headers.get("access-control-allow-origin")
    acac = response.headers.get("access-control-allow-credentials")
    return (f"status {response.status_code}, Access-Control-Allow-Origin {acao!r}, "
            f"Access-Control-Allow-Credentials {acac!r}")


def request_line(method: str, path: str, headers: dict[str, Any] | None = None) -> str:
    shown = ", ".join(f"{k}: {v if isinstance(v, str) else v.decode('utf-8', 'replace')}"[:120]
                      for k, v in (headers or {}).items())
    return f"{method} {path}" + (f" [{shown}]" if shown else "")


def sample_bodies() -> st.SearchStrategy[tuple[str | None, str | None]]:
    """(content type, body) pairs: valid-looking JSON, junk, forms, huge, none."""
    json_values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
        max_leaves=8,
    )
    import json as _json

    idea = st.fixed_dictionaries({"idea": st.text(min_size=1, max_size=80)},
                                 optional={"constraints": st.lists(st.text(max_size=20), max_size=3)})
    json_body = st.one_of(idea, json_values).map(lambda v: _json.dumps(v))
    content_types = st.sampled_from([None, "application/json", "application/json; charset=utf-8", "text/plain",
                                     "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                                     "APPLICATION/JSON", "application/vnd.api+json"])
    junk = st.one_of(st.just(""), st.text(max_size=100), st.just("idea=x&constraints=y"),
                     st.just("{" * 200), st.integers(10_000, 60_000).map(lambda n: '{"idea": "' + "a" * n + '"}'))
    return st.tuples(content_types, st.one_of(json_body, junk, st.none()))


def status_classes(seq: Sequence[int]) -> str:
    counts: dict[int, int] = {}
    for s in seq:
        counts[s] = counts.get(s, 0) + 1
    return ", ".join(f"{n}×{s}" for s, n in sorted(counts.items()))
