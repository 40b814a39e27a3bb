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


# Longest first (the suite is CPU-bound on two cores; pytest-xdist hands out tests in this order, so the short
# ones fill the end instead of a long run starting last and running alone): first the modules one worker runs
# whole (xdist_group: a chain of harness runs on one fixture), then the modules of long harness runs, then the
# rest in file order. A module's tests stay together (a module fixture is built once per contiguous stretch).
LONG_FIRST = ("test_har", "test_ops", "test_properties", "test_sessions_browser", "test_leak_scan", "test_redaction",
              "test_reference_topology", "test_rate_limit_checks", "test_reference_api", "test_docs_commands",
              "test_false_alarm_matrix", "test_kill_matrix", "test_transient", "test_allure", "test_edge", "test_cli",
              "test_interrupted_run", "test_http_checks", "test_diff")


def pytest_collection_modifyitems(session, config, items):
    def rank(item):
        module = item.nodeid.split("::")[0].rsplit("/", 1)[-1].removesuffix(".py")
        first = LONG_FIRST.index(module) if module in LONG_FIRST else len(LONG_FIRST)
        return first, 0 if "stackfast-conformance run]" in item.nodeid else 1  # the README demo first

    items.sort(key=rank)  # stable: file order within a rank


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
