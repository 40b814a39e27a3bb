"""Fixtures of the operator-action checks (restart, redeploy, rollback, outages).

Every check here is ``@pytest.mark.safety("disruptive")``: without ``--allow-disruptive`` the
plugin SKIPs it before any fixture runs, and ``operator.require(...)`` SKIPs it again (before a
request is sent) when an action is not configured or, on the production profile, not named.
"""

from __future__ import annotations

import pytest

from stackfast_conformance.operator import Operator


@pytest.fixture
def operator(target, recorder) -> Operator:
    """The operator actions of this check: the reference's commands, or the profile file's."""
    return Operator(target.settings, target.reference, recorder)


@pytest.fixture
def poll_interval(target) -> float:
    """Seconds between polls while an action runs: 50 ms on loopback, 250 ms against a real target."""
    return 0.05 if target.reference is not None else 0.25
