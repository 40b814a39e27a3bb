"""Planted secrets for the ``leak-secrets-*`` faults: fresh random values, one per secret shape.

The faults print them where a real deployment leaks secrets: the API's log (a config dump at
start, the Upstash error on the fail-open warning line), operator-action output (as ``railway
variables`` prints them) and error responses (a debug body and headers). The harness is never
told these values; the leak scan (``stackfast_conformance.leakscan``) reads them from
``<state dir>/planted-secrets.json`` and finds none of them (nor a 12-character piece of one)
in anything the harness wrote. Values are random per run, so no masker can match them by luck.
"""

from __future__ import annotations

import base64
import json
import secrets
import string
from pathlib import Path

PLANTED_FILE = "planted-secrets.json"
ENV_VAR = "REF_PLANTED_SECRETS"
FAULT_PREFIX = "leak-secrets-"
_ALNUM = string.ascii_letters + string.digits


def _alnum(n: int) -> str:
    # at least two of each class, so every value is as random-looking as the real thing
    while True:
        value = "".join(secrets.choice(_ALNUM) for _ in range(n))
        if n < 12 or (sum(c.isupper() for c in value) >= 2 and sum(c.islower() for c in value) >= 2
                      and sum(c.isdigit() for c in value) >= 2):
            return value


def _b64(raw: bytes, urlsafe: bool = False) -> str:
    return (base64.urlsafe_b64encode(raw).rstrip(b"=") if urlsafe else base64.b64encode(raw)).decode()


def generate() -> dict[str, str]:
    """shape -> a fresh secret value (only the secret part: hosts and prefixes around it are not secrets)."""
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": _alnum(8)}).encode(), urlsafe=True)
    payload = _b64(json.dumps({"sub": _alnum(12), "iat": secrets.randbelow(10**9)}).encode(), urlsafe=True)
    return {
        "better_auth_secret": _b64(secrets.token_bytes(32)),                       # NAME=value
        "neon_password": "npg_" + _alnum(16),                                       # postgresql://user:pw@ep-….neon.tech
        "upstash_rest_token": "A" + _alnum(3) + "ACQg" + _b64(secrets.token_bytes(60), urlsafe=True),
        "upstash_redis_password": _alnum(32),                                       # rediss://default:pw@….upstash.io
        "sentry_key": secrets.token_hex(16),                                        # https://key@o1.ingest.sentry.io/2
        "github_client_secret": secrets.token_hex(20),                             # 40 hex, bare
        "github_pat": "ghp_" + _alnum(36),
        "github_oauth_token": "gho_" + _alnum(36),
        "github_fine_grained_pat": "github_pat_" + _alnum(22) + "_" + _alnum(59),
        "github_app_token": "ghs_" + _alnum(36),
        "jwt": f"{header}.{payload}.{_b64(secrets.token_bytes(32), urlsafe=True)}",
        "bearer_token": _alnum(40),                                                 # Authorization: Bearer
        "basic_credentials": _b64(f"deploy:{_alnum(20)}".encode()),                 # Authorization: Basic
        "session_token": _alnum(32) + "." + _b64(secrets.token_bytes(32), urlsafe=True),  # Better Auth cookie
        "admin_api_key": _b64(secrets.token_bytes(32), urlsafe=True),               # JSON "ADMIN_API_KEY": "…"
        "smtp_password": _alnum(24),                                                # SMTP_PASSWORD: value
        "resend_api_key": "re_" + _alnum(32),                                       # RESEND_API_KEY=value
    }


def env_lines(p: dict[str, str]) -> list[str]:
    """The planted values as ``railway variables --kv`` prints an environment (plus a few headers)."""
    return [
        f"BETTER_AUTH_SECRET={p['better_auth_secret']}",
        f"DATABASE_URL=postgresql://neondb_owner:{p['neon_password']}@ep-quiet-river-a1b2c3-pooler"
        ".us-east-2.aws.neon.tech/neondb?sslmode=require",
        f"UPSTASH_REDIS_REST_TOKEN={p['upstash_rest_token']}",
        "UPSTASH_REDIS_REST_URL=https://fit-crane-12345.upstash.io",
        f"REDIS_URL=rediss://default:{p['upstash_redis_password']}@fit-crane-12345.upstash.io:6379",
        f"SENTRY_DSN=https://{p['sentry_key']}@o4501234.ingest.us.sentry.io/4505678",
        "GITHUB_CLIENT_ID=Ov23liAbCdEfGhIjKlMn",
        f"GITHUB_CLIENT_SECRET={p['github_client_secret']}",
        f"GITHUB_TOKEN={p['github_pat']}",
        f'ADMIN_CONFIG={{"ADMIN_API_KEY": "{p["admin_api_key"]}", "region": "us-east-2"}}',
        f"SMTP_PASSWORD: {p['smtp_password']}",
        f"RESEND_API_KEY={p['resend_api_key']}",
        f"Authorization: Bearer {p['bearer_token']}",
        f"Authorization: Basic {p['basic_credentials']}",
        f"Cookie: __Secure-better-auth.session_token={p['session_token']}",
        f"Set-Cookie: __Secure-better-auth.session_token={p['session_token']}; Path=/; HttpOnly; Secure",
    ]


def bare_line(p: dict[str, str]) -> str:
    """Secrets with no secret-looking name next to them: only their shape gives them away."""
    return (f"oauth app secret {p['github_client_secret']} token {p['github_oauth_token']} "
            f"pat {p['github_fine_grained_pat']} app {p['github_app_token']} jwt {p['jwt']} "
            f"upstash {p['upstash_rest_token']} sentry https://{p['sentry_key']}@o4501234.ingest.sentry.io/1 "
            f"bearer Bearer {p['bearer_token']}")


def one_line(p: dict[str, str]) -> str:
    return " | ".join(env_lines(p) + [bare_line(p)])


def faults_on(faults: object) -> bool:
    return any(str(f).startswith(FAULT_PREFIX) for f in (faults or ()))  # type: ignore[attr-defined]


def write(state_dir: Path, planted: dict[str, str]) -> None:
    path = Path(state_dir) / PLANTED_FILE
    path.write_text(json.dumps(planted, indent=1))
    path.chmod(0o600)


def read(state_dir: Path | str) -> dict[str, str]:
    return json.loads((Path(state_dir) / PLANTED_FILE).read_text())


def api_env(planted: dict[str, str] | None) -> dict[str, str]:
    """What the supervisor adds to the API's environment (nothing without a leak fault)."""
    return {ENV_VAR: json.dumps(planted)} if planted else {}


def operator_output(faults: object, planted: dict[str, str] | None, message: str) -> str:
    """Fault ``leak-secrets-operator-output``: every action also prints the environment, as a start script
    or ``railway variables`` does."""
    if planted and "leak-secrets-operator-output" in faults:  # type: ignore[operator]
        return message + "\n" + "\n".join(env_lines(planted)) + "\n" + bare_line(planted)
    return message
