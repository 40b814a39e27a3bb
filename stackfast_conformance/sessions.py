"""Session sources and Set-Cookie parsing for the checks that need a signed-in user (R3, R6.1).

Two sources of a session, in this order:

- the embedded reference: ``sign_in_through_oauth`` drives the whole GitHub OAuth round trip
  over the edge (``POST /api/auth/sign-in/social`` -> the fake provider's authorize URL -> the
  API's callback, which answers with ``Set-Cookie``), recording every exchange as evidence;
- any other target: the cookie a person supplies in ``STACKFAST_SESSION_COOKIE`` (from a test
  account, as ``name=value``; a bare value is taken as Better Auth's production cookie name).

Cookie values are secrets: every value obtained here is registered with the evidence masker
(``evidence.register_secret``) before anything can record it, ``SetCookie`` never shows its value
in ``repr``/``describe``, and no message built here contains one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from stackfast_conformance import _transient
from stackfast_conformance.evidence import register_secret
from stackfast_conformance.failures import CouldNotDecide, TransientFault

__all__ = ["DEFAULT_SESSION_COOKIE_NAME", "NO_SESSION_SOURCE", "Session", "SetCookie", "SignIn", "SignInStart",
           "advisory_cookie_problems", "authorize_url_of", "is_session_cookie", "obtain_session",
           "parse_set_cookie", "session_from_env", "set_cookies_of", "sign_in_through_oauth", "start_sign_in",
           "start_sign_in_accepted", "state_cookie_evidence"]

DEFAULT_SESSION_COOKIE_NAME = "__Secure-better-auth.session_token"
NO_SESSION_SOURCE = ("no session source: this target is not the embedded reference (whose fake GitHub "
                     "the harness can sign in with) and STACKFAST_SESSION_COOKIE is not set; export a test "
                     "account's session cookie as STACKFAST_SESSION_COOKIE='name=value'")
MAX_REDIRECTS = 6
# A round trip the network disturbed (an edge's 502, a dropped connection) starts over from the sign-in
# start at most this often: an OAuth code is single-use, so a lost callback answer cannot be retried alone.
SIGN_IN_ATTEMPTS = 3


@dataclass(frozen=True)
class SetCookie:
    """One parsed ``Set-Cookie`` (RFC 6265 §5.2); attribute names are lower-cased, values as sent."""

    name: str
    value: str = field(repr=False)
    attributes: tuple[tuple[str, str], ...] = ()

    def attribute(self, name: str) -> str | None:
        """The last value of attribute ``name`` (case-insensitive), "" for a flag, None when absent."""
        found = None
        for key, value in self.attributes:
            if key == name.lower():
                found = value
        return found

    def has(self, name: str) -> bool:
        return self.attribute(name) is not None

    @property
    def same_site(self) -> str | None:
        value = self.attribute("samesite")
        return value.strip().lower() if value is not None else None

    @property
    def domain(self) -> str | None:
        """The Domain attribute, lower-cased, leading dot removed (RFC 6265 ignores it)."""
        value = self.attribute("domain")
        return value.strip().lower().lstrip(".") if value else None

    def missing_production_flags(self) -> list[str]:
        """Which of Secure, HttpOnly, SameSite=None (R3.3) this cookie lacks."""
        missing = [flag for flag in ("Secure", "HttpOnly") if not self.has(flag)]
        if self.same_site != "none":
            missing.append("SameSite=None")
        return missing

    def describe(self) -> str:
        """``name=***; Attr; Attr=value`` — the value is never shown."""
        shown = {"secure": "Secure", "httponly": "HttpOnly", "samesite": "SameSite", "domain": "Domain",
                 "path": "Path", "max-age": "Max-Age", "expires": "Expires", "partitioned": "Partitioned"}
        parts = [f"{self.name}=***"]
        for key, value in self.attributes:
            label = shown.get(key, key)
            parts.append(f"{label}={value}" if value else label)
        return "; ".join(parts)


def parse_set_cookie(header: str) -> SetCookie | None:
    """Parse one Set-Cookie header value; None when a user agent would ignore it (no name=value)."""
    pair, _, rest = header.partition(";")
    if "=" not in pair:
        return None
    name, _, value = pair.partition("=")
    name = name.strip()
    if not name:
        return None
    attributes: list[tuple[str, str]] = []
    for raw in rest.split(";") if rest else []:
        key, _, attr_value = raw.partition("=")
        key = key.strip().lower()
        if key:
            attributes.append((key, attr_value.strip()))
    return SetCookie(name, value.strip(), tuple(attributes))


def set_cookies_of(response: Any) -> list[SetCookie]:
    """Every parseable Set-Cookie of an httpx response (each header separately)."""
    cookies = []
    for raw in response.headers.get_list("set-cookie"):
        cookie = parse_set_cookie(raw)
        if cookie is not None:
            cookies.append(cookie)
    return cookies


def is_session_cookie(name: str) -> bool:
    """Better Auth's session cookie (``better-auth.session_token``, with or without ``__Secure-``)."""
    return name.lower().endswith("session_token")


