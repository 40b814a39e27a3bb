"""Fixtures of the config-snapshot checks: the snapshots given with ``--env-snapshot ENV=FILE``."""

from __future__ import annotations

import pytest

from stackfast_conformance.snapshots import Snapshot, load_snapshots


@pytest.fixture(scope="session")
def env_snapshots(settings) -> dict[str, Snapshot]:
    """Every snapshot of the run, by environment; the check is SKIPPED when none was given."""
    if not settings.env_snapshot:
        pytest.skip("no production env snapshot given: pass --env-snapshot production=FILE")
    return load_snapshots(settings.env_snapshot)


@pytest.fixture(scope="session")
def production(env_snapshots) -> Snapshot:
    if "production" not in env_snapshots:
        pytest.skip("no production env snapshot given: pass --env-snapshot production=FILE")
    return env_snapshots["production"]


@pytest.fixture(scope="session")
def staging(env_snapshots) -> Snapshot:
    if "staging" not in env_snapshots:
        pytest.skip("no staging env snapshot given (cross-environment check): pass --env-snapshot staging=FILE")
    return env_snapshots["staging"]
