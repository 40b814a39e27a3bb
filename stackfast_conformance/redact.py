"""Redaction of secrets in every text the harness records: by value and by shape.

The harness records text it did not write: operator-action output, log lines, response bodies
and headers, exception messages, Hypothesis notes. Whatever it stores it publishes (reports are
CI artifacts), so every such text passes :func:`redact_text` (a whole run record passes
:func:`redact_record`) before it reaches a writer. What is masked:

- **by value**: every value given to :func:`register_secret` (the profile's secret options, the
  values of env snapshots that look secret, values other writers such as a HAR exporter learn at
  run time), and any fragment of 12+ characters of one — except a fragment that is also a piece of
  the run's public text (:func:`register_public`: target URLs, origins, the catalog's commit, the
  non-secret values of env snapshots). Only secrets are registered: a URL gives its password (or
  a DSN's key) and secret query values, never its host; a hostname, an e-mail address, a flag or
  a number gives nothing;
- **by shape**: ``NAME=value`` / ``NAME: value`` / ``"NAME": "value"`` where NAME looks secret
  (``*SECRET*``, ``*TOKEN*``, ``*PASSWORD*``, ``*PASS``, ``*_KEY``, ``*DSN*``, ``*CREDENTIAL*``,
  ``DATABASE_URL``, ...); credentials in URLs (``scheme://user:pass@host``); ``Authorization:
  Bearer|Basic ...``; ``Cookie:`` / ``Set-Cookie:`` values; JWTs; GitHub tokens (``ghp_``,
  ``gho_``, ``ghu_``, ``ghs_``, ``ghr_``, ``github_pat_``) and OAuth client secrets (40 hex after a
  secret-looking word; a bare 40-hex string is a commit id and stays);
  Upstash REST tokens; Sentry DSN keys; long random-looking tokens (32+ characters mixing upper
  case, lower case and digits).

Names are judged by their words, not by substrings: ``GOOGLE_CREDENTIALS`` and ``x-csrf-token`` are
secret, ``Access-Control-Allow-Credentials``, ``tokenizer`` and ``max_tokens`` are not, and the HTTP
headers that are evidence (CORS, rate-limit, ``Retry-After``, request ids, ``Vary``, security headers)
are never masked by name.

A masked value keeps its place and says what it was, so two runs can be compared without the
secret: ``UPSTASH_REDIS_REST_TOKEN=*** (sha256:ab12cd34, 44 chars)``. Redaction is idempotent
(redacting a redacted text changes nothing) and leaves evidence alone: rate-limit headers,
``Retry-After``, request ids, CORS headers, public client ids, commit ids, fingerprints.

Results are cached per text until a secret or a public text is registered, so redacting the same
record again (the run, each report writer, Allure) costs a dictionary look-up per string.
"""

from __future__ import annotations

import functools
import hashlib
import re
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

__all__ = [
    "FRAGMENT",
    "MASK",
    "is_secret_name",
    "is_secret_value",
    "mask_value",
    "redact_record",
    "redact_text",
    "register_public",
    "register_secret",
    "register_secrets",
    "register_settings",
]

MASK = "***"
FRAGMENT = 12  # a piece of a known secret this long (or longer) is masked wherever it appears
_MIN_SECRET = 6  # shorter values ("true", "1") are never registered: masking them would destroy evidence

_lock = threading.Lock()
_registered: dict[str, str] = {}  # value -> label
_public: set[str] = set()  # text the run knows to be public: no fragment of a secret is masked inside one
_version = [0]  # bumped by every registration: the result cache and the by-value matcher follow it


def mask_value(value: str) -> str:
    """``*** (sha256:<8 hex>, N chars)``: what a report shows instead of a secret."""
    digest = hashlib.sha256(value.encode("utf-8", errors="replace")).hexdigest()[:8]
    return f"{MASK} (sha256:{digest}, {len(value)} chars)"