def _protect(value: str) -> None:
    """Register a cookie value (and the token before its signature) with every evidence masker."""
    register_secret(value, "")
    token = value.rsplit(".", 1)[0]
    if token != value:
        register_secret(token, "")


@dataclass(frozen=True)
class Session:
    """A session to send with requests: ``cookie_header`` is the ``Cookie:`` value (a secret)."""

    name: str
    value: str = field(repr=False)
    source: str = ""

    @property
    def cookie_header(self) -> str:
        return f"{self.name}={self.value}"


@dataclass
class SignIn:
    """What an OAuth round trip produced: every Set-Cookie the API sent, by response."""

    responses: list[Any]                                   # the httpx responses, in order
    cookies: list[tuple[Any, SetCookie]]                   # (response that set it, cookie)
    landed_at: str | None                                  # the Location the callback sent the browser to
    refused_start: SignInStart | None = None               # the web app's start, when it was refused (R3.8)

    @property
    def session_cookie(self) -> SetCookie | None:
        for _response, cookie in reversed(self.cookies):
            if is_session_cookie(cookie.name) and cookie.value:
                return cookie
        return None

    @property
    def session_response(self) -> Any:
        """The response whose Set-Cookie carried the session (for the curl reproduction)."""
        for response, cookie in reversed(self.cookies):
            if is_session_cookie(cookie.name) and cookie.value:
                return response
        return self.responses[-1] if self.responses else None

    def other_cookies(self) -> list[tuple[Any, SetCookie]]:
        return [(r, c) for r, c in self.cookies if not (is_session_cookie(c.name) and c.value)]

    def session(self) -> Session:
        cookie = self.session_cookie
        if cookie is None:
            last = self.responses[-1] if self.responses else None
            raise CouldNotDecide(
                "could not obtain a session: the OAuth round trip ended without a session Set-Cookie "
                f"(last answer {getattr(last, 'status_code', '?')} to {getattr(getattr(last, 'request', None), 'url', '?')})",
                getattr(getattr(last, "exchange", None), "curl", None))
        return Session(cookie.name, cookie.value, "OAuth round trip through the reference's fake GitHub")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


SIGN_IN_PATH = "/api/auth/sign-in/social"
RELATIVE_CALLBACK = "/"


@dataclass
class SignInStart:
    """One ``POST /api/auth/sign-in/social``: Better Auth answers 200 ``{url, redirect}`` (and ``Location``)
    with GitHub's authorize URL, or refuses, e.g. 403 ``{"message":"Invalid callbackURL",
    "code":"INVALID_CALLBACK_URL"}`` when the callbackURL's origin is not among its trusted origins."""

    response: Any
    callback_url: str
    authorize_url: str | None

    @property
    def accepted(self) -> bool:
        return self.authorize_url is not None

    @property
    def refused(self) -> bool:
        """A 4xx answer: the target understood the request and declined it (not an outage)."""
        return not self.accepted and 400 <= self.response.status_code < 500

    def describe(self) -> str:
        r = self.response
        return f"{r.status_code} {r.text[:160]!r} for callbackURL {self.callback_url!r}"

    def state_cookies(self) -> list[SetCookie]:
        """Better Auth's OAuth state cookie(s) (``__Secure-better-auth.state``), values never shown."""
        return [c for c in set_cookies_of(self.response) if c.name.lower().endswith(".state")]


def authorize_url_of(response: Any) -> str | None:
    """GitHub's authorize URL from a sign-in start: the ``Location`` header, else the JSON ``url``."""
    location = response.headers.get("location", "")
    if location.startswith(("http://", "https://")) and (response.status_code in (301, 302, 303, 307, 308)
                                                          or response.status_code == 200):
        return location
    if response.status_code != 200:
        return None
    try:
        data = response.json()
    except ValueError:
        return None
    url = data.get("url") if isinstance(data, dict) else None
    return url if isinstance(url, str) and url.startswith(("http://", "https://")) else None


