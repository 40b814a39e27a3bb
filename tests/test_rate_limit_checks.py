"""The rate-limiter checks (R4.2-R4.9, R6.1-R6.3) against the real reference.

- the conforming reference passes every one of their criteria, and the run records the quota
  plan (x-forwarded-for honoured) and the bursts' timing;
- each limiter fault is caught with exactly its criteria among the limiter criteria (the full
  kill matrix over every check is tests/test_kill_matrix.py);
- the production profile sends no quota-spending request and says how to opt in.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from stackfast_conformance.killmatrix import BAD, run_harness
from stackfast_conformance.reference import start_reference

# module-scoped fixtures (its reference started once): under `pytest -n 4 --dist loadgroup` one worker runs the whole module
pytestmark = pytest.mark.xdist_group("test_rate_limit_checks")

LIMITER_CRITERIA = ("R4.2", "R4.3", "R4.4", "R4.7", "R4.9", "R6.1", "R6.2", "R6.3")
LIMITER_FAULTS = (
    "generation-limit-off-by-one", "generation-limit-short-by-one", "read-limit-off-by-one",
    "generation-buckets-split", "generation-draws-read-bucket", "bucket-key-ignores-forwarded-for",
    "bucket-key-prefers-cf", "retry-after-missing", "retry-after-wrong", "health-rate-limited",
)
CHECK_FILES = ("conformance/test_r04_rate_limit.py", "conformance/test_r06_rate_limit_verification.py")


def _mine(record: dict) -> list[dict]:
    return [c for c in record.get("checks", []) if c["file"] in CHECK_FILES]


def test_the_conforming_reference_passes_every_limiter_criterion(tmp_path: Path) -> None:
    code, record, output = run_harness(["--criteria", ",".join(LIMITER_CRITERIA), "--window-seconds", "8"],
                                       tmp_path / "r")
    verdicts = {c["id"]: c["verdict"] for c in record["criteria"]}
    assert {cid: verdicts[cid] for cid in LIMITER_CRITERIA} == dict.fromkeys(LIMITER_CRITERIA, "PASSED"), output[-4000:]
    assert code == 0, output[-4000:]
    checks = _mine(record)
    assert len(checks) >= 14 and all(c["outcome"] == "passed" for c in checks), output[-4000:]
    notes = [n for c in checks for n in c["notes"] or ()]
    assert any("honours client-supplied x-forwarded-for" in n for n in notes), notes
    assert any("all within one window" in n for n in notes), notes
    titles = [f["title"] for f in record["findings"]]
    assert "client-controlled x-forwarded-for lets anyone evade the rate limits" in titles


@pytest.fixture(scope="module")
def ref():
    with start_reference(window_seconds=2) as reference:
        yield reference


def test_the_production_profile_sends_no_quota_request_and_names_the_opt_in(tmp_path: Path, ref) -> None:
    args = ["--api", ref.api_url, "--web", ref.web_url, "--ca-bundle", str(ref.ca_bundle),
            "--window-seconds", "2", "--profile", "production", "--criteria", ",".join(LIMITER_CRITERIA)]
    for item in ref.connect_to:
        args += ["--connect-to", item]
    code, record, output = run_harness(args, tmp_path / "r", env={"STACKFAST_ADMIN_KEY": ref.admin_key})
    checks = _mine(record)
    assert len(checks) >= 14, output[-4000:]
    for check in checks:
        assert check["outcome"] == "skipped", check
        assert "--allow-quota" in check["reason"], check["reason"]
    quota_requests = [x for x in record["exchanges"] if "/api/v1" in x["url"]]
    assert quota_requests == [], quota_requests[:3]
    verdicts = {c["id"]: c["verdict"] for c in record["criteria"]}
    assert not {cid for cid in LIMITER_CRITERIA if verdicts[cid] in BAD}, verdicts
