"""The black-box HTTP checks of R1.2/R1.3, R3.1/R3.7, R8, R10 and R11 against the real reference.

- the conforming reference passes every one of these criteria;
- each fault of these criteria is caught with exactly its criteria (and a findings-only fault
  records its finding and flips nothing);
- a production-profile run sends nothing that spends quota, disrupts or mutates, and says why;
- a failure names criterion, expected, seen and a curl whose admin key is masked.

Runs are restricted (``--criteria``) to these criteria plus the fault's own, so the suite stays
near two minutes; the every-check kill matrix is tests/test_kill_matrix.py.
"""

from __future__ import annotations

from pathlib import Path

from stackfast_conformance.killmatrix import run_harness
from stackfast_conformance.reference import start_reference

CRITERIA = ("R1.2", "R1.3", "R3.1", "R3.7", "R8.1", "R8.3", "R8.4", "R8.5", "R8.6",
            "R10.2", "R10.4", "R10.5", "R11.2", "R11.3", "R11.4")
FAULTS = ("admin-guard-after-validation", "admin-guard-known-routes-only", "admin-bearer-rejected",
          "admin-empty-key-accepted", "admin-guard-skips-encoded", "admin-key-prefix-accepted",
          "cors-wildcard", "cors-reflect-any-origin", "cors-suffix-match", "cors-missing-ai-provider-header",
          "cors-no-credentials", "cors-no-vary", "auth-bypass-in-production", "auth-not-ready-handler-runs",
          "oauth-wrong-callback", "web-proxies-api", "web-serves-api-health", "web-dev-server", "api-serves-spa")
CHECK_FILES = ("conformance/test_r01_services.py", "conformance/test_r03_oauth.py", "conformance/test_r08_admin.py",
               "conformance/test_r10_cors.py", "conformance/test_r11_auth_fails_closed.py",
               "conformance/test_security_findings.py")
GENERATION_ROUTES = ("/api/v1/blueprints", "/api/v1/scaffolds")
# only these modules (the properties and other checks of the same criteria are not this suite's business)
ONLY_THESE_CHECKS = ["--", "-k", " or ".join(Path(f).stem for f in CHECK_FILES)]


def _verdicts(record: dict, criteria) -> dict[str, str]:
    return {c["id"]: c["verdict"] for c in record["criteria"] if c["id"] in criteria}


def _mine(record: dict) -> list[dict]:
    return [c for c in record["checks"] if c["file"] in CHECK_FILES]


def test_the_conforming_reference_passes_every_criterion_of_these_checks(tmp_path):
    code, record, output = run_harness(["--window-seconds", "2", "--criteria", ",".join(CRITERIA),
                                        *ONLY_THESE_CHECKS], tmp_path)
    assert code == 0, output[-3000:]
    assert _verdicts(record, CRITERIA) == dict.fromkeys(CRITERIA, "PASSED"), output[-3000:]
    outcomes = {c["id"]: c["outcome"] for c in _mine(record)}
    assert set(outcomes.values()) <= {"passed", "skipped"}, outcomes
    assert not [f for f in record["findings"] if f["check"].split("::")[0] in CHECK_FILES], record["findings"]
    assert {c["safety"] for c in _mine(record)} == {"read-only", "quota", "disruptive", "mutating"}


def test_findings_only_faults_record_their_finding_and_flip_nothing(tmp_path):
    """A fault that breaks no criterion must still show: cors-no-vary raises its advisory finding
    (the kill matrix checks the title; this pins severity and evidence)."""
    code, record, output = run_harness(["--fault", "cors-no-vary", "--window-seconds", "2", "--criteria",
                                        "R10.2,R10.4", *ONLY_THESE_CHECKS], tmp_path)
    assert code == 0, output[-3000:]
    vary = [f for f in record["findings"] if "Vary: Origin" in f["title"]]
    assert vary and vary[0]["severity"] == "advisory" and vary[0]["exchange"], record["findings"]


