"""The reference API as a real process: uvicorn + a real redis-server, pinned behaviours.

Every API instance runs in its own subprocess with its own Redis database, so
buckets never leak between tests; quota tests use a 2 s window and tiny limits.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import yaml

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
PACKAGE_DIR = Path(__file__).resolve().parents[1] / "stackfast_conformance" / "reference" / "api"
FAULTS_FILE = PACKAGE_DIR.parent / "faults" / "api.yaml"
ADMIN_KEY = "k" * 43
ORIGIN = "https://stackfast.app"

# module-scoped fixtures (its references started once): under `pytest -n 4 --dist loadgroup` one worker runs the whole module
pytestmark = [pytest.mark.skipif(not os.path.exists(REDIS_SERVER), reason="redis-server is not installed"),
              pytest.mark.xdist_group("test_reference_api")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_until(probe: Callable[[], bool], deadline_s: float, what: str) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if probe():
            return
        time.sleep(0.02)
    raise TimeoutError(f"{what} not ready within {deadline_s}s")


@pytest.fixture(scope="module")
def redis_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    port = _free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [
            REDIS_SERVER,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def accepts() -> bool:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
        return False

    try:
        _wait_until(accepts, 10, "redis-server")
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class RunningApi:
    def __init__(self, proc: subprocess.Popen[bytes], url: str, log_file: Path, env: dict[str, str]) -> None:
        self.proc, self.url, self.log_file, self.env = proc, url, log_file, env
        self.client = httpx.Client(base_url=url, timeout=10)

    def log_lines(self) -> list[str]:
        return self.log_file.read_text().splitlines() if self.log_file.exists() else []


class ApiFactory:
    """Starts API processes; each one gets its own Redis DB (1..15) and a fresh log."""

    def __init__(self, redis_port: int, tmp_path: Path) -> None:
        self._redis_port = redis_port
        self._tmp = tmp_path
        self._running: list[RunningApi] = []
        self._next_db = 1

    def start(self, *, faults: str = "", db: int | None = None, **overrides: str) -> RunningApi:
        if db is None:
            db, self._next_db = self._next_db, self._next_db + 1
        port = _free_port()
        name = f"api-{port}"
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "STACKFAST_ENV": "production",
            "NODE_ENV": "production",
            "CORS_ORIGIN": ORIGIN,
            "BETTER_AUTH_URL": "https://api.stackfast.app",
            "BETTER_AUTH_SECRET": "s" * 43,
            "ALLOW_AUTH_BYPASS": "false",
            "DATABASE_URL": f"sqlite:///{self._tmp / name}.db",
            "ADMIN_API_KEY": ADMIN_KEY,
            "GITHUB_CLIENT_ID": "client-id-prod",
            "GITHUB_CLIENT_SECRET": "client-secret-prod",
            "GITHUB_AUTHORIZE_URL": "https://github.com/login/oauth/authorize",
            "COOKIE_DOMAIN": ".stackfast.app",
            "REDIS_URL": f"redis://127.0.0.1:{self._redis_port}/{db}",
            "REDIS_TIMEOUT_SECONDS": "0.5",
            "RATE_LIMIT_BACKEND": "upstash",
            "RATE_LIMIT_WINDOW_SECONDS": "2",
            "GENERATION_LIMIT": "3",
            "READ_LIMIT": "5",
            "BUILD_ID": "api-build-1",
            "LOG_FILE": str(self._tmp / f"{name}.log"),
            "DB_OUTAGE_FLAG": str(self._tmp / f"{name}.db-outage"),
            "DB_RETRY_SECONDS": "1",
            "REF_FAULTS": faults,
            **overrides,
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "stackfast_conformance.reference.api"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        api = RunningApi(proc, f"http://127.0.0.1:{port}", Path(env["LOG_FILE"]), env)
        self._running.append(api)

        def listening() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"API exited with {proc.returncode}: {api.log_lines()}")
            with contextlib.suppress(httpx.TransportError):
                api.client.get("/openapi.json")
                return True
            return False

        _wait_until(listening, 15, "API")
        return api

    def stop(self, api: RunningApi) -> None:
        api.client.close()
        if api.proc.poll() is None:
            api.proc.terminate()
            try:
                api.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                api.proc.kill()
                api.proc.wait()

    def close(self) -> None:
        for api in self._running:
            self.stop(api)


@pytest.fixture
def start_api(redis_port: int, tmp_path: Path) -> Iterator[Callable[..., RunningApi]]:
    factory = ApiFactory(redis_port, tmp_path)
    try:
        yield factory.start
    finally:
        factory.close()


@pytest.fixture(scope="module")
def shared_api(redis_port: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApi]:
    """One conforming production API for the tests that do not need special config."""
    factory = ApiFactory(redis_port, tmp_path_factory.mktemp("shared"))
    factory._next_db = 15
    try:
        yield factory.start()
    finally:
        factory.close()


def client_ip() -> str:
    return f"198.18.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}-{uuid.uuid4().hex[:6]}"


# ---- health, request id, openapi ---------------------------------------------------------
def test_health_is_plain_ok_with_a_request_id(shared_api: RunningApi) -> None:
    r = shared_api.client.get("/health")
    assert (r.status_code, r.text, r.headers["content-type"].split(";")[0]) == (200, "OK", "text/plain")
    assert "retry-after" not in r.headers
    assert uuid.UUID(r.headers["x-request-id"])
    assert (
        shared_api.client.get("/health", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"]
        == "abc-123"
    )


def test_openapi_fingerprints_the_build_and_lists_every_route(shared_api: RunningApi) -> None:
    doc = shared_api.client.get("/openapi.json").json()
    assert "api-build-1" in doc["info"]["version"]
    for path in (
        "/api/v1/blueprints",
        "/api/v1/migrations/{from}/{to}",
        "/admin/tools/import",
        "/internal/enrich-tool",
    ):
        assert path in doc["paths"]
    assert (
        doc["paths"]["/admin/tools/import"]["post"]["requestBody"]["content"]["application/json"]["schema"][
            "properties"
        ]["tools"]["minItems"]
        == 1
    )


def test_errors_are_json_with_the_request_id(shared_api: RunningApi) -> None:
    r = shared_api.client.get(
        "/api/v1/tools/nope", headers={"X-Request-ID": "rid-1", "x-forwarded-for": client_ip()}
    )
    assert r.status_code == 404
    assert r.json() == {"error": r.json()["error"], "requestId": "rid-1"}


# ---- CORS (R10) ------------------------------------------------------------------------
def test_cors_allows_only_the_configured_origin(shared_api: RunningApi) -> None:
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "x-ai-provider"}
    ok = shared_api.client.options("/api/v1/blueprints", headers={"Origin": ORIGIN, **preflight})
    assert ok.status_code == 204
    assert ok.headers["access-control-allow-origin"] == ORIGIN
    assert ok.headers["access-control-allow-credentials"] == "true"
    assert "X-AI-Provider" in ok.headers["access-control-allow-headers"]
    simple = shared_api.client.get("/health", headers={"Origin": ORIGIN})
    assert simple.headers["access-control-allow-origin"] == ORIGIN
    for other in (
        "https://evilstackfast.app",
        "null",
        "http://stackfast.app",
        "https://stackfast.app:8443",
        "https://Stackfast.app",
    ):
        r = shared_api.client.options("/admin/tools/import", headers={"Origin": other, **preflight})
        assert "access-control-allow-origin" not in r.headers, other


# ---- admin guard (R8) -------------------------------------------------------------------
@pytest.mark.parametrize(
    "method, path",
    [
        ("POST", "/admin/tools/import"),
        ("GET", "/admin"),
        ("DELETE", "/admin/"),
        ("PUT", "/internal/x/y"),
        ("POST", "/%61dmin/tools/import"),
        ("POST", "//admin/tools/import"),
        ("GET", "/ADMIN/anything"),
    ],
)
def test_admin_guard_answers_401_without_a_key(shared_api: RunningApi, method: str, path: str) -> None:
    url = shared_api.url + path  # a full URL: httpx would read a leading "//" as a host
    r = shared_api.client.request(method, url, content=b"{not json", headers={"X-Admin-API-Key": "wrong"})
    assert r.status_code == 401
    assert r.json()["requestId"] == r.headers["x-request-id"]


def test_admin_key_is_accepted_as_header_or_bearer(shared_api: RunningApi) -> None:
    body = {"tools": [{"id": "bun", "name": "Bun"}]}
    assert shared_api.client.post(
        "/admin/tools/import", json=body, headers={"X-Admin-API-Key": ADMIN_KEY}
    ).json() == {"accepted": 1}
    bearer = {"Authorization": f"bEaReR {ADMIN_KEY}"}
    assert (
        shared_api.client.post("/admin/tools/import", json={"tools": []}, headers=bearer).status_code == 400
    )
    assert shared_api.client.post("/admin/compatibility/recompute", headers=bearer).status_code == 202
    assert (
        shared_api.client.post("/internal/enrich-tool", json={"toolId": "bun"}, headers=bearer).status_code
        == 202
    )
    assert shared_api.client.get("/admin/unknown", headers=bearer).status_code == 404
    assert (
        shared_api.client.post(
            "/admin/tools/import", json=body, headers={"Authorization": f"Bearer {ADMIN_KEY[:-1]}"}
        ).status_code
        == 401
    )
    assert any("[admin] accepted POST /admin/tools/import" in line for line in shared_api.log_lines())


def test_admin_without_configured_key_refuses_everything(start_api: Callable[..., RunningApi]) -> None:
    api = start_api(ADMIN_API_KEY="")
    for headers in ({}, {"X-Admin-API-Key": ""}, {"Authorization": "Bearer"}):
        assert api.client.post("/admin/compatibility/recompute", headers=headers).status_code == 401


# ---- rate limiter (R4, R6) -----------------------------------------------------------------
def test_generation_bucket_is_shared_limits_and_retry_after(shared_api: RunningApi) -> None:
    ip = client_ip()
    headers = {"x-forwarded-for": ip}
    statuses = [
        shared_api.client.post(p, json={}, headers=headers).status_code
        for p in ("/api/v1/blueprints", "/api/v1/scaffolds", "/api/v1/blueprints")
    ]
    assert statuses == [401, 401, 401]  # limiter before auth: spent even without a session
    over = shared_api.client.post("/api/v1/scaffolds", json={}, headers=headers)
    assert over.status_code == 429
    assert 1 <= int(over.headers["retry-after"]) <= 2
    # generation requests did not draw on the read bucket; other clients are untouched
    assert all(
        shared_api.client.get("/api/v1/categories", headers=headers).status_code == 200 for _ in range(5)
    )
    assert shared_api.client.get("/api/v1/categories", headers=headers).status_code == 429
    assert (
        shared_api.client.post(
            "/api/v1/blueprints", json={}, headers={"x-forwarded-for": client_ip()}
        ).status_code
        == 401
    )
    assert shared_api.client.get("/health", headers=headers).status_code == 200  # R4.9


def test_bucket_key_prefers_forwarded_for_then_cf_then_local(start_api: Callable[..., RunningApi]) -> None:
    api = start_api()
    import redis

    store = redis.Redis.from_url(api.env["REDIS_URL"])
    api.client.get(
        "/api/v1/catalog", headers={"x-forwarded-for": "1.1.1.1, 2.2.2.2", "cf-connecting-ip": "3.3.3.3"}
    )
    api.client.get("/api/v1/catalog", headers={"cf-connecting-ip": "3.3.3.3"})
    api.client.get("/api/v1/catalog")
    assert {k.decode() for k in store.keys("*")} == {"read:1.1.1.1, 2.2.2.2", "read:3.3.3.3", "read:local"}
    store.close()


def test_counts_survive_a_restart(start_api: Callable[..., RunningApi]) -> None:
    first = start_api(RATE_LIMIT_WINDOW_SECONDS="30", db="14")
    headers = {"x-forwarded-for": client_ip()}
    assert all(first.client.get("/api/v1/categories", headers=headers).status_code == 200 for _ in range(5))
    first.proc.terminate()
    first.proc.wait(timeout=5)
    second = start_api(RATE_LIMIT_WINDOW_SECONDS="30", db=14)
    r = second.client.get("/api/v1/categories", headers=headers)
    assert r.status_code == 429 and 1 <= int(r.headers["retry-after"]) <= 30


def test_fail_open_when_redis_is_down_logs_once(start_api: Callable[..., RunningApi]) -> None:
    api = start_api(REDIS_URL=f"redis://127.0.0.1:{_free_port()}/0", RATE_LIMIT_WINDOW_SECONDS="60")
    statuses = {api.client.get("/api/v1/categories").status_code for _ in range(8)}
    assert statuses == {200}
    warnings = [line for line in api.log_lines() if line.startswith("[rate-limit] upstash unavailable: ")]
    assert len(warnings) == 1, api.log_lines()


# ---- auth (R3, R11, R2.3) --------------------------------------------------------------------
class _FakeGitHub(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # token exchange
        form = parse_qs(self.rfile.read(int(self.headers["content-length"])).decode())
        self._json({"access_token": "tok-" + form["code"][0]})

    def do_GET(self) -> None:  # user profile
        self._json({"id": 4242, "login": "octo", "email": "octo@example.com"})

    def _json(self, payload: object) -> None:
        body = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def fake_github() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeGitHub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _sign_in(api: RunningApi) -> httpx.Response:
    started = api.client.post("/api/auth/sign-in/social", json={"provider": "github", "callbackURL": ORIGIN})
    assert started.status_code == 200, started.text
    query = parse_qs(urlsplit(started.json()["url"]).query)
    assert query["redirect_uri"] == [f"{api.env['BETTER_AUTH_URL']}/api/auth/callback/github"]
    return api.client.get("/api/auth/callback/github", params={"code": "c1", "state": query["state"][0]})


@pytest.mark.parametrize(
    "env, faults, expected",
    [
        (
            "production",
            "",
            {"Secure", "HttpOnly", "SameSite=None", "Domain=.stackfast.app", "Max-Age=604800"},
        ),
        ("local-dev", "", {"HttpOnly", "SameSite=Lax"}),
        ("production", "cookie-samesite-lax,cookie-no-domain", {"Secure", "HttpOnly", "SameSite=Lax"}),
    ],
)
def test_oauth_round_trip_sets_the_session_cookie(
    start_api: Callable[..., RunningApi], fake_github: str, env: str, faults: str, expected: set[str]
) -> None:
    overrides = {
        "STACKFAST_ENV": env,
        "GITHUB_TOKEN_URL": f"{fake_github}/token",
        "GITHUB_USER_URL": f"{fake_github}/user",
    }
    if env == "local-dev":
        overrides.update(
            NODE_ENV="development",
            BETTER_AUTH_URL="http://localhost:3000",
            COOKIE_DOMAIN="",
            ALLOW_AUTH_BYPASS="true",
        )
    api = start_api(faults=faults, **overrides)
    callback = _sign_in(api)
    assert callback.status_code == 302 and callback.headers["location"] == ORIGIN
    name, _, rest = callback.headers["set-cookie"].partition("=")
    assert name == api.env["BETTER_AUTH_URL"].startswith("https") * "__Secure-" + "better-auth.session_token"
    attributes = {part.strip() for part in rest.split(";")[1:]} - {"Path=/", "Max-Age=604800"}
    assert attributes == expected - {"Max-Age=604800"}
    with httpx.Client(base_url=api.url, cookies={name: rest.split(";")[0]}) as browser:
        assert browser.get("/api/auth/get-session").json()["user"]["name"] == "octo"
        assert (
            browser.post("/api/v1/blueprints", json={"idea": "todo app"}).json()["generatedBy"] == "handler"
        )


def test_generation_fails_closed_in_production(start_api: Callable[..., RunningApi]) -> None:
    api = start_api(DATABASE_URL="", ALLOW_AUTH_BYPASS="true")
    r = api.client.post("/api/v1/blueprints", json={"idea": "x"}, headers={"x-forwarded-for": client_ip()})
    assert r.status_code == 503 and "generatedBy" not in r.text
    assert api.client.get("/api/auth/get-session").status_code == 503


def test_local_dev_bypass_runs_the_handler(start_api: Callable[..., RunningApi]) -> None:
    api = start_api(
        STACKFAST_ENV="local-dev",
        NODE_ENV="development",
        ALLOW_AUTH_BYPASS="true",
        RATE_LIMIT_BACKEND="memory",
    )
    assert api.client.post("/api/v1/scaffolds", json={"idea": "x"}).json()["generatedBy"] == "handler"


def test_database_outage_retries_then_answers_503(start_api: Callable[..., RunningApi]) -> None:
    api = start_api()
    flag = Path(api.env["DB_OUTAGE_FLAG"])
    flag.touch()
    started = time.monotonic()
    assert api.client.get("/api/auth/get-session").status_code == 503
    assert 0.9 <= time.monotonic() - started < 5
    timer = threading.Timer(0.3, flag.unlink)
    timer.start()
    assert api.client.get("/api/auth/get-session").status_code == 200
    timer.join()


# ---- faults ----------------------------------------------------------------------------------
def test_some_faults_break_what_they_claim(start_api: Callable[..., RunningApi]) -> None:
    api = start_api(
        faults="health-not-ok,cors-suffix-match,admin-guard-skips-encoded,retry-after-missing,unknown-fault"
    )
    assert api.client.get("/health").text == "ok?"
    evil = api.client.get("/health", headers={"Origin": "https://evilstackfast.app"})
    assert evil.headers["access-control-allow-origin"] == "https://evilstackfast.app"
    assert api.client.post("/%61dmin/compatibility/recompute").status_code == 202
    assert api.client.post(api.url + "//internal/enrich-tool", json={"toolId": "x"}).status_code == 202
    assert api.client.post("/admin/compatibility/recompute").status_code == 401
    headers = {"x-forwarded-for": client_ip()}
    statuses = [api.client.get("/api/v1/catalog", headers=headers) for _ in range(6)]
    assert statuses[-1].status_code == 429 and "retry-after" not in statuses[-1].headers


def test_every_registered_fault_is_implemented() -> None:
    entries = yaml.safe_load(FAULTS_FILE.read_text())
    source = "\n".join(p.read_text() for p in PACKAGE_DIR.glob("*.py"))
    names = [entry["name"] for entry in entries]
    assert len(names) == len(set(names))
    for entry in entries:
        assert set(entry) <= {"name", "component", "description", "breaks", "env", "needs", "errors_elsewhere",
                              "window_seconds", "args"}
        assert entry["component"] == "api" and entry["breaks"]
        assert all(re.fullmatch(r"R\d+\.\d+", c) for c in entry["breaks"])
        assert f'"{entry["name"]}"' in source, entry["name"]


# ---- every fault, in-process (fast): the fault changes what it claims ----------------------
def _inprocess_env(tmp_path: Path, faults: str, **overrides: str) -> dict[str, str]:
    return {
        "STACKFAST_ENV": "production",
        "CORS_ORIGIN": ORIGIN,
        "BETTER_AUTH_URL": "https://api.stackfast.app",
        "BETTER_AUTH_SECRET": "s" * 43,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'auth.db'}",
        "ADMIN_API_KEY": ADMIN_KEY,
        "GITHUB_CLIENT_ID": "cid",
        "COOKIE_DOMAIN": ".stackfast.app",
        "RATE_LIMIT_BACKEND": "memory",
        "GENERATION_LIMIT": "2",
        "READ_LIMIT": "2",
        "RATE_LIMIT_WINDOW_SECONDS": "60",
        "LOG_FILE": str(tmp_path / "api.log"),
        "DB_OUTAGE_FLAG": str(tmp_path / "outage"),
        "DB_RETRY_SECONDS": "0.3",
        "REF_FAULTS": faults,
        **overrides,
    }


class InProcess:
    def __init__(self, tmp_path: Path, faults: str = "", **overrides: str) -> None:
        from stackfast_conformance.reference.api import ApiConfig, create_app

        self.tmp_path = tmp_path
        self.app = create_app(ApiConfig.from_env(_inprocess_env(tmp_path, faults, **overrides)))
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://api.test"
        )

    def log(self) -> list[str]:
        return (self.tmp_path / "api.log").read_text().splitlines()


async def _statuses(api: InProcess, method: str, path: str, n: int, **kw: object) -> list[int]:
    return [(await api.client.request(method, path, **kw)).status_code for _ in range(n)]  # type: ignore[arg-type]


PREFLIGHT = {"Access-Control-Request-Method": "POST"}
XFF = {"x-forwarded-for": "203.0.113.9"}


async def _probe(fault: str, tmp_path: Path, inject: bool) -> bool:
    """True when the fault's symptom is visible (with ``inject`` False: on the conforming app)."""
    env: dict[str, str] = {}
    if fault.startswith("local-dev"):
        env = {
            "STACKFAST_ENV": "local-dev",
            "ALLOW_AUTH_BYPASS": "true",
            "BETTER_AUTH_URL": "http://localhost:3000",
            "COOKIE_DOMAIN": "",
        }
    if fault == "auth-bypass-in-staging":
        env = {"STACKFAST_ENV": "staging", "BETTER_AUTH_URL": "https://api.staging.stackfast.app"}
    if fault == "admin-empty-key-accepted":
        env = {"ADMIN_API_KEY": ""}
    if fault in ("auth-not-ready-handler-runs",):
        env = {"DATABASE_URL": ""}
    if fault == "limiter-fails-closed" or fault == "fail-open-log-every-request":
        env = {"RATE_LIMIT_BACKEND": "upstash", "REDIS_URL": f"redis://127.0.0.1:{_free_port()}/0"}
    tmp_path.mkdir(parents=True, exist_ok=True)
    if fault == "rollback-schema-mismatch":  # a newer build migrated the schema; then build 1 is rolled back to
        InProcess(tmp_path, fault if inject else "", BUILD_ID="api-build-2")
        env = {"BUILD_ID": "api-build-1"}
    api = InProcess(tmp_path, fault if inject else "", **env)
    c = api.client
    idea = {"idea": "x"}
    match fault:
        case "health-not-ok":
            return (await c.get("/health")).text != "OK"
        case "health-empty-body":
            return (await c.get("/health")).text == ""
        case "health-503" | "slow-health-after-start":
            return (await c.get("/health")).status_code == 503
        case "health-requires-auth":
            return (await c.get("/health")).status_code == 401
        case "health-rate-limited":
            return 429 in await _statuses(api, "GET", "/health", 3, headers=XFF)
        case "cors-wildcard":
            return (await c.get("/health", headers={"Origin": ORIGIN})).headers[
                "access-control-allow-origin"
            ] == "*"
        case "cors-reflect-any-origin" | "cors-suffix-match":
            r = await c.options(
                "/api/v1/catalog", headers={"Origin": "https://evilstackfast.app", **PREFLIGHT}
            )
            return "access-control-allow-origin" in r.headers
        case "cors-missing-ai-provider-header":
            r = await c.options("/api/v1/catalog", headers={"Origin": ORIGIN, **PREFLIGHT})
            return "X-AI-Provider" not in r.headers["access-control-allow-headers"]
        case "cors-no-credentials":
            return (
                "access-control-allow-credentials"
                not in (await c.get("/health", headers={"Origin": ORIGIN})).headers
            )
        case "generation-limit-off-by-one":
            return 429 not in await _statuses(api, "POST", "/api/v1/blueprints", 3, json={}, headers=XFF)
        case "read-limit-off-by-one":
            return 429 not in await _statuses(api, "GET", "/api/v1/catalog", 3, headers=XFF)
        case "generation-buckets-split":
            first = await _statuses(api, "POST", "/api/v1/blueprints", 2, json={}, headers=XFF)
            return 429 not in first + await _statuses(
                api, "POST", "/api/v1/scaffolds", 1, json={}, headers=XFF
            )
        case "generation-draws-read-bucket":
            await _statuses(api, "POST", "/api/v1/blueprints", 2, json={}, headers=XFF)
            return 429 in await _statuses(api, "GET", "/api/v1/catalog", 1, headers=XFF)
        case "bucket-key-ignores-forwarded-for":
            await _statuses(api, "GET", "/api/v1/catalog", 2, headers={"x-forwarded-for": "a"})
            return 429 in await _statuses(api, "GET", "/api/v1/catalog", 1, headers={"x-forwarded-for": "b"})
        case "bucket-key-prefers-cf":
            await _statuses(
                api, "GET", "/api/v1/catalog", 2, headers={"x-forwarded-for": "a", "cf-connecting-ip": "z"}
            )
            return 429 in await _statuses(
                api, "GET", "/api/v1/catalog", 1, headers={"x-forwarded-for": "b", "cf-connecting-ip": "z"}
            )
        case "retry-after-missing" | "retry-after-wrong":
            r = [await c.get("/api/v1/catalog", headers=XFF) for _ in range(3)][-1]
            return r.status_code == 429 and not 1 <= int(r.headers.get("retry-after", "0")) <= 60
        case "retry-after-on-success":
            return "retry-after" in (await c.get("/api/v1/catalog", headers=XFF)).headers
        case "limiter-fails-closed":
            return (await c.get("/api/v1/catalog")).status_code != 200
        case "fail-open-log-every-request":
            await _statuses(api, "GET", "/api/v1/catalog", 3)
            return sum("upstash unavailable" in line for line in api.log()) > 1
        case "admin-guard-after-validation":
            return (await c.post("/admin/tools/import", content=b"{bad")).status_code == 400
        case "admin-guard-known-routes-only":
            return (await c.get("/admin/whatever")).status_code == 404
        case "admin-bearer-rejected":
            r = await c.post(
                "/admin/compatibility/recompute", headers={"Authorization": f"Bearer {ADMIN_KEY}"}
            )
            return r.status_code == 401
        case "admin-empty-key-accepted":
            return (await c.post("/admin/compatibility/recompute")).status_code == 202
        case "admin-guard-skips-encoded":
            return (await c.post("/%61dmin/compatibility/recompute")).status_code == 202
        case "admin-key-prefix-accepted":
            r = await c.post("/admin/compatibility/recompute", headers={"X-Admin-API-Key": ADMIN_KEY[:5]})
            return r.status_code == 202
        case "auth-bypass-in-production" | "auth-bypass-in-staging" | "auth-not-ready-handler-runs":
            return (await c.post("/api/v1/blueprints", json=idea)).status_code == 200
        case "local-dev-no-bypass":
            return (await c.post("/api/v1/blueprints", json=idea)).status_code == 401
        case "cookie-samesite-lax" | "cookie-no-domain" | "cookie-not-secure" | "local-dev-samesite-none":
            header = api.app.auth._cookie_header("v", 60)
            wanted = {
                "cookie-samesite-lax": "SameSite=None",
                "cookie-no-domain": "Domain=",
                "cookie-not-secure": "; Secure",
            }
            return (
                "SameSite=None" in header
                if fault == "local-dev-samesite-none"
                else wanted[fault] not in header
            )
        case "oauth-wrong-callback":
            r = await c.post("/api/auth/sign-in/social", json={"provider": "github", "callbackURL": ORIGIN})
            return "api.stackfast.app%2Fapi%2Fauth%2Fcallback" not in r.json()["url"]
        case "db-no-retry" | "db-hangs":
            (tmp_path / "outage").touch()
            started = time.monotonic()
            try:
                r = await asyncio.wait_for(c.get("/api/auth/get-session"), 1.5)
            except TimeoutError:
                return fault == "db-hangs"
            return r.status_code == 503 and time.monotonic() - started < 0.25
        case "rollback-schema-mismatch":
            return (await c.get("/api/auth/get-session")).status_code == 500
    raise AssertionError(f"no probe for fault {fault}")


