"""The kill matrix: every named fault of the reference must be caught with exactly its criteria.

For each fault, the harness runs (as a real CLI subprocess) against the reference started with
that fault and reads the verdicts back from ``traceability.json``: every criterion in the fault's
``breaks`` must be FAILED, and no other blocking criterion that was checked may be FAILED or ERROR.

Speed: faults that cannot interact share one reference run (``plan_batches``, printed by
``python -m stackfast_conformance.killmatrix --plan``): same environment and extra arguments, and
both disruptive or both not (``share_key``; the run takes the members' longest window, since a
fault's window is the shortest its catch needs); none of them ``collateral``, ``errors_elsewhere``
or ``leak``; no two of them breaking the same requirement family (R5, R8, R10 ...) or changing the
same behaviour (the word a fault's name starts with: ``cors-``, ``admin-``, ``health-`` ...), so a
stray flag of one cannot hide behind another's expected criteria. A run of disruptive faults checks
the union of their criteria, with operator actions (as each would alone). In a shared run each
member's ``breaks`` must be FAILED; a flag outside the union of the members' ``breaks`` sends every
member to a run of its own (``run_members``, the false-alarm matrix's retry too), so each row blames
only its own fault. One row per fault either way.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

BAD = ("FAILED", "ERROR")
# The matrix asks every property for a verdict, not for a minimal example: few cases, no shrinking.
MATRIX_PROFILE = "hypothesis:\n  max_examples: 10\n  shrink: false\n"
# Advisory probes that cannot flip a verdict (findings only) add nothing to the matrix but their waits.
MATRIX_DESELECT = ("properties/test_prop_limiter_windows.py",)
DEFAULT_WINDOW_SECONDS = 2
# A stray in a shared run re-runs every member alone: more members, a costlier retry (and more to interact).
MAX_BATCH = 5
# Pairs of faults that pass every rule of ``plan_batches`` and still interfered in a shared run (a member
# missed only when batched): frozenset({name, name}) -> why. Empty: no interference seen in the full
# matrix (75/75 caught exactly with 11 shared runs).
KEPT_APART: dict[frozenset[str], str] = {}

_ENV_PREFIXES = ("local-dev-", "staging-", "production-")

_Member = TypeVar("_Member")
_Result = TypeVar("_Result")


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
    run: str = ""  # the shared run (batch label) the verdict comes from; empty: the fault's own run
    seconds: float = 0.0  # wall time of that run

    @property
    def ok(self) -> bool:
        return not self.missed and not self.stray

    def row(self) -> dict[str, Any]:
        """The table row ``tests/test_kill_matrix.py`` writes and ``tests/conftest.py`` prints."""
        return {"fault": self.fault, "expected": self.expected, "flagged": self.flagged, "missed": self.missed,
                "stray": self.stray, "run": self.run, "seconds": round(self.seconds, 1)}

    @classmethod
    def from_row(cls, data: dict[str, Any]) -> FaultResult:
        return cls(data["fault"], tuple(data["expected"]), tuple(data["flagged"]), {}, 0, "", "",
                   tuple(data["missed"]), tuple(data["stray"]), data.get("run", ""), data.get("seconds", 0.0))


@dataclass(frozen=True)
class Batch:
    """Faults that share one reference run (a batch of one is a fault's own run)."""

    faults: tuple  # of reference.Fault, by name

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.faults)

    @property
    def label(self) -> str:
        return "+".join(self.names)


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


