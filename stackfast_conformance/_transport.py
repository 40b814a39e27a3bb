"""The one httpx client of a process: connection pooling, --connect-to mapping, CA bundle."""

from __future__ import annotations

import ssl

import httpx

from stackfast_conformance.settings import Settings


def build_client(settings: Settings) -> httpx.Client:
    timeout = httpx.Timeout(settings.timeout)
    headers = {"user-agent": "stackfast-conformance/0.1"}
    if settings.connect_to:
        from stackfast_conformance._connect import make_transport

        transport = make_transport(list(settings.connect_to), settings.ca_bundle)
        return httpx.Client(transport=transport, timeout=timeout, headers=headers)
    verify: ssl.SSLContext | bool = True
    if settings.ca_bundle:
        verify = ssl.create_default_context(cafile=settings.ca_bundle)
    return httpx.Client(verify=verify, timeout=timeout, headers=headers)
