"""Config snapshots (R2.2, R2.8, R3.2, R3.5, R4.6, R7.6, R8.2, R10.1, R11.1, R13.2, R13.4, R13.5):
the conforming pair passes, each broken variant flips exactly its criteria, secrets never leak."""

from __future__ import annotations

import json

import pytest
from fixtures.harness import failed, run_checks, verdicts
from fixtures.stackfast_checkout import SNAPSHOT_FAULTS, secret_values, write_variant_snapshots

from stackfast_conformance.snapshots import SnapshotError, load_snapshot, load_snapshots, secret_strength

CONFIG_CRITERIA = ["R2.2", "R2.8", "R3.2", "R3.5", "R4.6", "R7.6", "R8.2", "R10.1", "R11.1", "R13.2", "R13.4", "R13.5"]


def _snapshot_flags(paths):
    return [f"--sf-env-snapshot={env}={path}" for env, path in paths.items()]


def test_conforming_snapshot_pair_passes_every_config_criterion(pytester, tmp_path):
    paths = write_variant_snapshots(tmp_path / "snap", dotenv_staging=True)
    record = run_checks(pytester, tmp_path / "report", *_snapshot_flags(paths), folders=("config",))
    assert verdicts(record, CONFIG_CRITERIA) == dict.fromkeys(CONFIG_CRITERIA, "PASSED")


@pytest.mark.parametrize("variant", sorted(SNAPSHOT_FAULTS))
def test_each_broken_snapshot_flips_exactly_its_criteria(pytester, tmp_path, variant):
    paths = write_variant_snapshots(tmp_path / "snap", variant)
    record = run_checks(pytester, tmp_path / "report", *_snapshot_flags(paths), folders=("config",))
    assert failed(record) == sorted(SNAPSHOT_FAULTS[variant][1], key=lambda c: tuple(map(int, c[1:].split("."))))
    others = [c for c in CONFIG_CRITERIA if c not in SNAPSHOT_FAULTS[variant][1]]
    assert set(verdicts(record, others).values()) == {"PASSED"}


def test_no_secret_of_any_snapshot_appears_in_any_file_the_run_writes(pytester, tmp_path):
    # failing variants put the secrets' names in failure messages: the values must still not be there
    paths = write_variant_snapshots(tmp_path / "snap", "staging-reuses-auth-secret")
    data = json.loads(paths["production"].read_text())
    data["ADMIN_API_KEY"] = data["BETTER_AUTH_SECRET"]
    paths["production"].write_text(json.dumps(data))
    report = tmp_path / "report"
    record = run_checks(pytester, report, *_snapshot_flags(paths), folders=("config",))
    assert {"R3.5", "R8.2", "R13.4"} <= set(failed(record))
    written = [p for p in report.rglob("*") if p.is_file()]
    assert any(p.name == "traceability.json" for p in written) and len(written) >= 3
    secrets = secret_values(paths)
    assert len(secrets) >= 10
    for path in written:
        text = path.read_text(errors="replace")
        for value in secrets:
            for piece in {value, value[:16], value[-16:]}:
                assert piece not in text, f"a snapshot secret leaked into {path.name}"
    assert "sha256:" in json.dumps(record["checks"])  # fingerprints are shown instead


@pytest.mark.parametrize(("spec", "message"), [
    ("qa=x.json", "unknown environment 'qa'"),
    ("prod=x.json", "did you mean 'production'"),
    ("production", "not ENV=FILE"),
    ("production=/nonexistent/prod.json", "file not found"),
])
def test_bad_snapshot_arguments_name_the_problem(spec, message):
    with pytest.raises(SnapshotError, match=message):
        load_snapshots([spec])


def test_bad_json_is_reported_with_line_and_column(tmp_path):
    bad = tmp_path / "prod.json"
    bad.write_text('{\n  "NODE_ENV": "production",\n  "X": \n}\n')
    with pytest.raises(SnapshotError, match=r"prod.json:4:1: not valid JSON"):
        load_snapshot("production", bad)


