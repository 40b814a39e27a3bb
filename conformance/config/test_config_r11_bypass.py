"""R11.1 Auth fails closed in production: ALLOW_AUTH_BYPASS=false, and the API runs as production."""

import pytest

from stackfast_conformance.checks import expect


@pytest.mark.requirement("R11.1")
def test_allow_auth_bypass_is_false_in_production(production, recorder):
    value = production.get("ALLOW_AUTH_BYPASS")
    recorder.notes.append(f"production ALLOW_AUTH_BYPASS={value!r}")
    expect(value == "false", "R11.1", expected="ALLOW_AUTH_BYPASS=false", seen=f"ALLOW_AUTH_BYPASS={value!r}")


@pytest.mark.requirement("R11.1")
def test_node_env_is_production(production, recorder):
    """The fail-closed branch keys off production mode: NODE_ENV=production."""
    value = production.get("NODE_ENV")
    recorder.notes.append(f"production NODE_ENV={value!r}")
    expect(value == "production", "R11.1", expected="NODE_ENV=production", seen=f"NODE_ENV={value!r}")
