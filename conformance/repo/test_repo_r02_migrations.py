"""R2 Migrations: one-shot deploy command, forward-only, destructive column changes flagged."""

import pytest
from _repo_checks import expect_no_problems, manifest_path, record_files

from stackfast_conformance.audits.repo import (
    audit_forward_only,
    audit_migrations_one_shot,
    destructive_migrations,
)


@pytest.mark.requirement("R2.4")
def test_migrations_run_as_a_one_shot_pre_deploy_command(checkout, recorder):
    record_files(checkout, recorder, manifest_path(checkout, "api"), "apps/api/package.json")
    expect_no_problems(audit_migrations_one_shot(checkout), "R2.4",
                       "migrations as a one-shot Railway command (preDeployCommand, a documented `railway run`, "
                       "or a one-shot service), not in the start command/script")


@pytest.mark.requirement("R2.5")
def test_there_are_no_down_migrations(checkout):
    expect_no_problems(audit_forward_only(checkout), "R2.5", "forward-only migrations")


@pytest.mark.requirement("R2.6")
def test_column_drops_and_renames_are_flagged_for_two_phase_review(checkout, findings):
    """A DROP/RENAME COLUMN needs a person to confirm the two-deploy plan (waive it once reviewed)."""
    problems = destructive_migrations(checkout)
    for problem in problems:
        findings.add("destructive column change: ship over two deploys",
                     f"{problem.where}: {problem.seen}", criteria=("R2.6",))
    expect_no_problems(problems, "R2.6", "no unreviewed DROP COLUMN / RENAME COLUMN in the migrations")
