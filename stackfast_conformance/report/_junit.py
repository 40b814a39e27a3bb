"""The run as JUnit XML: one test case per criterion, for CI test-report viewers.

Mapping: FAILED -> ``<failure>``; ERROR -> ``<error>``; SKIPPED, NOT_APPLICABLE, MANUAL,
UNCOVERED -> ``<skipped message="VERDICT: reason">``; WAIVED -> ``<skipped message="WAIVED: ...">``
plus ``<system-out>`` with the waiver and the failure it covers; PASSED and ATTESTED -> a bare
test case. The suite's ``tests``/``failures``/``errors``/``skipped`` attributes count exactly the
test cases written.

A run that executed no check, or was interrupted, gets one extra test case
``classname="run"`` that fails: an all-skipped suite would otherwise look green in a CI viewer,
and a run that checked nothing is never a pass.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

from stackfast_conformance.report import _common as c
from stackfast_conformance.verdicts import verdict_label

SUITE_NAME = "stackfast-conformance"
_SKIPPED_VERDICTS = {"SKIPPED", "NOT_APPLICABLE", "MANUAL", "UNCOVERED", "WAIVED"}
_MESSAGE_LIMIT = 500  # attribute values are shown on one line by most viewers


def render_junit(run: dict) -> str:
    info = c.run_info(run)
    checks = c.checks_by_id(run)
    exchanges = c.exchanges_by_id(run)

    suite = ET.Element("testsuite", {"name": SUITE_NAME})
    if info.get("started_at"):
        suite.set("timestamp", c.text(info["started_at"]))
    props = ET.SubElement(suite, "properties")
    spec = run.get("spec") or {}
    for name, value in (
        ("run.id", info.get("id")),
        ("profile", info.get("profile")),
        ("environment", info.get("environment")),
        *((f"target.{label}", url) for label, url in c.targets_line(run)),
        ("opt_ins", c.join(c.opt_ins(run)) or "none"),
        ("checks_executed", info.get("checks_executed")),
        ("requests_sent", info.get("requests_sent")),
        ("interrupted", info.get("interrupted")),
        ("exit_status", info.get("exit_status")),
        ("spec.url", spec.get("url")),
        ("spec.commit", spec.get("commit")),
        ("verdict", c.headline(run)[1]),
    ):
        if isinstance(value, bool):
            value = "true" if value else "false"
        if value is not None:
            ET.SubElement(props, "property", {"name": name, "value": c.text(value)})

    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    total_time = 0.0
    for cr in c.criteria(run):
        case, kind, seconds = _testcase(cr, checks, exchanges)
        suite.append(case)
        counts["tests"] += 1
        total_time += seconds
        if kind:
            counts[kind] += 1

    _state, sentence = c.headline(run)
    if not info.get("checks_executed") or info.get("interrupted"):
        problem = "; ".join(c.caveats(run)[:2])
        case = ET.SubElement(suite, "testcase", {"classname": "run", "name": f"run: {sentence}", "time": "0"})
        ET.SubElement(
            case, "failure", {"message": c.shorten(problem, _MESSAGE_LIMIT), "type": "RUN"}
        ).text = problem
        counts["tests"] += 1
        counts["failures"] += 1

    for key, n in counts.items():
        suite.set(key, str(n))
    duration = info.get("duration_s")
    suite.set("time", f"{float(duration if duration is not None else total_time):.3f}")

    root = ET.Element("testsuites", {"name": SUITE_NAME, **{k: suite.get(k, "") for k in (*counts, "time")}})
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _testcase(
    cr: Mapping[str, Any],
    checks: Mapping[str, Mapping[str, Any]],
    exchanges: Mapping[str, Mapping[str, Any]],
) -> tuple[ET.Element, str | None, float]:
    """(element, the count it adds to — failures/errors/skipped/None —, seconds)."""
    cid = c.text(cr.get("id"))
    verdict = c.text(cr.get("verdict") or "UNCOVERED")
    reason = c.one_line(cr.get("reason")) or c.VERDICT_LABELS.get(verdict, verdict.lower())
    own_checks = c.checks_of(cr, checks)
    seconds = sum(float(ch.get("duration_s") or 0) for ch in own_checks)
    case = ET.Element(
        "testcase",
        {
            "classname": c.text(cr.get("requirement") or cid.split(".")[0]),
            "name": f"{cid} {c.one_line(cr.get('statement'))}".strip(),
            "time": f"{seconds:.3f}",
        },
    )
    if own_checks and own_checks[0].get("file"):
        case.set("file", c.text(own_checks[0]["file"]))

    if verdict == "FAILED":
        el = ET.SubElement(case, "failure", {"message": c.shorten(reason, _MESSAGE_LIMIT), "type": "FAILED"})
        el.text = _evidence(cr, own_checks, exchanges, ("failed",))
        return case, "failures", seconds
    if verdict == "ERROR":
        # type says whose problem it is: ERROR (target), ERROR (harness error), ERROR (transient)
        el = ET.SubElement(case, "error", {"message": c.shorten(reason, _MESSAGE_LIMIT), "type": verdict_label(cr)})
        el.text = _evidence(cr, own_checks, exchanges, ("error",))
        return case, "errors", seconds
    if verdict in _SKIPPED_VERDICTS:
        ET.SubElement(case, "skipped", {"message": c.shorten(f"{verdict}: {reason}", _MESSAGE_LIMIT)})
        if verdict == "WAIVED":
            w = cr.get("waiver") or {}
            lines = [
                f"{cid} WAIVED: {c.one_line(cr.get('statement'))}",
                f"  waiver:  {c.one_line(w.get('reason'))}",
                f"  owner:   {c.text(w.get('owner'))}",
                f"  expires: {c.text(w.get('expires')) or 'never'}{' (EXPIRED)' if w.get('expired') else ''}",
                "",
                "The failure this waiver covers:",
                _evidence(cr, own_checks, exchanges, ("failed", "error")),
            ]
            ET.SubElement(case, "system-out").text = "\n".join(lines)
        return case, "skipped", seconds
    return case, None, seconds


def _evidence(
    cr: Mapping[str, Any],
    own_checks: list[Mapping[str, Any]],
    exchanges: Mapping[str, Mapping[str, Any]],
    outcomes: tuple[str, ...],
) -> str:
    """Expected / seen / reproduction for every check of ``cr`` that ended in ``outcomes``."""
    lines = [f"{c.text(cr.get('id'))} {c.text(cr.get('verdict'))}: {c.one_line(cr.get('statement'))}"]
    if cr.get("reason"):
        lines.append(f"  reason: {c.one_line(cr.get('reason'))}")
    for check in own_checks:
        if check.get("outcome") not in outcomes:
            continue
        failure = check.get("failure") or {}
        lines += ["", f"check {c.text(check.get('id'))} {c.text(check.get('outcome'))}"]
        if failure.get("expected") is not None:
            lines.append(f"  expected: {c.text(failure.get('expected'))}")
        if failure.get("seen") is not None:
            lines.append(f"  seen:     {c.text(failure.get('seen'))}")
        if check.get("reason"):
            lines.append(f"  reason:   {c.text(check.get('reason'))}")
        for xid in check.get("exchanges") or []:
            x = exchanges.get(xid) or {}
            if x.get("error"):
                lines.append(f"  {c.text(x.get('method'))} {c.text(x.get('url'))}: {c.text(x.get('error'))}")
        if check.get("seed"):
            lines.append(f"  hypothesis seed: {c.text(check.get('seed'))}")
        curl = c.first_curl(check, exchanges)
        if curl:
            lines.append(f"  reproduce with: {curl}")
    if cr.get("spec_url"):
        lines += ["", f"spec: {c.text(cr.get('spec_url'))}"]
    return "\n".join(lines)
