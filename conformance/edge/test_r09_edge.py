"""R9 DNS and custom domains: DNS answers (or the --connect-to mapping), the HTTP proof that each
host serves its service, the TLS certificate of each host, and the http -> https redirect."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from stackfast_conformance.checks import expect
from stackfast_conformance.edge import (
    EXPIRY_WARNING_DAYS,
    expected_issuers,
    is_mapped,
    probe_tls,
    resolve_dns,
)

HOSTS = {"web": ("R9.1", "R9.3"), "api": ("R9.2", "R9.4")}
PROBE_PATH = "/conformance/redirect-probe"
PROBE_QUERY = "probe=r9.5&keep=a%2Fb"


def _host(target, which: str) -> tuple[str, int]:
    url = target.web_url if which == "web" else target.api_url
    if not url:
        pytest.skip(f"no {which} URL configured (give --{which})")
    parts = urlsplit(url)
    if parts.scheme != "https":
        pytest.skip(f"the {which} URL {url} is not https: the edge checks need the public https host")
    return parts.hostname or "", parts.port or 443


@pytest.mark.requirement("R9.1")
def test_web_host_resolves_to_the_web_service(target, http, recorder):
    """DNS for the web host answers (or --connect-to maps it), and it serves the SPA's HTML."""
    host, port = _host(target, "web")
    _dns_evidence(target, host, port, "R9.1", recorder)
    r = http.get("/", base="web")
    ctype = r.headers.get("content-type", "")
    expect(r.status_code == 200 and "text/html" in ctype and "<html" in r.text.lower(), "R9.1",
           expected=f"https://{host}/ serves the web app's index.html (200 text/html)",
           seen=f"status {r.status_code}, content-type {ctype!r}, body {r.text[:60]!r}", response=r)


@pytest.mark.requirement("R9.2")
def test_api_host_resolves_to_the_api_service(target, http, recorder):
    """DNS for the API host answers (or --connect-to maps it), and the name reaches the API service.

    The proof is the API's own OpenAPI document (/openapi.json, outside auth and rate limits), so a
    broken /health (R5.1's business) does not make the name look misrouted.
    """
    host, port = _host(target, "api")
    _dns_evidence(target, host, port, "R9.2", recorder)
    r = http.get("/openapi.json")
    try:
        document = r.json() if r.status_code == 200 else None
    except ValueError:
        document = None
    is_api = isinstance(document, dict) and "openapi" in document and "/health" in (document.get("paths") or {})
    expect(is_api, "R9.2",
           expected=f"https://{host}/openapi.json is the API's OpenAPI document (the API service answers)",
           seen=f"status {r.status_code}, content-type {r.headers.get('content-type', '')!r}, body {r.text[:60]!r}",
           response=r)


def _dns_evidence(target, host: str, port: int, criterion: str, recorder) -> None:
    if is_mapped(target.connect_to, host, port):
        recorder.notes.append(f"DNS bypassed: {host}:{port} is mapped by --connect-to; "
                              "the HTTP answer below is the proof of which service the name reaches")
        return
    answer = resolve_dns(host)
    recorder.notes.append(f"DNS {host} via {answer.resolver}: cname {answer.cname or '-'}, "
                          f"addresses {answer.addresses or '-'}" + (f", {answer.error}" if answer.error else ""))
    expect(answer.error is None, criterion, expected=f"{host} resolves (A/AAAA)",
           seen=f"{answer.error} (resolver {answer.resolver})")


@pytest.mark.requirement("R9.3")
def test_web_host_serves_a_valid_certificate_from_the_expected_issuer(target, settings, recorder, findings):
    _expect_certificate(target, settings, recorder, findings, "web")


@pytest.mark.requirement("R9.4")
def test_api_host_serves_a_valid_certificate_from_the_expected_issuer(target, settings, recorder, findings):
    _expect_certificate(target, settings, recorder, findings, "api")


def _expect_certificate(target, settings, recorder, findings, which: str) -> None:
    host, port = _host(target, which)
    criterion = HOSTS[which][1]
    report = probe_tls(host, port, connect_to=target.connect_to, ca_bundle=target.ca_bundle,
                       timeout=settings.timeout)
    accepted = expected_issuers(settings.expected, settings.profile)
    recorder.notes.append(f"TLS {host}:{port} via {report.connected_to} ({report.protocol}), trust {report.trust}: "
                          f"subject {report.subject}, SANs {report.names}, issuer {report.issuer()}, "
                          f"not after {report.not_after} ({report.days_left} days left)")
    recorder.extra.setdefault("tls", {})[host] = report.as_dict()
    expect(report.chain_ok, criterion, expected=f"the certificate chain of {host} verifies against the {report.trust}",
           seen=f"verification failed: {report.chain_error} (issuer {report.issuer()}, not after {report.not_after})")
    expect(report.name_ok, criterion, expected=f"the certificate names {host} (subjectAltName)",
           seen=f"SANs {report.names or '(none)'}")
    expect(report.issuer_matches(accepted), criterion,
           expected=f"issued by one of {', '.join(accepted)} (profile expected.tls_issuer)",
           seen=f"issuer {report.issuer()}")
    if report.days_left is not None and report.days_left < EXPIRY_WARNING_DAYS:
        findings.add(f"TLS certificate of {host} expires in {report.days_left} days",
                     f"not after {report.not_after}; Railway renews automatically: check the custom domain",
                     criteria=(criterion,))


@pytest.mark.requirement("R9.5")
@pytest.mark.parametrize("which", ["web", "api"])
def test_plain_http_redirects_permanently_to_the_same_https_url(target, http, which):
    """http://host/path?query -> 301/308 with Location https://host/path?query (host, path, query kept)."""
    host, _ = _host(target, which)
    url = f"http://{host}{PROBE_PATH}?{PROBE_QUERY}"
    wanted = f"https://{host}{PROBE_PATH}?{PROBE_QUERY}"
    r = http.get(url, follow_redirects=False)
    location = r.headers.get("location", "")
    expect(r.status_code in (301, 308), "R9.5", expected=f"301 or 308 from {url}",
           seen=f"status {r.status_code}" + (f", Location {location}" if location else ""), response=r)
    normalised = location.replace(f"https://{host}:443/", f"https://{host}/")
    expect(normalised == wanted, "R9.5", expected=f"Location {wanted}", seen=f"Location {location or '(none)'}",
           response=r)
