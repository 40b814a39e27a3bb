"""HAR 1.2 files a person recorded in a real browser: validated, secrets registered, read as evidence.

A release engineer signs in once on staging or production and saves the session as HAR ("Save
all as HAR (with sensitive data)" in Chrome, "Save All As HAR" in Firefox); ``--har FILE``
(repeatable, env ``STACKFAST_HAR``) hands it to the checks in ``conformance/test_r03_har.py``.

    hars = load_hars(settings.har)          # ConfigFileError "file: problem" on a bad file
    for entry in hars[0].entries:
        entry.cite()   # "login.har entry #12: GET https://api.stackfast.app/api/auth/get-session (2026-…Z)"

Every cookie value, token, key, OAuth ``code``/``state`` the file holds is registered with the
evidence masker the moment the file is loaded (``Har.secrets`` keeps them for the leak self-test),
so no report can print one. A file with no cookie at all is recognised (``Har.sanitized``):
browsers strip cookies and auth headers by default, and such a file says nothing about them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from stackfast_conformance._yamlcheck import ConfigFileError
from stackfast_conformance.redact import is_secret_name

__all__ = ["SANITIZED_HINT", "Har", "HarEntry", "csp_allows", "load_har", "load_hars", "origin_of"]

SANITIZED_HINT = ("this HAR has no cookies: export it with sensitive data (Chrome: DevTools > Network > "
                  "'Export HAR (with sensitive data…)'; Firefox: Network > 'Save All As HAR')")
_OAUTH_QUERY = {"code", "state"}  # an OAuth callback's query: secrets by name only in a URL (a JSON "code" is an error's)
_SECRET_HEADERS = {"cookie", "set-cookie", "authorization", "proxy-authorization", "x-admin-api-key"}
_BLOCK_WORDS = {"csp": "Content-Security-Policy", "mixed-content": "mixed content", "cors": "CORS"}


def origin_of(url: str | None) -> str:
    """``scheme://host[:port]`` of ``url`` (lower-case, default port dropped), or "" when it has none."""
    if not url:
        return ""
    parts = urlsplit(url)
    if not parts.scheme or not parts.hostname:
        return ""
    default = {"https": 443, "http": 80}.get(parts.scheme.lower())
    port = f":{parts.port}" if parts.port and parts.port != default else ""
    return f"{parts.scheme.lower()}://{parts.hostname.lower()}{port}"


@dataclass
class HarEntry:
    """One request/response of a HAR, with what a check needs; ``cite()`` names it in a verdict."""

    file: str
    index: int  # 0-based, as the browser wrote them
    started: str
    method: str
    url: str
    status: int
    resource_type: str
    request_headers: list[tuple[str, str]]
    response_headers: list[tuple[str, str]]
    request_cookies: list[str]       # names only
    response_set_cookies: list[str]  # raw Set-Cookie lines (values are registered secrets)
    response_text: str | None
    error: str | None = None         # why the browser failed or blocked it (status 0)
    blocked_reason: str | None = None
    cors_error: str | None = None

    @property
    def origin(self) -> str:
        return origin_of(self.url)

    @property
    def path(self) -> str:
        return urlsplit(self.url).path or "/"

    def header(self, name: str, response: bool = True) -> str | None:
        lowered = name.lower()
        headers = self.response_headers if response else self.request_headers
        return next((v for n, v in headers if n.lower() == lowered), None)

    def shown_url(self) -> str:
        """The URL without its query (codes, states and tokens live there)."""
        parts = urlsplit(self.url)
        return f"{origin_of(self.url)}{parts.path or '/'}" + ("?…" if parts.query else "")

    def cite(self) -> str:
        return f"{self.file} entry #{self.index}: {self.method} {self.shown_url()} ({self.started})"

    @property
    def blocked(self) -> bool:
        """The browser never got (or refused) an answer: status 0 with an error."""
        return self.status == 0 and bool(self.error or self.blocked_reason or self.cors_error)

    def block_reason(self) -> str:
        """What blocked it, in words: CSP, CORS (with the CORS error), mixed content, or the error text."""
        text = " ".join(filter(None, (self.blocked_reason, self.cors_error, self.error)))
        kind = ""
        if self.block_kind() == "failed":
            kind = "failed in the browser, in Chrome usually a CORS rejection"
        elif self.cors_error or "cors" in text.lower():
            kind = "CORS"
        elif "csp" in text.lower() or "content security" in text.lower():
            kind = "Content-Security-Policy"
        elif "mixed" in text.lower():
            kind = "mixed content"
        detail = ", ".join(filter(None, (self.blocked_reason, self.cors_error, self.error)))
        return f"{kind} ({detail})" if kind else (detail or "status 0")

    def block_kind(self) -> str:
        text = " ".join(filter(None, (self.blocked_reason, self.cors_error, self.error))).lower()
        if self.cors_error or "cors" in text:
            return "cors"
        if "csp" in text or "content security" in text:
            return "csp"
        if "mixed" in text:
            return "mixed-content"
        if text.strip().endswith("err_failed") and not self.blocked_reason:
            return "failed"  # Chrome's HAR names a CORS rejection only as net::ERR_FAILED (the console says more)
        return "other"  # connection errors, ad blockers (ERR_BLOCKED_BY_CLIENT): not the target's answer


