"""Better Auth-like ``/api/auth/*`` with GitHub OAuth, and ``requireSession()``.

Auth is *ready* when DATABASE_URL is set and the database opened. In
production/staging (NODE_ENV=production) a not-ready auth answers 503 on every
auth route and every ``requireSession()`` route, whatever ALLOW_AUTH_BYPASS
says; in local-dev a bypass not set to "false" lets handlers run as a dev user.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import sqlite3
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from . import _http
from ._config import ApiConfig
from ._db import AuthDatabase, DatabaseUnavailable
from ._http import is_invalid, read_json
from ._log import one_line
from ._schemas import SOCIAL_SIGN_IN_REQUEST, validate

SESSION_MAX_AGE = 604800
DEV_USER = {"id": "dev-user", "name": "Local Developer", "email": "dev@localhost", "image": None}


@dataclass(frozen=True)
class Session:
    session: dict[str, Any]
    user: dict[str, Any]


class AuthService:
    def __init__(self, config: ApiConfig, logger: logging.Logger) -> None:
        self._config = config
        self._logger = logger
        self.db: AuthDatabase | None = None
        if not config.database_url:
            logger.warning("[auth] DATABASE_URL is not set: auth is not ready")
            return
        try:
            self.db = AuthDatabase.open(config)
        except (ValueError, sqlite3.Error, OSError) as exc:
            logger.warning("[auth] database initialisation failed: %s", one_line(exc))

    @property
    def ready(self) -> bool:
        return self.db is not None

    def close(self) -> None:
        if self.db is not None:
            self.db.close()

    # ---- cookies -------------------------------------------------------
    def _sign(self, token: str) -> str:
        digest = hmac.new(self._config.better_auth_secret.encode(), token.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def _cookie_value(self, token: str) -> str:
        return f"{token}.{self._sign(token)}"

    def _token_from_cookie(self, request: Request) -> str | None:
        raw = request.cookies.get(self._config.session_cookie_name)
        if not raw or "." not in raw:
            return None
        token, signature = raw.rsplit(".", 1)
        return token if hmac.compare_digest(signature, self._sign(token)) else None

    def _cookie_header(self, value: str, max_age: int) -> str:
        config = self._config
        parts = [f"{config.session_cookie_name}={value}", "Path=/", f"Max-Age={max_age}", "HttpOnly"]
        if config.production_like:
            if not config.has("cookie-not-secure"):
                parts.append("Secure")
            parts.append("SameSite=Lax" if config.has("cookie-samesite-lax") else "SameSite=None")
            if config.cookie_domain and not config.has("cookie-no-domain"):
                parts.append(f"Domain={config.cookie_domain}")
        elif config.has("local-dev-samesite-none"):
            parts.append("SameSite=None")
        else:
            parts.append("SameSite=Lax")
        return "; ".join(parts)

    # ---- sessions ------------------------------------------------------
    async def current_session(self, request: Request) -> Session | None:
        """The session behind the request's cookie (raises DatabaseUnavailable)."""
        assert self.db is not None
        token = self._token_from_cookie(request)

        def lookup(conn: sqlite3.Connection) -> Session | None:
            if token is None:
                conn.execute("SELECT 1").fetchone()  # a DB round trip even without a cookie
                return None
            row = conn.execute(
                "SELECT s.id, s.user_id, s.expires_at, u.login, u.email FROM sessions s "
                "JOIN users u ON u.id = s.user_id WHERE s.token = ?",
                (token,),
            ).fetchone()
            if row is None or row[2] < time.time():
                return None
            session_id, user_id, expires_at, login, email = row
            return Session(
                session={
                    "id": session_id,
                    "userId": user_id,
                    "expiresAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires_at)),
                },
                user={"id": user_id, "name": login, "email": email, "image": None},
            )

        return await self.db.run(lookup)

    async def require_session(self, request: Request) -> Session | Response:
        """requireSession(): a Session, or the 401/503 response to send instead."""
        config = self._config
        if config.production_like and (
            (config.has("auth-bypass-in-production") and config.stackfast_env == "production")
            or (config.has("auth-bypass-in-staging") and config.stackfast_env == "staging")
        ):  # each fault bypasses only in its own environment (the reference runs both stacks)
            return Session(session={"id": "bypass"}, user=DEV_USER)
        if not config.production_like and config.bypass_requested and not config.has("local-dev-no-bypass"):
            return Session(session={"id": "bypass"}, user=DEV_USER)
        if not self.ready:
            if config.has("auth-not-ready-handler-runs"):
                return Session(session={"id": "not-ready"}, user=DEV_USER)
            return _http.error(request, 503, "authentication is not available")
        try:
            session = await self.current_session(request)
        except DatabaseUnavailable:
            return _http.error(request, 503, "database unavailable")
        if session is None:
            if config.has("generation-503-auth-not-configured"):  # harmless variant: upstream without a database
                return _http.error(request, 503, "Authentication is not configured")
            return _http.error(request, 401, "authentication required")
        return session

    # ---- routes --------------------------------------------------------
    async def handle(self, request: Request, path: str) -> Response:
        """Dispatch /api/auth/*; 503 for all of it while auth is not ready."""
        routes = {
            "/api/auth/sign-in/social": ("POST", self.sign_in_social),
            "/api/auth/callback/github": ("GET", self.callback_github),
            "/api/auth/get-session": ("GET", self.get_session),
            "/api/auth/sign-out": ("POST", self.sign_out),
        }
        if not self.ready:
            return _http.error(request, 503, "authentication is not available")
        if path not in routes:
            return _http.error(request, 404, "not found")
        method, handler = routes[path]
        if request.method != method and not (method == "GET" and request.method == "HEAD"):
            return _http.error(request, 405, "method not allowed", {"Allow": method})
        try:
            return await handler(request)
        except DatabaseUnavailable:
            return _http.error(request, 503, "database unavailable")

    def _redirect_uri(self) -> str:
        if self._config.has("oauth-wrong-callback"):
            return f"{self._config.cors_origin}/api/auth/callback/github"
        return f"{self._config.better_auth_url}/api/auth/callback/github"

    def _trusted_callback(self, callback: str) -> str | None:
        """Better Auth's trusted origins: BETTER_AUTH_URL and CORS_ORIGIN (the web app), relative paths always.

        Fault ``auth-untrusted-web-origin``: the web origin is missing from the trusted origins, so the
        SPA's callbackURL is refused (403 INVALID_CALLBACK_URL) and a relative one lands on the API host.
        """
        untrusted_web = self._config.has("auth-untrusted-web-origin")
        if callback.startswith("/") and not callback.startswith("//"):
            return (self._config.better_auth_url if untrusted_web else self._config.cors_origin) + callback
        parts = urlsplit(callback)
        origin = f"{parts.scheme}://{parts.netloc}"
        trusted = (self._config.better_auth_url,) if untrusted_web else (self._config.cors_origin,
                                                                         self._config.better_auth_url)
        return callback if origin in trusted else None

    def _state_cookie(self, state: str) -> str:
        """Better Auth's OAuth state cookie: 5 minutes, with the attributes every one of its cookies gets."""
        config = self._config
        name = ("__Secure-" if config.secure_cookie_prefix else "") + "better-auth.state"
        session_attributes = self._cookie_header("x", 300).split("; ", 1)[1]  # Path, Max-Age, flags, Domain
        return f"{name}={state}.{self._sign(state)}; {session_attributes}"

    async def sign_in_social(self, request: Request) -> Response:
        body = await read_json(request)
        problem = "body: invalid JSON" if is_invalid(body) else validate(body, SOCIAL_SIGN_IN_REQUEST)
        if problem:
            return _http.error(request, 400, problem)
        callback = self._trusted_callback(body.get("callbackURL") or self._config.cors_origin)
        if callback is None:  # Better Auth's own error shape (not the API's {error, requestId})
            return JSONResponse({"message": "Invalid callbackURL", "code": "INVALID_CALLBACK_URL"}, status_code=403)
        state = secrets.token_urlsafe(24)
        assert self.db is not None
        await self.db.run(
            lambda conn: conn.execute(
                "INSERT INTO oauth_states (state, callback_url, created_at) VALUES (?, ?, ?)",
                (state, callback, time.time()),
            )
        )
        query = urlencode(
            {
                "client_id": self._config.github_client_id,
                "redirect_uri": self._redirect_uri(),
                "state": state,
                "scope": "read:user user:email",
            },
            quote_via=quote,
        )
        authorize = f"{self._config.github_authorize_url}?{query}"
        response = JSONResponse({"url": authorize, "redirect": True}, headers={"Location": authorize})
        response.headers.append("Set-Cookie", self._state_cookie(state))
        return response

    async def callback_github(self, request: Request) -> Response:
        code = request.query_params.get("code", "")
        state = request.query_params.get("state", "")
        if not code or not state:
            return _http.error(request, 400, "missing code or state")
        assert self.db is not None

        def take_state(conn: sqlite3.Connection) -> str | None:
            row = conn.execute("SELECT callback_url FROM oauth_states WHERE state = ?", (state,)).fetchone()
            conn.execute("DELETE FROM oauth_states WHERE state = ?", (state,))
            return row[0] if row else None

        callback = await self.db.run(take_state)
        if callback is None:
            return _http.error(request, 403, "invalid or expired state")
        try:
            profile = await self._github_profile(code)
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            self._logger.warning("[auth] github exchange failed: %s", one_line(exc))
            return _http.error(request, 502, "oauth provider error")
        token = secrets.token_urlsafe(32)
        now = time.time()

        def create_session(conn: sqlite3.Connection) -> None:
            github_id = str(profile["id"])
            row = conn.execute("SELECT id FROM users WHERE github_id = ?", (github_id,)).fetchone()
            user_id = row[0] if row else str(uuid.uuid4())
            conn.execute(
                "INSERT INTO users (id, github_id, login, email, created_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(github_id) DO UPDATE SET login = excluded.login, email = excluded.email",
                (user_id, github_id, str(profile.get("login") or ""), profile.get("email"), now),
            )
            conn.execute(
                "INSERT INTO sessions (token, id, user_id, expires_at, created_at) VALUES (?, ?, ?, ?, ?)",
                (token, str(uuid.uuid4()), user_id, now + SESSION_MAX_AGE, now),
            )

        await self.db.run(create_session)
        response = RedirectResponse(callback, status_code=302)
        response.headers.append("Set-Cookie", self._cookie_header(self._cookie_value(token), SESSION_MAX_AGE))
        return response

    async def _github_profile(self, code: str) -> dict[str, Any]:
        config = self._config
        async with httpx.AsyncClient(timeout=10.0) as client:
            answer = await client.post(
                config.github_token_url,
                data={
                    "client_id": config.github_client_id,
                    "client_secret": config.github_client_secret,
                    "code": code,
                    "redirect_uri": self._redirect_uri(),
                },
                headers={"Accept": "application/json"},
            )
            answer.raise_for_status()
            access_token = answer.json()["access_token"]
            user = await client.get(
                config.github_user_url,
                headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
            )
            user.raise_for_status()
            profile = user.json()
        if not isinstance(profile, dict) or "id" not in profile:
            raise ValueError("user profile without id")
        return profile

    async def get_session(self, request: Request) -> Response:
        session = await self.current_session(request)
        if session is None:
            return JSONResponse(None)
        return JSONResponse({"session": session.session, "user": session.user})

    async def sign_out(self, request: Request) -> Response:
        token = self._token_from_cookie(request)
        assert self.db is not None
        if token is not None:
            await self.db.run(lambda conn: conn.execute("DELETE FROM sessions WHERE token = ?", (token,)))
        response = JSONResponse({"success": True})
        response.headers.append("Set-Cookie", self._cookie_header("", 0))
        return response