def register_secret(value: str | None, label: str = "") -> list[str]:
    """Mask the secret in ``value`` (and its 12+ character fragments) in every text this process redacts.

    For values learnt at run time (a HAR's session cookie, an env snapshot's token): call it
    before the text that may contain the value is written. Only what is secret is registered
    (:func:`secret_parts`): a URL gives its password, a DSN's key and its secret query values (its
    scheme, host and path become public text); a hostname, an e-mail address, a flag, a number or a
    value shorter than 6 gives nothing. Returns the values registered.
    """
    named = bool(label) and is_secret_name(label) and not _URL_NAME.search(label)
    parts, public = _split(value, named)
    with _lock:
        for part in parts:
            if part not in _registered:
                _registered[part] = label
                _version[0] += 1
    register_public(public)
    return parts


def register_secrets(values: Iterable[str | None]) -> None:
    for value in values:
        register_secret(value)


def register_public(values: Iterable[str | None]) -> None:
    """Text the run knows to be public: a fragment of a registered secret is not masked where the whole
    stretch it matches is a piece of one of these (a registered secret itself is always masked).

    Give target URLs, origins and hosts, the catalog's commit, the non-secret values of env snapshots.
    A URL is kept without its credentials and query; a value holding a secret shape is ignored.
    """
    added: set[str] = set()
    for value in values:
        if not value or len(value) < FRAGMENT:
            continue  # no 12-character stretch fits in it
        if _URL_VALUE.fullmatch(value):
            value = _public_url(value) or ""
        elif _shapes(value) != value:
            continue
        if len(value) >= FRAGMENT:
            added.add(value)
    with _lock:
        new = added - _public
        if new:
            _public.update(new)
            _version[0] += 1


def register_settings(settings: Any) -> None:
    """A run's secrets (the profile's secret options, by value) and its public texts (target URLs, expected
    origins and cookie domain, ``--connect-to`` pins, the catalog's spec commit and URLs)."""
    register_secrets(dict(getattr(settings, "secrets", None) or {}).values())
    public: list[str | None] = [getattr(settings, name, None) for name in
                                ("api_url", "web_url", "staging_api_url", "staging_web_url")]
    public += [v for v in dict(getattr(settings, "expected", None) or {}).values() if isinstance(v, str)]
    public += [str(pin) for pin in getattr(settings, "connect_to", None) or ()]
    try:
        from stackfast_conformance.catalog import load_catalog

        public += [v for v in load_catalog().spec.values() if isinstance(v, str)]
    except Exception:  # noqa: BLE001 - a broken catalog is reported by the run itself; redaction goes on
        pass
    for url in [v for v in public if v and "://" in v]:
        host = urlsplit(url).hostname if _URL_VALUE.fullmatch(url) else None
        public.append(host)
    register_public(public)


# --------------------------------------------------------------------------- what a value gives

_URL_VALUE = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]{1,20}://[^\s\"'<>]+")
_HOSTNAME = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,24}\.?(?::\d{1,5})?")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,24}")
_PUBLIC_URL_IN_TEXT = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]{1,20}://[A-Za-z0-9.-]+(?::\d+)?(?:/[^\s\"'<>;,|?#&]*)?")
_HOST = re.compile(r"[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?|[0-9a-f:.]+")  # a DNS name or an IP address
_OAUTH_QUERY = ("code", "state")  # an OAuth callback's code and state are secrets too


def _public_url(url: str) -> str | None:
    """``scheme://host[:port]/path`` of ``url``: no credentials, no query."""
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return None
    if not parts.hostname or not _HOST.fullmatch(parts.hostname):
        return None
    return f"{parts.scheme}://{parts.hostname}{port}{parts.path}"


def _url_secrets(url: str) -> list[str]:
    """The secret parts of a URL: its password, a DSN's key (a user name that is a key), secret query values."""
    found: list[str] = []
    try:
        parts = urlsplit(url)
        password, username, query = parts.password, parts.username, parse_qsl(parts.query)
    except ValueError:  # not parseable (a bad port): the credential shape still finds the password
        match = _URL_CREDENTIALS.search(url)
        return [match["password"]] if match else []
    if password:
        found += [password, unquote(password)]
    elif username and (re.fullmatch(r"[0-9a-f]{32,}", username) or _looks_random(username)):
        found.append(username)
    found += [v for k, v in query if is_secret_name(k) or k.lower() in _OAUTH_QUERY]
    return [v for v in dict.fromkeys(found) if len(v) >= _MIN_SECRET and not _benign(v)]