def start_sign_in(http: Any, web_origin: str, *, callback_url: str | None = None, base: str = "api",
                  identity: str | None = None) -> SignInStart:
    """``POST /api/auth/sign-in/social`` as the SPA on ``web_origin`` sends it (callbackURL: the web origin)."""
    callback = callback_url or web_origin
    # retried like an idempotent request through an edge's 502: a start only issues a new OAuth state
    response = http.post(SIGN_IN_PATH, base=base, headers={"origin": web_origin}, identity=identity,
                         json={"provider": "github", "callbackURL": callback}, retry=True)
    for cookie in set_cookies_of(response):
        _protect(cookie.value)
    return SignInStart(response, callback, authorize_url_of(response))


def start_sign_in_accepted(http: Any, web_origin: str, *, base: str = "api", identity: str | None = None,
                           ) -> tuple[SignInStart, SignInStart | None]:
    """(the start to continue from, the web app's refused start or None).

    First as the SPA sends it (callbackURL = the web origin); when that is refused (4xx, e.g. the web
    origin is not a trusted origin), again with the relative callbackURL "/" Better Auth always
    accepts, so what the start shows (redirect_uri, cookies) can still be judged; the refusal itself is
    R3.8's evidence (no user can start a sign-in from the web app).
    """
    first = start_sign_in(http, web_origin, base=base, identity=identity)
    if first.accepted or not first.refused:
        return first, None
    return start_sign_in(http, web_origin, callback_url=RELATIVE_CALLBACK, base=base, identity=identity), first


def state_cookie_evidence(start: SignInStart, expected_domain: str | None) -> str:
    """What the sign-in start's state cookie shows about the session cookie, and what would decide it.

    Better Auth sets every cookie it issues with the same configured attributes (its cookie defaults,
    ``advanced.defaultCookieAttributes``, ``crossSubDomainCookies``), so the state cookie a deployed
    target sets on every sign-in start predicts the session cookie's (R3.3, R3.4) without signing in.
    A prediction is no verdict: the session cookie's own Set-Cookie (a HAR of a real sign-in) decides.
    """
    decide = ("to decide, give a HAR of a real sign-in recorded in a browser (--har FILE, exported with "
              "sensitive data): its OAuth callback carries the session cookie's Set-Cookie")
    cookies = start.state_cookies()
    if not cookies:
        names = ", ".join(c.name for c in set_cookies_of(start.response)) or "none"
        return f"the sign-in start set no Better Auth state cookie (cookies set: {names}); {decide}"
    cookie = cookies[0]
    missing = cookie.missing_production_flags()
    r33 = "R3.3 would pass" if not missing else f"R3.3 would fail (it lacks {', '.join(missing)})"
    wanted = (expected_domain or "").lstrip(".").lower()
    if not cookie.has("domain"):
        r34 = "R3.4 would fail (no Domain: a host-only cookie)"
    elif wanted and cookie.domain == wanted:
        r34 = "R3.4 would pass"
    else:
        r34 = f"R3.4 would fail (Domain={cookie.attribute('domain')})"
    return (f"the sign-in start set `{cookie.describe()}`; Better Auth gives the session cookie the same "
            f"configured attributes, which suggests {r33} and {r34}; {decide}")


