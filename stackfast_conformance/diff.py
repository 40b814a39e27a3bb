"""Compare two runs: ``stackfast-conformance diff A B`` and ``run --baseline DIR``.

The promotion question — "is production at least as good as staging was?", "did this deploy break
anything the last one passed?" — answered per criterion: the two verdicts, what newly fails, what
was fixed, what is covered (decided by a check or an attestation) in one run and not the other.

A and B are report directories or ``traceability.json`` files. A *regression* is a criterion that
blocks the release in B and was PASSED (or ATTESTED) in A; ``diff`` exits 1 when there is one.
"""

from __future__ import annotations

import argparse
import html
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["compare", "load_report", "main", "render_html", "render_markdown", "report_section_html",
           "report_section_markdown", "summary_line", "write_comparison"]

BAD = ("FAILED", "ERROR")
GOOD = ("PASSED", "ATTESTED")
# a verdict some check or attestation decided; the others (SKIPPED, UNCOVERED, MANUAL, NOT_APPLICABLE) did not
COVERED = ("PASSED", "FAILED", "ERROR", "ATTESTED", "WAIVED")
CHANGES = {
    "newly_failing": "newly failing",
    "fixed": "fixed",
    "covered_only_in_a": "covered only in A",
    "covered_only_in_b": "covered only in B",
    "changed": "changed",
    "same": "same",
}


