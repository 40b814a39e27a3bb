"""The leak scan (issue 15): secrets the harness was never told about never reach what it writes.

One reference runs with every ``leak-secrets-*`` fault (faults/leaks.yaml): fresh random secrets
of 17 shapes in the API's log (read by the ``logs`` action), in every operator action's output
and in every error answer's body and headers. The harness runs the checks that read those three
channels (operator actions allowed) with Allure results on; then every file under the report
directory and the Allure directory, and the terminal output, are scanned for each planted value
and for every 12-character piece of one. Zero hits is the bar — and the scan only counts because
the channels are shown to carry the secrets and the report is shown to hold their masked forms.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from stackfast_conformance.killmatrix import MATRIX_PROFILE, run_harness
from stackfast_conformance.leakscan import exposed, scan
from stackfast_conformance.reference import _planted, load_faults, start_reference

# module-scoped fixtures (one planted-secrets run for the module): under `pytest -n 4 --dist loadgroup` one worker runs the whole module
pytestmark = pytest.mark.xdist_group("test_leak_scan")

LEAK_FAULTS = sorted(f.name for f in load_faults().values() if f.leak)
MIN_SHAPES = 12


def _criteria() -> str:
    wanted: set[str] = set()
    for fault in load_faults().values():
        if fault.leak:
            args = list(fault.args)
            wanted |= set(args[args.index("--criteria") + 1].split(","))
    return ",".join(sorted(wanted))


@pytest.fixture(scope="module")
def leak_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("leaks")
    profile = base / "profile.yaml"
    profile.write_text(MATRIX_PROFILE)
    report_dir, allure_dir = base / "report", base / "allure"
    with start_reference(faults=LEAK_FAULTS, window_seconds=2) as ref:
        planted = _planted.read(ref.state_dir)
        # what the operator channel carries, seen by hand (the harness keeps no successful action's output)
        action = subprocess.run(ref.actions["upstash-recover"], capture_output=True, text=True, timeout=60)
        code, record, output = run_harness(
            ["--profile", "reference", "--window-seconds", "2", "--profile-file", str(profile),
             "--alluredir", str(allure_dir), "--criteria", _criteria()], report_dir, env=ref.harness_env())
        api_log = Path(ref.refresh()["stacks"]["production"]["log_file"]).read_text()
    return {"planted": planted, "action_output": action.stdout, "api_log": api_log, "code": code,
            "record": record, "output": output, "report_dir": report_dir, "allure_dir": allure_dir}


def test_the_planted_secrets_are_fresh_random_values_of_at_least_12_shapes(leak_run):
    planted = leak_run["planted"]
    assert len(planted) >= MIN_SHAPES
    again = _planted.generate()
    assert not set(planted.values()) & set(again.values())  # per run: nothing a masker could know by luck
    assert all(len(value) >= 16 for value in planted.values())


def test_every_channel_carries_every_planted_secret(leak_run):
    planted = leak_run["planted"]
    for channel in ("action_output", "api_log"):
        missing = [shape for shape, value in planted.items() if value not in leak_run[channel]]
        assert not missing, f"{channel} lacks {missing}"
    # the response channel (bodies and headers) and the kept log lines reached the harness: the report holds
    # the masked form of every planted secret (and not the secret: see the scan below)
    seen = exposed(planted, [leak_run["report_dir"]])
    assert len(seen) >= MIN_SHAPES and seen == set(planted), sorted(set(planted) - seen)
    checks = {c["name"]: c for c in leak_run["record"]["checks"]}
    fail_open = [c for name, c in checks.items() if name.startswith("test_limiter_fails_open")]
    assert fail_open and all(c["outcome"] == "passed" for c in fail_open), leak_run["output"][-3000:]
    log_entries = [e for c in fail_open for e in c["timeline"] or () if e.get("log")]
    assert log_entries and all(set(e["log"]["matched"]) == {"[rate-limit] upstash unavailable:"}
                               for e in log_entries)
    assert all(e["log"]["lines_read"] > len(e["log"]["lines"]) for e in log_entries)  # not the whole log


def test_no_planted_secret_nor_a_12_character_piece_of_one_is_written_anywhere(leak_run):
    files = [p for p in leak_run["report_dir"].rglob("*") if p.is_file()]
    allure = [p for p in leak_run["allure_dir"].rglob("*") if p.is_file()]
    assert {"traceability.json", "traceability.md", "traceability.html", "junit.xml", "results.jsonl"} \
        <= {p.name for p in files}
    assert allure, "no Allure results were written: nothing to scan"
    hits = scan(leak_run["planted"], [leak_run["report_dir"], leak_run["allure_dir"]],
                {"terminal (stdout+stderr)": leak_run["output"]})
    assert not hits, "planted secrets leaked: " + "; ".join(map(str, hits))


def test_the_leak_faults_flip_no_verdict(leak_run):
    record = leak_run["record"]
    flagged = {c["id"]: c["reason"] for c in record["criteria"] if c["verdict"] in ("FAILED", "ERROR")}
    assert not flagged, json.dumps(flagged)[:2000] + leak_run["output"][-3000:]
    assert record["run"]["checks_executed"] > 0 and leak_run["code"] == 0


def test_the_scan_itself_finds_a_piece_of_a_secret():
    planted = {"token": "AbCdEfGh1234IjKlMnOp5678"}
    assert [h.shape for h in scan(planted, texts={"t": "xx" + "EfGh1234IjKl" + "yy"})] == ["token"]
    assert [h.shape for h in scan(planted, texts={"t": "a%20" + "AbCdEfGh1234Ij".replace("E", "%45")})] == ["token"]
    assert not scan(planted, texts={"t": "AbCdEfGh123 4IjKlMnOp"})


def test_failed_checks_quoting_a_leaking_answer_leak_nothing_either(tmp_path):
    """A FAILED check's message, curl, Allure status details and the terminal's traceback all pass redaction:
    /health answers 401 (health-requires-auth) with the planted environment in its body and headers."""
    profile = tmp_path / "profile.yaml"
    profile.write_text(MATRIX_PROFILE)
    with start_reference(faults=("health-requires-auth", "leak-secrets-error-body"), window_seconds=2) as ref:
        planted = _planted.read(ref.state_dir)
        code, record, output = run_harness(
            ["--profile", "reference", "--window-seconds", "2", "--profile-file", str(profile),
             "--alluredir", str(tmp_path / "allure"), "--criteria", "R5.1,R5.3"], tmp_path / "r",
            env=ref.harness_env())
    assert {c["id"]: c["verdict"] for c in record["criteria"] if c["id"] in ("R5.1", "R5.3")} == \
        {"R5.1": "FAILED", "R5.3": "FAILED"}, output[-3000:]
    assert len(exposed(planted, [tmp_path / "allure"])) >= MIN_SHAPES  # Allure saw them, masked
    hits = scan(planted, [tmp_path / "r", tmp_path / "allure"], {"terminal (stdout+stderr)": output})
    assert not hits, "planted secrets leaked: " + "; ".join(map(str, hits))
