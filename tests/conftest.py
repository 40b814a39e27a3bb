"""Self-tests of the harness. Pytester drives the plugin; the CLI runs against the real reference."""

pytest_plugins = ["pytester"]
