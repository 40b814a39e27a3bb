"""Scope of a check: a production-only criterion is NOT_APPLICABLE against another environment.

The HTTP checks of R1, R3, R8, R10 and R11 encode production values (the web origin, auth failing
closed, one allowed CORS origin); against a local-dev or staging target they would judge the wrong
configuration, so they end as NOT_APPLICABLE there with the catalog's own ``applies_to`` as reason.
"""

from __future__ import annotations

import pytest

from stackfast_conformance.catalog import load_catalog
from stackfast_conformance.checks import not_applicable
from stackfast_conformance.verdicts import ENVIRONMENT_SCOPE


def require_applicable(request: pytest.FixtureRequest, target) -> None:
    """NOT_APPLICABLE unless every criterion of the check applies to the target's environment."""
    catalog = load_catalog()
    scope = ENVIRONMENT_SCOPE.get(target.environment, target.environment)
    ids = [str(a) for mark in request.node.iter_markers("requirement") for a in mark.args]
    elsewhere = [cid for cid in ids if scope not in catalog.get(cid).applies_to]
    if elsewhere:
        where = ", ".join(sorted({e for cid in elsewhere for e in catalog.get(cid).applies_to}))
        not_applicable(f"{', '.join(elsewhere)} applies to {where}, not to a {target.environment} target")
