"""Fixtures of the repo/doc audits: the checkout given with ``--repo PATH``."""

from __future__ import annotations

import pytest

from stackfast_conformance.audits.repo import RepoAudit


@pytest.fixture(scope="session")
def checkout(settings) -> RepoAudit:
    """The audited checkout; the check is SKIPPED when no --repo was given."""
    if not settings.repo:
        pytest.skip("no Stackfast checkout given: pass --repo PATH "
                    "(or write a sample one: python -m stackfast_conformance.sample_checkout DIR)")
    return RepoAudit(settings.repo)
