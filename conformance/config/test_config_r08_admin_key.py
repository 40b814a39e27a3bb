"""R8.2 ADMIN_API_KEY is 32 random bytes in production and differs from BETTER_AUTH_SECRET."""

import pytest
from _snapshot_checks import expect_distinct, expect_strong_secret


@pytest.mark.requirement("R8.2")
def test_admin_api_key_is_32_random_bytes(production, recorder):
    expect_strong_secret(production, "ADMIN_API_KEY", "R8.2", recorder)


@pytest.mark.requirement("R8.2")
def test_admin_api_key_differs_from_better_auth_secret(production, recorder):
    expect_distinct(production, production, "ADMIN_API_KEY", "R8.2", recorder, other_name="BETTER_AUTH_SECRET")