def _split(value: str | None, named: bool = False) -> tuple[list[str], list[str]]:
    """(the secrets ``value`` holds, the public text it holds); ``named``: its name says secret (SMTP_PASSWORD),
    so a value shaped like a host name or an e-mail address is the secret all the same."""
    if not value or len(value) < _MIN_SECRET:
        return [], []
    plain = value.strip()
    decoded = unquote(plain) if "%" in plain else plain
    if _URL_VALUE.fullmatch(decoded) and _public_url(decoded):
        return _url_secrets(decoded), [decoded]
    if _benign(plain) or not named and (_HOSTNAME.fullmatch(plain) or _EMAIL.fullmatch(plain)):
        return [], []
    # a URL inside a secret (a JSON credentials blob's auth_uri) is not a secret: its pieces stay readable
    return [value], _PUBLIC_URL_IN_TEXT.findall(value)


# --------------------------------------------------------------------------- names and values

# a word that makes a name secret wherever it stands (clientSecret, x-csrf-token, GOOGLE_CREDENTIALS)
_SECRET_WORDS = frozenset({"secret", "secrets", "token", "password", "passwd", "passphrase", "pwd", "credential",
                           "credentials", "dsn", "cookie", "authorization", "signature", "apikey"})
# run-together names (SECRETKEY, xsrftoken, dbpassword) end with one of these
_SECRET_ENDINGS = ("secret", "token", "password", "passwd", "apikey", "privatekey", "secretkey", "accesskey",
                   "authkey", "signingkey", "credentials", "cookie")
# WORD + key anywhere (x-admin-api-key, SECRET_KEY_BASE); key/pass/pw at the end of a longer name (DB_PASS)
_KEY_WORDS = frozenset({"api", "private", "access", "auth", "signing", "encryption", "secret", "admin", "master"})
# "credentials" after these is a mode or a flag, not a secret (Access-Control-Allow-Credentials, withCredentials)
_FLAG_WORDS = frozenset({"allow", "with", "include", "omit", "require", "requires"})
# a last word saying the value is not the secret: public ids, URLs (credentials masked by shape), sizes, times
_NOT_SECRET_LAST = frozenset({"id", "ids", "name", "names", "url", "uri", "endpoint", "host", "ttl", "expires",
                              "expiry", "length", "count", "size", "seconds", "ms", "path", "file", "header",
                              "headers", "prefix", "type", "limit", "max", "min", "tokens", "in", "at", "enabled",
                              "mode", "policy", "required"})
# HTTP headers that are evidence and never secret by name (their values still pass the shape rules)
_PUBLIC_HEADERS = frozenset({
    "vary", "retry-after", "x-request-id", "request-id", "x-correlation-id", "x-trace-id", "traceparent",
    "tracestate", "cache-control", "pragma", "etag", "date", "expires", "last-modified", "age", "location",
    "server", "via", "allow", "link", "origin", "referer", "host", "user-agent", "connection", "keep-alive",
    "transfer-encoding", "strict-transport-security", "x-content-type-options", "x-frame-options",
    "x-xss-protection", "referrer-policy", "permissions-policy", "timing-allow-origin", "report-to",
    "reporting-endpoints", "nel", "alt-svc", "x-powered-by", "www-authenticate", "upgrade", "te", "trailer",
    "forwarded", "dnt", "priority", "x-robots-tag", "ratelimit", "ratelimit-policy", "x-dns-prefetch-control",
    "x-download-options", "x-permitted-cross-domain-policies", "origin-agent-cluster", "x-real-ip",
})
_PUBLIC_HEADER_PREFIXES = ("access-control-", "x-ratelimit-", "ratelimit-", "sec-", "cross-origin-", "content-",
                           "accept", "x-forwarded-", "if-")
_URL_NAME = re.compile(r"(?:url|uri|dsn|endpoint)$", re.I)
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


