"""Browser evidence for deployed targets (issue 13): HAR import and the live browser audit, end to end.

HAR fixtures are not written by hand: a session fixture drives Debian's Chromium through a sign-in
on the embedded reference (conforming, and with each browser-visible fault) and converts the
DevTools Network events to HAR 1.2 (``browser.record_har``); the sanitized HAR is that recording
with cookies and auth headers stripped, as Chrome exports by default. The harness then judges each
file against the conforming reference addressed as a deployed target (``--api/--web`` with
``--connect-to`` and ``--ca-bundle``, not the embedded shortcut), so only the HAR differs:

- the conforming HAR: R3.1/R3.3/R3.4/R3.7/R3.8/R10.2 PASSED, and no HAR secret in any output;
- each broken HAR: exactly its criteria FAILED; the sanitized HAR: named, never a FAILED cookie;
- the live audit on a web URL given with ``--web`` catches the CSP and same-origin-proxy faults;
- a malformed HAR is a usage error (exit 2) naming the file and the problem.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stackfast_conformance.browser import (
    Browser,
    find_chromium,
    record_har,
    sanitize_har,
    sign_in_through_spa,
    target_launch_args,
)
from stackfast_conformance.har import SANITIZED_HINT, csp_allows, load_har
from stackfast_conformance.killmatrix import run_harness
from stackfast_conformance.reference import start_reference

# module-scoped fixtures (one lab (six references, Chromium recordings) for the module): under `pytest -n 4 --dist loadgroup` one worker runs the whole module
pytestmark = pytest.mark.xdist_group("test_har")

needs_chromium = pytest.mark.skipif(find_chromium() is None, reason="apt-get install chromium")

HAR_CRITERIA = ("R3.1", "R3.3", "R3.4", "R3.7", "R3.8", "R10.2")
# fault -> the criteria a HAR recorded with it must make FAILED (and nothing else among HAR_CRITERIA)
BROKEN = {
    "cookie-samesite-lax": {"R3.3"},
    "cookie-no-domain": {"R3.4"},
    "web-spa-same-origin-api": {"R3.7"},
    "web-csp-omits-api": {"R3.7", "R3.8"},
    "oauth-wrong-callback": {"R3.1"},
}
LIVE_FAULTS = {"web-csp-omits-api": {"R3.7", "R3.8"}, "web-spa-same-origin-api": {"R3.7"}}
HAR_MODULE = "test_r03_har.py"
AUDIT_MODULE = "test_r03_browser_audit.py"


def _deployed_args(ref) -> list[str]:
    """The reference addressed as any deployed target is: URLs, --connect-to, --ca-bundle."""
    args = ["--api", ref.api_url, "--web", ref.web_url, "--ca-bundle", str(ref.ca_bundle)]
    for item in ref.connect_to:
        args += ["--connect-to", item]
    return args


def _record(ref, path: Path) -> Path:
    """Sign in through the SPA in Chromium (one browser, killed after) and save what it saw as HAR."""
    args = target_launch_args([ref.web_url, ref.api_url], ref.connect_to, str(ref.ca_bundle))
    with Browser.launch(extra_args=args) as browser:
        page = browser.new_page()
        sign_in_through_spa(page, ref.web_url, ref.api_url, timeout=10)
        path.write_text(json.dumps(record_har(page), indent=1))
    return path


def _outcomes(record: dict, module: str) -> dict[str, dict]:
    return {c["name"]: c for c in record["checks"] if module in c["id"]}


def _failed_criteria(record: dict, module: str) -> set[str]:
    return {cid for c in record["checks"] if module in c["id"] and c["outcome"] == "failed" for cid in c["criteria"]}


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """HARs recorded on every variant, live-audit runs on the web faults, and the conforming reference (kept up)."""
    base = tmp_path_factory.mktemp("har")
    hars: dict[str, Path] = {}
    live: dict[str, tuple[int, dict, str]] = {}
    for fault in BROKEN:
        # no staging stack: HAR and live-audit criteria are all of one environment
        with start_reference(env="production", faults=(fault,), window_seconds=2, staging=False) as ref:
            hars[fault] = _record(ref, base / f"{fault}.har")
            if fault in LIVE_FAULTS:
                live[fault] = run_harness([*_deployed_args(ref), "--criteria", "R3.7,R3.8"], base / f"live-{fault}")
    with start_reference(env="production", window_seconds=2, staging=False) as ref:
        hars["conforming"] = _record(ref, base / "conforming.har")
        sanitized = sanitize_har(json.loads(hars["conforming"].read_text()))
        hars["sanitized"] = base / "sanitized.har"
        hars["sanitized"].write_text(json.dumps(sanitized))
        yield {"ref": ref, "hars": hars, "live": live, "base": base}


def _judge(lab, name: str, *extra: str) -> tuple[int, dict, str, Path]:
    report_dir = lab["base"] / f"judged-{name}"
    code, record, output = run_harness([*_deployed_args(lab["ref"]), "--har", str(lab["hars"][name]),
                                        "--criteria", ",".join(HAR_CRITERIA), *extra], report_dir)
    return code, record, output, report_dir


@needs_chromium
def test_conforming_har_passes_r3_and_r10_2_against_a_deployed_style_target(lab) -> None:
    code, record, output, report_dir = _judge(lab, "conforming")
    verdicts = {c["id"]: c["verdict"] for c in record["criteria"]}
    assert code == 0, output
    assert {cid: verdicts[cid] for cid in HAR_CRITERIA} == dict.fromkeys(HAR_CRITERIA, "PASSED"), output
    har_checks = _outcomes(record, HAR_MODULE)
    assert {name: c["outcome"] for name, c in har_checks.items()} == dict.fromkeys(har_checks, "passed"), har_checks
    assert len(har_checks) == 6
    # every verdict cites the HAR entries it judged (file, index, method, URL, time)
    for check in har_checks.values():
        assert any("conforming.har entry #" in note for note in check.get("notes") or []), check
    # the live audit of the conforming web app passes R3.7 (R3.8 needs a session: SKIPPED)
    audit = _outcomes(record, AUDIT_MODULE)
    assert audit["test_live_spa_calls_the_api_origin_directly"]["outcome"] == "passed", audit
    assert audit["test_live_browser_accepts_the_api_answers_to_the_spa"]["outcome"] == "skipped", audit
    # the self-test: no cookie value, token, OAuth code or state from the HAR in any output
    secrets = load_har(lab["hars"]["conforming"]).secrets
    assert len(secrets) >= 3, "the recording should hold a session cookie, an OAuth code and a state"
    texts = {"terminal output": output}
    texts.update({str(p): p.read_text(errors="replace") for p in report_dir.rglob("*") if p.is_file()})
    for where, text in texts.items():
        for secret in secrets:
            assert secret not in text, f"{where} leaks a value from the HAR ({len(secret)} chars)"


@needs_chromium
@pytest.mark.parametrize("fault", sorted(BROKEN))
def test_har_from_a_broken_variant_fails_exactly_its_criteria(lab, fault: str) -> None:
    code, record, output, _ = _judge(lab, fault, "--", f"--deselect=conformance/{AUDIT_MODULE}")
    verdicts = {c["id"]: c["verdict"] for c in record["criteria"]}
    failed = {cid for cid in HAR_CRITERIA if verdicts.get(cid) == "FAILED"}
    assert failed == BROKEN[fault], output
    assert _failed_criteria(record, HAR_MODULE) == BROKEN[fault]
    for check in _outcomes(record, HAR_MODULE).values():
        if check["outcome"] == "failed":
            assert f"{fault}.har entry #" in json.dumps(check["failure"]), check["failure"]


@needs_chromium
def test_sanitized_har_is_named_and_never_read_as_missing_cookie_attributes(lab) -> None:
    code, record, output, _ = _judge(lab, "sanitized", "--", f"--deselect=conformance/{AUDIT_MODULE}")
    checks = _outcomes(record, HAR_MODULE)
    assert _failed_criteria(record, HAR_MODULE) == set(), output
    for name in ("test_har_session_cookie_is_secure_httponly_samesite_none",
                 "test_har_session_cookie_domain_is_the_parent_domain",
                 "test_har_credentialed_calls_from_the_web_origin_get_a_session"):
        assert checks[name]["outcome"] == "skipped", checks[name]
        assert SANITIZED_HINT in checks[name]["reason"], checks[name]["reason"]
    # what a sanitized HAR still shows is still judged
    for name in ("test_har_authorize_redirect_uri_is_the_api_callback", "test_har_spa_calls_the_api_origin_directly",
                 "test_har_api_answers_allow_the_web_origin_with_credentials"):
        assert checks[name]["outcome"] == "passed", checks[name]


@needs_chromium
@pytest.mark.parametrize("fault", sorted(LIVE_FAULTS))
def test_live_audit_on_a_web_url_catches_the_fault(lab, fault: str) -> None:
    code, record, output = lab["live"][fault]
    assert _failed_criteria(record, AUDIT_MODULE) == LIVE_FAULTS[fault], output
    failure = _outcomes(record, AUDIT_MODULE)["test_live_spa_calls_the_api_origin_directly"]["failure"]
    text = json.dumps(failure)
    assert ("connect-src" in text) if fault == "web-csp-omits-api" else ("/api/" in text and "own origin" in text), text


@pytest.mark.parametrize(("content", "problem"), [
    ("{not json", "invalid JSON"),
    ('{"log": {"version": "1.2", "creator": {"name": "x", "version": "1"}}}', "log.entries: missing"),
    ('{"log": {"version": "1.2", "creator": {"name": "x", "version": "1"}, "entries": [{"startedDateTime": "t",'
     ' "request": {"method": "GET", "headers": []}, "response": {"status": 200, "headers": []}}]}}',
     "log.entries[0].request.url: missing"),
])
def test_a_malformed_har_is_a_usage_error_naming_file_and_problem(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "broken.har"
    path.write_text(content)
    code, _, output = run_harness(["--har", str(path), "--criteria", "R3.1"], tmp_path / "r")
    assert code == 2, output
    assert "broken.har" in output and problem in output, output


@pytest.mark.parametrize(("policy", "allowed"), [
    ("default-src 'self'; connect-src 'self' https://api.stackfast.app", True),
    ("default-src 'self'; connect-src 'self'", False),
    ("default-src 'self'", False),
    ("script-src 'self'", True),
    ("connect-src https://*.stackfast.app", True),
    ("connect-src https:", True),
    ("connect-src *", True),
    ("connect-src 'none'", False),
    ("connect-src api.stackfast.app", True),
    ("connect-src https://api.stackfast.app:8443", False),
])
def test_csp_connect_src_is_judged_as_a_browser_does(policy: str, allowed: bool) -> None:
    assert csp_allows(policy, "https://api.stackfast.app/api/auth/get-session", "https://stackfast.app") is allowed



@needs_chromium
def test_live_audit_with_a_session_cookie_passes_r3_8_without_printing_it(lab) -> None:
    """STACKFAST_SESSION_COOKIE: Chromium's credentialed get-session from the web origin returns the user."""
    from stackfast_conformance.sessions import is_session_cookie, parse_set_cookie

    har = load_har(lab["hars"]["conforming"])
    cookie = next(c for e in har.entries for line in e.response_set_cookies
                  if (c := parse_set_cookie(line)) is not None and is_session_cookie(c.name))
    report_dir = lab["base"] / "live-session"
    code, record, output = run_harness([*_deployed_args(lab["ref"]), "--criteria", "R3.8", "--",
                                        f"--deselect=conformance/{HAR_MODULE}"], report_dir,
                                       env={"STACKFAST_SESSION_COOKIE": f"{cookie.name}={cookie.value}"})
    check = _outcomes(record, AUDIT_MODULE)["test_live_browser_accepts_the_api_answers_to_the_spa"]
    assert check["outcome"] == "passed", output
    texts = [output] + [p.read_text(errors="replace") for p in report_dir.rglob("*") if p.is_file()]
    assert not any(cookie.value in text or cookie.value.rsplit(".", 1)[0] in text for text in texts)


