"""The kill matrix: every named fault of the reference must be caught with exactly its criteria.

For each fault, the harness runs (as a real CLI subprocess) against the reference started with
that fault and reads the verdicts back from ``traceability.json``: every criterion in the fault's
``breaks`` must be FAILED, and no other blocking criterion that was checked may be FAILED or ERROR.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

BAD = ("FAILED", "ERROR")
# The matrix asks every property for a verdict, not for a minimal example: few cases, no shrinking.
MATRIX_PROFILE = "hypothesis:\n  max_examples: 10\n  shrink: false\n"
# Advisory probes that cannot flip a verdict (findings only) add nothing to the matrix but their waits.
MATRIX_DESELECT = ("properties/test_prop_limiter_windows.py",)


@dataclass
class FaultResult:
    fault: str
    expected: tuple[str, ...]
    flagged: tuple[str, ...]  # criteria FAILED or ERROR
    verdicts: dict[str, str]
    exit_status: int
    report_dir: str
    output: str = ""
    missed: tuple[str, ...] = field(default=())
    stray: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.missed and not self.stray


def run_harness(args: Sequence[str], report_dir: Path, env: dict[str, str] | None = None,
                timeout: float = 600, workers: int = 1) -> tuple[int, dict, str]:
    """Run `stackfast-conformance run ARGS` in a subprocess; return (exit, traceability, output).

    One worker by default: the matrix and the self-tests run several harnesses side by side already.
    """
    cmd = [sys.executable, "-m", "stackfast_conformance.cli", "run", "--report-dir", str(report_dir),
           "--workers", str(workers), *args]
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("STACKFAST_")}
    full_env.update(env or {})
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=full_env,
                          cwd=Path(__file__).resolve().parent.parent, stdin=subprocess.DEVNULL)
    path = report_dir / "traceability.json"
    record = json.loads(path.read_text()) if path.is_file() else {}
    return proc.returncode, record, proc.stdout + proc.stderr


def run_switched(label: str, switch_args: Sequence[str], base_dir: Path, *, window_seconds: float,
                 reference_env: str | None = None, criteria: Iterable[str] | None = None,
                 disruptive: bool = False, extra_args: Sequence[str] = (),
                 keep_limiter_probes: bool = False) -> tuple[int, dict, str]:
    """One matrix run (shared by the kill and the false-alarm matrix): the harness against the reference
    started with ``switch_args`` (``--fault X`` / ``--variant Y`` ...), with the matrix profile.

    ``criteria`` restricts the run; without it every check runs except the disruptive ones (unless
    ``disruptive``, which then needs ``criteria``)."""
    report_dir = base_dir / label
    args = [*switch_args, "--window-seconds", str(int(window_seconds)), *extra_args]
    env = {}
    if reference_env and reference_env != "production":
        args += ["--reference-env", reference_env]
    if criteria is not None:
        args += ["--criteria", ",".join(sorted(set(criteria)))]
    if not disruptive:
        env["STACKFAST_ALLOW_DISRUPTIVE"] = "false"
    profile = base_dir / f"{label}-profile.yaml"
    profile.write_text(MATRIX_PROFILE)
    args += ["--profile-file", str(profile)]
    if not keep_limiter_probes:
        args += ["--", *(f"--deselect={path}" for path in MATRIX_DESELECT)]
    return run_harness(args, report_dir, env=env)


def flagged_criteria(record: dict) -> tuple[dict[str, str], set[str], tuple[str, ...]]:
    """(verdict by criterion, blocking criteria, criteria FAILED or ERROR) of one run's record."""
    verdicts = {c["id"]: c["verdict"] for c in record.get("criteria", [])}
    blocking = {c["id"] for c in record.get("criteria", []) if c.get("severity") == "blocking"}
    return verdicts, blocking, tuple(sorted(cid for cid, v in verdicts.items() if v in BAD))


def run_fault(fault, window_seconds: float = 2.0, criteria: Iterable[str] | None = None,
              base_dir: Path | None = None, extra_args: Sequence[str] = ()) -> FaultResult:
    """Run the harness against the reference with ``fault`` on.

    Without ``criteria``: a fault that needs no operator action is run against every check that is
    not disruptive (so a stray flag anywhere shows); one that needs actions runs the checks of its
    own criteria with actions allowed (operator actions take seconds each).
    """
    base_dir = base_dir or Path(tempfile.mkdtemp(prefix="killmatrix-"))
    if getattr(fault, "leak", False):  # proves masking, not a criterion: judged by a leak scan
        from stackfast_conformance.leakscan import run_leak_fault

        return run_leak_fault(fault, base_dir, window_seconds, extra_args)
    # explicit criteria run with whatever the profile allows; otherwise disruptive checks only for their fault
    disruptive = criteria is not None or "disruptive" in fault.needs
    if criteria is None and disruptive:
        criteria = fault.breaks
    code, record, output = run_switched(
        fault.name, ["--fault", fault.name], base_dir, window_seconds=fault.window_seconds or window_seconds,
        reference_env=fault.env, criteria=criteria, disruptive=disruptive,
        extra_args=[*getattr(fault, "args", ()), *extra_args],
        keep_limiter_probes=any(cid in ("R4.2", "R4.3") for cid in fault.breaks))
    verdicts, blocking, flagged = flagged_criteria(record)
    missed = tuple(cid for cid in fault.breaks if verdicts.get(cid) != "FAILED")
    titles = " | ".join(f.get("title", "") for f in record.get("findings", []))
    missed += tuple(f"finding '{t}'" for t in getattr(fault, "findings", ()) if t not in titles)
    stray = tuple(cid for cid in flagged if cid not in fault.breaks and cid in blocking
                  and not (fault.errors_elsewhere and verdicts[cid] == "ERROR") and not fault.collateral)
    return FaultResult(fault.name, tuple(fault.breaks), flagged, verdicts, code, str(base_dir / fault.name),
                       output if (missed or stray) else "", missed, stray)


def run_matrix(faults, workers: int = 2, **kw) -> list[FaultResult]:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda f: run_fault(f, **kw), faults))


def table(results: Iterable[FaultResult]) -> str:
    rows = ["fault                                  expected                      flagged                       ok"]
    for r in results:
        rows.append(f"{r.fault:38} {','.join(r.expected):29} {','.join(r.flagged) or '-':29} "
                    + ("yes" if r.ok else f"NO (missed {','.join(r.missed) or '-'}; stray {','.join(r.stray) or '-'})"))
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    from stackfast_conformance.reference import load_faults

    parser = argparse.ArgumentParser(prog="python -m stackfast_conformance.killmatrix")
    parser.add_argument("faults", nargs="*", help="fault names (default: all)")
    parser.add_argument("--window-seconds", type=float, default=2.0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    registry = load_faults()
    faults = [registry[n] for n in args.faults] if args.faults else sorted(registry.values(), key=lambda f: f.name)
    results = run_matrix(faults, workers=args.workers, window_seconds=args.window_seconds)
    print(table(results))
    for r in results:
        if not r.ok:
            print(f"\n--- {r.fault} ({r.report_dir}) ---\n{r.output[-3000:]}")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
