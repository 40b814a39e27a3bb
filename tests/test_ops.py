"""Operator actions and two environments (issue 8), end to end against the real reference.

- the conforming reference passes every ops / cross-environment criterion, with timelines;
- each fault behind those criteria is caught with exactly its criteria (the kill matrix);
- without the opt-in nothing runs, the production profile runs only actions it names, and a
  failing or timed-out action is an ERROR with its output masked — never a pass.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from stackfast_conformance.killmatrix import run_harness
from stackfast_conformance.operator import ACTIONS, Operator
from stackfast_conformance.reference import load_faults, start_reference
from stackfast_conformance.settings import resolve_settings

# module-scoped fixtures (its reference started once): under `pytest -n 4 --dist loadgroup` one worker runs the whole module
pytestmark = pytest.mark.xdist_group("test_ops")

OPS_CRITERIA = ("R1.5", "R1.6", "R2.3", "R4.1", "R4.5", "R5.2", "R6.4", "R12.1", "R12.2", "R12.3", "R12.6", "R12.7")
CROSS_ENV_CRITERIA = ("R13.3", "R13.4", "R13.5")
OPS_FAULTS = (
    "api-down-during-web-redeploy", "web-down-during-api-redeploy", "slow-health-after-start",
    "counts-lost-on-restart", "limiter-fails-closed", "fail-open-log-every-request", "db-no-retry", "db-hangs",
    "rollback-noop-web", "rollback-noop-api", "rollback-web-touches-api", "rollback-api-touches-web",
    "rollback-schema-mismatch",
)
SECRET = "s3cret-admin-key-for-the-masking-test"


def _verdicts(record):
    return {c["id"]: c["verdict"] for c in record["criteria"]}


def _checks(record, prefix):
    return [c for c in record["checks"] if c["id"].startswith(prefix)]


# --- the conforming reference --------------------------------------------------------------------

def test_the_conforming_reference_passes_every_ops_and_cross_environment_criterion(tmp_path):
    code, record, output = run_harness(
        # a window long enough for restart-api under load (R6.4 SKIPs otherwise); no check waits it out
        ["--window-seconds", "8", "--reference-db-retry-seconds", "3",
         "--criteria", ",".join(OPS_CRITERIA + CROSS_ENV_CRITERIA)], tmp_path / "r")
    verdicts = _verdicts(record)
    assert code == 0, output
    for cid in OPS_CRITERIA + CROSS_ENV_CRITERIA:
        if cid == "R4.1":  # its repo check wants a checkout; the restart check is the black-box evidence
            assert any(c["outcome"] == "passed" for c in _checks(record, "conformance/ops/") if cid in c["criteria"])
            continue
        assert verdicts[cid] == "PASSED", (cid, output[-3000:])
    ops = _checks(record, "conformance/ops/")
    assert len(ops) >= 14 and all(c["outcome"] == "passed" for c in ops), [(c["id"], c["reason"]) for c in ops]
    for check in ops:
        assert check["safety"] == "disruptive"
        actions = [e for e in check["timeline"] if e["kind"] == "action"]
        assert actions, check["id"]
        for entry in check["timeline"]:
            assert {"t", "kind", "label", "ok"} <= set(entry) and entry["kind"] in ("request", "action", "note")
        for action in actions:
            assert action["ok"] and action["duration_s"] > 0 and action["label"] in ACTIONS
    polled = next(c for c in ops if c["name"] == "test_api_keeps_serving_while_web_is_redeployed")
    requests = [e for e in polled["timeline"] if e["kind"] == "request"]
    redeploy = next(e for e in polled["timeline"] if e["label"] == "redeploy-web")
    during = [e for e in requests if redeploy["t"] <= e["t"] <= redeploy["t"] + redeploy["duration_s"]]
    assert len(during) >= 3 and all(e["ok"] for e in requests)  # polled throughout, every 50 ms
    html = (tmp_path / "r" / "traceability.html").read_text()
    assert "redeploy-web" in html and 'class="tl"' in html
    # the hanging Upstash costs each request its client timeout: an advisory finding, not a failure
    assert any("hang" in f["title"] and f["criteria"] == ["R4.5"] for f in record["findings"])


# --- faults ---------------------------------------------------------------------------------------
# tests/test_kill_matrix.py runs every fault below with exactly its criteria; here: the registry
# entries say what the ops checks flag, and one fault shows what a failure's evidence looks like.

EXPECTED_BREAKS = {
    "api-down-during-web-redeploy": ("R1.5",), "web-down-during-api-redeploy": ("R1.6",),
    "slow-health-after-start": ("R5.2",), "counts-lost-on-restart": ("R6.4", "R4.1"),
    "limiter-fails-closed": ("R4.5",), "fail-open-log-every-request": ("R4.5",),
    "db-no-retry": ("R2.3",), "db-hangs": ("R2.3",),
    "rollback-noop-web": ("R12.1",), "rollback-noop-api": ("R12.2",), "rollback-web-touches-api": ("R12.6",),
    "rollback-api-touches-web": ("R12.7",), "rollback-schema-mismatch": ("R12.3",),
    "staging-oauth-prod-client": ("R13.3",), "shared-admin-key": ("R13.4",), "shared-redis-staging": ("R13.4",),
    "auth-bypass-in-staging": ("R13.5",),
}


def test_every_ops_criterion_has_a_fault_that_claims_exactly_what_the_checks_flag():
    registry = load_faults()
    for name, breaks in EXPECTED_BREAKS.items():
        fault = registry[name]
        assert set(fault.breaks) == set(breaks), name
        assert fault.env in (None, "production"), name  # the staging stack runs inside the production reference
        if name in OPS_FAULTS:
            assert "disruptive" in fault.needs, name  # only an operator action shows it
    covered = {cid for breaks in EXPECTED_BREAKS.values() for cid in breaks}
    assert covered == set(OPS_CRITERIA + CROSS_ENV_CRITERIA)


def test_a_service_down_during_the_other_s_redeploy_fails_with_the_polls_as_evidence(tmp_path):
    code, record, output = run_harness(["--fault", "api-down-during-web-redeploy", "--window-seconds", "2",
                                        "--criteria", "R1.5"], tmp_path / "r")
    assert code == 1 and _verdicts(record)["R1.5"] == "FAILED", output
    check = next(c for c in record["checks"] if c["outcome"] == "failed")
    assert "polls of /health failed" in check["failure"]["seen"]
    redeploy = next(e for e in check["timeline"] if e["kind"] == "action" and e["label"] == "redeploy-web")
    bad = [e for e in check["timeline"] if e["kind"] == "request" and not e["ok"]]
    assert bad and all(redeploy["t"] <= e["t"] <= redeploy["t"] + redeploy["duration_s"] + 0.5 for e in bad)
    assert any(e["kind"] == "request" and e["ok"] for e in check["timeline"])  # before and after: fine


def test_faults_behind_a_restart_do_not_claim_criteria_only_a_restart_shows():
    registry = load_faults()
    for name in ("health-503", "health-requires-auth"):
        assert "R5.2" not in registry[name].breaks  # shown by slow-health-after-start with a restart
    assert registry["counts-lost-on-restart"].window_seconds  # spend, restart and spend in one window
    assert "--reference-db-retry-seconds" in registry["db-hangs"].args


# --- opt-in, the production profile, failing actions ----------------------------------------------

@pytest.fixture(scope="module")
def ref():
    with start_reference(window_seconds=2) as reference:
        yield reference


def _profile_file(tmp_path: Path, ref, marker: Path, **overrides: str) -> Path:
    """Operator commands that note their name in ``marker`` and then run the reference's action."""
    lines = ["operator:"]
    for name in ("restart-api", "redeploy-web", "redeploy-api", "rollback-web", "rollback-api",
                 "db-outage-start", "db-outage-end", "upstash-recover", "upstash-outage-refuse"):
        command = overrides.get(name) or f"echo {name} >> {shlex.quote(str(marker))} && {shlex.join(ref.actions[name])}"
        lines.append(f"  {name}: {{command: {json.dumps(command)}, timeout: 60}}")
    path = tmp_path / "profile.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _target_args(ref, profile: str, profile_file: Path, criteria: str) -> list[str]:
    args = ["--api", ref.api_url, "--web", ref.web_url, "--staging-api", str(ref.staging_api_url),
            "--ca-bundle", str(ref.ca_bundle), "--window-seconds", "2", "--profile", profile,
            "--profile-file", str(profile_file), "--criteria", criteria]
    for item in ref.connect_to:
        args += ["--connect-to", item]
    return args


