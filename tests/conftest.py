"""Self-tests of the harness. Pytester drives the plugin; the CLI runs against the real reference."""

pytest_plugins = ["pytester"]


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Print the kill-matrix table (fault -> expected -> flagged) when the matrix ran."""
    import sys

    module = sys.modules.get("test_kill_matrix")
    results = getattr(module, "RESULTS", None)
    if results:
        from stackfast_conformance.killmatrix import table

        terminalreporter.section("kill matrix")
        for line in table(sorted(results, key=lambda r: r.fault)).splitlines():
            terminalreporter.write_line(line)