@functools.lru_cache(maxsize=4096)
def is_secret_name(name: str) -> bool:
    """Whether a variable, header or JSON key called ``name`` holds a secret.

    Judged by the name's words (split at ``-_.`` and camelCase), never by a substring: ``GOOGLE_CREDENTIALS``
    yes, ``Access-Control-Allow-Credentials`` no; the HTTP headers that are evidence (CORS, rate limits,
    ``Retry-After``, request ids, ``Vary``, security headers) never."""
    lowered = name.lower()
    if lowered in _PUBLIC_HEADERS or lowered.startswith(_PUBLIC_HEADER_PREFIXES):
        return False
    words = [w.lower() for w in _WORD.findall(name)]
    if not words:
        return False
    if "database_url" in "_".join(words) or words[-1] == "dsn":
        return True  # named secrets of the spec (URL-valued: only their credentials are masked, by shape)
    if words[-1] in _NOT_SECRET_LAST or (words[0] == "max" and "token" in words):
        return False
    for index, word in enumerate(words):
        previous = words[index - 1] if index else ""
        if word in ("credential", "credentials") and previous in _FLAG_WORDS:
            continue
        if word in _SECRET_WORDS or word.endswith(_SECRET_ENDINGS):
            return True
        if word == "key" and previous in _KEY_WORDS:
            return True
    if len(words) > 1 and words[-1] in ("key", "pass", "pw"):
        return True
    return words[0] in ("pass", "pwd")


_BENIGN_VALUE = re.compile(
    r"(?:true|false|null|none|nil|undefined|yes|no|on|off|required|optional|missing|unset|empty|set|-|\d+(?:\.\d+)?"
    r"|include|omit|same-origin)",  # (the last three: fetch()'s credentials modes)
    re.I,
)


_CREDENTIAL_MIN = 12  # an Authorization credential shorter than this is a probe's junk, kept for the repro


def _already_masked(value: str) -> bool:
    return value.startswith((MASK, "$", "sha256:", "(unset)", "(empty)", "(not ", "<", "%", "{{")) \
        or "${" in value or MASK in value


def _benign(value: str) -> bool:
    """A value no secret can be: a flag, a number, a placeholder (trailing punctuation of prose ignored)."""
    return bool(_BENIGN_VALUE.fullmatch(value.strip().strip("`'\"").rstrip(".,:;)`")))


def _prose(name: str, quoted_name: bool, value: str) -> bool:
    """``secret: shown``, ``credentials: "include"``: a lower-case word before a plain word is prose or code,
    not a variable (``PASSWORD=hunter2``, ``"password": "x9..."``, ``db_pass: ...`` stay secrets)."""
    return (not quoted_name and name.isalpha() and name.islower() and value.isalpha() and len(value) < 12)


_TOKEN_CHARS = re.compile(r"[A-Za-z0-9+/=._~-]+")


def is_secret_value(name: str, value: str) -> bool:
    """Whether an env variable's value must be masked by value: a secret name, or a secret shape.

    Judged from ``name`` and ``value`` alone (never from what is registered already, so one secret cannot
    drag a public value in): an origin, a URL without credentials, a commit id is not secret."""
    if not value or len(value) < _MIN_SECRET or _BENIGN_VALUE.fullmatch(value.strip()):
        return False
    if is_secret_name(name) and not _URL_NAME.search(name):
        return True
    if _shapes(f"{name}={value}") != f"{name}={value}":
        return True
    return bool(_TOKEN_CHARS.fullmatch(value)) and _looks_random(value)


# --------------------------------------------------------------------------- shapes

def _looks_random(token: str) -> bool:
    """32+ characters mixing upper case, lower case and digits: a key, not a word or an id."""
    if len(token) < 32:
        return False
    upper = sum(c.isupper() for c in token)
    lower = sum(c.islower() for c in token)
    digits = sum(c.isdigit() for c in token)
    return upper >= 2 and lower >= 2 and digits >= 2


_URL_CREDENTIALS = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]{1,20}://)(?P<user>[^\s:/@\"'<>]*):"
                              r"(?P<password>[^\s@/\"'<>]+)@")
_SENTRY_KEY = re.compile(r"(?P<scheme>\bhttps?://)(?P<key>[0-9a-f]{32})(?::[0-9a-f]{32})?@")
_AUTHORIZATION = re.compile(
    r"(?P<head>\b(?:proxy-)?authorization\\?[\"']?\s*[:=]\s*\\?[\"']?)(?P<scheme>bearer|basic|token|digest|negotiate)"
    r"(?P<gap>\s+)(?P<cred>[^\s\"'\\,;]{12,})", re.I)  # 12: _CREDENTIAL_MIN