def test_without_the_opt_in_ops_checks_are_skipped_and_no_action_runs(tmp_path, ref):
    marker = tmp_path / "actions.log"
    profile = _profile_file(tmp_path, ref, marker)
    build = ref.refresh()["stacks"]["production"]["api"]
    code, record, output = run_harness(_target_args(ref, "production", profile, ",".join(OPS_CRITERIA)),
                                       tmp_path / "r")
    ops = _checks(record, "conformance/ops/")
    assert len(ops) >= 14, output
    for check in ops:
        assert check["outcome"] == "skipped", check
        assert "not opted in" in check["reason"] and "--allow-disruptive" in check["reason"]
    assert not marker.exists(), marker.read_text()
    assert ref.refresh()["stacks"]["production"]["api"] == build  # same process, same build
    assert _verdicts(record)["R5.2"] == "SKIPPED"


def test_the_production_profile_runs_only_the_actions_the_user_names(tmp_path, ref):
    marker = tmp_path / "actions.log"
    profile = _profile_file(tmp_path, ref, marker)
    args = _target_args(ref, "production", profile, "R5.2,R1.5") + ["--allow-disruptive"]
    code, record, output = run_harness(args, tmp_path / "unnamed")
    for check in _checks(record, "conformance/ops/"):
        assert check["outcome"] == "skipped", check
        assert "production profile runs no operator action unless it is named" in check["reason"]
        assert "--allow-production-action" in check["reason"]
    assert not marker.exists()

    code, record, output = run_harness(args, tmp_path / "named",
                                       env={"STACKFAST_ALLOW_PRODUCTION_ACTIONS": "restart-api"})
    verdicts = _verdicts(record)
    assert verdicts["R5.2"] == "PASSED", output
    assert verdicts["R1.5"] == "SKIPPED"  # redeploy-web was not named
    assert marker.read_text().split() == ["restart-api"]


