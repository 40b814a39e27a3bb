"""The kill matrix: every named fault of the reference is caught with exactly its criteria,
and the conforming reference flags nothing.

Each case runs the real CLI against a real reference (subprocess, loopback, TLS) with a 2 s
rate-limit window. The table (fault -> expected -> flagged) is printed at the end of the session.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stackfast_conformance.killmatrix import BAD, run_fault, run_harness
from stackfast_conformance.reference import load_faults

FAULTS = sorted(load_faults().values(), key=lambda f: f.name)
# one row per fault, written where the controller (also under pytest-xdist) prints the table from
ROWS_DIR = Path(__file__).resolve().parent.parent / "reports" / "kill-matrix"


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_fault_is_caught_with_exactly_its_criteria(fault, tmp_path):
    result = run_fault(fault, base_dir=tmp_path)
    ROWS_DIR.mkdir(parents=True, exist_ok=True)
    (ROWS_DIR / f"{fault.name}.json").write_text(json.dumps(
        {"fault": result.fault, "expected": result.expected, "flagged": result.flagged,
         "missed": result.missed, "stray": result.stray}))
    assert not result.missed, f"{fault.name}: not caught for {result.missed}\n{result.output[-4000:]}"
    assert not result.stray, f"{fault.name}: stray flags {result.stray}\n{result.output[-4000:]}"


def test_the_conforming_reference_flags_nothing_and_explains_every_other_verdict(tmp_path):
    code, record, output = run_harness(["--window-seconds", "2"], tmp_path / "r")
    flagged = {c["id"]: c["reason"] for c in record["criteria"] if c["verdict"] in BAD}
    assert not flagged, f"the conforming reference was flagged: {flagged}\n{output[-4000:]}"
    assert code == 0, output[-4000:]
    for crit in record["criteria"]:
        assert crit["verdict"] == "PASSED" or crit["reason"], crit["id"]
    assert record["run"]["checks_executed"] > 0
