"""A one-off API process configured like the embedded reference's production API, with overrides.

R8.5 (no admin key), R11.3 (no DATABASE_URL) and R11.4 (auth init failing) are statements about
the API under a configuration the deployment under test does not have. Against the embedded
reference the check starts that configuration itself: the same module, environment and faults
(``REF_FAULTS``) as the reference's production API, its Redis, plain http on a free loopback port,
and stops it again (only that process, by its id) when the block ends.

    with variant_api(target.reference, ADMIN_API_KEY=None) as base_url:   # None = unset
        http.post(base_url + "/admin/tools/import")
"""

from __future__ import annotations

import os
import secrets
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from stackfast_conformance.failures import CouldNotDecide

START_DEADLINE_SECONDS = 20.0
API_MODULE_ENV = "STACKFAST_REFERENCE_API_MODULE"
PROJECT_ROOT = str(Path(__file__).resolve().parents[1])


def _base_env(reference, port: int, workdir: Path) -> dict[str, str]:
    production = reference.state["stacks"]["production"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("STACKFAST_")}
    env.update(
        PYTHONPATH=os.pathsep.join(p for p in (PROJECT_ROOT, os.environ.get("PYTHONPATH", "")) if p),
        PYTHONUNBUFFERED="1",
        REF_FAULTS=",".join([*(reference.state.get("faults") or ()), *(reference.state.get("variants") or ())]),
        HOST="127.0.0.1", PORT=str(port), STACKFAST_ENV="production", NODE_ENV="production",
        CORS_ORIGIN=production["web_url"], BETTER_AUTH_URL=production["api_url"],
        BETTER_AUTH_SECRET=secrets.token_urlsafe(32), ALLOW_AUTH_BYPASS="false",
        DATABASE_URL=f"sqlite:///{workdir / 'auth.sqlite3'}",
        ADMIN_API_KEY=secrets.token_urlsafe(32),
        GITHUB_CLIENT_ID=str(production.get("github_client_id") or ""),
        COOKIE_DOMAIN=str(production.get("cookie_domain") or ""),
        REDIS_URL=production["redis_url"], REDIS_TIMEOUT_SECONDS="1", RATE_LIMIT_BACKEND="upstash",
        RATE_LIMIT_WINDOW_SECONDS=str(reference.window_seconds),
        BUILD_ID="api-variant", LOG_FILE=str(workdir / "api.log"),
    )
    return env


@contextmanager
def variant_api(reference, **overrides: str | None) -> Iterator[str]:
    """Run the variant for the block; yields its base URL (``http://127.0.0.1:PORT``).

    ``overrides`` replace environment variables of the production configuration; ``None`` unsets one.
    A variant that does not answer ``/health`` in time raises ``CouldNotDecide`` (ERROR).
    """
    from stackfast_conformance.reference import _proc

    module = os.environ.get(API_MODULE_ENV) or "stackfast_conformance.reference.api"
    with tempfile.TemporaryDirectory(prefix="stackfast-variant-") as tmp:
        workdir = Path(tmp)
        port = _proc.free_port()
        env = _base_env(reference, port, workdir)
        for name, value in overrides.items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        log = workdir / "api.out"
        proc = _proc.spawn([sys.executable, "-m", module], env, log)
        try:
            base_url = f"http://127.0.0.1:{port}"
            _wait_for_health(base_url, proc, log)
            yield base_url
        finally:
            _proc.stop_sync(proc, grace=3.0)


def _wait_for_health(base_url: str, proc, log: Path) -> None:
    deadline = time.monotonic() + START_DEADLINE_SECONDS
    with httpx.Client(timeout=2.0, trust_env=False) as client:
        while True:
            if proc.poll() is not None:
                raise CouldNotDecide(f"the variant API exited with status {proc.returncode} before answering:\n"
                                     + log.read_text(errors="replace")[-1500:])
            try:
                client.get(base_url + "/health")
                return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise CouldNotDecide(f"the variant API did not answer {base_url}/health within "
                                     f"{START_DEADLINE_SECONDS:.0f} s")
            time.sleep(0.05)
