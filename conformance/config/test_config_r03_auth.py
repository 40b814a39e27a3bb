"""R3 Better Auth in production, from the environment snapshots: BETTER_AUTH_URL and the secret."""

import pytest
from _snapshot_checks import expect_distinct, expect_strong_secret

from stackfast_conformance.checks import expect
from stackfast_conformance.settings import EXPECTED_BY_ENVIRONMENT


@pytest.mark.requirement("R3.2")
def test_better_auth_url_is_the_production_api_origin(production, recorder):
    """BETTER_AUTH_URL is https://api.stackfast.app (not a secret: shown as is)."""
    wanted = EXPECTED_BY_ENVIRONMENT["production"]["api_origin"]
    value = production.get("BETTER_AUTH_URL")
    recorder.notes.append(f"production BETTER_AUTH_URL={value!r}")
    expect((value or "").rstrip("/") == wanted, "R3.2", expected=f"BETTER_AUTH_URL={wanted}",
           seen=f"BETTER_AUTH_URL={value!r}")


@pytest.mark.requirement("R3.5")
def test_better_auth_secret_is_32_random_bytes(production, recorder):
    """BETTER_AUTH_SECRET decodes to ≥ 32 random bytes and is not a placeholder."""
    expect_strong_secret(production, "BETTER_AUTH_SECRET", "R3.5", recorder)


@pytest.mark.requirement("R3.5")
def test_better_auth_secret_differs_between_environments(production, staging, recorder):
    """Production and staging never share BETTER_AUTH_SECRET."""
    expect_distinct(production, staging, "BETTER_AUTH_SECRET", "R3.5", recorder)
