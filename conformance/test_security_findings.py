"""Advisory findings a security reviewer would raise beyond the spec's letter. Never blocking.

These checks never fail on what they look for: they record a finding (``findings``) that the
report lists apart from the verdicts. Each is linked to the criterion whose area it inspects, so
"where is the Vary check?" is one grep away, and passes whenever the probe got an answer.

- ACAO that depends on the Origin without ``Vary: Origin``: a shared cache may hand the web
  origin's CORS answer to another origin (or a foreign origin's to the web app).
- A foreign Origin echoed in ACAO on a simple (non-preflight) request: R10.4 speaks of preflights;
  an echo on simple GETs still lets any site read those responses.
- No ``Strict-Transport-Security`` on an https response: the first plain-http visit can be downgraded.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from _applicability import require_applicable

from stackfast_conformance.failures import CouldNotDecide

SIMPLE_PATH = "/api/v1/categories"
FOREIGN_ORIGIN = "https://evil.example"


@pytest.fixture(autouse=True)
def _only_where_it_applies(request, target):
    require_applicable(request, target)


def _varies_on_origin(r) -> bool:
    return any(part.strip().lower() in ("origin", "*") for part in r.headers.get("vary", "").split(","))


@pytest.mark.requirement("R10.2")
def test_finding_cors_answer_without_vary_origin(http, target, findings, fresh_identity):
    """Advisory: a response whose ACAO names an origin also says ``Vary: Origin`` (simple and preflight)."""
    origin = target.expected_web_origin
    if not origin:
        pytest.skip("no expected web origin (give --web)")
    simple = http.get(SIMPLE_PATH, headers={"origin": origin}, identity=fresh_identity())
    preflight = http.options("/api/v1/blueprints", identity=fresh_identity(),
                             headers={"origin": origin, "access-control-request-method": "POST"})
    for kind, r in (("simple request", simple), ("preflight", preflight)):
        acao = r.headers.get("access-control-allow-origin", "").strip()
        if acao and acao != "*" and not _varies_on_origin(r):
            findings.add(f"CORS answer depends on Origin without Vary: Origin ({kind})",
                         f"{r.request.method} {r.request.url} with Origin {origin} got Access-Control-Allow-Origin "
                         f"{acao!r} but Vary {r.headers.get('vary')!r}: a shared cache may serve it to other "
                         "origins; add Vary: Origin", criteria=("R10.2",), exchange=r)


@pytest.mark.requirement("R10.4")
def test_finding_foreign_origin_echoed_on_simple_requests(http, findings, fresh_identity):
    """Advisory: a simple GET from a foreign origin gets no ACAO naming it (R10.4 itself judges preflights)."""
    r = http.get(SIMPLE_PATH, headers={"origin": FOREIGN_ORIGIN}, identity=fresh_identity())
    acao = r.headers.get("access-control-allow-origin", "").strip()
    if acao == FOREIGN_ORIGIN:
        findings.add("Foreign origin echoed in Access-Control-Allow-Origin on a simple request",
                     f"GET {r.request.url} with Origin {FOREIGN_ORIGIN} got Access-Control-Allow-Origin {acao!r}"
                     + (" with credentials" if r.headers.get("access-control-allow-credentials") == "true" else "")
                     + ": any site can read these responses", criteria=("R10.4",), exchange=r)


@pytest.mark.requirement("R9.5")
@pytest.mark.parametrize("which", ["api", "web"])
def test_finding_https_response_without_hsts(http, target, findings, which):
    """Advisory: https answers of both hosts carry Strict-Transport-Security."""
    url = target.api_url if which == "api" else target.web_url
    if not url or urlsplit(url).scheme != "https":
        pytest.skip(f"the {which} URL is not https")
    try:
        r = http.get("/health" if which == "api" else "/", base=which)
    except CouldNotDecide as exc:
        pytest.skip(f"could not reach the {which} host over https (R9.3/R9.4 say why): {str(exc).splitlines()[0]}")
    if "strict-transport-security" not in r.headers:
        findings.add(f"No Strict-Transport-Security on the {which} host",
                     f"GET {r.request.url} answered without HSTS: a first plain-http visit can be intercepted "
                     "before the redirect; send Strict-Transport-Security: max-age=31536000",
                     criteria=("R9.5",), exchange=r)