_BEARER = re.compile(r"(?P<head>\bBearer\s+)(?P<cred>[A-Za-z0-9._~+/=-]{16,})")
_COOKIE_LINE = re.compile(r"(?P<head>(?:^|(?<=[\s\"'{,]))(?P<kind>set-cookie|cookie)[\"']?\s*:\s*[\"']?)"
                          r"(?P<value>[^\r\n\"'\\]*)", re.I | re.M)
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
_GITHUB_TOKEN = re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})")
_UPSTASH_TOKEN = re.compile(r"\bA[A-Za-z0-9_-]{3}A(?:CQg|SQg|AIncD|AIjcD)[A-Za-z0-9_+/=-]{20,}")
_HEX40 = re.compile(r"(?<![0-9A-Za-z/])[0-9a-f]{40}(?![0-9A-Za-z])")
_COMMIT_CONTEXT = re.compile(r"(?:commit|sha|revision|rev|tree|blob|head|parent|object|ref|/)[\s:=\"'#@-]*$", re.I)
_RANDOM_TOKEN = re.compile(r"(?<![A-Za-z0-9+_=.-])[A-Za-z0-9+_-]{32,}={0,2}(?![A-Za-z0-9+_=-])")
_SRI_CONTEXT = re.compile(r"(?:sha(?:256|384|512)-|sha256:)$")
# only NAME and the separator are consumed (the value is a lookahead), so the scan also looks inside
# the value of a harmless key: {"debug": "DATABASE_URL=… SMTP_PASSWORD: …"}
_KEY_VALUE = re.compile(
    r"(?<![A-Za-z0-9_.-])(?P<q>\\?[\"']|)(?P<name>[A-Za-z_][A-Za-z0-9_.-]{1,80})(?P=q)(?P<sep>[ \t]*[:=][ \t]*)"
    r"(?=(?P<value>\\\"(?:[^\"\\\n]|\\[^\"\n])*\\\"|\"(?:[^\"\\\n]|\\.)*\"|'[^'\n]*'"
    r"|[^\s\"'\\,;&<>{}\[\]]+))")


def _mask_url_credentials(m: re.Match[str]) -> str:
    password = m["password"]
    if _already_masked(password) or password.startswith(MASK):
        return m[0]
    return f"{m['scheme']}{m['user']}:{mask_value(password)}@"


_COOKIE_ATTRIBUTES = {"path", "domain", "expires", "max-age", "samesite", "secure", "httponly", "partitioned",
                      "priority"}


def _mask_cookie_pairs(value: str, *, first_only: bool) -> str:
    parts = value.split(";")
    out = []
    for index, part in enumerate(parts):
        name, sep, cookie = part.partition("=")
        attribute = index > 0 and name.strip().lower() in _COOKIE_ATTRIBUTES
        if sep and (index == 0 or not first_only) and not attribute and cookie.strip() \
                and not _already_masked(cookie.strip()):
            part = f"{name}={mask_value(cookie.strip())}"
        out.append(part)
    return ";".join(out)


def _cookie_line(m: re.Match[str]) -> str:
    value = m["value"]
    if value.strip().startswith(MASK):
        return m[0]
    return m["head"] + _mask_cookie_pairs(value, first_only=m["kind"].lower() == "set-cookie")


def _authorization(m: re.Match[str]) -> str:
    cred = m["cred"]
    if _already_masked(cred):
        return m[0]
    return f"{m['head']}{m['scheme']}{m['gap']}{mask_value(cred)}"


def _key_value(m: re.Match[str]) -> str | None:
    """The masked ``value`` of a secret-named NAME (None: leave it)."""
    name = m["name"]
    if not is_secret_name(name) or name.lower() in ("authorization", "proxy-authorization"):
        return None  # (an Authorization header's credential is masked by its own rule, its scheme kept)
    raw = m["value"]
    quote = next((q for q in ('\\"', '"', "'") if len(raw) >= 2 * len(q) and raw.startswith(q)
                  and raw.endswith(q)), "")
    value = raw[len(quote):len(raw) - len(quote)] if quote else raw
    if len(value) < _MIN_SECRET or _already_masked(value) or _benign(value) or _prose(name, bool(m["q"]), value):
        return None
    if _URL_NAME.search(name):
        return None  # a URL (DATABASE_URL, SENTRY_DSN): its credentials are masked by shape, its host is evidence
    if name.lower() in ("cookie", "set-cookie"):
        masked = _mask_cookie_pairs(value, first_only=name.lower() == "set-cookie")
    else:
        masked = mask_value(value)
    return f"{quote}{masked}{quote}"


