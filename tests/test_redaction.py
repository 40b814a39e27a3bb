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

# module-scoped fixtures (one conforming run for the module): under `pytest -n 4 --dist loadgroup` one worker runs the whole module
pytestmark = pytest.mark.xdist_group("test_redaction")


@pytest.fixture(autouse=True)
def _own_registry(monkeypatch):
    """Each test registers into its own copy of the process-wide registries (no state between tests)."""
    from stackfast_conformance import evidence, redact

    monkeypatch.setattr(redact, "_registered", dict(redact._registered))
    monkeypatch.setattr(redact, "_public", set(redact._public))
    monkeypatch.setattr(evidence, "_REGISTERED_SECRETS", dict(evidence._REGISTERED_SECRETS))
    redact._cache.clear()  # (results are cached per registry version; the registries go back after the test)
    yield
    redact._cache.clear()


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


# --- over-masking (H11): public text stays readable ------------------------------------------------

_DB_URL = ("postgresql://stackfast_owner:{pw}@ep-quiet-river-a1b2c3d4-pooler.us-east-2.aws.neon.tech/stackfast"
           "?sslmode=require")
PUBLIC_TEXTS = [
    "curl --connect-to api.stackfast.app:443:127.0.0.1:21369 https://api.stackfast.app/admin/tools/import",
    "-H 'origin: https://stackfast.app' -H 'origin: https://staging.stackfast.app:443'",
    "Set-Cookie: __Secure-better-auth.state=***; Path=/; Max-Age=300; Domain=.stackfast.app",
    "redirect_uri=https%3A%2F%2Fapi.stackfast.app%2Fapi%2Fauth%2Fcallback%2Fgithub",
    "ep-quiet-river-a1b2c3d4-pooler.us-east-2.aws.neon.tech",
]


def _reference_snapshot() -> dict[str, str]:
    """The reference's env snapshot as reference_inputs.py writes it (fresh secrets)."""
    return {"NODE_ENV": "production", "CORS_ORIGIN": "https://stackfast.app",
            "BETTER_AUTH_URL": "https://api.stackfast.app", "BETTER_AUTH_SECRET": _alnum(43),
            "ADMIN_API_KEY": _alnum(43), "ALLOW_AUTH_BYPASS": "false", "GITHUB_CLIENT_ID": "Iv1.prod21dd597e9c3e",
            "GITHUB_CLIENT_SECRET": secrets.token_hex(20), "RATE_LIMIT_BACKEND": "upstash",
            "DATABASE_URL": _DB_URL.format(pw=_alnum(24)), "UPSTASH_REDIS_REST_URL": "https://fit-crane-12345.upstash.io",
            "UPSTASH_REDIS_REST_TOKEN": "AXCa" + _alnum(52), "RAILWAY_GIT_COMMIT_SHA": secrets.token_hex(20),
            "SENTRY_RELEASE": secrets.token_hex(20),
            "SENTRY_DSN": f"https://{secrets.token_hex(16)}@o4501234.ingest.us.sentry.io/4505678"}


def test_registering_a_url_registers_its_credentials_not_its_host():
    password = _alnum(24)
    register_secret(_DB_URL.format(pw=password), "DATABASE_URL")
    assert password not in redact_text(f"sent {password} upstream")
    for text in PUBLIC_TEXTS:
        assert redact_text(text) == text


