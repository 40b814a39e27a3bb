"""The ``leak-secrets-*`` faults of the API: it prints the planted secrets (``reference/_planted.py``).

- ``leak-secrets-api-log``: a config dump in the startup log, and the Upstash error on the
  fail-open warning line carries the Upstash URL and token (the line a check reads and keeps);
- ``leak-secrets-error-body``: every error answer (4xx/5xx) carries a debug field with the
  environment in its JSON body and debug headers (``X-Debug-Env``, ``X-Upstash-Token``, ...).

None of this violates a criterion: the faults prove that the harness never stores what it did
not need, and masks what it stores (``tests/test_leak_scan.py``).
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from .._planted import ENV_VAR, bare_line, env_lines, one_line

WARNING_PREFIX = "[rate-limit] upstash unavailable:"


def planted_secrets() -> dict[str, str] | None:
    raw = os.environ.get(ENV_VAR)
    return json.loads(raw) if raw else None


class _UpstashErrorWithSecrets(logging.Filter):
    def __init__(self, planted: dict[str, str]) -> None:
        super().__init__()
        self._planted = planted

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith(WARNING_PREFIX):
            record.msg = (f"{message} (POST https://default:{self._planted['upstash_redis_password']}"
                          f"@fit-crane-12345.upstash.io failed; {one_line(self._planted)})")
            record.args = ()
        return True


class _ErrorsWithSecrets:
    """ASGI wrapper: error answers get the environment in a debug field and debug headers."""

    def __init__(self, app: Any, planted: dict[str, str]) -> None:
        self._app = app
        self._planted = planted

    def __getattr__(self, name: str) -> Any:
        return getattr(self._app, name)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        held: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def leaky_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and message["status"] >= 400:
                held["start"] = message
                return
            if message["type"] == "http.response.body" and "start" in held:
                chunks.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                await self._send_leaky(held.pop("start"), b"".join(chunks), send)
                return
            await send(message)

        await self._app(scope, receive, leaky_send)

    async def _send_leaky(self, start: dict[str, Any], body: bytes, send: Any) -> None:
        p = self._planted
        try:
            data = json.loads(body) if body else {}
        except ValueError:
            data = None
        if isinstance(data, dict):
            data["debug"] = {"env": env_lines(p), "note": bare_line(p)}
            body = json.dumps(data).encode()
        else:
            body += ("\n" + "\n".join(env_lines(p)) + "\n").encode()
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers += [
            (b"content-length", str(len(body)).encode()),
            (b"x-debug-env", (f"DATABASE_URL=postgresql://neondb_owner:{p['neon_password']}@ep-quiet-river-a1b2c3"
                              f".us-east-2.aws.neon.tech/neondb; BETTER_AUTH_SECRET={p['better_auth_secret']}").encode()),
            (b"x-upstash-token", p["upstash_rest_token"].encode()),
            (b"x-debug-upstream-authorization", f"Bearer {p['bearer_token']}".encode()),
            (b"x-debug-github", p["github_pat"].encode()),
        ]
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def install(app: Any, faults: frozenset[str], logger: logging.Logger) -> Any:
    """Switch the API's leak faults on (a no-op without them); returns the app to serve."""
    planted = planted_secrets()
    if not planted:
        return app
    if "leak-secrets-api-log" in faults:
        logger.info("[config] environment at start:")
        for line in env_lines(planted) + [bare_line(planted)]:
            logger.info("[config] %s", line)
        logger.addFilter(_UpstashErrorWithSecrets(planted))
    if "leak-secrets-error-body" in faults:
        return _ErrorsWithSecrets(app, planted)
    return app