def _assert_no_secret(text: str, key: str) -> None:
    assert key not in text
    for piece in (key[:-1], key[1:], key[: len(key) // 2], key[len(key) // 2:]):
        assert piece not in text, "a fragment of the admin key leaked into the report"


def test_a_production_profile_run_sends_nothing_that_spends_quota_disrupts_or_mutates(tmp_path):
    with start_reference(window_seconds=2, staging=False) as ref:
        args = ["--profile", "production", "--api", ref.api_url, "--web", ref.web_url,
                "--ca-bundle", str(ref.ca_bundle), "--criteria", ",".join(CRITERIA)]
        for mapping in ref.connect_to:
            args += ["--connect-to", mapping]
        args += ONLY_THESE_CHECKS
        key = str(ref.admin_key)
        code, record, output = run_harness(args, tmp_path, env={"STACKFAST_ADMIN_KEY": key})
    assert record["run"]["opt_ins"] == {"quota": False, "disruptive": False, "mutating": False}, output[-2000:]
    flags = {"quota": "--allow-quota", "disruptive": "--allow-disruptive", "mutating": "--allow-mutating"}
    for check in _mine(record):
        if check["safety"] != "read-only":
            assert check["outcome"] == "skipped" and flags[check["safety"]] in check["reason"], check
            assert not check["exchanges"], check["id"]
    for x in record["exchanges"]:
        path = "/" + x["url"].split("/", 3)[3] if x["url"].count("/") >= 3 else "/"
        assert not (x["method"] == "POST" and path.startswith(GENERATION_ROUTES)), x["curl"]
        if path.lstrip("/").split("/")[0].lower() in ("admin", "internal"):
            assert not 200 <= x["status"] < 300, x["curl"]  # refused or invalid: nothing was changed
    assert _verdicts(record, ("R8.1", "R8.3", "R8.4", "R8.6", "R10.2", "R3.1"))["R8.4"] == "PASSED"
    assert {_verdicts(record, CRITERIA)[c] for c in ("R8.5", "R11.3", "R11.4")} == {"SKIPPED"}
    _assert_no_secret((tmp_path / "traceability.json").read_text(), key)
    assert code == 0, output[-3000:]


def test_failures_name_criterion_expected_seen_and_a_curl_with_the_key_masked(tmp_path):
    faults = ("admin-bearer-rejected", "admin-key-prefix-accepted", "cors-no-credentials", "oauth-wrong-callback")
    with start_reference(window_seconds=2, staging=False, faults=faults) as ref:
        key = str(ref.admin_key)
        args = ["--profile", "reference", "--criteria", "R3.1,R8.3,R8.4,R10.2", *ONLY_THESE_CHECKS]
        code, record, output = run_harness(args, tmp_path, env=ref.harness_env())
    assert code == 1, output[-2000:]
    failed = [c for c in _mine(record) if c["outcome"] == "failed"]
    assert {c["failure"]["criterion"] for c in failed} == {"R3.1", "R8.3", "R8.4", "R10.2"}, output[-3000:]
    for check in failed:
        failure = check["failure"]
        assert failure["statement"] and failure["expected"] and failure["seen"], failure
        assert failure["curl"].startswith("curl ") and "--connect-to" in failure["curl"], failure
    admin_curls = [c["failure"]["curl"] for c in failed if c["failure"]["criterion"] in ("R8.3", "R8.4")]
    assert all("${STACKFAST_ADMIN_KEY}" in curl or "***" in curl for curl in admin_curls), admin_curls
    assert any("Bearer ${STACKFAST_ADMIN_KEY}" in curl for curl in admin_curls), admin_curls
    _assert_no_secret((tmp_path / "traceability.json").read_text(), key)
    for name in ("traceability.md", "traceability.html"):
        if (tmp_path / name).exists():
            _assert_no_secret((tmp_path / name).read_text(), key)
