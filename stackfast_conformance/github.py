"""CI integration without glue: in GitHub Actions the run writes its own job summary and annotations.

- ``GITHUB_STEP_SUMMARY`` set: the run's Markdown report (``traceability.md``) is appended to it
  (cut, with a pointer to the artifact, above GitHub's 1 MiB limit);
- ``GITHUB_ACTIONS=true``: one ``::error title=R4.7::reason`` annotation per blocking criterion
  (and a ``::notice`` with the verdict counts), printed on stdout where the runner reads them;
- ``GITHUB_OUTPUT`` set: ``report-dir``, ``exit-status`` and ``blocking`` step outputs.

The report directory itself is the artifact to upload (``actions/upload-artifact``, GitLab ``artifacts:``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

__all__ = ["annotation", "publish"]

SUMMARY_LIMIT = 1_000_000  # bytes GitHub accepts per step summary (1 MiB), with room for the note


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(level: str, title: str, message: str) -> str:
    """A workflow command, e.g. ``::error title=R4.7::429 without Retry-After`` (escaped as GitHub requires)."""
    return f"::{level} title={_escape_property(title)}::{_escape_data(message)}"


def publish(record: Mapping[str, Any], report_dir: Path, env: Mapping[str, str] | None = None,
            stream: IO[str] | None = None) -> None:
    env = os.environ if env is None else env
    stream = stream or sys.stdout
    run = record["run"]
    counts = ", ".join(f"{n} {v}" for v, n in run["summary"].items() if n)
    if env.get("GITHUB_ACTIONS") == "true":
        for crit in record["criteria"]:
            if crit.get("blocks_release"):
                print(annotation("error", crit["id"], f"{crit['verdict']}: {crit.get('reason') or ''} "
                                 f"({crit.get('statement') or ''})"), file=stream)
        verdict = "release blocked" if run["exit_status"] else "no blocking failure"
        print(annotation("notice", "stackfast-conformance", f"{verdict}: {counts}; report: {report_dir}"), file=stream)
        stream.flush()
    summary_file = env.get("GITHUB_STEP_SUMMARY")
    markdown = report_dir / "traceability.md"
    if summary_file and markdown.is_file():
        text = markdown.read_text()
        if len(text.encode()) > SUMMARY_LIMIT:
            text = text.encode()[:SUMMARY_LIMIT].decode(errors="ignore")
            text += f"\n\n… cut at GitHub's summary limit: the full report is in the artifact ({report_dir}).\n"
        with open(summary_file, "a", encoding="utf-8") as fh:
            fh.write(text + "\n")
    output_file = env.get("GITHUB_OUTPUT")
    if output_file:
        with open(output_file, "a", encoding="utf-8") as fh:
            fh.write(f"report-dir={report_dir}\nexit-status={run['exit_status']}\n"
                     f"blocking={','.join(run.get('blocking') or ())}\n")