def test_bad_snapshot_is_a_usage_error_of_the_cli(tmp_path):
    import subprocess
    import sys

    bad = tmp_path / "prod.json"
    bad.write_text("[1, 2]")
    proc = subprocess.run([sys.executable, "-m", "stackfast_conformance.cli", "run", "--api", "https://api.stackfast.app",
                           "--env-snapshot", f"production={bad}", "--report-dir", str(tmp_path / "r")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "expected a JSON object" in proc.stderr


@pytest.mark.parametrize(("value", "ok"), [
    ("3q2+7w" * 7 + "AB", False),                # repeated pattern, few distinct bytes
    ("changeme" * 6, False),
    ("0123456789abcdef" * 4, False),             # 32 bytes of hex, only 8 distinct byte values
    (None, False),
])
def test_secret_strength_rejects_placeholders(value, ok):
    assert secret_strength(value).ok is ok


def test_secret_strength_accepts_openssl_and_token_urlsafe_output():
    import base64
    import os
    import secrets

    assert secret_strength(base64.b64encode(os.urandom(32)).decode()).ok
    assert secret_strength(secrets.token_urlsafe(32)).ok
    assert secret_strength(secrets.token_hex(32)).ok
    assert not secret_strength(secrets.token_hex(16)).ok


def test_dotenv_snapshots_read_as_operators_keep_them(tmp_path):
    """Byte-order mark, CRLF, comments, `export`, both quote styles, inline comments, spaces around `=`."""
    path = tmp_path / "prod.env"
    path.write_bytes("\ufeff# kept by hand\r\nexport NODE_ENV=\"production\"\r\nCORS_ORIGIN='https://stackfast.app'  # web\r\n"
                     "ALLOW_AUTH_BYPASS = false # fail closed\r\nBETTER_AUTH_SECRET=\"abc#def=\" # quoted hash\r\n"
                     "EMPTY=\r\n".encode())
    snapshot = load_snapshot("production", path)
    assert dict(snapshot.variables) == {"NODE_ENV": "production", "CORS_ORIGIN": "https://stackfast.app",
                                        "ALLOW_AUTH_BYPASS": "false", "BETTER_AUTH_SECRET": "abc#def=", "EMPTY": ""}


def test_secret_strength_accepts_random_printable_strings_and_rejects_patterns():
    import secrets
    import string

    alphabet = string.ascii_letters + string.digits + "!#%&()*+,-.:;<>?@[]^_{|}~"
    printable = "".join(secrets.choice(alphabet) for _ in range(48))
    assert secret_strength(printable).ok
    assert not secret_strength(printable[:20]).ok                    # too short to hold 32 random bytes
    assert not secret_strength("Abc123!@#$%^&*()xyz" * 3).ok          # one pattern repeated
    assert not secret_strength("correct horse battery staple").ok    # words, spaces


def test_a_random_secret_that_happens_to_contain_a_placeholder_word_is_still_strong():
    """A real BETTER_AUTH_SECRET is random: 'XXx' or 'Test' inside it is chance, not a placeholder."""
    import base64
    import random

    from stackfast_conformance.snapshots import secret_strength

    for value in ("AbXXxq9zR2mT5kLp0Wn7Yc3Vb8Hd1Jf6Gs4Qe2Tu0Io=", "k8Test9fQz2LmP0aWn7Yc3Vb8Hd1Jf6Gs4Qe2Tu0Ioxy="):
        assert secret_strength(value).ok, value
    rng = random.Random(20261202)
    weak = [v for v in (base64.b64encode(rng.randbytes(32)).decode() for _ in range(3000))
            if not secret_strength(v).ok]
    assert not weak, weak[:3]
    for placeholder in ("changeme", "your-secret-here", "REPLACE_ME", "test_secret_0123456789abcdef0123456789"):
        assert not secret_strength(placeholder).ok, placeholder