def test_a_failing_action_is_an_error_with_its_output_masked_never_a_pass(tmp_path, ref):
    marker = tmp_path / "actions.log"
    profile = _profile_file(tmp_path, ref, marker,
                            **{"restart-api": "echo deploy failed, key $STACKFAST_ADMIN_KEY >&2; exit 3",
                               "redeploy-web": "sleep 30"})
    text = profile.read_text().replace("sleep 30\", timeout: 60", "sleep 30\", timeout: 1")
    profile.write_text(text)
    args = _target_args(ref, "staging", profile, "R5.2,R1.5") + ["--allow-disruptive"]
    code, record, output = run_harness(args, tmp_path / "r", env={"STACKFAST_ADMIN_KEY": SECRET})
    assert code == 1, output
    checks = {c["name"]: c for c in _checks(record, "conformance/ops/")}
    restart = checks["test_health_answers_200_within_15_s_of_a_restart"]
    assert restart["outcome"] == "error" and "exit status 3" in restart["reason"], restart
    redeploy = checks["test_api_keeps_serving_while_web_is_redeployed"]
    assert redeploy["outcome"] == "error" and "did not finish within 1 s" in redeploy["reason"], redeploy
    assert _verdicts(record)["R5.2"] == "ERROR"
    report = (tmp_path / "r" / "traceability.json").read_text()
    assert SECRET not in report and SECRET not in output
    assert "${STACKFAST_ADMIN_KEY}" in json.dumps(restart["timeline"])  # the output is kept, masked


# --- the Operator on its own (no HTTP) --------------------------------------------------------------

def _settings(tmp_path: Path, operator_yaml: str, **cli):
    path = tmp_path / "p.yaml"
    path.write_text("operator:\n" + operator_yaml)
    return resolve_settings({"api_url": "https://api.example.test", "profile_file": str(path), **cli},
                            environ={"STACKFAST_ADMIN_KEY": SECRET})


def test_an_unconfigured_action_skips_with_the_profile_key_to_add(tmp_path):
    settings = _settings(tmp_path, "  logs: 'true'\n", profile="staging", allow_disruptive=True)
    reason = Operator(settings).refusal("restart-api")
    assert reason.startswith("no operator command configured for restart-api: add operator.restart-api")
    with pytest.raises(pytest.skip.Exception):
        Operator(settings).run("restart-api")


def test_a_typo_in_an_action_name_is_refused_when_the_profile_file_loads(tmp_path):
    from stackfast_conformance._yamlcheck import ConfigFileError

    with pytest.raises(ConfigFileError, match="did you mean 'restart-api'"):
        _settings(tmp_path, "  restart_api: 'true'\n", profile="staging", allow_disruptive=True)


def test_an_action_returns_its_output_masked_and_its_duration(tmp_path, monkeypatch):
    monkeypatch.setenv("STACKFAST_ADMIN_KEY", SECRET)  # the command sees the harness's environment
    settings = _settings(tmp_path, "  logs: {command: 'echo line one; echo key=$STACKFAST_ADMIN_KEY', timeout: 5}\n",
                         profile="production")
    operator = Operator(settings)
    assert operator.refusal("logs") is not None  # production, no disruptive opt-in
    settings = settings.with_values(allow_disruptive=True)
    operator = Operator(settings)
    lines = operator.logs("key=")  # reading logs is never gated by the production action list
    assert lines == ["key=${STACKFAST_ADMIN_KEY}"]  # only the lines a check asks for, masked
    result = operator.last("logs")
    assert result.ok and result.exit_code == 0 and result.duration_s > 0