def _key_values(text: str) -> str:
    out: list[str] = []
    position = 0
    for m in _KEY_VALUE.finditer(text):
        if m.start() < position:
            continue  # inside a value masked already
        masked = _key_value(m)
        if masked is None:
            continue
        out.append(text[position:m.end()])
        out.append(masked)
        position = m.end() + len(m["value"])
    return "".join(out) + text[position:]


_HEX_SECRET_CONTEXT = re.compile(r"secret|token|passw|credential|private|api[-_ ]?key|signing", re.I)


def _hex40(m: re.Match[str]) -> str:
    """A bare 40-hex string is a commit id (public) unless the words just before it say secret
    (``oauth app secret <hex>``); named (``GITHUB_CLIENT_SECRET=``) and registered ones are masked elsewhere."""
    before = re.split(r"[\n,;|]", m.string[max(0, m.start() - 32):m.start()])[-1]
    if _COMMIT_CONTEXT.search(before) or not _HEX_SECRET_CONTEXT.search(before):
        return m[0]
    return mask_value(m[0])


def _random_token(m: re.Match[str]) -> str:
    token = m[0]
    before = m.string[max(0, m.start() - 60):m.start()]
    if not _looks_random(token.rstrip("=")) or _SRI_CONTEXT.search(before) or "reproduce_failure(" in before \
            or token.startswith(("sha256-", "sha384-", "sha512-")):  # a subresource-integrity hash
        return m[0]
    return mask_value(token)


def _simple(m: re.Match[str]) -> str:
    return mask_value(m[0])


def _named(group: str) -> Callable[[re.Match[str]], str]:
    def replace(m: re.Match[str]) -> str:
        return m[0][: m.start(group) - m.start()] + mask_value(m[group]) + m[0][m.end(group) - m.start():]
    return replace


# order matters: specific shapes first, so the generic rules never see half a secret
_RULES: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (_AUTHORIZATION, _authorization),
    (_BEARER, _named("cred")),
    (_COOKIE_LINE, _cookie_line),
    (_JWT, _simple),
    (_GITHUB_TOKEN, _simple),
    (_SENTRY_KEY, _named("key")),
    (_URL_CREDENTIALS, _mask_url_credentials),
    (_UPSTASH_TOKEN, _simple),
    (_HEX40, _hex40),
    (_RANDOM_TOKEN, _random_token),
)
_KEY_VALUE_AT = 8  # NAME=value runs after the shapes above and before the generic ones


# --------------------------------------------------------------------------- by value

def _by_value(text: str, secrets: Iterable[str], public: frozenset[str] | set[str]) -> str:
    ordered = sorted(secrets, key=len, reverse=True)
    for value in ordered:
        if value in text:
            text = text.replace(value, mask_value(value))
    if len(text) >= FRAGMENT:
        for value in ordered:
            if len(value) >= FRAGMENT + 4:
                text = _fragments(text, value, public)
    return text


def _fragments(text: str, value: str, public: frozenset[str] | set[str] = frozenset()) -> str:
    """Mask every piece of ``value`` of 12+ characters found in ``text`` (a prefix, a suffix, a middle),
    unless the whole stretch of ``text`` that matches ``value`` there is a piece of a public text.

    Any 12-character piece contains one of the value's 6-character blocks at a multiple of 6, so a
    text holding none of those blocks holds no piece (the cheap test that keeps this fast)."""
    half = FRAGMENT // 2
    if not any(value[i:i + half] in text for i in range(0, len(value) - half + 1, half)):
        return text
    for start in range(len(value) - FRAGMENT + 1):
        piece = value[start:start + FRAGMENT]
        position = text.find(piece)
        guard = 0
        while position >= 0 and guard < 100:
            guard += 1
            left, right = position, position + FRAGMENT
            offset = start
            while left > 0 and offset > 0 and text[left - 1] == value[offset - 1]:
                left, offset = left - 1, offset - 1
            end = start + FRAGMENT
            while right < len(text) and end < len(value) and text[right] == value[end]:
                right, end = right + 1, end + 1
            stretch = text[left:right]
            if any(stretch in known for known in public):
                position = text.find(piece, position + 1)  # ordinary public text (an origin, a host): kept
                continue
            replacement = mask_value(stretch)
            text = text[:left] + replacement + text[right:]
            position = text.find(piece, left + len(replacement))
    return text


