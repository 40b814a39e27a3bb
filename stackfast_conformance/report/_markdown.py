"""The run as GitHub-flavoured Markdown, sized for a CI job summary ($GITHUB_STEP_SUMMARY).

Order follows what a release manager asks: may we ship (headline), against what (target,
profile), how much was seen (counts), what blocks and how to reproduce it, then the full matrix
and what is left for people. Text that may come from the target is escaped so it cannot inject
HTML or break a table; code blocks carry it verbatim.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from stackfast_conformance.report import _common as c
from stackfast_conformance.verdicts import ERROR_LABELS, verdict_label

_REASON_LIMIT = 240  # per matrix cell; the full text is in the HTML report and the JSON
_BACKTICKS = re.compile("`+")


def _esc(value: Any) -> str:
    """Prose: HTML metacharacters as entities, so target-supplied text shows literally."""
    return c.text(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cell(value: Any, limit: int | None = None) -> str:
    s = c.one_line(value)
    if limit:
        s = c.shorten(s, limit)
    return _esc(s).replace("|", "\\|")


def _code(value: Any) -> str:
    """An inline code span that survives backticks in the value."""
    s = c.one_line(value)
    longest = max((len(m) for m in _BACKTICKS.findall(s)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if s.startswith("`") or s.endswith("`") else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def _block(value: Any, lang: str = "") -> list[str]:
    s = c.text(value).rstrip("\n")
    longest = max((len(m) for m in _BACKTICKS.findall(s)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}{lang}", s, fence]


def _badge(verdict: str, blocking: bool) -> str:
    return f"**{verdict}**" if blocking or verdict in ("FAILED", "ERROR") else f"`{verdict}`"


def render_markdown(run: dict) -> str:
    info = c.run_info(run)
    checks = c.checks_by_id(run)
    exchanges = c.exchanges_by_id(run)
    crits = c.criteria(run)
    blocking = c.blocking_ids(run)
    blocking_set = set(blocking)
    _state, sentence = c.headline(run)
    out: list[str] = [f"# Stackfast conformance: {sentence}", ""]

    notes = c.caveats(run)
    if notes:
        out += ["\n>\n".join(f"> **{_esc(note)}**" for note in notes), ""]

    targets = " · ".join(f"{label} {_code(url)}" for label, url in c.targets_line(run)) or "(none)"
    out.append(f"**Target:** {targets}  ")
    out.append(
        f"**Profile:** {_code(info.get('profile') or '?')} · **environment:** "
        f"{_code(info.get('environment') or '?')} · **opt-ins:** {_esc(c.join(c.opt_ins(run)) or 'none')}  "
    )
    ran = [f"run {_code(info.get('id') or '?')}"]
    if info.get("started_at"):
        ran.append(f"started {_esc(info['started_at'])}")
    if info.get("duration_s") is not None:
        ran.append(f"took {float(info['duration_s']):.1f} s")
    ran.append(f"{int(info.get('checks_executed') or 0)} checks executed")
    ran.append(f"{int(info.get('requests_sent') or 0)} requests sent")
    out.append("**Run:** " + ", ".join(ran) + "  ")
    spec = run.get("spec") or {}
    if spec.get("url"):
        commit = c.text(spec.get("commit"))[:10]
        label = _esc(f"{spec.get('repository') or 'spec'} {spec.get('path') or ''}".strip())
        out.append(f"**Spec:** [{label}]({c.text(spec['url'])}){f' at `{commit}`' if commit else ''}  ")
    reference = info.get("reference")
    if isinstance(reference, Mapping):
        faults = c.join(reference.get("faults") or []) or "none"
        variants = c.join(reference.get("variants") or []) or "none"
        out.append(f"**Target is the embedded reference deployment** (faults: {_esc(faults)}; "
                   f"variants: {_esc(variants)})  ")
    if isinstance(info.get("reference_inputs"), Mapping):  # reference_inputs.py: the no-argument demo
        out.append(f"**Config and repo inputs are the reference's own:** {_esc(info['reference_inputs'].get('note'))}  ")
    health = (run.get("deploy_evidence") or {}).get("health")
    if isinstance(health, Mapping):
        out.append(
            f"**Deploy evidence:** {_code('GET ' + c.text(health.get('url')))} answered "
            f"{_esc(health.get('status'))} {_code(c.shorten(health.get('body'), 60))} at {_esc(health.get('at'))}  "
        )
    out.append("")

    counts = c.summary_counts(run)
    out += ["## Summary", "", "| Verdict | Criteria | Meaning |", "|---|---:|---|"]
    for verdict, n in counts.items():
        if n:
            out.append(f"| {_badge(verdict, False)} | {n} | {_cell(c.VERDICT_LABELS.get(verdict, ''))} |")
    out += [f"| **Total** | **{sum(counts.values())}** | |", ""]

    if blocking:
        out += ["## Blocking", ""]
        by_id = {cr.get("id"): cr for cr in crits}
        for cid in blocking:
            out += _blocking_entry(by_id.get(cid) or {"id": cid}, checks, exchanges)

    out += [
        "## Matrix",
        "",
        "| Requirement | Criterion | Verdict | Reason | Checks |",
        "|---|---|---|---|---:|",
    ]
    for req_id, title, members in c.requirement_groups(run):
        for i, cr in enumerate(members):
            verdict = c.text(cr.get("verdict") or "UNCOVERED")
            n_checks = len(cr.get("checks") or [])
            requirement = f"**{_cell(req_id)}** {_cell(title)}" if i == 0 else _cell(req_id)
            out.append(
                f"| {requirement} | **{_cell(cr.get('id'))}** {_cell(cr.get('statement'), 160)} "
                f"| {_badge(verdict_label(cr) if verdict == 'ERROR' else verdict, cr.get('id') in blocking_set)} "
                f"| {_cell(cr.get('reason'), _REASON_LIMIT)} "
                f"| {n_checks} |"
            )
    out.append("")

    out += _listing(
        "Still to confirm by a person",
        [cr for cr in crits if cr.get("verdict") == "MANUAL"],
        "Nothing: no criterion waits for a person.",
    )
    waived = [cr for cr in crits if cr.get("verdict") == "WAIVED"]
    if waived:
        out += ["## Waived", ""]
        for cr in waived:
            w = cr.get("waiver") or {}
            expiry = f"expires {_esc(w.get('expires'))}" if w.get("expires") else "no expiry"
            if w.get("expired"):
                expiry = f"**expired {_esc(w.get('expires'))}**"
            out.append(
                f"- **{_esc(cr.get('id'))}** {_esc(cr.get('statement'))} — waived by "
                f"{_esc(w.get('owner') or '?')}, {expiry}: {_esc(w.get('reason') or cr.get('reason'))}"
            )
        out.append("")
    out += _listing(
        "Skipped and why",
        [cr for cr in crits if cr.get("verdict") == "SKIPPED"],
        "Nothing was skipped.",
    )
    uncovered = [cr for cr in crits if cr.get("verdict") == "UNCOVERED"]
    if uncovered:
        out += [
            "## Not covered by any check",
            "",
            ", ".join(f"`{_esc(cr.get('id'))}`" for cr in uncovered),
            "",
        ]

    findings = run.get("findings") or []
    out += ["## Advisory findings", ""]
    if not findings:
        out += ["None.", ""]
    for f in findings:
        crit_ids = c.join(f.get("criteria") or [])
        about = f" ({_esc(crit_ids)})" if crit_ids else ""
        out.append(f"- **{_esc(c.one_line(f.get('title')))}**{about} — {_esc(c.one_line(f.get('detail')))}")
    if findings:
        out.append("")

    drift = run.get("drift")  # spec drift of the --repo checkout (stackfast_conformance/audits/drift.py)
    if drift:
        out += ["## Spec drift", ""]
        if drift.get("error"):
            out.append(f"Could not compare the checkout's spec: {_esc(drift['error'])}")
        elif not drift.get("drifted"):
            out.append(f"None: the {_esc(drift.get('criteria_in_spec'))} criteria of {_code(drift.get('spec_file'))} "
                       "match the catalog.")
        else:
            for item in drift.get("added") or []:
                out.append(f"- **added** {_esc(item.get('id'))} (no check tests it): {_esc(c.one_line(item.get('text')))}")
            for cid in drift.get("removed") or []:
                out.append(f"- **removed** {_esc(cid)}: the catalog still tests it")
            for item in drift.get("changed") or []:
                out.append(f"- **text changed** {_esc(item.get('id'))} since the baseline: review its checks")
        out.append("")

    from stackfast_conformance.diff import report_section_markdown

    out += report_section_markdown(run)  # run --baseline DIR: the comparison with the baseline run
    tool = run.get("tool") or {}
    out.append(
        f"<sub>{_esc(tool.get('name') or 'stackfast-conformance')} {_esc(tool.get('version') or '')} · "
        f"traceability schema {_esc(run.get('schema_version') or '?')} · full detail in traceability.html</sub>"
    )
    return "\n".join(out) + "\n"


def _blocking_entry(
    cr: Mapping[str, Any],
    checks: Mapping[str, Mapping[str, Any]],
    exchanges: Mapping[str, Mapping[str, Any]],
) -> list[str]:
    verdict = c.text(cr.get("verdict") or "FAILED")
    reason = c.one_line(cr.get("reason")) or c.VERDICT_LABELS.get(verdict, "")
    shown = verdict_label(cr) if verdict == "ERROR" else verdict  # "ERROR (harness error)": whose problem
    out = [f"**{_esc(cr.get('id'))} {_esc(shown)}** — {_esc(reason)}", ""]
    if cr.get("statement"):
        out += [f"> {_esc(c.one_line(cr.get('statement')))}", ""]
    for check in c.checks_of(cr, checks):
        if check.get("outcome") not in ("failed", "error"):
            continue
        failure = check.get("failure") or {}
        out.append(f"Check {_code(check.get('id'))} {_esc(check.get('outcome'))}:")
        out.append("")
        if failure.get("expected") is not None:
            out.append(f"- expected: {_esc(c.one_line(failure.get('expected')))}")
        if failure.get("seen") is not None:
            out.append(f"- seen: {_esc(c.one_line(failure.get('seen')))}")
        if check.get("outcome") == "error" and check.get("reason"):
            label = ERROR_LABELS.get(check.get("error_class") or "target", "error")
            out.append(f"- error ({_esc(label)}): {_esc(c.one_line(check.get('reason')))}")
        if check.get("seed"):
            out.append(f"- replay with Hypothesis seed {_code(check.get('seed'))}")
        if out[-1] != "":
            out.append("")
        curl = c.first_curl(check, exchanges)
        if curl:
            out += ["Reproduce:", ""] + _block(curl, "sh") + [""]
    if cr.get("spec_url"):
        out += [f"[{_esc(cr.get('id'))} in the spec]({c.text(cr.get('spec_url'))})", ""]
    return out


def _listing(heading: str, members: list[Mapping[str, Any]], empty: str) -> list[str]:
    out = [f"## {heading}", ""]
    if not members:
        return out + [empty, ""]
    for cr in members:
        out.append(
            f"- **{_esc(cr.get('id'))}** {_esc(c.one_line(cr.get('statement')))} — "
            f"*{_esc(c.one_line(cr.get('reason')))}*"
        )
    return out + [""]