def test_an_env_snapshot_registers_only_its_secrets_and_public_config_stays_readable(tmp_path):
    from stackfast_conformance.snapshots import load_snapshots

    snapshot = _reference_snapshot()
    path = tmp_path / "production.json"
    path.write_text(json.dumps(snapshot))
    load_snapshots([f"production={path}"])
    for name in ("CORS_ORIGIN", "BETTER_AUTH_URL", "RAILWAY_GIT_COMMIT_SHA", "SENTRY_RELEASE", "GITHUB_CLIENT_ID"):
        assert not is_secret_value(name, snapshot[name]), name
        assert redact_text(f"seen {snapshot[name]} here") == f"seen {snapshot[name]} here", name
    for text in PUBLIC_TEXTS:
        assert redact_text(text) == text
    for name in ("BETTER_AUTH_SECRET", "ADMIN_API_KEY", "GITHUB_CLIENT_SECRET", "UPSTASH_REDIS_REST_TOKEN"):
        assert not _leaks(snapshot[name], redact_text(f"x {snapshot[name]} y")), name
        assert not _leaks(snapshot[name], redact_text(f"x {snapshot[name][3:19]} y")), name  # a piece of it
    password = snapshot["DATABASE_URL"].split(":")[2].split("@")[0]
    sentry_key = snapshot["SENTRY_DSN"][8:40]
    assert not _leaks(password, redact_text(f"pw {password}")) and not _leaks(sentry_key, redact_text(sentry_key))


def test_a_piece_of_a_secret_that_is_also_public_text_stays():
    from stackfast_conformance.redact import register_public

    secret = _alnum(10) + "api.stackfast.app" + _alnum(10)  # shares the API's host with its URL
    register_secret(secret, "ODD")
    register_public(["https://api.stackfast.app"])
    assert redact_text("GET https://api.stackfast.app/health") == "GET https://api.stackfast.app/health"
    assert not _leaks(secret, redact_text(f"a {secret} b"))
    assert not _leaks(secret[4:24], redact_text(f"a {secret[4:24]} b"))  # longer than the public piece: masked


def test_a_url_inside_a_registered_secret_is_public_text():
    secret = f"k1={_alnum(10)};origin=https://stackfast.app;k2={_alnum(20)}"  # a connection string, a JSON blob
    register_secret(secret, "BLOB")
    assert redact_text("origin: https://stackfast.app") == "origin: https://stackfast.app"
    assert not _leaks(secret, redact_text(f"a {secret} b"))
    assert not _leaks(secret[:30], redact_text(f"a {secret[:30]} b"))


EVIDENCE_HEADERS = {
    "access-control-allow-credentials": "true",
    "access-control-allow-origin": "https://stackfast.app",
    "access-control-allow-headers": "Content-Type, Authorization, X-AI-Provider, X-Admin-API-Key",
    "access-control-expose-headers": "X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, Retry-After",
    "access-control-allow-methods": "GET, POST, PATCH, DELETE, OPTIONS",
    "vary": "Origin, Cookie",
    "retry-after": "42",
    "x-ratelimit-limit": "30", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "1767225600",
    "ratelimit-policy": "30;w=60", "ratelimit": "limit=30, remaining=0, reset=42",
    "x-request-id": "0b6c9f6e-8d2f-4c5b-9a7e-3f1e2d4c5b6a",
    "www-authenticate": 'Bearer realm="admin", error="invalid_token"',
    "content-security-policy": "default-src 'self'; connect-src https://api.stackfast.app",
    "strict-transport-security": "max-age=63072000; includeSubDomains; preload",
}


def test_cors_rate_limit_and_request_id_headers_are_never_masked():
    for name, value in EVIDENCE_HEADERS.items():
        assert not is_secret_name(name), name
        assert Masker({}).header(name, value) == value, name
        assert Masker({}).header(name.title(), value) == value, name
        assert redact_text(f"{name.title()}: {value}") == f"{name.title()}: {value}", name
    assert redact_record({"response_headers": EVIDENCE_HEADERS}) == {"response_headers": EVIDENCE_HEADERS}


def test_credentials_names_are_secret_by_word_not_by_substring():
    assert all(map(is_secret_name, ["GOOGLE_CREDENTIALS", "AWS_CREDENTIALS", "GOOGLE_APPLICATION_CREDENTIALS_JSON",
                                    "x-credentials", "dbCredentials", "X-Amz-Signature"]))
    assert not any(map(is_secret_name, ["Access-Control-Allow-Credentials", "ALLOW_CREDENTIALS", "withCredentials",
                                        "access-control-allow-headers", "Vary", "X-RateLimit-Remaining",
                                        "x-forwarded-for", "sec-fetch-site", "keyboard", "monkey", "tokenizer",
                                        "passenger", "CORS_ORIGIN", "BETTER_AUTH_URL"]))
    assert redact_text('{"credentials": "include"}') == '{"credentials": "include"}'  # fetch()'s mode, not a secret