FAULT_NAMES = [entry["name"] for entry in yaml.safe_load(FAULTS_FILE.read_text())]
# Faults with a fast in-process probe here; every fault (these included) is also run end to end by the
# kill matrix (tests/test_kill_matrix.py), which is where a fault without a probe is proven.
PROBED = set(re.findall(r'case ((?:"[a-z0-9-]+"(?: \| )?)+):', Path(__file__).read_text()))
PROBED = {name for group in PROBED for name in re.findall(r'"([a-z0-9-]+)"', group)}


@pytest.mark.parametrize("fault", [name for name in FAULT_NAMES if name in PROBED])
def test_each_fault_shows_its_symptom_only_when_injected(fault: str, tmp_path: Path) -> None:
    assert asyncio.run(_probe(fault, tmp_path / "faulty", inject=True)) is True
    assert asyncio.run(_probe(fault, tmp_path / "conforming", inject=False)) is False


def test_counts_lost_on_restart_fault_resets_buckets(start_api: Callable[..., RunningApi]) -> None:
    first = start_api(faults="counts-lost-on-restart", RATE_LIMIT_WINDOW_SECONDS="30", db="13")
    headers = {"x-forwarded-for": client_ip()}
    assert [first.client.get("/api/v1/categories", headers=headers).status_code for _ in range(6)][-1] == 429
    first.proc.terminate()
    first.proc.wait(timeout=5)
    second = start_api(faults="counts-lost-on-restart", RATE_LIMIT_WINDOW_SECONDS="30", db=13)
    assert second.client.get("/api/v1/categories", headers=headers).status_code == 200
