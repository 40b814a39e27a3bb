"""Redaction (stackfast_conformance/redact.py): secrets are masked by shape and by value, and the
evidence checks need (rate-limit headers, request ids, CORS, public ids, fingerprints) is left alone.

Both directions are pinned: every secret shape below disappears (also any 12-character piece of
it), and every harmless text below comes out byte for byte.
"""

from __future__ import annotations

import json
import secrets
import string
from pathlib import Path

import pytest

from stackfast_conformance.evidence import Masker, Recorder
from stackfast_conformance.leakscan import fragments
from stackfast_conformance.redact import (
    is_secret_name,
    is_secret_value,
    mask_value,
    redact_record,
    redact_text,
    register_secret,
)
from stackfast_conformance.reference import _planted


def _alnum(n: int) -> str:
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(n - 2)) + "a9"


def _leaks(secret: str, text: str) -> list[str]:
    return [piece for piece in fragments(secret) if piece in text]


P = _planted.generate()
SHAPES = [  # (what, text, secret)
    ("NAME=value, *SECRET*", f"BETTER_AUTH_SECRET={P['better_auth_secret']}", P["better_auth_secret"]),
    ("NAME: value, *PASSWORD*", f"SMTP_PASSWORD: {P['smtp_password']}", P["smtp_password"]),
    ("NAME=value, *_KEY", f"RESEND_API_KEY={P['resend_api_key']}", P["resend_api_key"]),
    ("JSON, *_KEY", json.dumps({"ADMIN_API_KEY": P["admin_api_key"]}), P["admin_api_key"]),
    ("JSON inside JSON", json.dumps(json.dumps({"ADMIN_API_KEY": P["admin_api_key"]})), P["admin_api_key"]),
    ("a harmless key's value is still read", json.dumps({"debug": f"SMTP_PASSWORD: {P['smtp_password']}"}),
     P["smtp_password"]),
    ("*PASS", f"DB_PASS='{P['smtp_password']}'", P["smtp_password"]),
    ("*TOKEN*", f"x-csrf-token: {P['bearer_token']}", P["bearer_token"]),
    ("Neon connection string",
     f"postgresql://neondb_owner:{P['neon_password']}@ep-quiet-river-a1b2c3-pooler.us-east-2.aws.neon.tech/neondb",
     P["neon_password"]),
    ("URL credentials", f"rediss://default:{P['upstash_redis_password']}@fit-crane-1.upstash.io:6379",
     P["upstash_redis_password"]),
    ("Sentry DSN key", f"dsn https://{P['sentry_key']}@o4501234.ingest.us.sentry.io/4505678", P["sentry_key"]),
    ("Upstash REST token, bare", f"token {P['upstash_rest_token']} in use", P["upstash_rest_token"]),
    ("Authorization: Bearer", f"Authorization: Bearer {P['bearer_token']}", P["bearer_token"]),
    ("Authorization: Basic", f"authorization: Basic {P['basic_credentials']}", P["basic_credentials"]),
    ("Bearer, anywhere", f"sent Bearer {P['bearer_token']} upstream", P["bearer_token"]),
    ("Cookie", f"Cookie: theme=dark; __Secure-better-auth.session_token={P['session_token']}", P["session_token"]),
    ("Set-Cookie", f"Set-Cookie: __Secure-better-auth.session_token={P['session_token']}; Path=/; HttpOnly",
     P["session_token"]),
    ("JWT", f"id_token {P['jwt']}", P["jwt"]),
    ("GitHub PAT", f"using {P['github_pat']}", P["github_pat"]),
    ("GitHub OAuth token", f"using {P['github_oauth_token']}", P["github_oauth_token"]),
    ("GitHub fine-grained PAT", f"using {P['github_fine_grained_pat']}", P["github_fine_grained_pat"]),
    ("GitHub app token", f"using {P['github_app_token']}", P["github_app_token"]),
    ("GitHub OAuth client secret (40 hex), bare", f"oauth app secret {P['github_client_secret']}",
     P["github_client_secret"]),
    ("a long random token, no name", f"key {_alnum(48)}", None),
]


@pytest.mark.parametrize(("what", "text", "secret"), SHAPES, ids=[s[0] for s in SHAPES])
def test_every_secret_shape_is_masked_keeping_its_place_and_fingerprint(what, text, secret):
    secret = secret or text.split()[-1]
    redacted = redact_text(text)
    assert not _leaks(secret, redacted), f"{what}: {redacted}"
    assert mask_value(secret) in redacted, redacted  # "*** (sha256:<8 hex>, N chars)": comparable across runs
    assert redact_text(redacted) == redacted  # idempotent


