"""R2 Neon production branch, from the environment snapshots: pooled DATABASE_URL, own database."""

from urllib.parse import urlsplit

import pytest

from stackfast_conformance.checks import expect
from stackfast_conformance.snapshots import database_endpoint, describe_url


@pytest.mark.requirement("R2.2")
def test_production_database_url_is_a_pooled_neon_connection_string(production, recorder):
    """DATABASE_URL in production is a postgres URL on a Neon pooled (`-pooler`) host."""
    url = production.get("DATABASE_URL")
    recorder.notes.append(f"production DATABASE_URL: {describe_url(url)}")
    expect(url, "R2.2", expected="DATABASE_URL set in production", seen="DATABASE_URL unset or empty")
    scheme = url.split("://", 1)[0]
    expect(scheme in ("postgres", "postgresql"), "R2.2", expected="a postgres:// or postgresql:// URL",
           seen=describe_url(url))
    host = urlsplit(url).hostname or ""
    expect("-pooler." in host and host.endswith(".neon.tech"), "R2.2",
           expected="the pooled Neon host (ep-…-pooler.<region>.neon.tech)", seen=describe_url(url))


@pytest.mark.requirement("R2.8")
def test_production_database_is_neon_and_not_shared_with_staging(production, staging, recorder):
    """Production's DATABASE_URL is a Neon database of its own: not localhost, not staging's branch."""
    prod_url, stg_url = production.get("DATABASE_URL"), staging.get("DATABASE_URL")
    recorder.notes.append(f"production: {describe_url(prod_url)}; staging: {describe_url(stg_url)}")
    prod, stg = database_endpoint(prod_url), database_endpoint(stg_url)
    expect(prod is not None and prod[0].endswith(".neon.tech"), "R2.8",
           expected="production DATABASE_URL on a Neon host (no local or other bypass)", seen=describe_url(prod_url))
    expect(stg is None or prod != stg, "R2.8",
           expected="production's Neon endpoint/database different from staging's",
           seen=f"both use {describe_url(prod_url)}")


NEON_BRANCH_VARIABLES = ("NEON_BRANCH", "NEON_BRANCH_NAME")


@pytest.mark.requirement("R2.1")
def test_production_database_is_the_neon_branch_named_main(production, recorder):
    """With Neon metadata in the snapshot (NEON_BRANCH), production's branch is `main`.

    `railway variables` does not know the branch; the operator adds it to the snapshot, e.g. from
    `neonctl branches list`. Without it the check is SKIPPED and R2.1 stays a person's attestation.
    """
    name = next((v for v in NEON_BRANCH_VARIABLES if production.get(v)), None)
    if name is None:
        pytest.skip("no Neon metadata in the production snapshot: add NEON_BRANCH=<branch name> "
                    "(from `neonctl branches list`) to check R2.1, or attest it in attestations.yaml")
    branch = production.get(name)
    recorder.notes.append(f"production Neon branch ({name}): {branch}")
    expect(branch == "main", "R2.1", expected="the production branch is the Neon branch named main",
           seen=f"{name}={branch}")
