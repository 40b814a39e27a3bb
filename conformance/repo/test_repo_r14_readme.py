"""R14 README deployment documentation (and the rollback runbook it links)."""

import pytest
from _repo_checks import expect_no_problems, record_files

from stackfast_conformance.audits.repo import (
    audit_readme_adr_links,
    audit_readme_deploy,
    audit_readme_migration,
    audit_readme_rollback,
    audit_readme_variables,
    audit_rollback_runbook,
)


@pytest.mark.requirement("R14.1")
def test_readme_documents_every_production_variable(checkout, recorder):
    record_files(checkout, recorder, checkout.readme_path() or "README.md")
    expect_no_problems(audit_readme_variables(checkout), "R14.1", "every variable of ADR 003's table in the README")


@pytest.mark.requirement("R14.2")
def test_readme_documents_the_deploy_commands(checkout):
    expect_no_problems(audit_readme_deploy(checkout), "R14.2", "the Railway CLI deploy command of each service")


@pytest.mark.requirement("R14.3")
def test_readme_documents_the_rollback_of_each_service(checkout):
    expect_no_problems(audit_readme_rollback(checkout), "R14.3", "a rollback procedure for web and API")


@pytest.mark.requirement("R14.3")
def test_rollback_runbook_covers_each_service(checkout, recorder):
    """scripts/deploy/rollback.md (the design's runbook; also evidence for the R12 rollback drills)."""
    record_files(checkout, recorder, "scripts/deploy/rollback.md")
    expect_no_problems(audit_rollback_runbook(checkout), "R14.3", "the runbook's rollback step per service")


@pytest.mark.requirement("R14.4")
def test_readme_documents_the_one_shot_migration_command(checkout):
    expect_no_problems(audit_readme_migration(checkout), "R14.4", "the migration command in the README")


@pytest.mark.requirement("R14.5")
def test_readme_links_the_three_decision_records_and_they_resolve(checkout):
    expect_no_problems(audit_readme_adr_links(checkout), "R14.5", "links to ADR 001-003 that resolve")
