"""A copy-pasteable curl command for a recorded exchange (secrets already masked)."""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

# Headers curl or httpx add by themselves: leaving them out keeps the command readable.
_DEFAULT_HEADERS = {"host", "user-agent", "accept", "accept-encoding", "connection", "content-length"}


def to_curl(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: str | None = None,
    connect_to: Iterable[str] = (),
    ca_bundle: str | None = None,
) -> str:
    parts = ["curl", "-sS", "-i"]
    if method.upper() == "HEAD":
        parts.append("-I")
    elif method.upper() != "GET" or body:
        parts += ["-X", method.upper()]
    host = urlsplit(url)
    port = host.port or (443 if host.scheme == "https" else 80)
    for item in connect_to:
        if item.split(":")[:2] == [host.hostname or "", str(port)]:
            parts += ["--connect-to", item]
    if ca_bundle and host.scheme == "https":
        parts += ["--cacert", ca_bundle]
    for name, value in headers.items():
        if name.lower() in _DEFAULT_HEADERS:
            continue
        parts += ["-H", f"{name}: {value}"]
    if body:
        parts += ["--data-raw", body]
    parts.append(url)
    return " ".join(shlex.quote(p) for p in parts)