def test_the_masked_form_is_a_fingerprint_and_a_length():
    assert mask_value("abc") == "*** (sha256:ba7816bf, 3 chars)"
    assert redact_text("UPSTASH_REDIS_REST_TOKEN=" + "A" * 4 + "ACQg" + "x1Y2" * 9) \
        .startswith("UPSTASH_REDIS_REST_TOKEN=*** (sha256:")


EVIDENCE = [
    "X-RateLimit-Limit: 30\nX-RateLimit-Remaining: 0\nX-RateLimit-Reset: 1767225600",
    "Retry-After: 42",
    "X-Request-ID: 0b6c9f6e-8d2f-4c5b-9a7e-3f1e2d4c5b6a",
    "Access-Control-Allow-Origin: https://stackfast.app\nAccess-Control-Allow-Credentials: true\n"
    "Access-Control-Allow-Headers: Content-Type, Authorization, X-AI-Provider, X-Admin-API-Key\nVary: Origin, Cookie",
    "GITHUB_CLIENT_ID=Ov23liAbCdEfGhIjKlMn client_id=Iv1.prod0a1b2c3d4e5f",
    "BETTER_AUTH_SECRET: sha256:ab12cd34 (44 chars)",
    "commit 4d3c2b1a0f9e8d7c6b5a4d3c2b1a0f9e8d7c6b5a",
    "curl -H 'x-admin-api-key: ${STACKFAST_ADMIN_KEY}' https://api.stackfast.app/admin/stats",
    "ALLOW_AUTH_BYPASS=false NODE_ENV=production GENERATION_LIMIT=30",
    "GITHUB_TOKEN_URL=https://github.com/login/oauth/access_token",
    "DATABASE_URL=postgresql://***@ep-quiet-river-a1b2c3.us-east-2.aws.neon.tech/neondb",
    '{"error": "too many requests", "requestId": "0b6c9f6e-8d2f-4c5b-9a7e-3f1e2d4c5b6a"}',
    "Set-Cookie: __Secure-better-auth.session_token=***; Path=/; Domain=.stackfast.app; HttpOnly; Secure",
    "fetch('/api/auth/get-session', {credentials: \"include\"})",
    "Authorization: Bearer key (scheme in the header)",
    "<script src=\"/assets/index-BfC8x9aZ.js\" integrity=\"sha384-oqVuAfXRKap7fdgcCY5uykM6+R9GqQ8K/uxy9rx7HNQlGYl1kPzQho1wx4JwY8wC\">",
    "@reproduce_failure('6.100.0', b'AXicY2BgYGBgZGJkYmJiYGBgZGRkYGBgYGBgZGJgYAAA')",
]


@pytest.mark.parametrize("text", EVIDENCE, ids=range(len(EVIDENCE)))
def test_evidence_the_checks_need_is_left_alone(text):
    assert redact_text(text) == text


def test_no_criterion_statement_is_redacted():
    from stackfast_conformance.catalog import load_catalog

    for criterion in load_catalog().criteria.values():
        assert redact_text(criterion.statement) == criterion.statement, criterion.id


def test_a_registered_value_and_any_12_character_piece_of_it_are_masked():
    value = _alnum(40)
    register_secret(value, "SOME_VAR")
    assert value not in redact_text(f"a {value} b")
    for piece in (value[:20], value[-14:], value[13:27]):  # a prefix, a suffix, a middle (a property's cut)
        assert not _leaks(piece, redact_text(f"sent x{piece}y"))
    assert redact_text(value[:8]) == value[:8]  # shorter than 12: no evidence destroyed by chance


def test_secret_names_and_values():
    assert all(map(is_secret_name, ["BETTER_AUTH_SECRET", "UPSTASH_REDIS_REST_TOKEN", "SMTP_PASSWORD", "DB_PASS",
                                    "ADMIN_API_KEY", "x-admin-api-key", "SENTRY_DSN", "DATABASE_URL",
                                    "GOOGLE_CREDENTIALS", "clientSecret", "accessToken"]))
    assert not any(map(is_secret_name, ["GITHUB_CLIENT_ID", "X-RateLimit-Reset", "Retry-After", "X-Request-ID",
                                        "ALLOW_AUTH_BYPASS", "GITHUB_TOKEN_URL", "max_tokens", "TOKEN_TTL"]))
    assert is_secret_value("WEIRD_NAME", _alnum(40))  # random-looking: masked by value whatever its name
    assert is_secret_value("UPSTASH_REDIS_REST_TOKEN", "short-ish1")
    for name, value in [("NODE_ENV", "production"), ("CORS_ORIGIN", "https://stackfast.app"),
                        ("GITHUB_CLIENT_ID", "Ov23liAbCdEfGhIjKlMn"), ("GENERATION_LIMIT", "30"),
                        ("UPSTASH_REDIS_REST_URL", "https://fit-crane-12345.upstash.io")]:
        assert not is_secret_value(name, value), name


