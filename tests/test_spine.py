"""The spine: options, settings, masking, curl, verdicts, plugin behaviour (through pytester)."""

from __future__ import annotations

import pytest

from stackfast_conformance.catalog import load_catalog
from stackfast_conformance.curl import to_curl
from stackfast_conformance.evidence import Masker
from stackfast_conformance.options import OptionError
from stackfast_conformance.settings import resolve_settings
from stackfast_conformance.verdicts import criterion_verdict


def test_precedence_is_cli_then_env_then_profile_file_then_default(tmp_path):
    profile = tmp_path / "p.yaml"
    profile.write_text("api_url: https://from-file.example\ntimeout: 3\nwindow_seconds: 30\n")
    env = {"STACKFAST_PROFILE_FILE": str(profile), "STACKFAST_TIMEOUT": "4"}
    s = resolve_settings({"api_url": "https://api.stackfast.app"}, env)
    assert s.api_url == "https://api.stackfast.app" and s.sources["api_url"] == "cli"
    assert s.timeout == 4.0 and s.sources["timeout"] == "env"
    assert s.window_seconds == 30.0 and s.sources["window_seconds"] == "profile file"
    assert s.read_limit == 100 and s.sources["read_limit"] == "default"


def test_any_other_target_defaults_to_the_read_only_production_profile():
    s = resolve_settings({"api_url": "https://api.stackfast.app"}, {})
    assert s.profile == "production" and s.web_url == "https://stackfast.app"
    assert not (s.allow_quota or s.allow_disruptive or s.allow_mutating)
    assert resolve_settings({}, {}).profile == "reference"


