"""The reference supervisor: owns every process of the embedded deployment.

Started as ``python -m stackfast_conformance.reference serve --state-dir DIR``; writes
``DIR/state.json`` once everything answers and serves a loopback control API used by
``reference.ctl`` (operator actions). SIGTERM/SIGINT, or EOF on stdin with
``--watch-stdin``, stops every child process group. Children carry
PR_SET_PDEATHSIG=SIGKILL, so none outlives a killed supervisor.
"""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import json
import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import _ca, _planted, _proc, _serve
from ._link import MODES, UpstashLink

PKG = "stackfast_conformance.reference"
API_MODULE_ENV = "STACKFAST_REFERENCE_API_MODULE"  # lets the project's own tests run a stand-in API
START_DEADLINE_SECONDS = 30.0
DEPLOY_DEADLINE_SECONDS = 30.0
CERT_HOSTS = ["stackfast.app", "api.stackfast.app", "staging.stackfast.app", "api.staging.stackfast.app",
              "github.com"]
OAUTH_HOST = "github.com"
PROJECT_ROOT = str(Path(__file__).resolve().parents[2])


class ActionError(RuntimeError):
    pass


def _secret() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()


@dataclass
class Slot:
    """One running process of a service."""
    proc: subprocess.Popen[bytes]
    port: int
    build: int

    def info(self, role: str) -> dict[str, Any]:
        return {"pid": self.proc.pid, "port": self.port, "build": self.build,
                "build_id": f"{role}-build-{self.build}", "url": f"http://127.0.0.1:{self.port}"}


@dataclass
class Stack:
    name: str                  # production | staging | local-dev
    web_host: str | None       # None for local-dev (plain http on loopback ports)
    api_host: str | None
    redis_db: int
    auth_secret: str
    admin_key: str
    client_id: str
    client_secret: str
    web_port: int = 0
    api_port: int = 0
    link: UpstashLink | None = None
    api: Slot | None = None
    web: Slot | None = None
    history: dict[str, list[int]] = field(default_factory=lambda: {"api": [1], "web": [1]})
    next_build: dict[str, int] = field(default_factory=lambda: {"api": 2, "web": 2})

    @property
    def web_origin(self) -> str:
        return f"https://{self.web_host}" if self.web_host else f"http://127.0.0.1:{self.web_port}"

    @property
    def api_origin(self) -> str:
        return f"https://{self.api_host}" if self.api_host else f"http://127.0.0.1:{self.api_port}"

    @property
    def api_route_key(self) -> str:
        return self.api_host or f"api.{self.name}"


