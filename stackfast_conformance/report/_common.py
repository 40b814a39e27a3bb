"""What every report derives the same way from the run record: verdict order, headline, groups.

The run record is the traceability dict of ``docs/traceability-schema.md``. Renderers read it
defensively (``.get`` everywhere, ``None`` tolerated): a report written at the end of an
interrupted run must still come out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

# Worst first: the order tables, chips and filters show verdicts in.
VERDICTS: tuple[str, ...] = (
    "FAILED",
    "ERROR",
    "WAIVED",
    "PASSED",
    "ATTESTED",
    "SKIPPED",
    "NOT_APPLICABLE",
    "MANUAL",
    "UNCOVERED",
)

VERDICT_LABELS: dict[str, str] = {
    "FAILED": "failed",
    "ERROR": "could not decide",
    "WAIVED": "failed, waived",
    "PASSED": "passed",
    "ATTESTED": "attested by a person",
    "SKIPPED": "skipped",
    "NOT_APPLICABLE": "not applicable",
    "MANUAL": "to confirm by a person",
    "UNCOVERED": "no check covers it",
}

# C0 controls other than tab/newline/CR, DEL, lone surrogates and the two XML non-characters:
# none of them may appear in XML 1.0, and none of them helps a reader of a report.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def text(value: Any) -> str:
    """``value`` as report text: ``None`` is empty, control characters become U+FFFD."""
    if value is None:
        return ""
    return _UNPRINTABLE.sub("\ufffd", value if isinstance(value, str) else str(value))


def shorten(value: Any, limit: int) -> str:
    s = text(value)
    return s if len(s) <= limit else s[: limit - 1].rstrip() + "…"


def one_line(value: Any) -> str:
    return " ".join(text(value).split())


def run_info(run: Mapping[str, Any]) -> Mapping[str, Any]:
    return run.get("run") or {}


def criteria(run: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list(run.get("criteria") or [])


def checks_by_id(run: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {c["id"]: c for c in run.get("checks") or [] if c.get("id")}


def exchanges_by_id(run: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {x["id"]: x for x in run.get("exchanges") or [] if x.get("id")}


def summary_counts(run: Mapping[str, Any]) -> dict[str, int]:
    """Criteria per verdict, every verdict present. Counted from ``criteria`` so the counts
    always add up to what the report lists; ``run.summary`` is only the fallback."""
    crits = criteria(run)
    if crits:
        counts = dict.fromkeys(VERDICTS, 0)
        for c in crits:
            v = c.get("verdict") or "UNCOVERED"
            counts[v] = counts.get(v, 0) + 1
        return counts
    given = run_info(run).get("summary") or {}
    return {v: int(given.get(v, 0)) for v in VERDICTS} | {
        k: int(n) for k, n in given.items() if k not in VERDICTS
    }


def blocking_ids(run: Mapping[str, Any]) -> list[str]:
    """The criteria that block the release, in catalog order."""
    listed = run_info(run).get("blocking")
    if listed is not None:
        ids = {text(i) for i in listed}
    else:
        ids = {text(c.get("id")) for c in criteria(run) if c.get("blocks_release")}
    ordered = [text(c.get("id")) for c in criteria(run) if text(c.get("id")) in ids]
    return ordered + sorted(i for i in ids if i not in ordered)


def headline(run: Mapping[str, Any]) -> tuple[str, str]:
    """(state, sentence): state is ``blocked``, ``nothing`` or ``clear``.

    A run that executed no check is never a pass, so it says NOTHING CHECKED rather than
    "no blocking failures" even when nothing failed.
    """
    blocking = blocking_ids(run)
    if blocking:
        noun = "criterion" if len(blocking) == 1 else "criteria"
        return "blocked", f"RELEASE BLOCKED: {len(blocking)} blocking {noun}"
    if not run_info(run).get("checks_executed"):
        return "nothing", "NOTHING CHECKED"
    return "clear", "No blocking failures"


def caveats(run: Mapping[str, Any]) -> list[str]:
    """Sentences a release manager must read next to the headline."""
    info = run_info(run)
    notes = []
    if info.get("interrupted"):
        notes.append("The run was interrupted: results are incomplete and cannot sign off a release.")
    if not info.get("checks_executed"):
        notes.append("No check executed: a run that checked nothing is never a pass.")
    uncovered = summary_counts(run).get("UNCOVERED", 0)
    if uncovered:
        noun = "criterion has" if uncovered == 1 else "criteria have"
        notes.append(f"{uncovered} {noun} no check yet (UNCOVERED).")
    return notes


def requirement_groups(run: Mapping[str, Any]) -> list[tuple[str, str, list[Mapping[str, Any]]]]:
    """(requirement id, title, its criteria) in catalog order; criteria whose requirement is
    not listed under ``requirements`` are grouped by their own ``requirement`` field."""
    by_id = {c.get("id"): c for c in criteria(run)}
    groups: list[tuple[str, str, list[Mapping[str, Any]]]] = []
    placed: set[str] = set()
    for req in run.get("requirements") or []:
        members = [by_id[i] for i in req.get("criteria") or [] if i in by_id and i not in placed]
        placed.update(c["id"] for c in members)
        groups.append((text(req.get("id")), text(req.get("title")), members))
    for c in criteria(run):
        if c.get("id") in placed:
            continue
        req_id = text(c.get("requirement") or "other")
        for gid, _title, members in groups:
            if gid == req_id:
                members.append(c)
                break
        else:
            groups.append((req_id, text(c.get("title")), [c]))
        placed.add(text(c.get("id")))
    return groups


def checks_of(
    criterion: Mapping[str, Any], checks: Mapping[str, Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    return [checks[i] for i in criterion.get("checks") or [] if i in checks]


def first_curl(check: Mapping[str, Any], exchanges: Mapping[str, Mapping[str, Any]]) -> str:
    """The reproduction of a check: its failure's curl, else its last recorded exchange's."""
    failure = check.get("failure") or {}
    if failure.get("curl"):
        return text(failure["curl"])
    for xid in reversed(check.get("exchanges") or []):
        x = exchanges.get(xid)
        if x and x.get("curl"):
            return text(x["curl"])
    return ""


def targets_line(run: Mapping[str, Any]) -> list[tuple[str, str]]:
    targets = run_info(run).get("targets") or {}
    pairs = [
        ("API", targets.get("api")),
        ("web", targets.get("web")),
        ("staging API", targets.get("staging_api")),
        ("staging web", targets.get("staging_web")),
    ]
    return [(label, text(url)) for label, url in pairs if url]


def opt_ins(run: Mapping[str, Any]) -> list[str]:
    return [text(k) for k, on in (run_info(run).get("opt_ins") or {}).items() if on]


def join(items: Iterable[Any], sep: str = ", ") -> str:
    return sep.join(text(i) for i in items if i not in (None, ""))
