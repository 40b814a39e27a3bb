"""Fixtures of the Hypothesis properties (thin: the machinery is ``stackfast_conformance.properties``).

``prop`` -> ``PropertyRunner`` bound to the current check: ``@prop.given(...)`` on an inner function,
then ``prop.run(fn, scale=...)``. The Hypothesis profile follows the harness profile
(``stackfast-reference`` / ``-ci`` / ``-staging`` / ``-production``), the seed comes from
``--hypothesis-seed`` or the profile file's ``hypothesis: {seed: N}`` (else a fresh one), and the
example database lives under ``<report dir>/hypothesis``.
"""

from __future__ import annotations

import pytest

from stackfast_conformance.properties import PropertyRunner, register_profiles

register_profiles()


@pytest.fixture
def prop(request: pytest.FixtureRequest, settings, recorder) -> PropertyRunner:
    try:
        pytest_seed = request.config.getoption("hypothesis_seed")
    except ValueError:
        pytest_seed = None
    return PropertyRunner(settings, recorder, pytest_seed)


@pytest.fixture
def applicable(target) -> None:
    """The properties decide production criteria: a local-dev target is NOT_APPLICABLE."""
    from stackfast_conformance.checks import not_applicable

    if target.environment == "local-dev":
        not_applicable("production/staging criterion; the target is a local-dev environment")
