"""The one httpx client of a process: connection pooling, --connect-to mapping, CA bundle."""

from __future__ import annotations

import ssl
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx

from stackfast_conformance._connect import KEEPALIVE_EXPIRY_SECONDS
from stackfast_conformance.settings import Settings


def _no_cookie_jar() -> CookieJar:
    """A jar that stores nothing: a Set-Cookie one check receives (a session!) must never ride along
    on another check's requests; a check that needs a cookie sends it explicitly."""
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


def build_client(settings: Settings) -> httpx.Client:
    timeout = httpx.Timeout(settings.timeout)
    headers = {"user-agent": "stackfast-conformance/0.1"}
    if settings.connect_to:
        from stackfast_conformance._connect import make_transport

        transport = make_transport(list(settings.connect_to), settings.ca_bundle)
        return httpx.Client(transport=transport, timeout=timeout, headers=headers, cookies=_no_cookie_jar())
    verify: ssl.SSLContext | bool = True
    if settings.ca_bundle:
        verify = ssl.create_default_context(cafile=settings.ca_bundle)
    return httpx.Client(verify=verify, timeout=timeout, headers=headers, cookies=_no_cookie_jar(),
                        limits=httpx.Limits(keepalive_expiry=KEEPALIVE_EXPIRY_SECONDS))
