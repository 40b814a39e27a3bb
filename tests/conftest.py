"""Self-tests of the harness. Pytester drives the plugin; the CLI runs against the real reference."""

import json
import time
from pathlib import Path

pytest_plugins = ["pytester"]

_ROWS = Path(__file__).resolve().parent.parent / "reports" / "kill-matrix"
_FALSE_ALARM_ROWS = Path(__file__).resolve().parent.parent / "reports" / "false-alarm-matrix"


_STARTED: list[float] = []
# the kill matrix plus the false-alarm matrix, in the whole `pytest tests -n 4` on a 2-core machine
SUITE_BUDGET_SECONDS = 720


def pytest_sessionstart(session):
    if not hasattr(session.config, "workerinput"):
        _STARTED.append(time.monotonic())
        for rows in (_ROWS, _FALSE_ALARM_ROWS):
            for row in rows.glob("*.json") if rows.is_dir() else ():
                row.unlink()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Print the matrices' tables when they ran, and the session's wall time against the budget."""
    shown = _kill_matrix_table(terminalreporter)
    shown = _false_alarm_table(terminalreporter) or shown
    if shown and _STARTED:
        took = time.monotonic() - _STARTED[0]
        terminalreporter.write_line(f"self-tests took {took:.0f} s of wall time (budget {SUITE_BUDGET_SECONDS} s "
                                    "for the whole suite with both matrices)")


def _kill_matrix_table(terminalreporter):
    """The kill-matrix table (fault -> expected -> flagged)."""
    from stackfast_conformance.killmatrix import FaultResult, table

    rows = sorted(_ROWS.glob("*.json")) if _ROWS.is_dir() else []
    if not rows:
        return False
    results = [FaultResult.from_row(json.loads(row.read_text())) for row in rows]
    runs = len({r.run or r.fault for r in results})
    terminalreporter.section(f"kill matrix: {sum(r.ok for r in results)}/{len(results)} faults caught exactly "
                             f"({runs} runs)")
    for line in table(results).splitlines():
        terminalreporter.write_line(line)
    return True


def _false_alarm_table(terminalreporter):
    """The false-alarm matrix's table (variant -> flagged), beside the kill matrix's."""
    from stackfast_conformance.falsealarm import VariantResult
    from stackfast_conformance.falsealarm import table as variant_table

    rows = sorted(_FALSE_ALARM_ROWS.glob("*.json")) if _FALSE_ALARM_ROWS.is_dir() else []
    if not rows:
        return False
    results = [VariantResult(d["variant"], d["component"], d["batch"], tuple(d["flagged"]), d["checks_executed"],
                             d["seconds"], "") for d in (json.loads(r.read_text()) for r in rows)]
    runs = len({r.batch for r in results})
    terminalreporter.section(f"false-alarm matrix: {sum(r.ok for r in results)}/{len(results)} harmless variants "
                             f"flag nothing ({runs} runs)")
    for line in variant_table(results).splitlines():
        terminalreporter.write_line(line)
    return True
