"""An interrupted run (Ctrl-C) still writes the report for what finished."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

CHECKS = '''
import time
import pytest

@pytest.mark.requirement("R5.3")
def test_fast():
    pass

@pytest.mark.requirement("R5.1")
def test_slow():
    time.sleep(60)
'''


def test_ctrl_c_mid_run_keeps_what_finished_and_says_it_was_interrupted(tmp_path):
    checks = tmp_path / "conformance"
    checks.mkdir()
    (checks / "test_slow.py").write_text(CHECKS)
    report = tmp_path / "report"
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", str(checks), "-p", "no:cacheprovider", "--sf-api=http://127.0.0.1:9",
         f"--sf-report-dir={report}", "-q", "--rootdir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
    deadline = time.monotonic() + 30
    jsonl = report / "results.jsonl"
    while time.monotonic() < deadline and not (jsonl.is_file() and jsonl.read_text().strip()):
        time.sleep(0.05)
    assert jsonl.is_file(), "the first check's result was not written as it finished"
    time.sleep(0.3)  # let the slow check start sleeping
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    record = json.loads((report / "traceability.json").read_text())
    assert record["run"]["interrupted"] is True, out
    verdicts = {c["id"]: c["verdict"] for c in record["criteria"]}
    assert verdicts["R5.3"] == "PASSED"
    assert verdicts["R5.1"] != "PASSED"
    assert (report / "traceability.html").is_file()
    assert "INTERRUPTED" in (report / "traceability.md").read_text().upper()
