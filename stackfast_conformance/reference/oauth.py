"""A fake GitHub OAuth provider that auto-approves every authorization.

Endpoints (GitHub's paths):
- ``GET /login/oauth/authorize?client_id&redirect_uri&state`` -> 302 to
  ``redirect_uri?code=..&state=..`` for a known client id, 404 otherwise;
- ``POST /login/oauth/access_token`` (form or JSON) -> ``{"access_token", "token_type"}``
  when client id, secret and a fresh code match; GitHub-style ``{"error": ...}`` (200) otherwise;
- ``GET /user``, ``GET /user/emails`` with ``Authorization: Bearer|token <t>``;
- ``GET /_last_authorize[?client_id=]`` -> the last authorize request seen (for checks of
  client_id / redirect_uri, R3.1 and R13.3), ``GET /_authorizations`` -> the recent ones.

Environment: PORT, OAUTH_CLIENTS (JSON ``{client_id: {"secret": ..., "callback": ...}}``).
Run: ``python -m stackfast_conformance.reference.oauth``.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections import deque
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

USER = {"id": 1, "login": "octo-tester", "email": "octo@example.test", "name": "Octo Tester",
        "avatar_url": "https://avatars.example.test/u/1"}
CODE_TTL_SECONDS = 600


def build_app(clients: dict[str, dict[str, str]]) -> Starlette:
    codes: dict[str, tuple[str, float, str]] = {}   # code -> (client_id, issued_at, redirect_uri)
    tokens: dict[str, str] = {}                     # token -> client_id
    recent: deque[dict[str, Any]] = deque(maxlen=50)

    async def authorize(request: Request) -> Response:
        q = dict(request.query_params)
        client_id = q.get("client_id", "")
        record = {"client_id": client_id, "redirect_uri": q.get("redirect_uri"), "state": q.get("state"),
                  "scope": q.get("scope"), "query": q, "host": request.headers.get("host"), "at": time.time()}
        recent.append(record)
        if client_id not in clients:
            return PlainTextResponse(f"OAuth application with client_id {client_id!r} not found\n", 404)
        redirect_uri = q.get("redirect_uri") or clients[client_id].get("callback", "")
        if not redirect_uri:
            return PlainTextResponse("redirect_uri missing\n", 400)
        if len(codes) > 1000:
            codes.clear()
        code = secrets.token_hex(10)
        codes[code] = (client_id, time.time(), redirect_uri)
        parts = urlsplit(redirect_uri)
        extra = {"code": code, **({"state": q["state"]} if "state" in q else {})}
        query = (parts.query + "&" if parts.query else "") + urlencode(extra)
        return RedirectResponse(urlunsplit(parts._replace(query=query)), status_code=302)

    async def access_token(request: Request) -> Response:
        if request.headers.get("content-type", "").startswith("application/json"):
            try:
                form: dict[str, Any] = dict(await request.json())
            except ValueError:
                form = {}
        else:
            form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
            form.update({k: v for k, v in request.query_params.items() if k not in form})
        client_id, secret, code = str(form.get("client_id", "")), str(form.get("client_secret", "")), \
            str(form.get("code", ""))
        auth = request.headers.get("authorization", "")
        if not client_id and auth.lower().startswith("basic "):
            import base64
            try:
                client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
            except ValueError:
                pass
        if client_id not in clients or clients[client_id]["secret"] != secret:
            return JSONResponse({"error": "incorrect_client_credentials",
                                 "error_description": "The client_id and/or client_secret passed are incorrect."})
        issued = codes.pop(code, None)
        if issued is None or issued[0] != client_id or time.time() - issued[1] > CODE_TTL_SECONDS:
            return JSONResponse({"error": "bad_verification_code",
                                 "error_description": "The code passed is incorrect or expired."})
        token = "gho_" + secrets.token_hex(18)
        tokens[token] = client_id
        return JSONResponse({"access_token": token, "token_type": "bearer", "scope": "read:user,user:email"})

    def _authorized(request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() in ("bearer", "token") and token.strip() in tokens

    async def user(request: Request) -> Response:
        if not _authorized(request):
            return JSONResponse({"message": "Requires authentication"}, 401)
        return JSONResponse(USER)

    async def emails(request: Request) -> Response:
        if not _authorized(request):
            return JSONResponse({"message": "Requires authentication"}, 401)
        return JSONResponse([{"email": USER["email"], "primary": True, "verified": True, "visibility": "public"}])

    async def last_authorize(request: Request) -> Response:
        client_id = request.query_params.get("client_id")
        for rec in reversed(recent):
            if client_id is None or rec["client_id"] == client_id:
                return JSONResponse(rec)
        return JSONResponse({"error": "no authorize request seen yet"}, 404)

    async def authorizations(request: Request) -> Response:
        return JSONResponse(list(recent))

    async def health(request: Request) -> Response:
        return PlainTextResponse("fake github ok")

    return Starlette(routes=[
        Route("/login/oauth/authorize", authorize, methods=["GET"]),
        Route("/login/oauth/access_token", access_token, methods=["POST"]),
        Route("/user", user, methods=["GET"]),
        Route("/user/emails", emails, methods=["GET"]),
        Route("/_last_authorize", last_authorize, methods=["GET"]),
        Route("/_authorizations", authorizations, methods=["GET"]),
        Route("/_health", health, methods=["GET"]),
    ])


def main() -> None:
    from . import _serve

    clients = json.loads(os.environ.get("OAUTH_CLIENTS", "{}"))
    _serve.run([_serve.make_server(build_app(clients), int(os.environ["PORT"]))])


if __name__ == "__main__":
    main()