def run_fault(fault, window_seconds: float = DEFAULT_WINDOW_SECONDS, criteria: Iterable[str] | None = None,
              base_dir: Path | None = None, extra_args: Sequence[str] = ()) -> FaultResult:
    """Run the harness against the reference with ``fault`` on (a run of its own).

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
    return _run_together((fault,), base_dir, window_seconds, criteria, disruptive, extra_args)[0]


def _run_together(faults: Sequence, base_dir: Path, window_seconds: float, criteria: Iterable[str] | None,
                  disruptive: bool, extra_args: Sequence[str]) -> list[FaultResult]:
    """One reference run with every fault of ``faults`` on (they share run settings); one result per fault."""
    first = faults[0]
    label = "+".join(f.name for f in faults)
    started = time.monotonic()
    code, record, output = run_switched(
        label, [arg for f in faults for arg in ("--fault", f.name)], base_dir,
        window_seconds=max(f.window_seconds or window_seconds for f in faults), reference_env=first.env,
        criteria=criteria,
        disruptive=disruptive, extra_args=[*first.args, *extra_args],
        keep_limiter_probes=any(cid in ("R4.2", "R4.3") for f in faults for cid in f.breaks))
    return judge(faults, record, code, str(base_dir / label), output, time.monotonic() - started)


def judge(faults: Sequence, record: dict, exit_status: int = 0, report_dir: str = "", output: str = "",
          seconds: float = 0.0) -> list[FaultResult]:
    """One result per fault of a run with all of ``faults`` on: each fault's ``breaks`` must be FAILED and
    its findings recorded; any blocking criterion FAILED or ERROR outside the union of their ``breaks`` is a
    stray (on every row: a shared run with a stray cannot say whose it is)."""
    verdicts, blocking, flagged = flagged_criteria(record)
    expected = {cid for f in faults for cid in f.breaks}
    titles = " | ".join(f.get("title", "") for f in record.get("findings", []))
    shared = "+".join(f.name for f in faults) if len(faults) > 1 else ""
    results = []
    for fault in faults:
        missed = tuple(cid for cid in fault.breaks if verdicts.get(cid) != "FAILED")
        missed += tuple(f"finding '{t}'" for t in fault.findings if t not in titles)
        stray = tuple(cid for cid in flagged if cid not in expected and cid in blocking
                      and not (fault.errors_elsewhere and verdicts[cid] == "ERROR") and not fault.collateral)
        # in a shared run a row shows only its own criteria and the strays
        own = flagged if not shared else tuple(cid for cid in flagged if cid in fault.breaks or cid in stray)
        results.append(FaultResult(fault.name, tuple(fault.breaks), own, verdicts, exit_status, report_dir,
                                   output if (missed or stray) else "", missed, stray, shared, seconds))
    return results


def run_members(members: Sequence[_Member], together: Callable[[Sequence[_Member]], list[_Result]],
                alone: Callable[[_Member], list[_Result]], doubtful: Callable[[list[_Result]], bool]) -> list[_Result]:
    """One shared run for ``members`` (``together``); when its verdict is ``doubtful`` (it flagged something
    no single member can be blamed for), each member again in a run of its own, so each row blames only
    its own member. Shared by the kill and the false-alarm matrix."""
    results = together(members)
    if len(members) > 1 and doubtful(results):
        return [r for m in members for r in alone(m)]
    return results


def run_batch(batch: Batch, base_dir: Path | None = None, window_seconds: float = DEFAULT_WINDOW_SECONDS,
              extra_args: Sequence[str] = ()) -> list[FaultResult]:
    """Run one batch: a batch of one is ``run_fault``; a shared run with a stray re-runs its members alone.

    A member missed in a shared run stays missed (its row says so): that is interference to encode in
    ``KEPT_APART``, not something a solo retry may hide."""
    base_dir = base_dir or Path(tempfile.mkdtemp(prefix="killmatrix-"))

    def alone(fault) -> list[FaultResult]:
        return [run_fault(fault, window_seconds=window_seconds, base_dir=base_dir, extra_args=extra_args)]

    if len(batch.faults) == 1:
        return alone(batch.faults[0])
    # a disruptive run checks its members' criteria only (with operator actions), as each would alone
    disruptive = any("disruptive" in f.needs for f in batch.faults)
    criteria = sorted({cid for f in batch.faults for cid in f.breaks}) if disruptive else None
    return run_members(batch.faults,
                       lambda fs: _run_together(fs, base_dir, window_seconds, criteria, disruptive, extra_args),
                       alone, lambda results: any(r.stray for r in results))


def share_key(fault) -> tuple:
    """Faults share a run only when these are equal: the reference environment, the extra harness
    arguments, and whether the run takes operator actions (a disruptive run checks only its members'
    criteria). The window is not part of it: a fault's ``window_seconds`` is the shortest window its
    catch needs, so a shared run takes its members' longest (a longer window changes no verdict of a
    conforming check, only the time the window waits take); ``needs: [quota]`` changes nothing either
    (the matrix runs opt in to quota)."""
    return (fault.env or "production", "disruptive" in fault.needs, tuple(fault.args))


def batch_settings(faults: Sequence) -> tuple:
    """(env, needs, window, args) of a run of ``faults`` (equal ``share_key``): the members' needs together,
    their longest window."""
    first = faults[0]
    return (first.env or "production", tuple(sorted({n for f in faults for n in f.needs})),
            max(f.window_seconds or DEFAULT_WINDOW_SECONDS for f in faults), tuple(first.args))


def shares_runs(fault) -> bool:
    """May this fault share a reference run? Not when other criteria may flip with it (``collateral``,
    ``errors_elsewhere``) or when a leak scan judges it. A disruptive fault shares only with disruptive
    ones (``share_key``): the shared run checks the union of their criteria, with operator actions."""
    return not (fault.collateral or fault.errors_elsewhere or fault.leak)


def _families(fault) -> set[str]:
    return {cid.split(".")[0] for cid in fault.breaks}


def _behaviour(fault) -> str:
    """The behaviour a fault changes: the registry names faults after it (``cors-wildcard``, ``admin-raw-key-
    accepted``, ``health-503``; after the environment it concerns, if any: ``local-dev-samesite-none``), so
    two CORS faults, two admin-guard faults ... never share a run."""
    name = fault.name
    for env in _ENV_PREFIXES:
        name = name.removeprefix(env)
    return name.split("-")[0]


def _compatible(fault, members: Sequence) -> bool:
    return (len(members) < MAX_BATCH
            and all(not (_families(fault) & _families(m)) and _behaviour(fault) != _behaviour(m)
                    and frozenset((fault.name, m.name)) not in KEPT_APART for m in members))


def plan_batches(faults: Iterable) -> list[Batch]:
    """Group faults into as few shared runs as keep apart any two that could interact (module docstring).

    Deterministic: within one set of run settings, the faults with the most rivals (faults they may not
    share a run with) are placed first, each into the emptiest batch that takes it (ties: the earlier
    batch), so batches stay small and even. Batches are listed longest first (``_longest_first``), so
    two workers (or pytest-xdist) do not end on one long run while the other idles."""
    by_settings: dict[tuple, list] = {}
    batches: list[list] = []
    for fault in sorted(faults, key=lambda f: f.name):
        if shares_runs(fault):
            by_settings.setdefault(share_key(fault), []).append(fault)
        else:
            batches.append([fault])
    for group in by_settings.values():
        rivals = {f.name: sum(not _compatible(f, [g]) for g in group if g is not f) for f in group}
        placed: list[list] = []
        for fault in sorted(group, key=lambda f: (-rivals[f.name], f.name)):
            fits = [b for b in placed if _compatible(fault, b)]
            if fits:
                min(fits, key=len).append(fault)
            else:
                placed.append([fault])
        batches += placed
    return sorted((Batch(tuple(sorted(b, key=lambda f: f.name))) for b in batches), key=_longest_first)


def _longest_first(batch: Batch) -> tuple:
    """Runs of every non-disruptive check first (longer windows first, then more faults), then the short
    runs of a fault's own criteria (disruptive faults, leak faults); by name within a rank."""
    fault = batch.faults[0]
    own_criteria_only = "disruptive" in fault.needs or fault.leak
    return (own_criteria_only, -batch_settings(batch.faults)[2], -len(batch.faults), batch.names)