@pytest.mark.parametrize(("given", "message"), [
    ({"api_url": "api.stackfast.app"}, "not an http(s) base URL"),
    ({"profile": "prod"}, "unknown profile 'prod'"),
    ({"connect_to": ["api.stackfast.app:443"]}, "HOST1:PORT1:HOST2:PORT2"),
    ({"ca_bundle": "/nonexistent/ca.pem"}, "does not exist"),
])
def test_bad_options_name_the_problem_and_the_fix(given, message):
    with pytest.raises(OptionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        resolve_settings(given, {})


def test_profile_file_typos_are_reported_with_file_line_and_did_you_mean(tmp_path):
    from stackfast_conformance._yamlcheck import ConfigFileError

    profile = tmp_path / "p.yaml"
    profile.write_text("api_url: https://api.stackfast.app\nallow_qouta: true\n")
    with pytest.raises(ConfigFileError, match=r"p.yaml:2: unknown key 'allow_qouta' \(did you mean 'allow_quota'\?\)"):
        resolve_settings({"profile_file": str(profile)}, {})
    profile.write_text("admin_key: hunter2\n")
    with pytest.raises(ConfigFileError, match="read only from the environment"):
        resolve_settings({"profile_file": str(profile)}, {})


def test_secrets_come_only_from_the_environment():
    s = resolve_settings({}, {"STACKFAST_ADMIN_KEY": "k" * 43})
    assert s.secrets["admin_key"] == "k" * 43
    assert "k" * 43 not in repr(s)


def test_masker_hides_secrets_and_long_fragments_of_them():
    key = "s3cr3t-admin-key-0123456789abcdefXYZ"
    m = Masker({"STACKFAST_ADMIN_KEY": key})
    assert m.header("X-Admin-API-Key", key) == "${STACKFAST_ADMIN_KEY}"
    assert key[:-3] not in (m.header("Authorization", "Bearer " + key[:-3]) or "")
    assert m.header("Set-Cookie", "__Secure-better-auth.session_token=abc.def; Path=/; HttpOnly") == \
        "__Secure-better-auth.session_token=***; Path=/; HttpOnly"
    assert m.header("X-Admin-API-Key", "wrong") == "wrong"  # a deliberately wrong key stays readable
    assert key not in (m.text(f"body mentions {key}") or "")


def test_curl_reproduction_is_quoted_and_uses_connect_to_and_ca_bundle():
    cmd = to_curl("POST", "https://api.stackfast.app/admin/tools/import", {"content-type": "application/json",
                  "user-agent": "x", "X-Admin-API-Key": "${STACKFAST_ADMIN_KEY}"}, '{"tools": []}',
                  ["api.stackfast.app:443:127.0.0.1:8443", "stackfast.app:443:127.0.0.1:8443"], "/tmp/ca.pem")
    assert cmd.startswith("curl -sS -i -X POST --connect-to api.stackfast.app:443:127.0.0.1:8443 --cacert /tmp/ca.pem")
    assert "stackfast.app:443:127.0.0.1:8443 " not in cmd.replace("api.stackfast.app", "")
    assert "user-agent" not in cmd and "--data-raw '{\"tools\": []}'" in cmd


def _check(outcome, reason=None):
    return {"outcome": outcome, "reason": reason, "failure": None}


@pytest.mark.parametrize(("outcomes", "verdict"), [
    (["passed", "failed"], "FAILED"),
    (["passed", "error"], "ERROR"),
    (["passed", "skipped"], "PASSED"),
    (["not_applicable"], "NOT_APPLICABLE"),
    (["skipped"], "SKIPPED"),
    ([], "UNCOVERED"),
])
def test_verdict_of_an_http_criterion(outcomes, verdict):
    crit = load_catalog().get("R5.1")
    got, reason = criterion_verdict(crit, [_check(o, "because") for o in outcomes], "production")
    assert got == verdict
    assert (reason is None) == (verdict == "PASSED")


def test_manual_and_permissive_criteria_without_checks():
    catalog = load_catalog()
    assert criterion_verdict(catalog.get("R2.7"), [], "production")[0] == "NOT_APPLICABLE"
    assert criterion_verdict(catalog.get("R1.4"), [], "production")[0] == "MANUAL"
    assert criterion_verdict(catalog.get("R1.4"), [], "production", attestation={"by": "a"})[0] == "ATTESTED"
    assert criterion_verdict(catalog.get("R13.1"), [], "production")[0] == "MANUAL"


def test_a_waived_failure_does_not_block_but_an_expired_waiver_does():
    crit = load_catalog().get("R5.1")
    failed = [_check("failed")]
    assert criterion_verdict(crit, failed, "production", waiver={"expires": "2099-01-01", "expired": False})[0] == "WAIVED"
    assert criterion_verdict(crit, failed, "production", waiver={"expires": "2020-01-01", "expired": True})[0] == "FAILED"


def test_a_check_tagged_with_an_unknown_criterion_fails_collection(pytester):
    pytester.makepyfile(test_x="""
        import pytest
        @pytest.mark.requirement("R4.77")
        def test_x():
            pass
    """)
    result = pytester.runpytest("--sf-api=http://127.0.0.1:9", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown criterion id 'R4.77'*did you mean 'R4.7'*"])


def test_an_unregistered_marker_is_an_error(pytester):
    pytester.makeini("[pytest]\naddopts = --strict-markers\n")
    pytester.makepyfile(test_x="""
        import pytest
        @pytest.mark.requirment("R4.7")
        def test_x():
            pass
    """)
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*'requirment' not found in `markers`*"])


def test_a_check_outside_its_opt_in_is_skipped_with_the_way_to_opt_in(pytester, tmp_path):
    pytester.makepyfile(test_x="""
        import pytest
        @pytest.mark.requirement("R6.2")
        @pytest.mark.safety("quota")
        def test_burst():
            raise AssertionError("must not run")
    """)
    result = pytester.runpytest("--sf-api=http://127.0.0.1:9", f"--sf-report-dir={tmp_path}/r", "-p", "no:cacheprovider", "-rs")
    result.stdout.fnmatch_lines(["*not opted in*--allow-quota*"])
    assert (tmp_path / "r" / "traceability.json").is_file()


def test_a_typo_in_an_operator_action_is_a_file_line_error(tmp_path):
    from stackfast_conformance._yamlcheck import ConfigFileError

    profile = tmp_path / "p.yaml"
    profile.write_text("operator:\n  restart-apii: {command: 'true', timeout: 5}\n")
    with pytest.raises(ConfigFileError, match=r"p.yaml:1: unknown operator action 'restart-apii' \(did you mean 'restart-api'\?\)"):
        resolve_settings({"profile_file": str(profile)}, {})
