"""R13 Staging isolation, from the production and staging snapshots."""

import pytest
from _snapshot_checks import expect_distinct

from stackfast_conformance.checks import expect
from stackfast_conformance.snapshots import database_endpoint, describe_url


@pytest.mark.requirement("R13.2")
def test_staging_uses_its_own_neon_branch(production, staging, recorder):
    """Staging's DATABASE_URL is a Neon database distinct from production's."""
    stg_url, prod_url = staging.get("DATABASE_URL"), production.get("DATABASE_URL")
    recorder.notes.append(f"staging: {describe_url(stg_url)}; production: {describe_url(prod_url)}")
    stg = database_endpoint(stg_url)
    expect(stg is not None and stg[0].endswith(".neon.tech"), "R13.2",
           expected="staging DATABASE_URL on a Neon host", seen=describe_url(stg_url))
    expect(stg != database_endpoint(prod_url), "R13.2",
           expected="staging's Neon endpoint/database different from production's",
           seen=f"both use {describe_url(stg_url)}")


@pytest.mark.requirement("R13.4")
@pytest.mark.parametrize("name", ["BETTER_AUTH_SECRET", "ADMIN_API_KEY", "UPSTASH_REDIS_REST_URL",
                                  "UPSTASH_REDIS_REST_TOKEN"])
def test_staging_secret_differs_from_production(production, staging, recorder, name):
    expect_distinct(staging, production, name, "R13.4", recorder)


@pytest.mark.requirement("R13.5")
def test_staging_sets_allow_auth_bypass_false(staging, recorder):
    value = staging.get("ALLOW_AUTH_BYPASS")
    recorder.notes.append(f"staging ALLOW_AUTH_BYPASS={value!r}")
    expect(value == "false", "R13.5", expected="ALLOW_AUTH_BYPASS=false in staging",
           seen=f"ALLOW_AUTH_BYPASS={value!r}")
