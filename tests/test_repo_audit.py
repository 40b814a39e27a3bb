"""Repo and docs audits (R1.1, R1.2, R2.4-R2.6, R4.1, R4.6, R7.1-R7.3, R7.5, R14.1-R14.5) and spec drift:
the conforming fixture checkout passes, each broken version flips exactly its criteria, and every
harmless variant (another layout a conforming checkout may show) passes every check."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures.harness import failed, run_checks, verdicts
from fixtures.stackfast_checkout import CHECKOUT_FAULTS, write_variant_checkout

from stackfast_conformance.audits import drift
from stackfast_conformance.sample_checkout import (
    API_BUILD,
    CHECKOUT_VARIANTS,
    SAMPLE_SPEC_MARKER,
    SNAPSHOT_VARIANTS,
    checkout_files,
    requirements_markdown,
    variant_inputs,
    write_checkout,
)

REPO_CRITERIA = ["R1.1", "R1.2", "R2.4", "R2.5", "R2.6", "R4.1", "R4.6", "R7.1", "R7.2", "R7.3", "R7.5",
                 "R14.1", "R14.2", "R14.3", "R14.4", "R14.5"]


def _key(cid: str) -> tuple[int, ...]:
    return tuple(int(p) for p in cid[1:].split("."))


def test_conforming_checkout_passes_every_repo_criterion_and_shows_no_drift(pytester, tmp_path):
    repo = write_variant_checkout(tmp_path / "checkout")
    record = run_checks(pytester, tmp_path / "report", f"--sf-repo={repo}", folders=("repo",))
    assert verdicts(record, REPO_CRITERIA) == dict.fromkeys(REPO_CRITERIA, "PASSED")
    assert record["drift"]["drifted"] is False and record["drift"]["criteria_in_spec"] == 84


@pytest.mark.parametrize("variant", sorted(CHECKOUT_FAULTS))
def test_each_broken_checkout_flips_exactly_its_criteria(pytester, tmp_path, variant):
    repo = write_variant_checkout(tmp_path / "checkout", variant)
    record = run_checks(pytester, tmp_path / "report", f"--sf-repo={repo}", folders=("repo",))
    breaks = sorted(CHECKOUT_FAULTS[variant][1], key=_key)
    assert failed(record) == breaks
    assert set(verdicts(record, [c for c in REPO_CRITERIA if c not in breaks]).values()) == {"PASSED"}


def test_failures_name_the_file_and_line(pytester, tmp_path):
    repo = write_variant_checkout(tmp_path / "checkout", "drop-column")
    record = run_checks(pytester, tmp_path / "report", f"--sf-repo={repo}", folders=("repo",))
    crit = next(c for c in record["criteria"] if c["id"] == "R2.6")
    assert "apps/api/drizzle/0002_drop_legacy.sql:1" in crit["reason"]
    assert crit["blocks_release"] is False  # R2.6 is advisory
    assert any("R2.6" in f["criteria"] for f in record["findings"])


def test_without_a_checkout_the_repo_checks_skip_and_say_how_to_give_one(pytester, tmp_path):
    record = run_checks(pytester, tmp_path / "report", folders=("repo",))
    reasons = {c["reason"] for c in record["checks"] if c["file"].startswith("conformance/repo/")}
    assert len(reasons) == 1 and "pass --repo PATH" in reasons.pop()
    assert record["drift"] is None


def _spec(tmp_path, text: str):
    path = tmp_path / "co" / drift.SPEC_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return tmp_path / "co"


def test_drift_reports_added_removed_and_changed_criteria(tmp_path):
    text = requirements_markdown()
    repo = _spec(tmp_path, text)
    baseline = tmp_path / "baseline.yaml"
    assert len(drift.write_baseline(repo, baseline)) == 84
    assert drift.compare(repo, baseline=baseline)["drifted"] is False
    changed = (text.replace("GET /health answers 200 with body OK.", "GET /health answers 204.")
               + "6. THE API Service SHALL also do something new.\n")  # appended under Requirement 14 -> R14.6
    lines = [line for line in changed.splitlines() if not line.startswith("5. THE system SHALL satisfy: Staging sets")]
    repo = _spec(tmp_path, "\n".join(lines))
    result = drift.compare(repo, baseline=baseline)
    assert [a["id"] for a in result["added"]] == ["R14.6"]
    assert result["removed"] == ["R13.5"]
    assert [c["id"] for c in result["changed"]] == ["R5.1"]
    assert "R14.6" in drift.summary(result) and result["drifted"] is True


def test_drift_parses_the_spec_layout(tmp_path):
    parsed = drift.parse_requirements(
        "# Requirements Document\n\n## Glossary\n\n1. not a criterion\n\n## Requirements\n\n"
        "### Requirement 9: DNS\n\n**User Story:** As a user...\n\n#### Acceptance Criteria\n\n"
        "1. THE Deployment Operator SHALL configure DNS\n   so that `stackfast.app` resolves.\n"
        "2. WHEN a request arrives, THE edge SHALL redirect.\n\n## Non-Goals\n\n1. no CDN\n")
    assert parsed == {"R9.1": "THE Deployment Operator SHALL configure DNS so that `stackfast.app` resolves.",
                      "R9.2": "WHEN a request arrives, THE edge SHALL redirect."}


def test_sample_spec_is_compared_with_the_samples_own_baseline(tmp_path):
    repo = _spec(tmp_path, requirements_markdown())
    result = drift.compare(repo)
    assert result["baseline"] == str(drift.sample_baseline_path())
    assert result["baseline"] and not result["drifted"] and not result["not_in_baseline"]


def test_any_other_spec_is_compared_with_the_upstream_baseline(tmp_path):
    """Without the sample's marker the spec is taken for the upstream one: the sample's sentences
    (restatements) then differ from every upstream fingerprint."""
    text = requirements_markdown().replace(SAMPLE_SPEC_MARKER, "")
    result = drift.compare(_spec(tmp_path, text))
    assert result["baseline"] == str(drift.default_baseline_path())
    assert len(result["changed"]) == 84 and not result["added"] and not result["removed"]


def _run_script(*args: str):
    import subprocess
    import sys

    script = Path(__file__).resolve().parent.parent / "scripts" / "record_spec_baseline.py"
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, timeout=60)


def test_sample_baseline_is_what_the_recording_script_writes(tmp_path):
    """The shipped sample baseline is reproduced by the documented procedure, fingerprint for fingerprint."""
    sample = write_variant_checkout(tmp_path / "sample")
    proc = _run_script("--repo", str(sample), "--out", str(tmp_path / "out.yaml"))
    assert proc.returncode == 0, proc.stderr
    assert drift.load_baseline(tmp_path / "out.yaml") == drift.load_baseline(drift.sample_baseline_path())


def test_upstream_baseline_was_written_by_the_recording_procedure_at_the_catalogs_commit():
    """The upstream text may not be stored here, so the test pins how its fingerprints were made:
    the file is exactly what ``render_baseline`` writes for its own data, from the upstream spec path at
    the catalog's commit, one fingerprint per catalog criterion, none of them the sample's."""
    from stackfast_conformance.catalog import fingerprint, load_catalog

    catalog = load_catalog()
    shipped = drift.load_baseline_file(drift.default_baseline_path())
    text = drift.default_baseline_path().read_text()
    assert text == drift.render_baseline(shipped["source_fingerprints"], shipped["recorded_from"],
                                         shipped["recorded_at"], shipped["commit"])
    assert shipped["commit"] == catalog.spec["commit"]
    assert shipped["recorded_from"] == f"{catalog.spec['repository']}/{catalog.spec['path']}"
    assert set(shipped["source_fingerprints"]) == set(catalog.criteria)
    sample = drift.load_baseline(drift.sample_baseline_path())
    assert not {cid for cid, fp in shipped["source_fingerprints"].items() if fp == sample[cid]}
    assert not {cid for cid, fp in shipped["source_fingerprints"].items()
                if fp == fingerprint(catalog.criteria[cid].statement)}


def test_recording_script_refuses_a_non_git_tree_without_a_commit(tmp_path):
    repo = _spec(tmp_path, requirements_markdown().replace(SAMPLE_SPEC_MARKER, ""))
    proc = _run_script("--repo", str(repo))
    assert proc.returncode == 2 and "--commit" in proc.stderr


def test_drift_command_exits_1_on_drift_and_0_without(tmp_path):
    import subprocess
    import sys

    repo = _spec(tmp_path, requirements_markdown())
    cmd = [sys.executable, "-m", "stackfast_conformance.cli", "drift", "--repo", str(repo)]
    assert subprocess.run(cmd, capture_output=True, timeout=60).returncode == 0
    _spec(tmp_path, requirements_markdown() + "6. THE API Service SHALL also do something new.\n")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "added R14.6" in proc.stdout


# --- harmless variants: the false-alarm side of the repo and config audits ------------------------

@pytest.mark.parametrize("variant", sorted(CHECKOUT_VARIANTS))
def test_each_harmless_checkout_variant_passes_every_audit(tmp_path, variant):
    from stackfast_conformance.audits.repo import AUDITS, RepoAudit, destructive_migrations

    args = variant_inputs(variant, tmp_path)
    audit = RepoAudit(args[args.index("--repo") + 1])
    problems = {name: [str(p) for p in check(audit)] for name, check in AUDITS.items()}
    assert {name: found for name, found in problems.items() if found} == {}
    assert destructive_migrations(audit) == []
    assert drift.compare(audit.root)["drifted"] is False


def test_all_harmless_variants_together_pass_every_repo_and_config_check(pytester, tmp_path):
    """Every checkout and snapshot variant at once, as the false-alarm matrix batches them."""
    args = variant_inputs([*CHECKOUT_VARIANTS, *SNAPSHOT_VARIANTS], tmp_path / "inputs")
    repo = args[args.index("--repo") + 1]
    snapshots = [args[i + 1] for i, a in enumerate(args) if a == "--env-snapshot"]
    assert any(s.endswith(".env") for s in snapshots) and any(s.endswith(".json") for s in snapshots)
    record = run_checks(pytester, tmp_path / "report", f"--sf-repo={repo}",
                        *(f"--sf-env-snapshot={s}" for s in snapshots), folders=("repo", "config"))
    assert failed(record) == []
    assert not [c["id"] for c in record["criteria"] if c["verdict"] == "ERROR"]
    assert verdicts(record, REPO_CRITERIA) == dict.fromkeys(REPO_CRITERIA, "PASSED")


@pytest.mark.parametrize(("command", "ok"), [
    ("pnpm install --filter @stackfast/api... && pnpm --filter @stackfast/api build", True),
    ("pnpm install --frozen-lockfile --filter @stackfast/api... && pnpm --filter @stackfast/api build", True),
    ("corepack enable && pnpm i --prod=false --filter=@stackfast/api... && pnpm -r -F @stackfast/api run build", True),
    ("pnpm --filter ./apps/api... install; pnpm -C apps/api build", True),
    ("pnpm install && pnpm --filter @stackfast/api build", False),                     # no workspace filter
    ("pnpm install --filter @stackfast/api && pnpm --filter @stackfast/api build", False),  # no `...`
    ("pnpm install --filter @stackfast/api^... && pnpm --filter @stackfast/api build", False),  # deps only
    ("pnpm install --filter @stackfast/api... && pnpm --filter @stackfast/web build", False),  # wrong package
    ("pnpm install --filter @stackfast/api... || pnpm --filter @stackfast/api build", False),  # build on failure
    ("pnpm --filter @stackfast/api build && pnpm install --filter @stackfast/api...", False),  # build first
    ("pnpm install --filter '@stackfast/api... && pnpm build", False),                 # unbalanced quote
])
def test_build_commands_are_judged_by_meaning(tmp_path, command, ok):
    from stackfast_conformance.audits.repo import RepoAudit, audit_api_service

    files = checkout_files()
    files["apps/api/railway.toml"] = files["apps/api/railway.toml"].replace(API_BUILD, command.replace('"', '\\"'))
    problems = audit_api_service(RepoAudit(write_checkout(tmp_path, files)))
    assert (problems == []) is ok, problems
