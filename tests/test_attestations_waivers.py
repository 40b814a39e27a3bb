"""Attestations and waivers: validation with file:line, ATTESTED / MANUAL / WAIVED / expired / stale."""

from __future__ import annotations

import datetime as dt
import hashlib
import subprocess
import sys

import pytest
from fixtures.harness import run_checks, verdicts
from fixtures.stackfast_checkout import write_variant_checkout

from stackfast_conformance._yamlcheck import ConfigFileError
from stackfast_conformance.inputs.attestations import load_attestations
from stackfast_conformance.inputs.waivers import load_waivers

TODAY = dt.date(2026, 11, 27)


def _write(path, text):
    path.write_text(text)
    return path


def test_attestation_with_a_verified_evidence_file(tmp_path):
    evidence = _write(tmp_path / "drill.log", "railway rollback --service stackfast-api: ok\n")
    digest = hashlib.sha256(evidence.read_bytes()).hexdigest()
    path = _write(tmp_path / "attestations.yaml", f"""attestations:
  - criterion: R12.4
    by: lead@stackfast.app
    at: 2026-11-20
    evidence: drill.log
    sha256: {digest}
    expires: 2027-02-20
  - criterion: R1.4
    by: ops@stackfast.app
    at: 2026-08-01
    evidence: https://railway.com/project/x/deployments
    expires: 2026-11-01
""")
    loaded = load_attestations(path, today=TODAY)
    assert loaded["R12.4"] == {"by": "lead@stackfast.app", "at": "2026-11-20", "evidence": "drill.log",
                               "expires": "2027-02-20", "expired": False, "sha256": digest}
    assert loaded["R1.4"]["expired"] is True


@pytest.mark.parametrize(("body", "message"), [
    ("attestations:\n  - criterion: R1.4\n    by: a\n    at: 2026-11-01\n    evidence: https://x\n    expires: 2027-01-01\n"
     "    expiers: 2027-01-01\n", r"attestations.yaml:7: unknown key 'expiers'.*did you mean 'expires'"),
    ("attestations:\n  - criterion: R1.44\n    by: a\n    at: 2026-11-01\n    evidence: https://x\n    expires: 2027-01-01\n",
     r"attestations.yaml:2: unknown criterion 'R1.44'"),
    ("attestations:\n  - criterion: R1.4\n    by: a\n    at: 2026-11-01\n    evidence: drill.log\n    expires: 2027-01-01\n",
     r"attestations.yaml:5: evidence 'drill.log' is a file: add sha256"),
    ("attestations:\n  - criterion: R1.4\n    by: a\n    at: 2026-11-01\n    evidence: drill.log\n    sha256: " + "ab" * 32
     + "\n    expires: 2027-01-01\n", r"attestations.yaml:6: evidence drill.log changed since it was attested"),
    ("attestations:\n  - criterion: R1.4\n    by: a\n    at: 11/01/2026\n    evidence: https://x\n    expires: 2027-01-01\n",
     r"attestations.yaml:4: .*a date YYYY-MM-DD"),
])
def test_bad_attestation_files_are_reported_with_file_and_line(tmp_path, body, message):
    _write(tmp_path / "drill.log", "x")
    with pytest.raises(ConfigFileError, match=message):
        load_attestations(_write(tmp_path / "attestations.yaml", body), today=TODAY)


def test_waivers_load_with_expiry_and_reject_typos(tmp_path):
    path = _write(tmp_path / "waivers.yaml", "waivers:\n  - criterion: R2.6\n    reason: reviewed\n    owner: lead\n"
                                             "    expires: 2026-11-26\n")
    assert load_waivers(path, today=TODAY)["R2.6"] == {"reason": "reviewed", "owner": "lead",
                                                       "expires": "2026-11-26", "expired": True}
    _write(path, "waivers:\n  - criterion: R2.6\n    reason: reviewed\n    onwer: lead\n    expires: 2027-01-01\n")
    with pytest.raises(ConfigFileError, match=r"waivers.yaml:4: unknown key 'onwer'.*did you mean 'owner'"):
        load_waivers(path)


def test_a_bad_waivers_file_is_a_usage_error_of_the_cli(tmp_path):
    bad = _write(tmp_path / "waivers.yaml", "waivers:\n  - criterion: R2.6\n")
    proc = subprocess.run([sys.executable, "-m", "stackfast_conformance.cli", "run", "--api", "https://api.stackfast.app",
                           "--waivers", str(bad), "--report-dir", str(tmp_path / "r")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "waivers.yaml:2: missing required key 'reason'" in proc.stderr


def test_attested_waived_expired_and_stale_verdicts_in_a_run(pytester, tmp_path):
    repo = write_variant_checkout(tmp_path / "checkout", "drop-column")  # R2.6 fails (advisory)
    far, past = "2099-01-01", "2020-01-01"
    attestations = _write(tmp_path / "attestations.yaml", f"""attestations:
  - criterion: R1.4
    by: ops@stackfast.app
    at: 2026-01-01
    evidence: https://railway.com/project/x
    expires: {far}
  - criterion: R7.4
    by: ops@stackfast.app
    at: 2019-01-01
    evidence: https://example.org/sentry-unit-test
    expires: {past}
""")
    waivers = _write(tmp_path / "waivers.yaml", f"""waivers:
  - criterion: R2.6
    reason: phase 2 of a reviewed two-deploy column drop
    owner: lead@stackfast.app
    expires: {far}
  - criterion: R14.1
    reason: README rewrite pending
    owner: docs@stackfast.app
    expires: {far}
  - criterion: R2.4
    reason: old waiver
    owner: lead@stackfast.app
    expires: {past}
""")
    record = run_checks(pytester, tmp_path / "report", f"--sf-repo={repo}", f"--sf-attestations={attestations}",
                        f"--sf-waivers={waivers}", folders=("repo",))
    got = verdicts(record, ["R1.4", "R7.4", "R2.6", "R14.1", "R2.4", "R1.3"])
    assert got == {"R1.4": "ATTESTED", "R7.4": "MANUAL", "R2.6": "WAIVED", "R14.1": "PASSED", "R2.4": "PASSED",
                   "R1.3": "MANUAL"}
    crit = {c["id"]: c for c in record["criteria"]}
    assert "attestation expired" in crit["R7.4"]["reason"]
    assert crit["R14.1"]["waiver"]["stale"] is True and crit["R2.4"]["waiver"]["stale"] is True
    assert "stale" not in crit["R2.6"]["waiver"]
    stale_findings = [f for f in record["findings"] if f["title"].startswith("stale waiver")]
    assert sorted(f["criteria"][0] for f in stale_findings) == ["R14.1", "R2.4"]
    markdown = (tmp_path / "report" / "traceability.md").read_text()
    assert "R7.4" in markdown  # listed among what a person still has to confirm