def run_matrix(faults, workers: int = 2, alone: bool = False, **kw) -> list[FaultResult]:
    """Every fault's result, by fault name: shared runs as ``plan_batches`` groups them (``alone``: one run each)."""
    batches = [Batch((f,)) for f in faults] if alone else plan_batches(faults)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        nested = list(pool.map(lambda b: run_batch(b, **kw), batches))
    return sorted((r for rs in nested for r in rs), key=lambda r: r.fault)


def table(results: Iterable[FaultResult]) -> str:
    rows = ["fault                                  expected                      flagged                       run "
            "      ok"]
    runs: dict[str, int] = {}
    for r in results:
        shared = f"#{runs.setdefault(r.run, len(runs) + 1)}" if r.run else "own"
        rows.append(f"{r.fault:38} {','.join(r.expected):29} {','.join(r.flagged) or '-':29} {shared:9} "
                    + ("yes" if r.ok else f"NO (missed {','.join(r.missed) or '-'}; stray {','.join(r.stray) or '-'})"))
    return "\n".join(rows)


def plan_text(batches: Iterable[Batch]) -> str:
    """The plan, one line per run: its settings and its faults with what each breaks."""
    lines = []
    for i, b in enumerate(batches, 1):
        env, needs, window, args = batch_settings(b.faults)
        how = ("alone: " + _why_alone(b.faults[0])) if len(b.faults) == 1 else f"shared by {len(b.faults)}"
        lines.append(f"#{i:<3} {env} window {window}s{' needs ' + ','.join(needs) if needs else ''}"
                     f"{' args ' + ' '.join(args) if args else ''} ({how})")
        lines += [f"       {f.name:36} {','.join(f.breaks) or 'findings: ' + '; '.join(f.findings)}" for f in b.faults]
    return "\n".join(lines)