def test_a_record_is_redacted_by_key_and_by_shape_and_keeps_commit_ids():
    token = _alnum(36)
    record = {"spec": {"commit": "4d3c2b1a0f9e8d7c6b5a4d3c2b1a0f9e8d7c6b5a"},
              "exchanges": [{"response_headers": {"x-upstash-token": token, "retry-after": "30",
                                                  "set-cookie": f"sid={token}; Path=/; HttpOnly",
                                                  "authorization": f"Bearer {token}"},
                             "response_body": f'{{"debug": "GITHUB_TOKEN=ghp_{token}"}}'}],
              "count": 3}
    out = redact_record(record)
    assert token not in json.dumps(out)
    headers = out["exchanges"][0]["response_headers"]
    assert headers["retry-after"] == "30" and headers["set-cookie"].endswith("; Path=/; HttpOnly")
    assert headers["authorization"].startswith("Bearer *** (sha256:")
    assert out["spec"]["commit"] == record["spec"]["commit"] and out["count"] == 3
    assert redact_record(out) == out


def test_the_masker_masks_unknown_secret_headers_and_bodies_before_cutting_them():
    from stackfast_conformance.evidence import BODY_EXCERPT, _masked_excerpt

    token = _alnum(40)
    assert Masker({}).header("X-Upstash-Token", token) == mask_value(token)
    assert Masker({}).header("X-RateLimit-Reset", "1767225600") == "1767225600"
    body = ("x" * (BODY_EXCERPT - 20) + f"BETTER_AUTH_SECRET={token}").encode()  # the cut falls inside it
    assert not _leaks(token, _masked_excerpt(Masker({}), body))


# --- what operator actions keep --------------------------------------------------------------------

def _operator(tmp_path: Path, commands: dict[str, str]):
    from stackfast_conformance.operator import Operator
    from stackfast_conformance.settings import resolve_settings

    path = tmp_path / "p.yaml"
    path.write_text("operator:\n" + "".join(f"  {name}: {{command: {json.dumps(cmd)}, timeout: 5}}\n"
                                            for name, cmd in commands.items()))
    settings = resolve_settings({"api_url": "https://api.example.test", "profile_file": str(path),
                                 "profile": "staging", "allow_disruptive": True}, environ={})
    recorder = Recorder(check="t")
    return Operator(settings, None, recorder), recorder


def test_a_successful_actions_output_is_not_kept_and_a_failed_ones_is_trimmed_and_masked(tmp_path):
    planted = _planted.generate()
    dump = "; ".join(f"echo {json.dumps(line)}" for line in _planted.env_lines(planted))
    operator, recorder = _operator(tmp_path, {"upstash-recover": dump,
                                              "restart-api": f"{dump}; echo deploy failed >&2; exit 3"})
    operator.run("upstash-recover")
    result = operator.run("restart-api", check=False)
    assert not result.ok
    kept = json.dumps(recorder.timeline)
    recover, restart = recorder.timeline
    assert "output" not in recover  # not evidence: not kept
    assert "deploy failed" in restart["output"] and len(restart["output"]) <= 1500
    assert "UPSTASH_REDIS_REST_TOKEN=*** (sha256:" in restart["output"]
    for value in planted.values():
        assert not _leaks(value, kept)
    from stackfast_conformance.failures import CouldNotDecide

    with pytest.raises(CouldNotDecide) as excinfo:
        operator.run("restart-api")
    for value in planted.values():
        assert not _leaks(value, str(excinfo.value))


def test_the_logs_action_keeps_only_the_matching_lines_and_their_counts(tmp_path):
    planted = _planted.generate()
    lines = [*_planted.env_lines(planted), "[rate-limit] upstash unavailable: refused " + _planted.one_line(planted),
             "GET /health 200", "[rate-limit] upstash unavailable: timeout"]
    operator, recorder = _operator(tmp_path, {"logs": "; ".join(f"echo {json.dumps(line)}" for line in lines)})
    matched = operator.logs("[rate-limit] upstash unavailable:")
    assert len(matched) == 2 and matched[1].endswith("timeout")
    entry = recorder.timeline[-1]
    assert entry["log"]["lines_read"] == len(lines)
    assert entry["log"]["matched"] == {"[rate-limit] upstash unavailable:": 2}
    assert "GET /health" not in json.dumps(entry["log"]) and "output" not in entry
    for value in planted.values():
        assert not _leaks(value, json.dumps(entry)) and not _leaks(value, json.dumps(matched))
    with pytest.raises(ValueError, match="needs the text"):
        operator.logs()