COMMIT = "4d3c2b1a0f9e8d7c6b5a4d3c2b1a0f9e8d7c6b5a"


@pytest.mark.parametrize("text", [
    COMMIT,
    f"build {COMMIT} deployed",
    f'{{"status": "ok", "version": "{COMMIT}"}}',
    f"RAILWAY_GIT_COMMIT_SHA={COMMIT}",
    f"production RAILWAY_GIT_COMMIT_SHA={COMMIT!r}",
    f"SENTRY_RELEASE={COMMIT}",
    f'{{"release": "{COMMIT}", "environment": "production"}}',
    f"spec_commit={COMMIT}",
    f"token_type=bearer, build {COMMIT}",
], ids=range(9))
def test_a_bare_commit_id_is_public(text):
    assert redact_text(text) == text
    assert redact_record({"x": text}) == {"x": text}


@pytest.mark.parametrize("text", [
    "GITHUB_CLIENT_SECRET={}", '{{"client_secret": "{}"}}', "client secret: {}", "oauth app secret {}",
    "clientSecret={}",
], ids=range(5))
def test_a_40_hex_secret_is_masked_when_its_context_says_secret(text):
    value = secrets.token_hex(20)
    assert not _leaks(value, redact_text(text.format(value)))


def test_a_registered_40_hex_value_is_masked_anywhere():
    value = secrets.token_hex(20)
    register_secret(value, "GITHUB_CLIENT_SECRET")
    assert not _leaks(value, redact_text(f"build {value}"))


def test_a_har_registers_its_secrets_and_no_public_value(tmp_path):
    from stackfast_conformance.har import load_har

    session, code, state = _alnum(32) + "." + _alnum(43), secrets.token_hex(10), _alnum(32)
    authorize = (f"https://github.com/login/oauth/authorize?client_id=Iv1.prod21dd597e9c3e&redirect_uri="
                 f"https%3A%2F%2Fapi.stackfast.app%2Fapi%2Fauth%2Fcallback%2Fgithub&state={state}&scope=read%3Auser")

    def entry(method, url, status, request_headers=(), response_headers=(), body=""):
        return {"startedDateTime": "2026-12-02T10:00:00.000Z", "time": 5,
                "request": {"method": method, "url": url, "httpVersion": "h2", "cookies": [],
                            "headers": [{"name": n, "value": v} for n, v in request_headers],
                            "queryString": [], "headersSize": -1, "bodySize": 0},
                "response": {"status": status, "statusText": "", "httpVersion": "h2", "cookies": [],
                             "headers": [{"name": n, "value": v} for n, v in response_headers],
                             "content": {"size": len(body), "mimeType": "application/json", "text": body},
                             "redirectURL": "", "headersSize": -1, "bodySize": len(body)},
                "cache": {}, "timings": {"send": 0, "wait": 5, "receive": 0}}

    cors = [("access-control-allow-origin", "https://stackfast.app"), ("access-control-allow-credentials", "true"),
            ("vary", "Origin"), ("x-request-id", "0b6c9f6e-8d2f-4c5b-9a7e-3f1e2d4c5b6a")]
    har = {"log": {"version": "1.2", "creator": {"name": "test", "version": "1"}, "entries": [
        entry("POST", "https://api.stackfast.app/api/auth/sign-in/social", 200, [("origin", "https://stackfast.app")],
              [*cors, ("set-cookie", f"__Secure-better-auth.state={state}; Path=/; HttpOnly; Secure"),
               ("location", authorize)], json.dumps({"url": authorize, "redirect": True})),
        entry("GET", f"https://api.stackfast.app/api/auth/callback/github?code={code}&state={state}", 302, [],
              [("set-cookie", f"__Secure-better-auth.session_token={session}; Path=/; HttpOnly; Secure"),
               ("location", "https://stackfast.app/")]),
        entry("GET", "https://api.stackfast.app/api/auth/get-session", 200,
              [("cookie", f"__Secure-better-auth.session_token={session}")],
              [*cors, ("www-authenticate", 'Bearer realm="api"')],
              json.dumps({"session": {"id": "sess_01", "userId": "user_01", "token": session[:32],
                                      "expiresAt": "2026-12-09T10:00:00.000Z"},
                          "user": {"id": "user_01", "name": "Octo Cat", "email": "octo@example.com",
                                   "image": "https://avatars.githubusercontent.com/u/583231"}})),
        entry("POST", "https://api.stackfast.app/api/auth/sign-in/social", 403, [("origin", "https://evil.example")],
              cors, json.dumps({"message": "Invalid callbackURL", "code": "INVALID_CALLBACK_URL"})),
    ]}}
    path = tmp_path / "login.har"
    path.write_text(json.dumps(har))
    loaded = load_har(path)
    assert {session, code, state, session[:32]} <= loaded.secrets
    public = [v for v in loaded.secrets if "://" in v or "stackfast.app" in v or v in
              ("true", "Origin", "INVALID_CALLBACK_URL", "Octo Cat", "octo@example.com", "sess_01", "user_01")
              or "realm" in v or v.startswith("2026-")]
    assert not public, public
    for text in [*PUBLIC_TEXTS, "INVALID_CALLBACK_URL", "https://avatars.githubusercontent.com/u/583231",
                 "access-control-allow-credentials: true"]:
        assert redact_text(text) == text
    assert not _leaks(state, redact_text(authorize))


