"""The edge checks (R9) against the real embedded reference: its TLS edge (local CA, --connect-to)
and its plain-http listener. Faults are combined two per reference start to keep the suite fast;
the full one-fault-per-run matrix is the kill matrix over faults/topology.yaml."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from stackfast_conformance.edge import PUBLIC_ISSUERS, REFERENCE_ISSUER, expected_issuers, is_mapped

R9 = ["R9.1", "R9.2", "R9.3", "R9.4", "R9.5"]


def _run(tmp_path, *faults: str) -> dict:
    report = tmp_path / "report"
    # one worker: five criteria's checks gain nothing from four xdist workers, each importing pytest's plugins
    args = [sys.executable, "-m", "stackfast_conformance.cli", "run", "--criteria", ",".join(R9),
            "--report-dir", str(report), "--workers", "1"]
    for fault in faults:
        args += ["--fault", fault]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    return json.loads((report / "traceability.json").read_text())


def _verdicts(record: dict) -> dict[str, str]:
    return {c["id"]: c["verdict"] for c in record["criteria"] if c["id"] in R9}


def test_reference_edge_passes_every_r9_criterion_with_evidence(tmp_path):
    record = _run(tmp_path)
    assert _verdicts(record) == dict.fromkeys(R9, "PASSED")
    notes = " ".join(" ".join(c.get("notes") or []) for c in record["checks"])
    assert "DNS bypassed" in notes and f"issuer CN={REFERENCE_ISSUER}" in notes and "days left" in notes
    # both plain-http probes, their URLs as sent: redaction masks no host (a secret's piece such as
    # "://stackfast" once masked the web URL, and its exchange no longer started with http://)
    redirects = [x for x in record["exchanges"] if x["url"].startswith("http://")]
    assert {x["status"] for x in redirects} == {301} and len(redirects) == 2, [x["url"] for x in record["exchanges"]]


@pytest.mark.parametrize(("faults", "breaks", "undecided"), [
    (("edge-redirect-302", "cert-wrong-host"), {"R9.4", "R9.5"}, {"R9.2"}),
    (("edge-redirect-drops-path", "cert-expired"), {"R9.3", "R9.4", "R9.5"}, {"R9.1", "R9.2"}),
])
def test_edge_faults_flip_exactly_their_criteria(tmp_path, faults, breaks, undecided):
    """A certificate the client refuses also makes the HTTP proof of R9.1/R9.2 an ERROR (not FAILED)."""
    got = _verdicts(_run(tmp_path, *faults))
    assert {c for c, v in got.items() if v == "FAILED"} == breaks
    assert {c for c, v in got.items() if v == "ERROR"} == undecided


def test_issuer_expectation_comes_from_the_profile_or_the_default():
    assert expected_issuers({}, "reference") == (REFERENCE_ISSUER,)
    assert expected_issuers({}, "production") == PUBLIC_ISSUERS
    assert expected_issuers({"tls_issuer": "Let's Encrypt, ZeroSSL"}, "production") == ("Let's Encrypt", "ZeroSSL")


def test_connect_to_mapping_is_what_bypasses_dns():
    mapping = ["api.stackfast.app:443:127.0.0.1:8443"]
    assert is_mapped(mapping, "api.stackfast.app", 443)
    assert not is_mapped(mapping, "stackfast.app", 443)