def sign_in_through_oauth(http: Any, web_origin: str, *, base: str = "api", identity: str | None = None,
                          ) -> SignIn:
    """Drive ``POST /api/auth/sign-in/social`` -> provider authorize -> API callback, as a browser would.

    ``base`` is where the SPA sends its auth calls ("api"; "web" through a same-origin proxy).
    Redirects are followed by hand (at most ``MAX_REDIRECTS``) until one leaves for the web origin;
    each hop is recorded by ``http``. A step that does not answer as expected raises
    ``CouldNotDecide`` naming the step (the target cannot be judged without a session).

    Through a noisy edge: a round trip that ends without a session cookie after the network disturbed
    one of its steps (an exchange marked ``transient``) is no evidence about the target; it starts over
    (at most ``SIGN_IN_ATTEMPTS`` round trips, each in the evidence), and when every round trip was
    disturbed: ``TransientFault`` (ERROR transient). An undisturbed round trip is judged as it came.
    """
    recorder = getattr(http, "recorder", None)
    seen: list[str] = []
    for attempt in range(1, SIGN_IN_ATTEMPTS + 1):
        first_exchange = len(recorder.exchanges) if recorder is not None else 0
        unresolved_before = len(_transient.unresolved(recorder)) if recorder is not None else 0
        try:
            sign_in: SignIn | None = _round_trip(http, web_origin, base, identity)
            problem: CouldNotDecide | None = None
        except CouldNotDecide as exc:
            sign_in, problem = None, exc
        disturbed = [x.transient for x in (recorder.exchanges[first_exchange:] if recorder is not None else ())
                     if x.transient]
        if isinstance(problem, TransientFault) and not disturbed:
            disturbed = [getattr(problem, "what", None) or "transient fault"]
        if not disturbed or (sign_in is not None and sign_in.session_cookie is not None):
            if problem is not None:
                raise problem
            assert sign_in is not None
            return sign_in
        seen += disturbed
        if recorder is not None:
            _transient.mark_resolved(recorder, unresolved_before)  # this round trip is redone, not judged
            recorder.notes.append(f"OAuth round trip {attempt} disturbed by the network "
                                  f"({_transient.describe(disturbed)}): "
                                  + ("signing in again from the start" if attempt < SIGN_IN_ATTEMPTS else "giving up"))
            recorder.mark("retry", "OAuth round trip disturbed: start over", ok=False)
    raise _transient.fault(seen, f"in {SIGN_IN_ATTEMPTS} OAuth round trips: no session was obtained, and each round "
                                 "trip was disturbed by the network, so the target's sign-in cannot be judged")


def _round_trip(http: Any, web_origin: str, base: str, identity: str | None) -> SignIn:
    began, refused = start_sign_in_accepted(http, web_origin, base=base, identity=identity)
    start = began.response
    responses = [start]
    cookies = [(start, c) for c in set_cookies_of(start)]
    url = began.authorize_url
    if url is None:
        also = f" (the web app's start was refused first: {refused.describe()})" if refused else ""
        raise CouldNotDecide(f"could not start the OAuth sign-in: POST {SIGN_IN_PATH} answered "
                             f"{began.describe()} without an authorize URL{also}", start.exchange.curl)
    landed_at = None
    for _hop in range(MAX_REDIRECTS):
        response = http.get(url, identity=identity)
        responses.append(response)
        for cookie in set_cookies_of(response):
            _protect(cookie.value)
            cookies.append((response, cookie))
        location = response.headers.get("location")
        if response.status_code not in (301, 302, 303, 307, 308) or not location:
            break
        url = location if location.startswith(("http://", "https://")) else _origin(url) + location
        if _origin(url) == web_origin.rstrip("/") and "/api/auth/callback/" not in url:
            landed_at = url
            break
    return SignIn(responses, cookies, landed_at, refused)


def session_from_env(raw: str) -> Session:
    """The session a person supplied (``name=value`` or a bare value of the production cookie)."""
    raw = raw.strip()
    if raw.lower().startswith("cookie:"):
        raw = raw[len("cookie:"):].strip()
    name, sep, value = raw.partition("=")
    if not sep or not name.strip() or " " in name.strip():
        name, value = DEFAULT_SESSION_COOKIE_NAME, raw
    _protect(value.strip())
    return Session(name.strip(), value.strip(), "STACKFAST_SESSION_COOKIE")


def advisory_cookie_problems(cookie: SetCookie, cookie_domain: str | None) -> list[str]:
    """What a non-session cookie set by the API lacks compared with the session cookie's rules."""
    problems = cookie.missing_production_flags()
    if cookie_domain and cookie.domain != cookie_domain.lstrip(".").lower():
        problems.append(f"Domain={cookie_domain}")
    return problems


def obtain_session(target: Any, http: Any, identity: str | None = None) -> Session | None:
    """The run's session: a fresh OAuth sign-in on the embedded reference, else the env cookie, else None."""
    if target.reference is not None:
        web_origin = target.expected_web_origin or target.web_url
        base = "web" if target.environment == "local-dev" else "api"
        return sign_in_through_oauth(http, web_origin, base=base, identity=identity).session()
    if target.session_cookie:
        return session_from_env(target.session_cookie)
    return None