# --- a conforming report holds no masked public text (H11) -------------------------------------------

PUBLIC_RUN_CRITERIA = "R3.4,R4.2,R5.1,R8.3,R10.2,R10.5"  # sign-in round trip, a 429 burst, CORS, the admin guard
EVIDENCE_HEADER_NAMES = ("access-control-", "x-ratelimit-", "retry-after", "vary", "x-request-id")


@pytest.fixture(scope="module")
def conforming_run(tmp_path_factory):
    """The harness against the reference (X-RateLimit-* headers on), with the reference's own env snapshots
    (as the no-argument demo audits them): secrets, URLs, origins and commit ids all reach the redactor."""
    from stackfast_conformance.killmatrix import MATRIX_PROFILE, run_harness
    from stackfast_conformance.reference import start_reference
    from stackfast_conformance.reference_inputs import write_reference_inputs

    base = tmp_path_factory.mktemp("public")
    profile = base / "profile.yaml"
    profile.write_text(MATRIX_PROFILE)
    with start_reference(window_seconds=2, variants=("ratelimit-headers",)) as ref:
        inputs = write_reference_inputs(ref, base / "inputs")
        args = ["--profile", "reference", "--window-seconds", "2", "--profile-file", str(profile),
                "--alluredir", str(base / "allure"), "--criteria", PUBLIC_RUN_CRITERIA]
        for spec in inputs.get("env_snapshot", ()):
            args += ["--env-snapshot", spec]
        code, record, output = run_harness(args, base / "report", env=ref.harness_env())
        snapshots = {spec.split("=", 1)[0]: json.loads(Path(spec.split("=", 1)[1]).read_text())
                     for spec in inputs.get("env_snapshot", ())}
        keys = [k for k in (ref.admin_key, ref.staging_admin_key) if k]
        urls = [u for u in (ref.api_url, ref.web_url, ref.staging_api_url, ref.staging_web_url) if u]
    return {"code": code, "record": record, "output": output, "snapshots": snapshots, "admin_keys": keys,
            "urls": urls, "report": (base / "report" / "traceability.json").read_text(), "allure": base / "allure"}