def _shapes(text: str) -> str:
    """``text`` with every secret-shaped value masked (no registered value consulted)."""
    for pattern, replace in _RULES[:_KEY_VALUE_AT]:
        text = pattern.sub(replace, text)
    text = _key_values(text)
    for pattern, replace in _RULES[_KEY_VALUE_AT:]:
        text = pattern.sub(replace, text)
    return text


# text -> redacted text, for the registry version in _cache_version (a record is redacted by the run, by each
# report writer and by Allure: every pass after the first is a look-up); bounded, dropped when it grows
_cache: dict[str, str] = {}
_cache_version = [-1]
_cache_chars = [0]
_CACHE_MAX_CHARS = 64_000_000


def redact_text(text: str | None, extra: Iterable[str] = ()) -> str | None:
    """``text`` with every known secret (and ``extra`` values) and every secret-shaped value masked."""
    if not text:
        return text
    extra = [value for value in extra if value and len(value) >= _MIN_SECRET]
    cacheable = not extra
    with _lock:
        version = _version[0]
        if cacheable:
            if _cache_version[0] != version or _cache_chars[0] > _CACHE_MAX_CHARS:
                _cache.clear()
                _cache_version[0], _cache_chars[0] = version, 0
            hit = _cache.get(text)
            if hit is not None:
                return hit
        secrets = list(_registered) + extra
        public = frozenset(_public)
    redacted = _by_value(text, secrets, public) if secrets else text
    redacted = _shapes(redacted)
    if cacheable:
        with _lock:
            if _cache_version[0] == version:
                _cache[text] = redacted
                _cache_chars[0] += len(text) + (len(redacted) if redacted is not text else 0)
    return redacted


_COMMIT_KEY = re.compile(r"commit|sha|revision|^rev$|^ref$|head", re.I)


def _keyed(key: str, value: str) -> str:
    """The string value of a secret-named key (a header dict, a JSON object) masked as a whole."""
    lowered = key.lower()
    if lowered in ("cookie", "set-cookie"):
        return _mask_cookie_pairs(value, first_only=lowered == "set-cookie")
    if MASK in value or "${" in value or len(value) < _MIN_SECRET or _already_masked(value) or _benign(value):
        return value
    if lowered in ("authorization", "proxy-authorization"):
        scheme, gap, cred = value.partition(" ")
        if not gap:
            scheme, cred = "", value
        return f"{scheme}{gap}{mask_value(cred)}" if len(cred) >= _CREDENTIAL_MIN else value
    if " " in value.strip() or re.fullmatch(r"[A-Z][A-Z0-9_]{2,}", value):
        return value  # a sentence or a variable's name, not a value
    return mask_value(value)


def redact_record(obj: Any, extra: Iterable[str] = (), _key: str | None = None) -> Any:
    """A copy of ``obj`` (dicts, lists, tuples, strings; other values as they are) with every string
    redacted, and the string value of a secret-named key masked as a whole."""
    extra = tuple(extra)
    if isinstance(obj, str):
        if _key is not None and _COMMIT_KEY.search(_key) and re.fullmatch(r"[0-9a-f]{40}", obj):
            return obj  # a commit id
        if _key is not None and is_secret_name(_key) and not _URL_NAME.search(_key):
            obj = _keyed(_key, obj)
        return redact_text(obj, extra)
    if isinstance(obj, dict):
        return {k: redact_record(v, extra, k if isinstance(k, str) else None) for k, v in obj.items()}
    if isinstance(obj, list):
        return [redact_record(v, extra, _key) for v in obj]
    if isinstance(obj, tuple):
        return tuple(redact_record(v, extra, _key) for v in obj)
    return obj
