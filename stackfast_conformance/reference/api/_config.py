"""Configuration of the reference API, read from environment variables.

Every value is a string in the environment; ``ApiConfig.from_env`` is the one
place that parses them, so the rest of the package works with typed values.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

ENVIRONMENTS = ("production", "staging", "local-dev")


def _float(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name, "").strip()
    return float(raw) if raw else default


def _int(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name, "").strip()
    return int(raw) if raw else default


@dataclass(frozen=True)
class ApiConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    stackfast_env: str = "production"
    node_env: str = "production"
    cors_origin: str = "https://stackfast.app"
    better_auth_url: str = "https://api.stackfast.app"
    better_auth_secret: str = ""
    allow_auth_bypass: str = "false"
    database_url: str = ""
    admin_api_key: str = ""
    github_client_id: str = ""
    github_client_secret: str = ""
    github_authorize_url: str = "https://github.com/login/oauth/authorize"
    github_token_url: str = "https://github.com/login/oauth/access_token"
    github_user_url: str = "https://api.github.com/user"
    cookie_domain: str = ""
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_timeout_seconds: float = 1.0
    rate_limit_backend: str = "upstash"
    window_seconds: float = 60.0
    generation_limit: int = 30
    read_limit: int = 100
    build_id: str = "dev"
    log_file: str = ""
    db_outage_flag: str = ""
    db_retry_seconds: float = 30.0
    faults: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ApiConfig:
        env = os.environ if environ is None else environ
        stackfast_env = env.get("STACKFAST_ENV", "production").strip() or "production"
        if stackfast_env not in ENVIRONMENTS:
            raise ValueError(f"STACKFAST_ENV must be one of {ENVIRONMENTS}, got {stackfast_env!r}")
        default_node_env = "development" if stackfast_env == "local-dev" else "production"
        faults = frozenset(f.strip() for f in env.get("REF_FAULTS", "").split(",") if f.strip())
        return cls(
            host=env.get("HOST", "").strip() or "127.0.0.1",
            port=_int(env, "PORT", 8000),
            stackfast_env=stackfast_env,
            node_env=env.get("NODE_ENV", "").strip() or default_node_env,
            cors_origin=env.get("CORS_ORIGIN", "https://stackfast.app").strip(),
            better_auth_url=env.get("BETTER_AUTH_URL", "https://api.stackfast.app").strip().rstrip("/"),
            better_auth_secret=env.get("BETTER_AUTH_SECRET", ""),
            allow_auth_bypass=env.get("ALLOW_AUTH_BYPASS", "false").strip(),
            database_url=env.get("DATABASE_URL", "").strip(),
            admin_api_key=env.get("ADMIN_API_KEY", ""),
            github_client_id=env.get("GITHUB_CLIENT_ID", ""),
            github_client_secret=env.get("GITHUB_CLIENT_SECRET", ""),
            github_authorize_url=env.get("GITHUB_AUTHORIZE_URL", cls.github_authorize_url).strip(),
            github_token_url=env.get("GITHUB_TOKEN_URL", cls.github_token_url).strip(),
            github_user_url=env.get("GITHUB_USER_URL", cls.github_user_url).strip(),
            cookie_domain=env.get("COOKIE_DOMAIN", "").strip(),
            redis_url=env.get("REDIS_URL", cls.redis_url).strip(),
            redis_timeout_seconds=_float(env, "REDIS_TIMEOUT_SECONDS", 1.0),
            rate_limit_backend=env.get("RATE_LIMIT_BACKEND", "upstash").strip() or "upstash",
            window_seconds=_float(env, "RATE_LIMIT_WINDOW_SECONDS", 60.0),
            generation_limit=_int(env, "GENERATION_LIMIT", 30),
            read_limit=_int(env, "READ_LIMIT", 100),
            build_id=env.get("BUILD_ID", "").strip() or "dev",
            log_file=env.get("LOG_FILE", "").strip(),
            db_outage_flag=env.get("DB_OUTAGE_FLAG", "").strip(),
            db_retry_seconds=_float(env, "DB_RETRY_SECONDS", 30.0),
            faults=faults,
        )

    def has(self, fault: str) -> bool:
        """True when the named fault is injected (REF_FAULTS)."""
        return fault in self.faults

    @property
    def production_like(self) -> bool:
        """Production and staging: NODE_ENV=production, auth fails closed."""
        return self.node_env == "production"

    @property
    def bypass_requested(self) -> bool:
        return self.allow_auth_bypass.lower() != "false"

    @property
    def secure_cookie_prefix(self) -> bool:
        return urlsplit(self.better_auth_url).scheme == "https"

    @property
    def session_cookie_name(self) -> str:
        base = "better-auth.session_token"
        return f"__Secure-{base}" if self.secure_cookie_prefix else base
