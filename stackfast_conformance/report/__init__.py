"""Reports of one run, all rendered from ONE record: the traceability dict.

``write_reports(run, directory)`` writes, each atomically (temporary file in the same directory,
then ``os.replace``), so a reader never sees half a report and an older report is only ever
replaced by a complete one:

- ``traceability.json`` — the record itself (``docs/traceability-schema.md``)
- ``traceability.md``   — for a CI job summary
- ``traceability.html`` — one self-contained page for people
- ``junit.xml``         — for CI test-report viewers

The JSON is written first and does not depend on any renderer: if a renderer fails, the other
reports are still written and the failure is raised afterwards.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from stackfast_conformance.report._html import render_html
from stackfast_conformance.report._json import render_json
from stackfast_conformance.report._junit import render_junit
from stackfast_conformance.report._markdown import render_markdown

__all__ = ["write_reports", "render_markdown", "render_html", "render_junit"]

# report key -> (file name, renderer), in writing order
_REPORTS: dict[str, tuple[str, Callable[[dict], str]]] = {
    "json": ("traceability.json", render_json),
    "markdown": ("traceability.md", render_markdown),
    "html": ("traceability.html", render_html),
    "junit": ("junit.xml", render_junit),
}


def write_reports(run: dict, directory: Path) -> dict[str, Path]:
    """Write the four reports of ``run`` into ``directory`` (created if missing).

    Returns ``{"json": path, "markdown": path, "html": path, "junit": path}``. Raises
    ``RuntimeError`` (chained to the first cause) when a report could not be rendered or
    written, after writing all the others.
    """
    from stackfast_conformance.redact import redact_record

    run = redact_record(run)  # a final pass: no writer ever sees an unmasked secret (redact.py)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    failed: list[tuple[str, BaseException]] = []
    for key, (name, render) in _REPORTS.items():
        try:
            written[key] = _write_atomically(directory / name, render(run))
        except Exception as exc:  # one broken renderer must not cost the other reports
            failed.append((name, exc))
    if failed:
        names = ", ".join(f"{name} ({type(exc).__name__}: {exc})" for name, exc in failed)
        raise RuntimeError(
            f"could not write {names}; written: {', '.join(map(str, written.values())) or 'none'}"
        ) from failed[0][1]
    return written


def _write_atomically(path: Path, content: str) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path
