"""`stackfast-conformance diff A B` and `run --baseline DIR`: what newly fails, what was fixed, what is covered once."""

from __future__ import annotations

import json
import subprocess
import sys

from stackfast_conformance.diff import compare, load_report, render_html, render_markdown
from stackfast_conformance.killmatrix import run_harness


def _record(verdicts: dict[str, str]) -> dict:
    bad = ("FAILED", "ERROR")
    return {"schema": "stackfast-conformance/traceability", "run": {"id": "r", "exit_status": 0},
            "criteria": [{"id": cid, "statement": f"{cid} holds", "verdict": v, "reason": f"{v.lower()} because",
                          "blocks_release": v in bad} for cid, v in verdicts.items()]}


def test_compare_names_newly_failing_fixed_and_criteria_covered_in_only_one_run():
    a = _record({"R1.1": "PASSED", "R1.2": "FAILED", "R1.3": "SKIPPED", "R1.4": "PASSED", "R1.5": "MANUAL",
                 "R1.6": "SKIPPED"})
    b = _record({"R1.1": "FAILED", "R1.2": "PASSED", "R1.3": "PASSED", "R1.4": "SKIPPED", "R1.5": "MANUAL",
                 "R1.6": "ERROR"})
    result = compare(a, b)
    assert result["newly_failing"] == ["R1.1", "R1.6"]
    assert result["fixed"] == ["R1.2"]
    assert result["covered_only_in_b"] == ["R1.3"]
    assert result["covered_only_in_a"] == ["R1.4"]
    assert result["regressions"] == ["R1.1"]  # R1.6 blocks too, but A never passed it
    assert result["exit_status"] == 1
    assert "R1.1" in render_markdown(result) and "<td><b>R1.1</b></td>" in render_html(result)


def test_no_regression_when_b_blocks_only_on_what_a_did_not_pass():
    result = compare(_record({"R1.1": "ERROR"}), _record({"R1.1": "FAILED"}))
    assert result["regressions"] == [] and result["exit_status"] == 0 and result["changed"] == ["R1.1"]


def test_diff_of_two_real_runs_names_exactly_the_faults_criteria_as_newly_failing(tmp_path):
    """Reference conforming (A) vs reference with health-not-ok (B, with --baseline A): only R5.1 newly fails."""
    short = ["--criteria", "R5.1,R5.4", "--window-seconds", "2"]
    code_a, record_a, out_a = run_harness(short, tmp_path / "a")
    assert code_a == 0, out_a[-3000:]
    code_b, record_b, out_b = run_harness(["--fault", "health-not-ok", "--baseline", str(tmp_path / "a"), *short],
                                          tmp_path / "b")
    assert code_b == 1, out_b[-3000:]
    # run --baseline: the comparison is in the run's own report and its one summary
    assert record_b["comparison"]["newly_failing"] == ["R5.1"]
    assert "against baseline a: 1 newly failing" in out_b and "REGRESSION: R5.1" in out_b
    assert (tmp_path / "b" / "comparison.html").is_file()
    assert "Comparison with the baseline" in (tmp_path / "b" / "traceability.md").read_text()
    assert 'id="comparison"' in (tmp_path / "b" / "traceability.html").read_text()
    # the diff subcommand, on a directory and a traceability.json
    proc = subprocess.run([sys.executable, "-m", "stackfast_conformance.cli", "diff", str(tmp_path / "a"),
                           str(tmp_path / "b" / "traceability.json"), "--html", str(tmp_path / "d.html"),
                           "--json", str(tmp_path / "d.json")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    diff = json.loads((tmp_path / "d.json").read_text())
    assert diff["newly_failing"] == ["R5.1"] and diff["regressions"] == ["R5.1"] and diff["fixed"] == []
    assert "| newly failing | R5.1 |" in proc.stdout
    assert "R5.1" in (tmp_path / "d.html").read_text()
    # and the other way round: B -> A fixes R5.1, no regression
    back = compare(load_report(tmp_path / "b"), load_report(tmp_path / "a"))
    assert back["fixed"] == ["R5.1"] and back["newly_failing"] == [] and back["exit_status"] == 0


def test_diff_of_something_that_is_not_a_report_is_a_usage_error(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "stackfast_conformance.cli", "diff", str(tmp_path), str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "no traceability.json" in proc.stderr and "Traceback" not in proc.stderr