class Supervisor:
    def __init__(self, args: Any) -> None:
        self.dir = Path(args.state_dir).resolve()
        self.env = args.env
        self.fault_names = frozenset(args.fault or ())
        self.variant_names = frozenset(getattr(args, "variant", None) or ())
        # one switch set: components test a harmless variant exactly like a fault (REF_FAULTS)
        self.faults = self.fault_names | self.variant_names
        self.planted = _planted.generate() if _planted.faults_on(self.faults) else None  # leak-secrets-* faults
        self.window_seconds = args.window_seconds
        self.db_retry_seconds = args.db_retry_seconds
        self.admin_key_unset = args.admin_key_unset
        self.staging = args.env == "production" and not args.no_staging
        self.ca_cn = args.ca_name
        self.api_module = os.environ.get(API_MODULE_ENV) or f"{PKG}.api"
        self.logs = self.dir / "logs"
        self.routes_file = self.dir / "routes.json"
        self.stacks: dict[str, Stack] = {}
        self.redis: subprocess.Popen[bytes] | None = None
        self.redis_port = 0
        self.store = ""
        self.oauth: subprocess.Popen[bytes] | None = None
        self.oauth_port = 0
        self.edge: subprocess.Popen[bytes] | None = None
        self.edge_https_port = 0
        self.edge_http_port = 0
        self.cert: _ca.IssuedCertificate | None = None
        self.control_port = 0
        self.lock = asyncio.Lock()
        self.stopping = asyncio.Event()

    # ---------------------------------------------------------------- configuration
    def _child_env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("STACKFAST_")}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (PROJECT_ROOT, os.environ.get("PYTHONPATH", "")) if p)
        env["PYTHONUNBUFFERED"] = "1"
        env["REF_FAULTS"] = ",".join(sorted(self.faults))
        env.update(extra)
        return env

    def _make_stacks(self) -> None:
        if self.env == "local-dev":
            names = ["local-dev"]
        else:
            names = ["production"] + (["staging"] if self.staging else [])
        for name in names:
            hosts = {"production": ("stackfast.app", "api.stackfast.app"),
                     "staging": ("staging.stackfast.app", "api.staging.stackfast.app")}.get(name, (None, None))
            tag = {"production": "prod", "staging": "stg", "local-dev": "dev"}[name]
            self.stacks[name] = Stack(
                name=name, web_host=hosts[0], api_host=hosts[1], redis_db={"staging": 1}.get(name, 0),
                auth_secret=_secret(), admin_key=_secret(),
                client_id=f"Iv1.{tag}{secrets.token_hex(6)}", client_secret=secrets.token_hex(20),
            )
        prod, stg = self.stacks.get("production"), self.stacks.get("staging")
        if prod and stg:
            if "shared-redis-staging" in self.faults:
                stg.redis_db = prod.redis_db
            if "shared-admin-key" in self.faults:
                stg.admin_key = prod.admin_key
            if "staging-oauth-prod-client" in self.faults:
                stg.client_id, stg.client_secret = prod.client_id, prod.client_secret

    def _api_env(self, stack: Stack, build: int, port: int) -> dict[str, str]:
        local = stack.name == "local-dev"
        assert stack.link is not None
        oauth = f"http://127.0.0.1:{self.oauth_port}"
        return self._child_env(
            PORT=str(port), HOST="127.0.0.1", STACKFAST_ENV=stack.name,
            NODE_ENV="development" if local else "production",
            CORS_ORIGIN=stack.web_origin,
            BETTER_AUTH_URL=stack.web_origin if local else stack.api_origin,
            BETTER_AUTH_SECRET=stack.auth_secret,
            ALLOW_AUTH_BYPASS="true" if local else "false",
            DATABASE_URL=f"sqlite:///{self.dir / f'db-{stack.name}.sqlite3'}",
            ADMIN_API_KEY="" if self.admin_key_unset else stack.admin_key,
            GITHUB_CLIENT_ID=stack.client_id, GITHUB_CLIENT_SECRET=stack.client_secret,
            GITHUB_AUTHORIZE_URL=(f"{oauth}/login/oauth/authorize" if local
                                  else f"https://{OAUTH_HOST}/login/oauth/authorize"),
            GITHUB_TOKEN_URL=f"{oauth}/login/oauth/access_token", GITHUB_USER_URL=f"{oauth}/user",
            COOKIE_DOMAIN="" if local else "." + (stack.web_host or ""),
            REDIS_URL=f"redis://127.0.0.1:{stack.link.port}/{stack.redis_db}",
            REDIS_TIMEOUT_SECONDS="1", RATE_LIMIT_BACKEND="upstash",
            RATE_LIMIT_WINDOW_SECONDS=str(self.window_seconds), GENERATION_LIMIT="30", READ_LIMIT="100",
            BUILD_ID=f"api-build-{build}", LOG_FILE=str(self.logs / f"api-{stack.name}.log"),
            DB_OUTAGE_FLAG=str(self._outage_flag(stack)), DB_RETRY_SECONDS=str(self.db_retry_seconds),
            **_planted.api_env(self.planted),
        )

    def _web_env(self, stack: Stack, build: int, port: int) -> dict[str, str]:
        extra: dict[str, str] = {}
        same_origin = stack.name == "production" and "web-spa-same-origin-api" in self.faults
        if stack.name == "local-dev" or same_origin or (stack.name == "production" and "web-proxies-api" in self.faults):
            extra = {"WEB_ROUTES_FILE": str(self.routes_file), "WEB_PROXY_HOST": stack.api_route_key}
        api_base = "" if stack.name == "local-dev" or same_origin else stack.api_origin
        return self._child_env(PORT=str(port), BUILD_ID=f"web-build-{build}", WEB_API_BASE=api_base, **extra)

    def _outage_flag(self, stack: Stack) -> Path:
        return self.dir / f"db-outage-{stack.name}.flag"

    def _write_routes(self) -> None:
        hosts: dict[str, str] = {OAUTH_HOST: f"http://127.0.0.1:{self.oauth_port}"}
        for s in self.stacks.values():
            if s.api:
                hosts[s.api_route_key] = f"http://127.0.0.1:{s.api.port}"
            if s.web and s.web_host:
                hosts[s.web_host] = f"http://127.0.0.1:{s.web.port}"
        tmp = self.routes_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"hosts": hosts, "written_at": time.time()}, indent=1))
        os.replace(tmp, self.routes_file)

    # ---------------------------------------------------------------- processes
    def _spawn(self, stack: Stack, role: str, build: int, port: int) -> Slot:
        env = self._api_env(stack, build, port) if role == "api" else self._web_env(stack, build, port)
        module = self.api_module if role == "api" else f"{PKG}.web"
        log = self.logs / f"{role}-{stack.name}.out"
        with open(log, "ab") as f:
            f.write(f"--- {time.strftime('%H:%M:%S')} start {role}-build-{build} on port {port}\n".encode())
        return Slot(_proc.spawn([sys.executable, "-m", module], env, log), port, build)

    async def _ready(self, stack: Stack, role: str, slot: Slot, *, listening_only: bool = False) -> None:
        deadline = time.monotonic() + DEPLOY_DEADLINE_SECONDS
        what = f"{stack.name} {role}-build-{slot.build}"
        try:
            if listening_only:
                await _proc.wait_tcp(slot.port, slot.proc, deadline, what)
            else:
                path = "/health" if role == "api" else "/"
                await _proc.wait_http(f"http://127.0.0.1:{slot.port}{path}", slot.proc, deadline, what)
        except _proc.NotReady as exc:
            log = self.logs / f"{role}-{stack.name}.out"
            raise ActionError(f"{exc}\n--- last lines of {log}:\n{_proc.tail(log)}") from None

    def _start_redis(self) -> None:
        exe = shutil.which("redis-server") or ("/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists()
                                               else None)
        if exe is None:
            raise ActionError("redis-server is not installed: the reference keeps rate-limit counts in Redis. "
                              "Install it with `apt-get install redis-server` (Debian/Ubuntu).")
        self.redis_port = _proc.free_port()
        version = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
        self.store = f"{exe} ({version.split(' sha=')[0]})"
        self.redis = _proc.spawn(
            [exe, "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--daemonize", "no", "--databases", "4", "--dir", str(self.dir)],
            self._child_env(), self.logs / "redis.out")

    async def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(exist_ok=True)
        if self.planted:
            _planted.write(self.dir, self.planted)
        if importlib.util.find_spec(self.api_module) is None:
            raise ActionError(f"the reference API module {self.api_module} is not importable")
        self._make_stacks()
        if self.env != "local-dev":
            self.cert = _ca.issue(self.dir, CERT_HOSTS, faults=self.faults, ca_cn=self.ca_cn)
        self._start_redis()
        for stack in self.stacks.values():
            stack.link = UpstashLink(stack.name, self.redis_port)
            await stack.link.start()
        prod, stg = self.stacks.get("production"), self.stacks.get("staging")
        if prod and stg and "shared-redis-staging" in self.faults:
            assert stg.link is not None and prod.link is not None
            await stg.link.close()
            stg.link = prod.link  # the same Upstash database: same URL and token
        self.oauth_port = _proc.free_port()
        clients = {s.client_id: {"secret": s.client_secret, "callback": f"{s.api_origin}/api/auth/callback/github"}
                   for s in self.stacks.values()}
        self.oauth = _proc.spawn([sys.executable, "-m", f"{PKG}.oauth"],
                                 self._child_env(PORT=str(self.oauth_port), OAUTH_CLIENTS=json.dumps(clients)),
                                 self.logs / "oauth.out")
        for stack in self.stacks.values():
            stack.api_port, stack.web_port = _proc.free_port(), _proc.free_port()
        for stack in self.stacks.values():
            stack.api = self._spawn(stack, "api", 1, stack.api_port)
            stack.web = self._spawn(stack, "web", 1, stack.web_port)
        self._write_routes()
        waits = [_proc.wait_redis(self.redis_port, self.redis, time.monotonic() + START_DEADLINE_SECONDS)]
        if self.cert is not None:
            self.edge_https_port, self.edge_http_port = _proc.free_port(), _proc.free_port()
            self.edge = _proc.spawn(
                [sys.executable, "-m", f"{PKG}.edge"],
                self._child_env(EDGE_ROUTES_FILE=str(self.routes_file), EDGE_HTTPS_PORT=str(self.edge_https_port),
                                EDGE_HTTP_PORT=str(self.edge_http_port), EDGE_CERT=str(self.cert.leaf_chain_pem),
                                EDGE_KEY=str(self.cert.leaf_key_pem)),
                self.logs / "edge.out")
            deadline = time.monotonic() + START_DEADLINE_SECONDS
            waits += [_proc.wait_tcp(self.edge_https_port, self.edge, deadline, "edge (https)"),
                      _proc.wait_tcp(self.edge_http_port, self.edge, deadline, "edge (http)")]
        waits.append(_proc.wait_http(f"http://127.0.0.1:{self.oauth_port}/_health", self.oauth,
                                     time.monotonic() + START_DEADLINE_SECONDS, "fake GitHub"))
        for stack in self.stacks.values():
            assert stack.api and stack.web
            waits += [self._ready(stack, "api", stack.api), self._ready(stack, "web", stack.web)]
        results = await asyncio.gather(*waits, return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise ActionError("the reference did not come up:\n" + "\n".join(str(e) for e in errors))

    async def shutdown(self) -> None:
        procs: list[subprocess.Popen[bytes] | None] = [self.edge]
        for s in self.stacks.values():
            procs += [s.web.proc if s.web else None, s.api.proc if s.api else None]
        procs += [self.oauth, self.redis]
        await asyncio.gather(*(_proc.stop(p, grace=3.0) for p in procs if p is not None))
        for s in self.stacks.values():
            if s.link:
                await s.link.close()

    # ---------------------------------------------------------------- state
    def state(self) -> dict[str, Any]:
        stacks: dict[str, Any] = {}
        for s in self.stacks.values():
            assert s.link is not None
            stacks[s.name] = {
                "web_url": s.web_origin, "api_url": s.api_origin,
                "web_host": s.web_host, "api_host": s.api_host,
                "direct_web_url": f"http://127.0.0.1:{s.web.port}" if s.web else None,
                "direct_api_url": f"http://127.0.0.1:{s.api.port}" if s.api else None,
                "api": s.api.info("api") if s.api else None, "web": s.web.info("web") if s.web else None,
                "api_history": s.history["api"], "web_history": s.history["web"],
                "redis_db": s.redis_db, "redis_url": f"redis://127.0.0.1:{s.link.port}/{s.redis_db}",
                "upstash_link": {"port": s.link.port, "mode": s.link.mode},
                "github_client_id": s.client_id,
                "cookie_domain": "" if s.name == "local-dev" else "." + (s.web_host or ""),
                "log_file": str(self.logs / f"api-{s.name}.log"),
                "api_output": str(self.logs / f"api-{s.name}.out"),
                "db_outage_flag": str(self._outage_flag(s)), "db_outage": self._outage_flag(s).exists(),
                "admin_key_unset": self.admin_key_unset,
            }
        edge_hosts = [h for s in self.stacks.values() for h in (s.web_host, s.api_host) if h] + [OAUTH_HOST]
        connect_to: list[str] = []
        rules: list[str] = []
        if self.cert is not None:
            for h in edge_hosts:
                connect_to += [f"{h}:443:127.0.0.1:{self.edge_https_port}", f"{h}:80:127.0.0.1:{self.edge_http_port}"]
                rules.append(f"MAP {h} 127.0.0.1:{self.edge_https_port}")
        return {
            "version": 1, "pid": os.getpid(), "env": self.env, "faults": sorted(self.fault_names),
            "variants": sorted(self.variant_names),
            "window_seconds": self.window_seconds, "db_retry_seconds": self.db_retry_seconds,
            "state_dir": str(self.dir), "control_url": f"http://127.0.0.1:{self.control_port}",
            "store": self.store, "redis": {"port": self.redis_port, "pid": self.redis.pid if self.redis else None},
            "oauth": {"direct_url": f"http://127.0.0.1:{self.oauth_port}", "pid": self.oauth.pid if self.oauth else None,
                      "browser_url": f"https://{OAUTH_HOST}" if self.cert else f"http://127.0.0.1:{self.oauth_port}"},
            "edge": {"https_port": self.edge_https_port, "http_port": self.edge_http_port,
                     "pid": self.edge.pid if self.edge else None, "hosts": edge_hosts if self.cert else []},
            "connect_to": connect_to,
            "host_resolver_rules": ", ".join(rules),
            "ca_bundle": str(self.cert.ca_pem) if self.cert else None,
            "ca_issuer": self.cert.issuer_cn if self.cert else None,
            "leaf_spki_sha256": self.cert.spki_sha256 if self.cert else None,
            "leaf_not_after": self.cert.not_after if self.cert else None,
            "secrets_file": str(self.dir / "secrets.json"),
            "stacks": stacks, "updated_at": time.time(),
        }

    def write_state(self) -> None:
        secrets_path = self.dir / "secrets.json"
        data = {s.name: {"admin_key": "" if self.admin_key_unset else s.admin_key,
                         "better_auth_secret": s.auth_secret, "github_client_secret": s.client_secret}
                for s in self.stacks.values()}
        fd = os.open(secrets_path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1)
        os.replace(secrets_path.with_suffix(".tmp"), secrets_path)
        tmp = self.dir / "state.json.tmp"
        tmp.write_text(json.dumps(self.state(), indent=1))
        os.replace(tmp, self.dir / "state.json")

    # ---------------------------------------------------------------- operator actions
    def _stack(self, env: str | None) -> Stack:
        name = env or self.env
        if name not in self.stacks:
            raise ActionError(f"no {name!r} stack in this reference (running: {', '.join(self.stacks)})")
        return self.stacks[name]

    async def _bounce(self, stack: Stack, role: str, build: int) -> Slot:
        """Stop the process, start ``build`` on the same port (a container restart: brief downtime)."""
        old: Slot | None = getattr(stack, role)
        assert old is not None
        await _proc.stop(old.proc)
        new = self._spawn(stack, role, build, old.port)
        setattr(stack, role, new)
        await self._ready(stack, role, new, listening_only=True)
        return new

    async def _swap(self, stack: Stack, role: str, build: int) -> Slot:
        """Zero-downtime deploy: start ``build`` on a new port, wait, switch the edge route, stop the old."""
        old: Slot | None = getattr(stack, role)
        assert old is not None
        if stack.name == "local-dev" and role == "api":
            return await self._bounce(stack, role, build)  # local dev: the API keeps its port
        new = self._spawn(stack, role, build, _proc.free_port())
        try:
            await self._ready(stack, role, new)
        except ActionError:
            await _proc.stop(new.proc)
            raise
        setattr(stack, role, new)
        self._write_routes()
        await asyncio.sleep(0.05)  # let requests routed just before the switch reach the old process
        await _proc.stop(old.proc, grace=10.0)  # uvicorn drains in-flight requests on SIGTERM
        return new

    async def _touch_other(self, stack: Stack, role: str) -> str:
        """The rollback-*-touches-* faults: roll the other service back too (or rebuild it), with downtime."""
        hist = stack.history[role]
        if len(hist) >= 2:
            hist.pop()
            build = hist[-1]
        else:
            build = stack.next_build[role]
            stack.next_build[role] += 1
            hist.append(build)
        await self._bounce(stack, role, build)
        return f"; also redeployed {role} as {role}-build-{build} (fault)"

    async def action(self, name: str, env: str | None, mode: str | None) -> str:
        async with self.lock:
            try:
                return _planted.operator_output(self.faults, self.planted, await self._action(name, env, mode))
            finally:
                self.write_state()

    async def _action(self, name: str, env: str | None, mode: str | None) -> str:
        stack = self._stack(env)
        if name == "restart-api":
            assert stack.api is not None
            slot = await self._bounce(stack, "api", stack.api.build)
            return f"{stack.name} api restarted (api-build-{slot.build}, pid {slot.proc.pid}); listening"
        if name in ("redeploy-web", "redeploy-api"):
            role = name.split("-")[1]
            build = stack.next_build[role]
            stack.next_build[role] += 1
            note = ""
            if role == "web" and "api-down-during-web-redeploy" in self.faults:
                assert stack.api is not None
                await self._bounce(stack, "api", stack.api.build)
                note = "; api restarted too (fault)"
            if role == "api" and "web-down-during-api-redeploy" in self.faults:
                assert stack.web is not None
                await self._bounce(stack, "web", stack.web.build)
                note = "; web restarted too (fault)"
            await self._swap(stack, role, build)
            stack.history[role].append(build)
            return f"{stack.name} {role} redeployed as {role}-build-{build}{note}"
        if name in ("rollback-web", "rollback-api"):
            role = name.split("-")[1]
            if f"rollback-noop-{role}" in self.faults:
                return f"{stack.name} {role} rolled back (fault rollback-noop-{role}: nothing changed)"
            hist = stack.history[role]
            if len(hist) < 2:
                raise ActionError(f"{stack.name} {role} has no previous successful build to roll back to "
                                  f"(deployed: {hist}); redeploy first")
            current = hist.pop()
            try:
                await self._swap(stack, role, hist[-1])
            except ActionError:
                hist.append(current)
                raise
            note = ""
            other = "api" if role == "web" else "web"
            if f"rollback-{role}-touches-{other}" in self.faults:
                note = await self._touch_other(stack, other)
            return f"{stack.name} {role} rolled back from {role}-build-{current} to {role}-build-{hist[-1]}{note}"
        if name == "upstash-outage":
            if mode not in MODES or mode == "pass":
                raise ActionError(f"upstash-outage needs a mode: refuse, hang or error (got {mode!r})")
            assert stack.link is not None
            stack.link.set_mode(mode)
            return f"{stack.name} upstash link now {mode}"
        if name == "upstash-recover":
            assert stack.link is not None
            stack.link.set_mode("pass")
            return f"{stack.name} upstash link now pass"
        if name == "db-outage-start":
            self._outage_flag(stack).touch()
            return f"{stack.name} database unreachable (flag {self._outage_flag(stack)})"
        if name == "db-outage-end":
            self._outage_flag(stack).unlink(missing_ok=True)
            return f"{stack.name} database reachable again"
        raise ActionError(f"unknown action {name!r}")

    # ---------------------------------------------------------------- control API
    def control_app(self) -> Any:
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import JSONResponse
        from starlette.routing import Route

        async def status(request: Request) -> JSONResponse:
            return JSONResponse(self.state())

        async def act(request: Request) -> JSONResponse:
            try:
                body = await request.json()
            except ValueError:
                body = {}
            try:
                message = await self.action(request.path_params["name"], body.get("env"), body.get("mode"))
            except ActionError as exc:
                return JSONResponse({"ok": False, "error": str(exc)}, 409)
            return JSONResponse({"ok": True, "message": message})

        async def stop(request: Request) -> JSONResponse:
            self.stopping.set()
            return JSONResponse({"ok": True, "message": "stopping"})

        return Starlette(routes=[Route("/status", status), Route("/actions/{name}", act, methods=["POST"]),
                                 Route("/stop", stop, methods=["POST"])])


async def run(args: Any) -> int:
    sup = Supervisor(args)
    loop = asyncio.get_running_loop()
    import signal
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, sup.stopping.set)
    if args.watch_stdin:
        def watch() -> None:
            try:
                while os.read(0, 1024):
                    pass
            except (OSError, ValueError):
                pass
            loop.call_soon_threadsafe(sup.stopping.set)
        threading.Thread(target=watch, daemon=True, name="stdin-watch").start()
    t0 = time.monotonic()
    server = None
    try:
        start = asyncio.create_task(sup.start())
        stop_wait = asyncio.create_task(sup.stopping.wait())
        done, _ = await asyncio.wait({start, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
        if start not in done:
            start.cancel()
            print("reference: stopped during start-up", file=sys.stderr, flush=True)
            return 1
        stop_wait.cancel()
        start.result()
        sup.control_port = _proc.free_port()
        server = _serve.make_server(sup.control_app(), sup.control_port)
        server_task = asyncio.create_task(server.serve())
        await _proc.wait_tcp(sup.control_port, None, time.monotonic() + 10, "control API")
        sup.write_state()
        names = ", ".join(sup.stacks)
        print(f"reference: ready in {time.monotonic() - t0:.1f}s: {names}; store {sup.store}; "
              f"state {sup.dir / 'state.json'}", flush=True)
        await sup.stopping.wait()
        server.should_exit = True
        await asyncio.wait_for(server_task, 10)
        return 0
    except ActionError as exc:
        print(f"reference: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        await sup.shutdown()
        try:
            (sup.dir / "state.json").unlink(missing_ok=True)
        except OSError:
            pass
