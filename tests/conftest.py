"""Self-tests of the harness. Pytester drives the plugin; the CLI runs against the real reference."""

import json
from pathlib import Path

pytest_plugins = ["pytester"]

_ROWS = Path(__file__).resolve().parent.parent / "reports" / "kill-matrix"


def pytest_sessionstart(session):
    if not hasattr(session.config, "workerinput") and _ROWS.is_dir():
        for row in _ROWS.glob("*.json"):
            row.unlink()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Print the kill-matrix table (fault -> expected -> flagged) when the matrix ran."""
    from stackfast_conformance.killmatrix import FaultResult, table

    rows = sorted(_ROWS.glob("*.json")) if _ROWS.is_dir() else []
    if not rows:
        return
    results = []
    for row in rows:
        data = json.loads(row.read_text())
        results.append(FaultResult(data["fault"], tuple(data["expected"]), tuple(data["flagged"]), {}, 0, "",
                                   "", tuple(data["missed"]), tuple(data["stray"])))
    terminalreporter.section(f"kill matrix: {sum(r.ok for r in results)}/{len(results)} faults caught exactly")
    for line in table(results).splitlines():
        terminalreporter.write_line(line)
