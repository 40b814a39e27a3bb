"""The false-alarm matrix, the kill matrix's mirror: every harmless variant must flag nothing.

A harmless variant (``reference/variants/*.yaml``) is a behaviour a conforming Stackfast may show on
its real stack (middleware order, error-body shapes, extra headers, proxy hops, a lower-case readme
...). For each, the harness runs against the reference with the variant on and no blocking criterion
may end FAILED or ERROR, and the run must have checked something.

Speed: variants that do not interact (no ``alone``) share a run — one per component, environment,
window and criteria — and each still gets a row. A batch that flags something is re-run one variant
at a time, so a row blames only the variant that flags. Checkout/snapshot variants are inputs, not
reference switches: ``sample_checkout.variant_inputs(names, directory)`` builds one checkout and one
snapshot pair with all of a batch's inputs applied, so they share a run.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from stackfast_conformance.killmatrix import flagged_criteria, run_members, run_switched

DEFAULT_WINDOW_SECONDS = 2


@dataclass(frozen=True)
class Batch:
    """Variants that share one harness run."""

    label: str
    variants: tuple  # of reference.Variant
    window_seconds: int
    env: str | None
    criteria: tuple[str, ...] | None
    args: tuple[str, ...]
    disruptive: bool

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.variants)


@dataclass
class VariantResult:
    variant: str
    component: str
    batch: str
    flagged: tuple[str, ...]  # blocking criteria FAILED or ERROR
    checks_executed: int
    seconds: float
    report_dir: str
    reasons: dict[str, str] = field(default_factory=dict)
    output: str = ""

    @property
    def ok(self) -> bool:
        return not self.flagged and self.checks_executed > 0


def plan_batches(variants: Iterable) -> list[Batch]:
    """Group variants into as few runs as keep them apart where they could interact."""
    groups: dict[tuple, list] = {}
    for v in sorted(variants, key=lambda v: v.name):
        disruptive = "disruptive" in v.needs
        family = v.component if v.is_switch else "inputs"
        key = (family, v.env, v.window_seconds or DEFAULT_WINDOW_SECONDS,
               v.criteria if (v.criteria or not v.is_switch) else None, v.args, disruptive,
               v.name if v.alone else "")
        if not v.is_switch:  # inputs batch by the union of their criteria
            key = (family, v.env, v.window_seconds or DEFAULT_WINDOW_SECONDS, None, v.args, disruptive,
                   v.name if v.alone else "")
        groups.setdefault(key, []).append(v)
    batches: list[Batch] = []
    for (family, env, window, criteria, args, disruptive, alone), members in groups.items():
        if family == "inputs":
            crit: tuple[str, ...] | None = tuple(sorted({c for v in members for c in (v.criteria or ())})) or None
        else:
            crit = criteria
        # the family's first shared run is named after it; any other after its first variant
        label = family if not alone and not any(b.label == family for b in batches) else f"{family}-{members[0].name}"
        batches.append(Batch(label, tuple(members), int(window), env, crit, tuple(args), disruptive))
    return batches


def _inputs_args(variants: Sequence, directory: Path) -> list[str]:
    """The harness args of a set of input variants: ``sample_checkout.variant_inputs`` combines any set of
    its variants into one checkout and one snapshot pair (``--repo DIR --env-snapshot ENV=FILE ...``)."""
    try:
        from stackfast_conformance.sample_checkout import variant_inputs
    except ImportError as exc:
        raise RuntimeError("checkout/snapshot variants need stackfast_conformance.sample_checkout.variant_inputs"
                           f"(names, directory) -> list[str], which is not there yet: {exc}") from None
    directory.mkdir(parents=True, exist_ok=True)
    return [str(a) for a in variant_inputs([v.name for v in variants], directory)]


def run_batch(batch: Batch, base_dir: Path | None = None) -> list[VariantResult]:
    """Run one batch; a batch of several that flags anything is re-run one variant at a time."""
    base_dir = base_dir or Path(tempfile.mkdtemp(prefix="falsealarm-"))

    def alone(v) -> list[VariantResult]:
        return _run_once(Batch(f"{batch.label}--{v.name}", (v,), batch.window_seconds, batch.env, batch.criteria
                               if v.is_switch else (v.criteria or batch.criteria), batch.args, batch.disruptive),
                         base_dir)

    return run_members(batch.variants, lambda _: _run_once(batch, base_dir), alone,
                       lambda results: not all(r.ok for r in results))


def _run_once(batch: Batch, base_dir: Path) -> list[VariantResult]:
    """One harness run with every variant of ``batch`` on; one row per variant, all with the run's verdicts."""
    switch_args: list[str] = []
    extra: list[str] = list(batch.args)
    inputs = [v for v in batch.variants if not v.is_switch]
    if inputs:
        extra += _inputs_args(inputs, base_dir / f"{batch.label}-inputs")
    for v in batch.variants:
        if v.is_switch:
            switch_args += ["--variant", v.name]
    started = time.monotonic()
    code, record, output = run_switched(
        batch.label, switch_args, base_dir, window_seconds=batch.window_seconds, reference_env=batch.env,
        criteria=batch.criteria, disruptive=batch.disruptive, extra_args=extra,
        keep_limiter_probes=True)
    seconds = time.monotonic() - started
    verdicts, blocking, flagged = flagged_criteria(record)
    bad = tuple(cid for cid in flagged if cid in blocking)
    reasons = {c["id"]: str(c.get("reason", "")) for c in record.get("criteria", []) if c["id"] in bad}
    executed = int((record.get("run") or {}).get("checks_executed") or 0)
    if not record:
        bad = ("no report",)
    tail = output[-4000:] if (bad or not executed) else ""
    return [VariantResult(v.name, v.component, batch.label, bad, executed, seconds,
                          str(base_dir / batch.label), reasons, tail) for v in batch.variants]


def run_matrix(variants: Iterable, workers: int = 2, base_dir: Path | None = None) -> list[VariantResult]:
    batches = plan_batches(variants)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        nested = list(pool.map(lambda b: run_batch(b, base_dir), batches))
    return sorted((r for rs in nested for r in rs), key=lambda r: r.variant)


def table(results: Iterable[VariantResult]) -> str:
    rows = ["variant                                component  run (shared)                   flagged"
            "                       ok"]
    for r in results:
        rows.append(f"{r.variant:38} {r.component:10} {r.batch:30} {','.join(r.flagged) or '-':29} "
                    + ("yes" if r.ok else ("NO (nothing checked)" if not r.checks_executed else "NO")))
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    from stackfast_conformance.killmatrix import matrix_cli
    from stackfast_conformance.reference import load_variants, validate_variant_names

    args, chosen = matrix_cli(argv, "python -m stackfast_conformance.falsealarm",
                              "Run harmless variants: every check must still pass.", "variant", load_variants(),
                              validate_variant_names)
    if args.alone:
        from dataclasses import replace

        chosen = [replace(v, alone=True) for v in chosen]
    if args.plan:
        for b in plan_batches(chosen):
            print(f"{b.label:24} window {b.window_seconds}s criteria {','.join(b.criteria or ()) or 'all'}: "
                  f"{', '.join(b.names)}")
        return 0
    started = time.monotonic()
    results = run_matrix(chosen, workers=args.workers)
    print(table(results))
    for r in results:
        if not r.ok:
            print(f"\n--- {r.variant} ({r.report_dir}) ---")
            for cid, why in r.reasons.items():
                print(f"  {cid}: {why}")
            print(r.output[-3000:])
    print(f"\n{sum(r.ok for r in results)}/{len(results)} variants flag nothing; {time.monotonic() - started:.0f} s")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