@pytest.mark.parametrize(("error", "blocked", "cors", "kind"), [
    ("net::ERR_FAILED", None, "MissingAllowOriginHeader", "cors"),
    ("net::ERR_FAILED", None, None, "failed"),            # Chrome's HAR: a CORS rejection without detail
    ("net::ERR_BLOCKED_BY_CSP", None, None, "csp"),
    ("net::ERR_BLOCKED_BY_CLIENT", "csp", None, "csp"),   # CDP's blockedReason wins
    ("net::ERR_BLOCKED_BY_CLIENT", None, None, "other"),  # an ad blocker, not the target
    ("net::ERR_CONNECTION_REFUSED", None, None, "other"),
    ("", "mixed-content", None, "mixed-content"),
])
def test_blocked_entries_are_classified_by_what_blocked_them(error, blocked, cors, kind) -> None:
    from stackfast_conformance.har import HarEntry

    entry = HarEntry("x.har", 3, "2026-01-01T00:00:00.000Z", "GET", "https://api.stackfast.app/api/auth/get-session?a=b",
                     0, "fetch", [], [], [], [], None, error=error or None, blocked_reason=blocked, cors_error=cors)
    assert entry.blocked and entry.block_kind() == kind
    assert entry.cite() == "x.har entry #3: GET https://api.stackfast.app/api/auth/get-session?… (2026-01-01T00:00:00.000Z)"
