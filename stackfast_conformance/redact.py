"""Redaction of secrets in every text the harness records: by value and by shape.

The harness records text it did not write: operator-action output, log lines, response bodies
and headers, exception messages, Hypothesis notes. Whatever it stores it publishes (reports are
CI artifacts), so every such text passes :func:`redact_text` (a whole run record passes
:func:`redact_record`) before it reaches a writer. What is masked:

- **by value**: every value given to :func:`register_secret` (the profile's secret options, the
  values of env snapshots that look secret, values other writers such as a HAR exporter learn at
  run time), and any fragment of 12+ characters of one;
- **by shape**: ``NAME=value`` / ``NAME: value`` / ``"NAME": "value"`` where NAME looks secret
  (``*SECRET*``, ``*TOKEN*``, ``*PASSWORD*``, ``*PASS``, ``*_KEY``, ``*DSN*``, ``*CREDENTIAL*``,
  ``DATABASE_URL``, ...); credentials in URLs (``scheme://user:pass@host``); ``Authorization:
  Bearer|Basic ...``; ``Cookie:`` / ``Set-Cookie:`` values; JWTs; GitHub tokens (``ghp_``,
  ``gho_``, ``ghu_``, ``ghs_``, ``ghr_``, ``github_pat_``) and OAuth client secrets (40 hex);
  Upstash REST tokens; Sentry DSN keys; long random-looking tokens (32+ characters mixing upper
  case, lower case and digits).

A masked value keeps its place and says what it was, so two runs can be compared without the
secret: ``UPSTASH_REDIS_REST_TOKEN=*** (sha256:ab12cd34, 44 chars)``. Redaction is idempotent
(redacting a redacted text changes nothing) and leaves evidence alone: rate-limit headers,
``Retry-After``, request ids, CORS headers, public client ids, fingerprints.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable, Iterable
from typing import Any

__all__ = [
    "FRAGMENT",
    "MASK",
    "is_secret_name",
    "is_secret_value",
    "mask_value",
    "redact_record",
    "redact_text",
    "register_secret",
    "register_secrets",
]

MASK = "***"
FRAGMENT = 12  # a piece of a known secret this long (or longer) is masked wherever it appears
_MIN_SECRET = 6  # shorter values ("true", "1") are never registered: masking them would destroy evidence

_lock = threading.Lock()
_registered: dict[str, str] = {}  # value -> label
_version = [0]


def mask_value(value: str) -> str:
    """``*** (sha256:<8 hex>, N chars)``: what a report shows instead of a secret."""
    digest = hashlib.sha256(value.encode("utf-8", errors="replace")).hexdigest()[:8]
    return f"{MASK} (sha256:{digest}, {len(value)} chars)"


def register_secret(value: str | None, label: str = "") -> None:
    """Mask ``value`` (and its 12+ character fragments) in every text this process redacts.

    For values learnt at run time (a HAR's session cookie, an env snapshot's token): call it
    before the text that may contain the value is written. Values shorter than 6 are ignored.
    """
    if not value or len(value) < _MIN_SECRET:
        return
    with _lock:
        if value not in _registered:
            _registered[value] = label
            _version[0] += 1


def register_secrets(values: Iterable[str | None]) -> None:
    for value in values:
        register_secret(value)


# --------------------------------------------------------------------------- names and values

_SECRET_WORDS = re.compile(
    r"secret|token|passw(?:or)?d|passphrase|credential|private[-_.]?key|api[-_.]?key|access[-_.]?key"
    r"|auth[-_.]?key|signing[-_.]?key|encryption[-_.]?key|dsn|database[-_.]?url|authorization"
    r"|[-_.](?:pass|pwd|pw|key)$|^(?:pass|pwd)(?:$|[-_.])|cookie",
    re.I,
)
# names that carry a secret word but hold no secret: public ids, URLs (their credentials are masked
# by shape), sizes and times
_NOT_SECRET_SUFFIX = re.compile(
    r"(?:[-_.](?:id|ids|name|names|url|uri|endpoint|host|ttl|expires(?:[-_.]in|[-_.]at)?|expiry|length|count|size"
    r"|seconds|ms|path|file|header|headers|prefix|type|limit|max|min)|^max[-_.]?tokens?|_tokens)$",
    re.I,
)
_URL_NAME = re.compile(r"(?:url|uri|dsn|endpoint)$", re.I)


def is_secret_name(name: str) -> bool:
    """Whether a variable, header or JSON key called ``name`` holds a secret."""
    if not _SECRET_WORDS.search(name):
        return False
    if re.search(r"database[-_.]?url|dsn$", name, re.I):
        return True  # named secrets in the brief of the spec (URL-valued: only their credentials are masked)
    return not _NOT_SECRET_SUFFIX.search(name)


_BENIGN_VALUE = re.compile(
    r"(?:true|false|null|none|nil|undefined|yes|no|on|off|required|optional|missing|unset|empty|set|-|\d+(?:\.\d+)?)",
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


def is_secret_value(name: str, value: str) -> bool:
    """Whether an env variable's value must be masked by value: a secret name, or a secret shape."""
    if not value or len(value) < _MIN_SECRET or _BENIGN_VALUE.fullmatch(value.strip()):
        return False
    if is_secret_name(name) and not _URL_NAME.search(name):
        return True
    if redact_text(value) != value:
        return True
    return bool(_looks_random(value))


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


def _hex40(m: re.Match[str]) -> str:
    before = m.string[max(0, m.start() - 24):m.start()]
    if _COMMIT_CONTEXT.search(before):
        return m[0]  # a commit id, not an OAuth client secret
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

def _by_value(text: str, secrets: dict[str, str]) -> str:
    for value in sorted(secrets, key=len, reverse=True):
        if value in text:
            text = text.replace(value, mask_value(value))
    for value in secrets:
        if len(value) < FRAGMENT + 4:
            continue
        text = _fragments(text, value)
    return text


def _fragments(text: str, value: str) -> str:
    """Mask every piece of ``value`` of 12+ characters found in ``text`` (a prefix, a suffix, a middle).

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
            replacement = mask_value(text[left:right])
            text = text[:left] + replacement + text[right:]
            position = text.find(piece, left + len(replacement))
    return text


def redact_text(text: str | None, extra: Iterable[str] = ()) -> str | None:
    """``text`` with every known secret (and ``extra`` values) and every secret-shaped value masked."""
    if not text:
        return text
    with _lock:
        secrets = dict(_registered)
    for value in extra:
        if value and len(value) >= _MIN_SECRET:
            secrets.setdefault(value, "")
    if secrets:
        text = _by_value(text, secrets)
    for pattern, replace in _RULES[:_KEY_VALUE_AT]:
        text = pattern.sub(replace, text)
    text = _key_values(text)
    for pattern, replace in _RULES[_KEY_VALUE_AT:]:
        text = pattern.sub(replace, text)
    return text


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
