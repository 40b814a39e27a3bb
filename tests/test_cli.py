"""The spine end to end: the CLI against the real embedded reference (real processes, sockets, TLS)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from stackfast_conformance.catalog import load_catalog
from stackfast_conformance.killmatrix import run_harness

REPORT_FILES = ("traceability.json", "traceability.md", "traceability.html", "junit.xml")


def _verdicts(record):
    return {c["id"]: c for c in record["criteria"]}


def test_a_run_against_the_conforming_reference_accounts_for_all_84_criteria(tmp_path):
    code, record, output = run_harness(["--criteria", "R5.1,R5.3,R5.4", "--window-seconds", "2"], tmp_path / "r")
    assert code == 0, output
    for name in REPORT_FILES:
        assert (tmp_path / "r" / name).is_file(), name
    criteria = _verdicts(record)
    assert list(criteria) == list(load_catalog().criteria)
    assert len(criteria) == 84
    for cid in ("R5.1", "R5.3", "R5.4"):
        assert criteria[cid]["verdict"] == "PASSED", criteria[cid]
    for crit in criteria.values():
        if crit["verdict"] != "PASSED":
            assert crit["reason"], crit["id"]
    assert record["deploy_evidence"]["health"]["status"] == 200
    assert record["deploy_evidence"]["health"]["body"].strip() == "OK"
    assert "report:" in output and "traceability.html" in output


def test_a_broken_health_endpoint_fails_r5_1_with_a_curl_reproduction(tmp_path):
    code, record, output = run_harness(["--fault", "health-not-ok", "--criteria", "R5.1", "--window-seconds", "2"],
                                       tmp_path / "r")
    assert code == 1, output
    crit = _verdicts(record)["R5.1"]
    assert crit["verdict"] == "FAILED"
    failed = [c for c in record["checks"] if c["outcome"] == "failed" and "R5.1" in c["criteria"]]
    assert failed and failed[0]["failure"]["curl"].startswith("curl ")
    assert "--connect-to api.stackfast.app:443:127.0.0.1:" in failed[0]["failure"]["curl"]
    assert "R5.1 FAILED" in output and "reproduce with: curl" in output


def test_an_unreachable_target_is_an_error_not_a_failure_and_still_reports(tmp_path):
    code, record, output = run_harness(["--api", "http://127.0.0.1:9", "--criteria", "R5.1"], tmp_path / "r")
    assert code == 1, output
    crit = _verdicts(record)["R5.1"]
    assert crit["verdict"] == "ERROR", crit
    assert "could not" in crit["reason"]
    assert (tmp_path / "r" / "traceability.html").is_file()


@pytest.mark.parametrize(("args", "message"), [
    (["--api", "ftp://x"], "not an http(s) base URL"),
    (["--profile", "prod"], "unknown profile"),
    (["--fault", "no-such-fault"], "no-such-fault"),
    (["--api", "https://api.stackfast.app", "--fault", "health-not-ok"], "only applies to the embedded reference"),
    (["--api", "https://api.stackfast.app", "--workers", "many"], "is not a number of worker processes"),
    (["--workers", "0"], "is not a number of worker processes"),  # before the embedded reference starts
])
def test_usage_errors_exit_2_with_a_clear_message_and_no_traceback(tmp_path, args, message):
    proc = subprocess.run([sys.executable, "-m", "stackfast_conformance.cli", "run", "--report-dir",
                           str(tmp_path / "r"), *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_malformed_profile_file_is_a_usage_error_naming_file_and_line(tmp_path):
    profile = tmp_path / "prod.yaml"
    profile.write_text("api_url: https://api.stackfast.app\nwindow_seconds: [\n")
    proc = subprocess.run([sys.executable, "-m", "stackfast_conformance.cli", "run", "--profile-file", str(profile)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "prod.yaml:" in proc.stderr and "Traceback" not in proc.stderr


def test_the_json_report_is_versioned_and_lists_every_check(tmp_path):
    code, record, output = run_harness(["--criteria", "R5.1", "--window-seconds", "2"], tmp_path / "r")
    assert record["schema"] == "stackfast-conformance/traceability" and record["schema_version"] == 1
    assert any(c["id"].endswith("test_health_answers_200_with_body_ok") for c in record["checks"])
    junit = (tmp_path / "r" / "junit.xml").read_text()
    assert junit.count("<testcase") == 84
    json.loads((tmp_path / "r" / "traceability.json").read_text())


def test_help_shows_what_to_type_not_internal_names():
    proc = subprocess.run([sys.executable, "-m", "stackfast_conformance.cli", "run", "--help"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    assert "SF_" not in proc.stdout
    for shown in ("--api URL", "--profile-file FILE", "--env-snapshot ENV=FILE", "--window-seconds SECONDS",
                  "--baseline DIR", "-v, --pytest-output"):
        assert shown in proc.stdout, shown


def test_a_two_phase_run_tells_one_story_and_prints_one_summary(tmp_path):
    """Progress per phase; no pytest summary lines; no verdicts from the parallel phase; one summary at the end."""
    code, record, output = run_harness(["--criteria", "R5.1,R1.5", "--window-seconds", "2"], tmp_path / "r", workers=2)
    assert code == 0, output
    assert "phase 1/2: checks on 2 workers" in output and "phase 2/2: operator actions" in output
    summaries = [line for line in output.splitlines() if line.startswith("stackfast-conformance: ") and " PASSED" in line]
    assert len(summaries) == 1, output
    assert "exit 0: no blocking criterion FAILED or ERROR" in output
    assert f"report: {tmp_path / 'r' / 'traceability.html'}" in output
    for pytest_line in ("bringing up nodes", " passed in ", " deselected", "UNCOVERED"):
        assert pytest_line not in output, pytest_line
    assert "passed" in (tmp_path / "r" / "pytest-output.log").read_text()  # pytest's own lines are kept
    assert record["criteria"][[c["id"] for c in record["criteria"]].index("R1.5")]["verdict"] == "PASSED"


def test_pytest_output_shows_pytest_s_own_lines_and_still_one_summary(tmp_path):
    code, record, output = run_harness(["--criteria", "R5.1", "--window-seconds", "2", "--pytest-output"],
                                       tmp_path / "r")
    assert code == 0, output
    assert re.search(r"\d+ passed", output), output
    assert len([line for line in output.splitlines() if re.match(r"stackfast-conformance: \d+ PASSED", line)]) == 1


def test_in_github_actions_a_run_appends_its_summary_and_annotates_blocking_criteria(tmp_path):
    summary, outputs = tmp_path / "summary.md", tmp_path / "outputs"
    code, record, output = run_harness(
        ["--fault", "health-not-ok", "--criteria", "R5.1", "--window-seconds", "2"], tmp_path / "r",
        env={"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(outputs)})
    assert code == 1, output
    assert "::error title=R5.1::FAILED: " in output
    assert summary.read_text().startswith("# Stackfast conformance") and "R5.1" in summary.read_text()
    assert "exit-status=1" in outputs.read_text() and "blocking=R5.1" in outputs.read_text()
