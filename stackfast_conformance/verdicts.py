"""One verdict per criterion, from the outcomes of its checks (and attestations, waivers, scope).

Rules (docs/ARCHITECTURE.md): any failed -> FAILED; else any error -> ERROR; else any passed ->
PASSED; else all not applicable -> NOT_APPLICABLE; else SKIPPED. Without executed checks:
permissive -> NOT_APPLICABLE, other environment -> NOT_APPLICABLE, manual only -> MANUAL or
ATTESTED, otherwise UNCOVERED. Zero executed checks is never PASSED.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

VERDICTS = ("PASSED", "FAILED", "ERROR", "SKIPPED", "NOT_APPLICABLE", "MANUAL", "ATTESTED", "WAIVED", "UNCOVERED")
ENVIRONMENT_SCOPE = {"production": "production", "staging": "staging", "local-dev": "local", "ci": "ci"}


def _first_reasons(checks: Iterable[Mapping[str, Any]], limit: int = 3) -> str:
    reasons: list[str] = []
    for check in checks:
        reason = check.get("reason") or ""
        if reason and reason not in reasons:
            reasons.append(reason)
    text = "; ".join(reasons[:limit])
    return text + (f" (+{len(reasons) - limit} more)" if len(reasons) > limit else "")


# How an ERROR's reason opens, by the checks' ``error_class`` (failures.ERROR_CLASSES): whose problem it is
ERROR_PREFIXES = {"harness": "harness error", "transient": "transient", "target": "could not decide"}


def error_class_of(checks: Iterable[Mapping[str, Any]]) -> str:
    """The class of an ERROR verdict: ``target`` when any errored check blames the target, else
    ``transient`` when the network did, else ``harness`` (only the harness failed)."""
    classes = {check.get("error_class") or "target" for check in checks if check.get("outcome") == "error"}
    for cls in ("target", "transient", "harness"):
        if cls in classes:
            return cls
    return "target"


def error_reason(checks: Iterable[Mapping[str, Any]]) -> str:
    """``harness error: …``, ``transient: …`` or ``could not decide: …`` (one part per class seen)."""
    errors = [c for c in checks if c.get("outcome") == "error"]
    parts = []
    for cls in ("harness", "transient", "target"):
        group = [c for c in errors if (c.get("error_class") or "target") == cls]
        if not group:
            continue
        prefix = ERROR_PREFIXES[cls]
        text = _first_reasons(group)
        parts.append(text if text.lower().startswith(prefix) else f"{prefix}: {text}")
    return "; ".join(parts)


def criterion_verdict(
    criterion: Any,
    checks: list[Mapping[str, Any]],
    environment: str,
    attestation: Mapping[str, Any] | None = None,
    waiver: Mapping[str, Any] | None = None,
) -> tuple[str, str | None]:
    """Return (verdict, reason) for one criterion; reason is None only for PASSED/ATTESTED."""
    by = {o: [c for c in checks if c["outcome"] == o] for o in ("passed", "failed", "error", "skipped", "not_applicable")}
    # An interrupted run: checks that did not finish are SKIPPED with ``interrupted``; their criterion is never PASSED.
    not_run = [c for c in checks if c.get("interrupted")]
    interrupted_note = f"interrupted: {len(not_run)} of {len(checks)} checks did not run" if not_run else ""
    if by["failed"] or (by["error"] and not_run):
        verdict, reason = _failed_or_error(by, waiver)
        return verdict, reason + (f"; {interrupted_note}" if not_run else "")
    if not_run:
        passed = f"; {len(by['passed'])} passed before the stop" if by["passed"] else ""
        return "SKIPPED", interrupted_note + passed
    return _failed_or_error(by, waiver) if by["error"] else _verdict_of_finished(criterion, checks, environment,
                                                                              attestation, waiver, by)


def _failed_or_error(by: Mapping[str, list[Mapping[str, Any]]], waiver: Mapping[str, Any] | None) -> tuple[str, str]:
    if by["failed"]:
        failure = by["failed"][0].get("failure") or {}
        reason = failure.get("seen") and f"{failure.get('expected')} — seen {failure.get('seen')}"
        reason = reason or by["failed"][0].get("reason") or "a check failed"
        if len(by["failed"]) > 1:
            reason += f" ({len(by['failed'])} checks failed)"
        if waiver and not waiver.get("expired"):
            return "WAIVED", f"failed but waived until {waiver.get('expires')} ({waiver.get('owner')}: {waiver.get('reason')}): {reason}"
        if waiver and waiver.get("expired"):
            reason += f" (waiver expired {waiver.get('expires')})"
        return "FAILED", reason
    return "ERROR", error_reason(by["error"])


def _verdict_of_finished(criterion: Any, checks: list[Mapping[str, Any]], environment: str,
                         attestation: Mapping[str, Any] | None, waiver: Mapping[str, Any] | None,
                         by: Mapping[str, list[Mapping[str, Any]]]) -> tuple[str, str | None]:
    if by["passed"]:
        return "PASSED", None
    if by["not_applicable"] and not by["skipped"]:
        return "NOT_APPLICABLE", _first_reasons(by["not_applicable"])

    scope = ENVIRONMENT_SCOPE.get(environment, environment)
    if criterion.permissive:
        return "NOT_APPLICABLE", f"permissive clause ({criterion.modality}): nothing to verify"
    if attestation and not attestation.get("expired"):
        return "ATTESTED", None
    if criterion.manual_only:
        pending = "attestation expired" if attestation else "pending a person's attestation"
        return "MANUAL", f"{pending}: {criterion.why_not_automated or 'not observable by the harness'}"
    if by["skipped"] or by["not_applicable"]:
        skipped = _first_reasons(by["skipped"] + by["not_applicable"])
        return "SKIPPED", skipped
    if scope not in criterion.applies_to:
        return "NOT_APPLICABLE", f"applies to {', '.join(criterion.applies_to)}, not to a {environment} target"
    if "manual" in criterion.observation and not checks:
        return "MANUAL", f"no automated check; pending a person's attestation ({', '.join(criterion.observation)})"
    return "UNCOVERED", f"observable by {', '.join(criterion.observation)} but no check exists yet"


ERROR_LABELS = {"harness": "harness error", "transient": "transient", "target": "target"}


def verdict_label(criterion: Mapping[str, Any]) -> str:
    """``ERROR (harness error)`` / ``ERROR (transient)`` / ``ERROR (target)``; other verdicts as they are.
    One label for the terminal and every report, so a harness defect never reads as the target's."""
    verdict = str(criterion.get("verdict"))
    cls = criterion.get("error_class")
    return f"{verdict} ({ERROR_LABELS.get(cls, cls)})" if verdict == "ERROR" and cls else verdict


def error_class_counts(criteria: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """How many ERROR criteria each class has (only classes seen)."""
    counts: dict[str, int] = {}
    for crit in criteria:
        if crit.get("verdict") == "ERROR":
            cls = crit.get("error_class") or "target"
            counts[cls] = counts.get(cls, 0) + 1
    return counts


def blocks_release(criterion: Any, verdict: str) -> bool:
    return criterion.blocking and verdict in ("FAILED", "ERROR")
