"""The kill matrix: every named fault of the reference is caught with exactly its criteria.

The conforming reference flagging nothing is proven where a run of every check already happens:
the README's first command (``tests/test_docs_commands.py``: every check, operator actions too, only
MANUAL/NOT_APPLICABLE left, each with its reason, exit 0) and the false-alarm matrix's runs at the
matrix's 2 s window (``tests/test_false_alarm_matrix.py``); a stray flag of the conforming reference
at a matrix window would also show on every row here.

Each case runs the real CLI against a real reference (subprocess, loopback, TLS) with a 2 s
rate-limit window. Faults that cannot interact share a run (``killmatrix.plan_batches``): one case
per run, named by its faults, so pytest-xdist never runs a run twice; one row per fault, and the
table (fault -> expected -> flagged) is printed at the end of the session.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stackfast_conformance.killmatrix import (
    KEPT_APART,
    judge,
    plan_batches,
    run_batch,
    run_members,
    shares_runs,
)
from stackfast_conformance.reference import load_faults

FAULTS = sorted(load_faults().values(), key=lambda f: f.name)
BATCHES = plan_batches(FAULTS)
# one row per fault, written where the controller (also under pytest-xdist) prints the table from
ROWS_DIR = Path(__file__).resolve().parent.parent / "reports" / "kill-matrix"


@pytest.mark.parametrize("batch", BATCHES, ids=[b.label for b in BATCHES])
def test_faults_are_caught_with_exactly_their_criteria(batch, tmp_path):
    results = run_batch(batch, base_dir=tmp_path)
    ROWS_DIR.mkdir(parents=True, exist_ok=True)
    for r in results:
        (ROWS_DIR / f"{r.fault}.json").write_text(json.dumps(r.row()))
    shared = f" (in a run shared with {', '.join(n for n in batch.names)})" if len(batch.faults) > 1 else ""
    missed = {r.fault: r.missed for r in results if r.missed}
    assert not missed, f"not caught{shared}: {missed}\n" + "\n".join(r.output[-4000:] for r in results if r.missed)
    stray = {r.fault: r.stray for r in results if r.stray}
    assert not stray, f"stray flags: {stray}\n" + "\n".join(r.output[-4000:] for r in results if r.stray)


def test_the_plan_runs_every_fault_once_and_shares_runs_only_between_faults_that_cannot_interact():
    assert sorted(n for b in BATCHES for n in b.names) == [f.name for f in FAULTS]
    for batch in BATCHES:
        if len(batch.faults) == 1:
            continue
        assert all(shares_runs(f) for f in batch.faults), batch.label
        families = [{cid.split(".")[0] for cid in f.breaks} for f in batch.faults]
        assert sum(map(len, families)) == len(set().union(*families)), f"{batch.label}: a requirement family twice"
        words = [f.name.removeprefix("local-dev-").split("-")[0] for f in batch.faults]
        assert len(words) == len(set(words)), f"{batch.label}: one behaviour changed twice"
        assert not any(pair <= set(batch.names) for pair in KEPT_APART), batch.label
    assert len(BATCHES) < len(FAULTS) * 2 // 3, "the plan shares too few runs to fit the suite's budget"


def _record(verdicts: dict[str, str], findings: tuple[str, ...] = ()) -> dict:
    return {"criteria": [{"id": cid, "verdict": v, "severity": "blocking"} for cid, v in verdicts.items()],
            "findings": [{"title": t} for t in findings]}


def test_a_shared_run_blames_a_member_for_its_own_criteria_only():
    faults = load_faults()
    cors, health, vary = faults["cors-wildcard"], faults["health-503"], faults["cors-no-vary"]
    caught = judge((cors, health, vary), _record({"R10.2": "FAILED", "R10.3": "FAILED", "R3.8": "FAILED",
                                                  "R5.1": "FAILED", "R8.1": "PASSED"},
                                                 ("CORS answers without Vary: Origin",)))
    assert [(r.fault, r.flagged, r.ok, r.run) for r in caught] == [
        ("cors-wildcard", ("R10.2", "R10.3", "R3.8"), True, "cors-wildcard+health-503+cors-no-vary"),
        ("health-503", ("R5.1",), True, "cors-wildcard+health-503+cors-no-vary"),
        ("cors-no-vary", (), True, "cors-wildcard+health-503+cors-no-vary")]
    # a member missed (ERROR is not FAILED) is missed on its own row only; a flag outside every member's
    # breaks is a stray of the run, on every row (run_batch then re-runs each member alone)
    mixed = judge((cors, health), _record({"R10.2": "FAILED", "R10.3": "FAILED", "R3.8": "FAILED",
                                           "R5.1": "ERROR", "R8.1": "FAILED"}))
    assert [(r.missed, r.stray) for r in mixed] == [((), ("R8.1",)), (("R5.1",), ("R8.1",))]


def test_a_doubtful_shared_run_is_run_again_one_member_at_a_time():
    calls: list[tuple[str, ...]] = []

    def together(members):
        calls.append(tuple(members))
        return [f"{m}: shared" for m in members]

    def alone(member):
        calls.append((member,))
        return [f"{member}: alone"]

    assert run_members(("a", "b"), together, alone, lambda rs: False) == ["a: shared", "b: shared"]
    assert run_members(("a", "b"), together, alone, lambda rs: True) == ["a: alone", "b: alone"]
    assert run_members(("a",), together, alone, lambda rs: True) == ["a: shared"]
    assert calls == [("a", "b"), ("a", "b"), ("a",), ("b",), ("a",)]
