"""R1 Split services, the HTTP part of the evidence: web serves the built SPA (R1.2) and the two
hosts are two services that do not answer for each other (R1.3, partial: that they are two
Railway services of one project stays a person's attestation)."""

from __future__ import annotations

import re
from urllib.parse import urljoin

import pytest
from _applicability import require_applicable

from stackfast_conformance.checks import expect

_ROOT = re.compile(r"<div\b[^>]*\bid\s*=\s*[\"']?root\b", re.IGNORECASE)
_MODULE_SRC = re.compile(r"<script\b[^>]*\bsrc\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE)


@pytest.fixture(autouse=True)
def _only_where_it_applies(request, target):
    require_applicable(request, target)


def _looks_like_the_spa(r) -> bool:
    return "html" in r.headers.get("content-type", "").lower() and bool(_ROOT.search(r.text))


@pytest.mark.requirement("R1.2")
def test_web_serves_the_built_spa(http):
    """GET <web>/ -> 200 text/html with the SPA's mount point, and the bundle it loads is served as JavaScript
    (a static host of apps/web/dist serves both; a wrong output directory serves neither)."""
    r = http.get("/", base="web")
    expect(r.status_code == 200 and _looks_like_the_spa(r), "R1.2",
           expected="200 text/html: the SPA's index.html (a <div id=\"root\"> mount point)",
           seen=f"status {r.status_code}, content-type {r.headers.get('content-type')!r}, body {r.text[:80]!r}",
           response=r)
    sources = _MODULE_SRC.findall(r.text)
    expect(sources, "R1.2", expected="index.html loads the built bundle (<script src=...>)",
           seen="no <script src> in index.html", response=r)
    for src in sources:
        asset = http.get(urljoin(str(r.request.url), src))
        ctype = asset.headers.get("content-type", "")
        expect(asset.status_code == 200 and "javascript" in ctype.lower(), "R1.2",
               expected=f"the bundle {src} is served (200, a JavaScript content-type)",
               seen=f"status {asset.status_code}, content-type {ctype!r}, body {asset.text[:60]!r}", response=asset)


@pytest.mark.requirement("R1.2")
def test_web_is_static_hosting_not_a_dev_server(http):
    """The web host is a static host of the build: Vite's dev-server client (/@vite/client) is not served."""
    r = http.get("/@vite/client", base="web")
    ctype = r.headers.get("content-type", "")
    expect(not (r.status_code == 200 and "javascript" in ctype.lower()), "R1.2",
           expected="no Vite dev server: /@vite/client is not served as JavaScript (static hosting of apps/web/dist)",
           seen=f"status {r.status_code}, content-type {ctype!r}, body {r.text[:60]!r}", response=r)


@pytest.mark.requirement("R1.3")
def test_api_host_does_not_serve_the_spa(http):
    """GET <api>/ is not the web app's index.html: the API service does not also host the SPA."""
    r = http.get("/")
    expect(not _looks_like_the_spa(r), "R1.3", expected="the API host answers / without the SPA's index.html",
           seen=f"status {r.status_code}, content-type {r.headers.get('content-type')!r}, body {r.text[:80]!r}",
           response=r)


@pytest.mark.requirement("R1.3")
def test_web_host_does_not_answer_the_api_health_check(http):
    """GET <web>/health is not the API's ``200 OK``: the web service does not also run the API."""
    r = http.get("/health", base="web")
    expect(not (r.status_code == 200 and r.text.strip() == "OK"), "R1.3",
           expected="the web host does not answer /health like the API (200 'OK')",
           seen=f"status {r.status_code}, body {r.text[:60]!r}", response=r)