@dataclass
class Har:
    path: Path
    entries: list[HarEntry]
    secrets: set[str] = field(default_factory=set, repr=False)
    has_cookie_data: bool = False

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def sanitized(self) -> bool:
        """No Cookie or Set-Cookie anywhere: exported without sensitive data (or no cookie ever existed)."""
        return not self.has_cookie_data


class _Problem(Exception):
    pass


def _need(obj: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(obj, dict) or key not in obj:
        raise _Problem(f"{where}.{key}: missing (HAR 1.2 requires it)")
    value = obj[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is int:
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise _Problem(f"{where}.{key}: expected {names}, got {type(value).__name__}")
    return value


def _headers(obj: dict[str, Any], where: str) -> list[tuple[str, str]]:
    out = []
    for i, h in enumerate(_need(obj, "headers", list, where)):
        name = _need(h, "name", str, f"{where}.headers[{i}]")
        value = _need(h, "value", str, f"{where}.headers[{i}]")
        out.append((name, value))
    return out


def load_har(path: str | Path) -> Har:
    """Read and validate one HAR 1.2 file; a problem raises ``ConfigFileError`` ("file: problem")."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigFileError(path, None, f"cannot read the HAR file ({exc.__class__.__name__}: {exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigFileError(path, exc.lineno, f"not a HAR file: invalid JSON ({exc.msg})") from None
    har = Har(path, [])
    try:
        log = _need(data, "log", dict, "")
        version = _need(log, "version", str, "log")
        if version not in ("1.1", "1.2"):
            raise _Problem(f"log.version: {version!r} is not HAR 1.2")
        _need(log, "creator", dict, "log")
        for i, raw in enumerate(_need(log, "entries", list, "log")):
            har.entries.append(_entry(har, raw, i, f"log.entries[{i}]"))
    except _Problem as exc:
        raise ConfigFileError(path, None, f"not a valid HAR 1.2 file: {str(exc).lstrip('.')}") from None
    if not har.entries:
        raise ConfigFileError(path, None, "the HAR holds no entries: record the sign-in with the Network panel open")
    return har


def _entry(har: Har, raw: Any, index: int, where: str) -> HarEntry:
    started = _need(raw, "startedDateTime", str, where)
    request = _need(raw, "request", dict, where)
    response = _need(raw, "response", dict, where)
    method = _need(request, "method", str, f"{where}.request")
    url = _need(request, "url", str, f"{where}.request")
    status = _need(response, "status", int, f"{where}.response")
    request_headers = _headers(request, f"{where}.request")
    response_headers = _headers(response, f"{where}.response")
    content = response.get("content") if isinstance(response.get("content"), dict) else {}
    text = content.get("text") if isinstance(content.get("text"), str) else None
    if text is not None and content.get("encoding") == "base64":
        import base64
        import binascii

        try:
            text = base64.b64decode(text).decode("utf-8", errors="replace")
        except (binascii.Error, ValueError):
            text = None
    error = raw.get("_error") or response.get("_error") or None
    cookies_in = [c for c in request.get("cookies") or [] if isinstance(c, dict)]
    cookies_out = [c for c in response.get("cookies") or [] if isinstance(c, dict)]
    set_cookies = [v for n, v in response_headers if n.lower() == "set-cookie"]
    cookie_headers = [v for n, v in request_headers if n.lower() == "cookie"]
    if cookies_in or cookies_out or set_cookies or cookie_headers:
        har.has_cookie_data = True
    entry = HarEntry(
        file=har.name, index=index, started=started, method=method, url=url, status=status,
        resource_type=str(raw.get("_resourceType") or ""), request_headers=request_headers,
        response_headers=response_headers,
        request_cookies=[str(c.get("name", "")) for c in cookies_in]
        or [p.partition("=")[0].strip() for h in cookie_headers for p in h.split(";") if p.strip()],
        response_set_cookies=set_cookies or [_cookie_line(c) for c in cookies_out],
        response_text=text, error=str(error) if error else None,
        blocked_reason=str(response.get("_blockedReason") or raw.get("_blockedReason") or "") or None,
        cors_error=str(response.get("_corsError") or raw.get("_corsError") or "") or None,
    )
    _collect_secrets(har, entry, cookies_in + cookies_out, request)
    return entry


def _cookie_line(cookie: dict[str, Any]) -> str:
    """A Set-Cookie line rebuilt from a HAR cookie object (when the header itself was not kept)."""
    parts = [f"{cookie.get('name', '')}={cookie.get('value', '')}"]
    for key, label in (("domain", "Domain"), ("path", "Path"), ("expires", "Expires"), ("sameSite", "SameSite")):
        if cookie.get(key):
            parts.append(f"{label}={cookie[key]}")
    parts += [label for key, label in (("secure", "Secure"), ("httpOnly", "HttpOnly")) if cookie.get(key)]
    return "; ".join(parts)


def _collect_secrets(har: Har, entry: HarEntry, cookies: list[dict[str, Any]], request: dict[str, Any]) -> None:
    found: set[str] = set()
    for cookie in cookies:
        found.add(str(cookie.get("value", "")))
    for name, value in entry.request_headers + entry.response_headers:
        lowered = name.lower()
        if lowered == "cookie":
            found.update(p.partition("=")[2].strip() for p in value.split(";"))
        elif lowered == "set-cookie":
            found.add(value.partition(";")[0].partition("=")[2].strip())
        elif lowered in _SECRET_HEADERS or is_secret_name(lowered):  # by its words: never a CORS/rate-limit header
            found.add(value.split(" ", 1)[1] if lowered.endswith("authorization") and " " in value else value)
    for url in [entry.url, entry.header("location") or ""]:
        _query_secrets(url, found)
    post = request.get("postData") if isinstance(request.get("postData"), dict) else {}
    for text in (entry.response_text, post.get("text") if isinstance(post.get("text"), str) else None):
        if text:
            try:
                _json_secrets(json.loads(text), found)
            except (ValueError, RecursionError):
                pass
    from stackfast_conformance.evidence import register_secret

    for value in found:
        registered = register_secret(value, "HAR") if value else []  # only what is secret (redact.py): no URL, host,
        har.secrets.update(registered)                                 # e-mail address, flag or number
        for secret in registered:
            token = secret.rsplit(".", 1)[0]  # a signed cookie's token is a secret on its own too
            if token != secret:
                har.secrets.update(register_secret(token, "HAR"))


def _query_secrets(url: str, found: set[str]) -> None:
    """The values of a URL's secret query parameters (an OAuth ``code``/``state``, a ``token``)."""
    if "?" not in url:
        return
    try:
        query = parse_qsl(urlsplit(url).query)
    except ValueError:
        return
    found.update(value for key, value in query if key.lower() in _OAUTH_QUERY or is_secret_name(key))


def _json_secrets(value: Any, found: set[str], secret: bool = False) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _json_secrets(item, found, secret or is_secret_name(str(key)))
    elif isinstance(value, list):
        for item in value:
            _json_secrets(item, found, secret)
    elif secret and isinstance(value, str):
        found.add(value)
    elif isinstance(value, str) and "://" in value:
        _query_secrets(value, found)  # the authorize URL of a sign-in start carries the OAuth state


def load_hars(paths: Iterable[str | Path]) -> list[Har]:
    return [load_har(p) for p in paths]


# --- Content-Security-Policy: may a page of ``page_origin`` fetch ``url``? ----------------------

def csp_allows(policy: str, url: str, page_origin: str, directive: str = "connect-src") -> bool:
    """Whether ``policy`` (one header value) lets a page of ``page_origin`` connect to ``url`` (CSP 3)."""
    directives: dict[str, list[str]] = {}
    for part in policy.split(";"):
        words = part.split()
        if words and words[0].lower() not in directives:
            directives[words[0].lower()] = words[1:]
    sources = directives.get(directive, directives.get("default-src"))
    if sources is None:
        return True
    target = urlsplit(url)
    page = urlsplit(page_origin)
    for source in sources:
        lowered = source.lower()
        if lowered == "'none'":
            continue
        if lowered == "*":
            if target.scheme in ("http", "https", "ws", "wss"):
                return True
            continue
        if lowered == "'self'":
            if origin_of(url) == origin_of(page_origin) or (page.scheme == "http" and target.scheme == "https"
                                                          and target.hostname == page.hostname):
                return True
            continue
        if lowered.startswith("'"):
            continue  # nonces, hashes, keywords: not about connections
        if re.fullmatch(r"[a-z][a-z0-9+.-]*:", lowered):
            if target.scheme == lowered[:-1] or (lowered == "http:" and target.scheme == "https"):
                return True
            continue
        if _host_source_matches(lowered, target, page):
            return True
    return False


def _host_source_matches(source: str, target: Any, page: Any) -> bool:
    match = re.fullmatch(r"(?:([a-z][a-z0-9+.-]*)://)?(\*|\*\.[^/:]+|[^/:]+)(?::(\*|\d+))?(/.*)?", source)
    if not match:
        return False
    scheme, host, port, path = match.groups()
    if scheme:
        if not (target.scheme == scheme or (scheme == "http" and target.scheme == "https")
                or (scheme == "ws" and target.scheme == "wss")):
            return False
    elif not (target.scheme == page.scheme or (page.scheme == "http" and target.scheme == "https")):
        return False
    hostname = (target.hostname or "").lower()
    if host == "*":
        pass
    elif host.startswith("*."):
        if not hostname.endswith(host[1:]):
            return False
    elif hostname != host:
        return False
    default = {"https": 443, "http": 80, "wss": 443, "ws": 80}.get(target.scheme)
    actual = target.port or default
    if port != "*":
        wanted = int(port) if port else {"https": 443, "http": 80, "wss": 443, "ws": 80}.get(scheme or target.scheme)
        if actual != wanted and not (port is None and scheme == "http" and actual == 443):
            return False
    if path and path != "/":
        return target.path.startswith(path) if path.endswith("/") else target.path == path
    return True