def _public_values(run) -> list[str]:
    from urllib.parse import urlsplit

    from stackfast_conformance.catalog import load_catalog

    values = [*run["urls"], *(urlsplit(u).hostname for u in run["urls"]), load_catalog().spec["commit"]]
    for variables in run["snapshots"].values():
        values += [v for k, v in variables.items() if k in ("CORS_ORIGIN", "BETTER_AUTH_URL", "GITHUB_CLIENT_ID",
                                                             "RAILWAY_GIT_COMMIT_SHA", "SENTRY_RELEASE",
                                                             "UPSTASH_REDIS_REST_URL", "NODE_ENV")]
    return [v for v in values if v]


def test_a_conforming_report_shows_urls_origins_headers_and_commits_unmasked(conforming_run):
    run, text = conforming_run, conforming_run["report"]
    assert run["code"] == 0, run["output"][-3000:]
    flagged = {c["id"]: c["verdict"] for c in run["record"]["criteria"] if c["verdict"] in ("FAILED", "ERROR")}
    assert not flagged, flagged
    from stackfast_conformance.catalog import load_catalog

    for value in [*run["urls"][:2], run["urls"][0].split("://")[1], f"origin: {run['urls'][1]}",
                  f'"commit": "{load_catalog().spec["commit"]}"']:
        assert value in text, value
    public = _public_values(run)
    # no public value, nor any 12+ character piece of one, was masked (a mask names the sha256 of what it hid)
    masks = {mask_value(v[i:j]) for v in public for i in range(len(v)) for j in range(i + 12, len(v) + 1)}
    shown = [m for m in masks if m in text]
    assert not shown, shown
    headers = [(name, value) for exchange in run["record"]["exchanges"]
               for name, value in (exchange.get("response_headers") or {}).items()
               if name.lower().startswith(EVIDENCE_HEADER_NAMES)]
    names = {name.lower() for name, _ in headers}
    assert {"access-control-allow-credentials", "access-control-allow-origin", "x-ratelimit-limit",
            "retry-after"} <= names, sorted(names)
    masked = [(name, value) for name, value in headers if "***" in value]
    assert not masked, masked[:5]


def test_a_conforming_report_holds_no_piece_of_an_admin_key(conforming_run):
    run = conforming_run
    texts = [run["report"], run["output"], *(p.read_text(errors="replace") for p in run["allure"].rglob("*")
                                            if p.is_file())]
    assert "${STACKFAST_ADMIN_KEY}" in run["report"]  # it was sent, and a curl names its variable instead
    for key in run["admin_keys"]:
        assert not [t for t in texts if _leaks(key, t)]


def test_a_record_redacted_again_is_unchanged_and_cheap(monkeypatch):
    """The run, each report writer and Allure redact the same record: a pass after the first redacts only the
    strings the first pass changed (a look-up for the others), until a new secret is registered."""
    from stackfast_conformance import redact

    calls = []
    shapes = redact._shapes
    monkeypatch.setattr(redact, "_shapes", lambda text: calls.append(text) or shapes(text))
    token = _alnum(40)
    register_secret(token, "SOME_TOKEN")
    record = {"exchanges": [{"url": f"https://api.stackfast.app/api/v1/tools/{i}", "curl": f"curl -H 'x: {token}'",
                             "response_headers": dict(EVIDENCE_HEADERS), "response_body": "x" * 300 + str(i)}
                            for i in range(500)]}
    once = redact_record(record)
    first, calls[:] = len(calls), []
    assert redact_record(once) == once and token not in json.dumps(once)
    assert first >= 1000 and len(calls) == 1, (first, calls)  # only the masked curl line is redacted again
    register_secret(_alnum(40), "LATER")  # a secret learnt later drops the cache: the next pass redacts anew
    calls[:] = []
    assert redact_record(once) == once and len(calls) >= 1000
