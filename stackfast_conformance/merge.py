"""``stackfast-conformance summary DIR...``: several runs (e.g. one per preview environment) in one Markdown summary.

One row per run (target, verdict counts, blocking criteria), then the criteria that are not PASSED
everywhere, with each run's verdict. Exit 1 when any run blocks the release.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from stackfast_conformance.diff import load_report

__all__ = ["main", "render_markdown"]

SHOWN = ("PASSED", "FAILED", "ERROR", "WAIVED", "SKIPPED", "NOT_APPLICABLE", "MANUAL", "ATTESTED", "UNCOVERED")


def _name(record: dict[str, Any], path: str) -> str:
    return Path(path).name if Path(path).is_dir() else Path(path).parent.name


def render_markdown(named: list[tuple[str, dict[str, Any]]]) -> str:
    blocked = [name for name, r in named if r["run"]["exit_status"]]
    out = [f"# Stackfast conformance: {len(named)} run(s), "
           + (f"release blocked in {', '.join(blocked)}" if blocked else "no blocking failure"), ""]
    out += ["| run | target | verdicts | blocking |", "|---|---|---|---|"]
    for name, r in named:
        run = r["run"]
        counts = ", ".join(f"{n} {v}" for v, n in run["summary"].items() if n)
        out.append(f"| **{name}** | `{(run.get('targets') or {}).get('api')}` ({run.get('environment')}) | {counts} | "
                   f"{', '.join(run.get('blocking') or ()) or '—'} |")
    out.append("")
    verdicts = {name: {c["id"]: c["verdict"] for c in r["criteria"]} for name, r in named}
    ids = list(dict.fromkeys(cid for _, r in named for cid in (c["id"] for c in r["criteria"])))
    uneven = [cid for cid in ids if len({verdicts[n].get(cid) for n, _ in named}) > 1
              or any(verdicts[n].get(cid) in ("FAILED", "ERROR") for n, _ in named)]
    if uneven:
        out += ["## Criteria that differ between runs or fail", "",
                "| criterion | " + " | ".join(n for n, _ in named) + " |", "|---|" + "---|" * len(named)]
        for cid in uneven:
            out.append(f"| {cid} | " + " | ".join(f"`{verdicts[n].get(cid, '—')}`" for n, _ in named) + " |")
        out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="stackfast-conformance summary",
                                     description="Several runs' reports in one Markdown summary; exit 1 when any "
                                                 "run blocks the release.")
    parser.add_argument("reports", nargs="+", metavar="DIR", help="report directories (or traceability.json files)")
    args = parser.parse_args(argv)
    try:
        named = [(_name(rec, p), rec) for p in args.reports for rec in [load_report(p)]]
    except (ValueError, OSError) as exc:
        print(f"stackfast-conformance summary: error: {exc}", file=sys.stderr)
        return 2
    print(render_markdown(named))
    return 1 if any(r["run"]["exit_status"] for _, r in named) else 0