def _why_alone(fault) -> str:
    reasons = [why for flag, why in ((fault.leak, "leak scan"), (fault.collateral, "collateral"),
                                     (fault.errors_elsewhere, "errors elsewhere")) if flag]
    return ", ".join(reasons) or "no compatible fault with its run settings"


def matrix_cli(argv: Sequence[str] | None, prog: str, description: str, noun: str, registry: dict,
               validate: Callable[[Sequence[str], dict], None],
               more: Callable[[Any], None] | None = None) -> tuple[Any, list]:
    """The command line both matrices share: NAME... (default: all of ``registry``), ``--workers``,
    ``--alone``, ``--plan`` (and ``more`` arguments); unknown names fail through ``validate``.
    Returns (arguments, chosen entries by name)."""
    import argparse

    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("names", nargs="*", metavar=noun.upper(), help=f"{noun} names (default: all)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--alone", action="store_true", help=f"one run per {noun} (no shared runs)")
    parser.add_argument("--plan", action="store_true", help="print the runs (shared and own) and exit")
    if more is not None:
        more(parser)
    args = parser.parse_args(argv)
    try:
        validate(args.names, registry)
    except ValueError as exc:
        parser.error(str(exc))  # exit 2, the usage line and the message (with the list command to look up)
    chosen = [registry[n] for n in args.names] if args.names else sorted(registry.values(), key=lambda e: e.name)
    return args, chosen


def main(argv: Sequence[str] | None = None) -> int:
    from stackfast_conformance.reference import load_faults, validate_fault_names

    args, faults = matrix_cli(argv, "python -m stackfast_conformance.killmatrix",
                              "Run the faults: each must be caught with exactly its criteria.", "fault",
                              load_faults(), validate_fault_names,
                              lambda parser: parser.add_argument("--window-seconds", type=float, default=2.0))
    if args.plan:
        batches = [Batch((f,)) for f in faults] if args.alone else plan_batches(faults)
        print(plan_text(batches))
        print(f"\n{len(faults)} faults in {len(batches)} runs")
        return 0
    started = time.monotonic()
    results = run_matrix(faults, workers=args.workers, alone=args.alone, window_seconds=args.window_seconds)
    print(table(results))
    for r in results:
        if not r.ok:
            print(f"\n--- {r.fault} ({r.report_dir}) ---\n{r.output[-3000:]}")
    print(f"\n{sum(r.ok for r in results)}/{len(results)} faults caught exactly; {time.monotonic() - started:.0f} s")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