def load_report(path: str | Path) -> dict[str, Any]:
    """A run's record from a report directory or a ``traceability.json``; ``ValueError`` when it is neither."""
    path = Path(path)
    file = path / "traceability.json" if path.is_dir() else path
    if not file.is_file():
        raise ValueError(f"{path}: no traceability.json there; give a report directory or its traceability.json")
    try:
        record = json.loads(file.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{file}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    if not isinstance(record, dict) or record.get("schema") != "stackfast-conformance/traceability":
        raise ValueError(f"{file}: not a stackfast-conformance traceability record")
    record.setdefault("_source", str(file))
    return record


def _describe(record: Mapping[str, Any], label: str) -> dict[str, Any]:
    run = record.get("run") or {}
    targets = run.get("targets") or {}
    reference = run.get("reference") or {}
    return {
        "label": label, "source": record.get("_source"), "run": run.get("id"), "started_at": run.get("started_at"),
        "profile": run.get("profile"), "environment": run.get("environment"), "api": targets.get("api"),
        "faults": list(reference.get("faults") or ()) if reference else None,
        "exit_status": run.get("exit_status"),
    }


def _change(a: str | None, b: str | None) -> str:
    if b in BAD and a not in BAD:
        return "newly_failing"
    if a in BAD and b in GOOD:
        return "fixed"
    if a in COVERED and b not in COVERED:
        return "covered_only_in_a"
    if b in COVERED and a not in COVERED:
        return "covered_only_in_b"
    return "same" if a == b else "changed"


def compare(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """Per criterion: both verdicts and the kind of change; lists of each kind; the regressions."""
    crit_a = {c["id"]: c for c in a.get("criteria") or ()}
    crit_b = {c["id"]: c for c in b.get("criteria") or ()}
    order = list(crit_b) + [cid for cid in crit_a if cid not in crit_b]
    rows = []
    for cid in order:
        ca, cb = crit_a.get(cid) or {}, crit_b.get(cid) or {}
        va, vb = ca.get("verdict"), cb.get("verdict")
        rows.append({
            "id": cid, "statement": cb.get("statement") or ca.get("statement"),
            "a": va, "b": vb, "reason_a": ca.get("reason"), "reason_b": cb.get("reason"),
            "change": _change(va, vb), "blocks_b": bool(cb.get("blocks_release")),
        })
    kinds: dict[str, list[str]] = {k: [r["id"] for r in rows if r["change"] == k] for k in CHANGES}
    regressions = [r["id"] for r in rows if r["blocks_b"] and r["a"] in GOOD]
    return {
        "a": _describe(a, "A"), "b": _describe(b, "B"),
        "criteria": rows,
        "newly_failing": kinds["newly_failing"], "fixed": kinds["fixed"],
        "covered_only_in_a": kinds["covered_only_in_a"], "covered_only_in_b": kinds["covered_only_in_b"],
        "changed": kinds["changed"],
        "regressions": regressions,
        "exit_status": 1 if regressions else 0,
    }


def summary_line(comparison: Mapping[str, Any]) -> str:
    if comparison.get("error"):
        return f"no comparison: {comparison['error']}"
    a = comparison["a"]
    parts = [f"{len(comparison['newly_failing'])} newly failing", f"{len(comparison['fixed'])} fixed",
             f"{len(comparison['covered_only_in_a'])} covered only in the baseline",
             f"{len(comparison['covered_only_in_b'])} covered only here"]
    regressions = comparison["regressions"]
    tail = (f"; REGRESSION: {', '.join(regressions)} passed in the baseline and block now" if regressions
            else "; no regression")
    return f"against baseline {a.get('run') or a.get('source')}: " + ", ".join(parts) + tail


def _title(comparison: Mapping[str, Any]) -> str:
    return ("Regression: B blocks on criteria A passed" if comparison["regressions"]
            else "No regression: B blocks on nothing A passed")


def _side(info: Mapping[str, Any]) -> str:
    bits = [f"run {info.get('run')}", f"profile {info.get('profile')}", f"environment {info.get('environment')}"]
    if info.get("api"):
        bits.append(f"API {info['api']}")
    if info.get("faults") is not None:
        bits.append("embedded reference" + (f" with faults {', '.join(info['faults'])}" if info["faults"] else ""))
    if info.get("started_at"):
        bits.append(f"started {info['started_at']}")
    return ", ".join(str(b) for b in bits)


def _md(text: Any) -> str:
    return str(text if text is not None else "—").replace("|", "\\|").replace("\n", " ")


def render_markdown(comparison: Mapping[str, Any], heading_level: int = 1) -> str:
    h = "#" * heading_level
    out = [f"{h} Comparison: {_title(comparison)}", "",
           f"**A:** {_md(_side(comparison['a']))}  ", f"**B:** {_md(_side(comparison['b']))}  ", ""]
    out += ["| change | criteria |", "|---|---|"]
    for key in ("newly_failing", "fixed", "covered_only_in_a", "covered_only_in_b", "changed"):
        out.append(f"| {CHANGES[key]} | {', '.join(comparison[key]) or '—'} |")
    out.append(f"| **regressions** (block in B, passed in A) | **{', '.join(comparison['regressions']) or 'none'}** |")
    out.append("")
    differing = [r for r in comparison["criteria"] if r["change"] != "same"]
    if differing:
        out += [f"{h}# Criteria whose verdict differs", "", "| criterion | A | B | change | reason in B |",
                "|---|---|---|---|---|"]
        for r in differing:
            out.append(f"| **{r['id']}** | `{r['a']}` | `{r['b']}` | {CHANGES[r['change']]} | {_md(r['reason_b'])} |")
        out.append("")
    same = sum(1 for r in comparison["criteria"] if r["change"] == "same")
    out += [f"{same} other criteria have the same verdict in both runs.", ""]
    return "\n".join(out)


def render_html(comparison: Mapping[str, Any]) -> str:
    e = html.escape
    rows = []
    for r in comparison["criteria"]:
        cls = {"newly_failing": "bad", "fixed": "good"}.get(r["change"], "")
        rows.append(f"<tr class='{cls} {e(r['change'])}'><td><b>{e(r['id'])}</b></td><td><code>{e(str(r['a']))}</code>"
                    f"</td><td><code>{e(str(r['b']))}</code></td><td>{e(CHANGES[r['change']])}</td>"
                    f"<td>{e(str(r['reason_b'] or ''))}</td></tr>")
    kinds = "".join(f"<li>{e(CHANGES[k])}: {e(', '.join(comparison[k]) or '—')}</li>"
                    for k in ("newly_failing", "fixed", "covered_only_in_a", "covered_only_in_b", "changed"))
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>stackfast-conformance comparison</title><style>"
        "body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
        "padding:3px 6px;text-align:left}tr.bad{background:#fde2e2}tr.good{background:#e2f5e2}tr.same{color:#777}"
        "</style></head><body>"
        f"<h1>{e(_title(comparison))}</h1><p><b>A:</b> {e(_side(comparison['a']))}<br><b>B:</b> "
        f"{e(_side(comparison['b']))}</p><ul>{kinds}<li><b>regressions</b> (block in B, passed in A): "
        f"<b>{e(', '.join(comparison['regressions']) or 'none')}</b></li></ul>"
        "<table><tr><th>criterion</th><th>A</th><th>B</th><th>change</th><th>reason in B</th></tr>"
        + "".join(rows) + "</table></body></html>\n"
    )


def report_section_markdown(record: Mapping[str, Any]) -> list[str]:
    """The comparison section of a run's own traceability.md (``run --baseline``); empty without one."""
    comparison = record.get("comparison")
    if not isinstance(comparison, Mapping):
        return []
    if comparison.get("error"):
        return ["## Comparison with the baseline", "", f"No comparison: {_md(comparison['error'])}", ""]
    return [render_markdown(comparison, heading_level=2).replace("## Comparison:", "## Comparison with the baseline:", 1)]


def report_section_html(record: Mapping[str, Any]) -> str:
    """The comparison section of a run's own traceability.html (``run --baseline``); empty without one."""
    comparison = record.get("comparison")
    if not isinstance(comparison, Mapping):
        return ""
    e = html.escape
    if comparison.get("error"):
        return f'<section id="comparison"><h2>Comparison with the baseline</h2><p>{e(comparison["error"])}</p></section>'
    items = "".join(f"<li>{e(CHANGES[k])}: {e(', '.join(comparison[k]) or '—')}</li>"
                    for k in ("newly_failing", "fixed", "covered_only_in_a", "covered_only_in_b"))
    rows = "".join(f"<tr><td>{e(r['id'])}</td><td>{e(str(r['a']))}</td><td>{e(str(r['b']))}</td>"
                   f"<td>{e(CHANGES[r['change']])}</td></tr>" for r in comparison["criteria"] if r["change"] != "same")
    return (f'<section id="comparison"><h2>Comparison with the baseline: {e(_title(comparison))}</h2>'
            f"<p>baseline: {e(_side(comparison['a']))}</p><ul>{items}<li><b>regressions</b>: "
            f"{e(', '.join(comparison['regressions']) or 'none')}</li></ul>"
            f"<table><tr><th>criterion</th><th>baseline</th><th>this run</th><th>change</th></tr>{rows}</table>"
            "<p>Also as comparison.md / comparison.html in this directory.</p></section>")


def write_comparison(comparison: Mapping[str, Any], directory: Path) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = {"markdown": directory / "comparison.md", "html": directory / "comparison.html",
             "json": directory / "comparison.json"}
    paths["markdown"].write_text(render_markdown(comparison))
    paths["html"].write_text(render_html(comparison))
    paths["json"].write_text(json.dumps(comparison, indent=2) + "\n")
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="stackfast-conformance diff",
        description="Compare two runs (report directories or traceability.json files): per criterion the two "
                    "verdicts, newly failing, fixed, covered in one and not the other. Exit 1 when B blocks on a "
                    "criterion A passed.")
    parser.add_argument("a", metavar="A", help="the baseline run (e.g. staging, or the previous deploy)")
    parser.add_argument("b", metavar="B", help="the run to judge (e.g. production, or this deploy)")
    parser.add_argument("--markdown", metavar="FILE", help="also write the comparison as Markdown")
    parser.add_argument("--html", metavar="FILE", help="also write the comparison as one HTML page")
    parser.add_argument("--json", metavar="FILE", help="also write the comparison as JSON")
    args = parser.parse_args(argv)
    try:
        comparison = compare(load_report(args.a), load_report(args.b))
    except (ValueError, OSError) as exc:
        print(f"stackfast-conformance diff: error: {exc}", file=sys.stderr)
        return 2
    print(render_markdown(comparison))
    for path, text in ((args.markdown, render_markdown), (args.html, render_html)):
        if path:
            Path(path).write_text(text(comparison))
    if args.json:
        Path(args.json).write_text(json.dumps(comparison, indent=2) + "\n")
    return int(comparison["exit_status"])
