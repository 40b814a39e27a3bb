"""Builds the run record (traceability dict, docs/traceability-schema.md) from check results."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from stackfast_conformance import __version__
from stackfast_conformance.catalog import Catalog
from stackfast_conformance.settings import Settings
from stackfast_conformance.verdicts import VERDICTS, blocks_release, criterion_verdict, error_class_of

SCHEMA_VERSION = 1
INVARIANT_CHECKS = {
    "R4.8": "no Retry-After on any non-429 response the run saw",
    "R10.3": "never Access-Control-Allow-Origin: * on any response the run saw",
}


def invariant_checks(results: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One synthetic check per response-wide invariant, over every exchange of the run."""
    observed: dict[str, int] = {}
    violations: dict[str, list[dict[str, Any]]] = {}
    for result in results:
        for cid, count in (result.get("observed") or {}).items():
            observed[cid] = observed.get(cid, 0) + count
        for violation in result.get("violations") or ():
            violations.setdefault(violation["criterion"], []).append(violation)
    checks = []
    for cid, title in INVARIANT_CHECKS.items():
        seen = violations.get(cid, [])
        check: dict[str, Any] = {
            "id": f"response-wide::{cid}", "name": f"response-wide invariant: {title}",
            "file": "stackfast_conformance/evidence.py", "doc": title,
            "criteria": [cid], "safety": "read-only", "duration_s": 0.0,
            "exchanges": [v["exchange"] for v in seen[:20]], "failure": None, "reason": None,
            "cases": observed.get(cid, 0),
        }
        if seen:
            first = seen[0]
            check["outcome"] = "failed"
            check["failure"] = {
                "criterion": cid, "statement": title, "expected": title,
                "seen": first["message"] + (f" (+{len(seen) - 1} more)" if len(seen) > 1 else ""),
                "curl": first.get("curl"), "message": first["message"],
            }
        elif observed.get(cid):
            check["outcome"] = "passed"
            check["reason"] = None
        else:
            check["outcome"] = "skipped"
            check["reason"] = "no response was observed in this run"
        checks.append(check)
    return checks


def build_record(
    catalog: Catalog,
    settings: Settings,
    results: list[dict[str, Any]],
    started: float,
    interrupted: bool,
    attestations: Mapping[str, Mapping[str, Any]] | None = None,
    waivers: Mapping[str, Mapping[str, Any]] | None = None,
    reference: Mapping[str, Any] | None = None,
    extra_checks: Iterable[dict[str, Any]] = (),
    drift: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    attestations = attestations or {}
    waivers = waivers or {}
    checks: list[dict[str, Any]] = []
    exchanges: list[dict[str, Any]] = []
    findings: list[dict[str, Any]] = []
    deploy_evidence: dict[str, Any] = {}
    for result in results:
        exchanges.extend(result.get("exchange_records") or ())
        for finding in result.get("findings") or ():
            findings.append({"id": f"f{len(findings) + 1}", **finding})
        deploy_evidence.update(result.get("deploy_evidence") or {})
        checks.append({k: v for k, v in result.items()
                       if k not in {"exchange_records", "findings", "observed", "violations", "deploy_evidence"}})
    checks.extend(invariant_checks(results))
    checks.extend(extra_checks)

    by_criterion: dict[str, list[dict[str, Any]]] = {cid: [] for cid in catalog.criteria}
    for check in checks:
        for cid in check["criteria"]:
            if cid in by_criterion:
                by_criterion[cid].append(check)

    criteria = []
    summary = {v: 0 for v in VERDICTS}
    blocking = []
    for cid, crit in catalog.criteria.items():
        attestation = attestations.get(cid)
        waiver = waivers.get(cid)
        verdict, reason = criterion_verdict(crit, by_criterion[cid], settings.environment, attestation, waiver)
        if verdict in ("UNCOVERED", "SKIPPED") and settings.criteria and cid not in settings.criteria:
            verdict, reason = "SKIPPED", f"not selected in this run (--criteria {','.join(settings.criteria)})"
        if verdict == "PASSED":
            passed = sum(1 for c in by_criterion[cid] if c["outcome"] == "passed")
            skipped = [c for c in by_criterion[cid] if c["outcome"] in ("skipped", "not_applicable")]
            reason = f"{passed} check(s) passed" + (f"; {len(skipped)} not run: {skipped[0].get('reason')}" if skipped else "")
        elif verdict == "ATTESTED":
            reason = f"attested by {attestation.get('by')} on {attestation.get('at')}" if attestation else "attested"
        summary[verdict] += 1
        blocks = blocks_release(crit, verdict)
        if blocks:
            blocking.append(cid)
        criteria.append({
            "id": cid, "requirement": crit.requirement, "title": crit.requirement_title,
            "statement": crit.statement, "modality": crit.modality,
            "observation": list(crit.observation), "applies_to": list(crit.applies_to),
            "severity": crit.severity, "fingerprint": crit.fingerprint,
            "verdict": verdict, "reason": reason, "blocks_release": blocks,
            # whose problem an ERROR is: target | harness (could not build/send a request) | transient
            "error_class": error_class_of(by_criterion[cid]) if verdict == "ERROR" else None,
            "checks": [c["id"] for c in by_criterion[cid]],
            "attestation": dict(attestation) if attestation else None,
            "waiver": dict(waiver) if waiver else None,
            "spec_url": catalog.spec.get("url"),
        })

    executed = sum(1 for c in checks if c["outcome"] in ("passed", "failed", "error") and not c["id"].startswith("response-wide::"))
    if interrupted:
        exit_status = 130  # a cancelled gate is never a pass (the CLI exits 130 too)
    elif executed == 0:
        exit_status = 1
    else:
        exit_status = 1 if blocking else 0
    now = time.time()
    return {
        "schema": "stackfast-conformance/traceability",
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "stackfast-conformance", "version": __version__},
        "spec": dict(catalog.spec),
        "run": {
            "id": settings.report_dir.rstrip("/").split("/")[-1] if settings.report_dir else "run",
            "started_at": _iso(started), "finished_at": _iso(now), "duration_s": round(now - started, 2),
            "profile": settings.profile, "environment": settings.environment,
            "targets": {
                "api": settings.api_url, "web": settings.web_url,
                "staging_api": settings.staging_api_url, "staging_web": settings.staging_web_url,
                "connect_to": list(settings.connect_to), "ca_bundle": settings.ca_bundle,
            },
            "opt_ins": {"quota": settings.allow_quota, "disruptive": settings.allow_disruptive,
                        "mutating": settings.allow_mutating},
            "interrupted": interrupted,
            "exit_status": exit_status,
            "checks_executed": executed,
            "requests_sent": len(exchanges),
            "summary": summary,
            "blocking": blocking,
            "reference": dict(reference) if reference else None,
            "nothing_checked": executed == 0,
        },
        "deploy_evidence": deploy_evidence,
        "requirements": [{"id": r.id, "title": r.title, "criteria": list(r.criteria)} for r in catalog.requirements],
        "criteria": criteria,
        "checks": checks,
        "exchanges": exchanges,
        "findings": findings,
        "drift": dict(drift) if drift is not None else None,  # spec drift of --repo's checkout (drift.py)
    }


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
