"""The embedded reference deployment: a conforming Stackfast production (and staging)
running on loopback, with a fault registry to break it on purpose.

    with start_reference(env="production", faults=("edge-redirect-302",)) as ref:
        ref.api_url, ref.connect_to, ref.ca_bundle, ref.actions["restart-api"], ref.harness_env()

``start_reference`` runs the supervisor (``python -m stackfast_conformance.reference serve``)
as a subprocess and reads its ``state.json``; see docs/ARCHITECTURE.md, "Reference deployment".
"""

from __future__ import annotations

import difflib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Fault", "Reference", "ReferenceError", "load_faults", "start_reference", "validate_fault_names"]

_FAULTS_DIR = Path(__file__).with_name("faults")
_COMPONENTS = {"api", "edge", "web", "oauth", "supervisor", "redis"}
_NEEDS = {"quota", "disruptive", "mutating"}
_ENVS = {"production", "staging", "local-dev"}
START_TIMEOUT_SECONDS = 45.0
ACTIONS = ("restart-api", "redeploy-web", "redeploy-api", "rollback-web", "rollback-api",
           "upstash-outage-refuse", "upstash-outage-hang", "upstash-outage-error", "upstash-recover",
           "db-outage-start", "db-outage-end", "logs-api", "status")


class ReferenceError(RuntimeError):
    """The reference could not start (the message says why and where its logs are)."""


@dataclass(frozen=True)
class Fault:
    name: str
    component: str
    description: str
    breaks: tuple[str, ...]
    env: str | None = None
    needs: tuple[str, ...] = ()
    # the kill matrix may see other criteria of the broken host as ERROR ("could not reach"), honestly
    errors_elsewhere: bool = False
    # a longer rate-limit window the fault's checks need (e.g. to fit a restart inside one window)
    window_seconds: int | None = None
    # extra harness arguments the kill matrix passes with this fault (e.g. a shorter DB retry budget)
    args: tuple[str, ...] = ()
    # advisory findings (title fragments) the fault must make the run record; such a fault may break nothing
    findings: tuple[str, ...] = ()
    # the fault takes a whole service away (e.g. a misrouted host): other criteria may flip with it
    collateral: bool = False


def load_faults(directory: Path | None = None) -> dict[str, Fault]:
    """Every fault of every ``reference/faults/*.yaml``; a malformed entry is a ValueError naming file:index."""
    import yaml

    faults: dict[str, Fault] = {}
    for path in sorted((directory or _FAULTS_DIR).glob("*.yaml")):
        entries = yaml.safe_load(path.read_text()) or []
        if not isinstance(entries, list):
            raise ValueError(f"{path}: expected a YAML list of faults")
        for i, e in enumerate(entries):
            where = f"{path}: entry {i + 1}"
            if not isinstance(e, dict):
                raise ValueError(f"{where}: expected a mapping")
            unknown = set(e) - {"name", "component", "description", "breaks", "env", "needs", "errors_elsewhere",
                               "window_seconds", "args", "findings", "collateral"}
            if unknown:
                raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
            for key in ("name", "component", "description", "breaks"):
                if key not in e:
                    raise ValueError(f"{where}: missing {key!r}")
            if e["component"] not in _COMPONENTS:
                raise ValueError(f"{where}: component {e['component']!r} not one of {sorted(_COMPONENTS)}")
            if e.get("env") is not None and e["env"] not in _ENVS:
                raise ValueError(f"{where}: env {e['env']!r} not one of {sorted(_ENVS)}")
            if not set(e.get("needs") or ()) <= _NEEDS:
                raise ValueError(f"{where}: needs {e['needs']!r} must be among {sorted(_NEEDS)}")
            if e["name"] in faults:
                raise ValueError(f"{where}: fault {e['name']!r} is defined twice")
            faults[e["name"]] = Fault(str(e["name"]), str(e["component"]), str(e["description"]).strip(),
                                      tuple(str(b) for b in e["breaks"]), e.get("env"), tuple(e.get("needs") or ()),
                                      bool(e.get("errors_elsewhere", False)), e.get("window_seconds"),
                                      tuple(str(a) for a in e.get("args") or ()),
                                      tuple(str(t) for t in e.get("findings") or ()),
                                      bool(e.get("collateral", False)))
    return faults


def validate_fault_names(names: Iterable[str], known: dict[str, Fault]) -> None:
    for name in names:
        if name not in known:
            close = difflib.get_close_matches(name, list(known), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ValueError(f"unknown reference fault {name!r}{hint}")


class Reference:
    """A running reference. URLs are the logical (public) ones; reach them through ``connect_to``."""

    def __init__(self, proc: subprocess.Popen[bytes] | None, state_dir: Path, owned_tmp: Any = None) -> None:
        self._proc = proc
        self._tmp = owned_tmp
        self.state_dir = state_dir
        self._load()

    # state ------------------------------------------------------------------
    def _load(self) -> None:
        self.state: dict[str, Any] = json.loads((self.state_dir / "state.json").read_text())
        self._secrets: dict[str, Any] = json.loads(Path(self.state["secrets_file"]).read_text())

    def refresh(self) -> dict[str, Any]:
        """Re-read state.json (ports of redeployed services change)."""
        self._load()
        return self.state

    def _stack(self, name: str) -> dict[str, Any] | None:
        return self.state["stacks"].get(name)

    @property
    def env(self) -> str:
        return str(self.state["env"])

    @property
    def _primary(self) -> dict[str, Any]:
        return self.state["stacks"]["local-dev" if self.env == "local-dev" else "production"]

    @property
    def api_url(self) -> str:
        return str(self._primary["api_url"])

    @property
    def web_url(self) -> str:
        return str(self._primary["web_url"])

    @property
    def staging_api_url(self) -> str | None:
        s = self._stack("staging")
        return s["api_url"] if s else None

    @property
    def staging_web_url(self) -> str | None:
        s = self._stack("staging")
        return s["web_url"] if s else None

    @property
    def direct_api_url(self) -> str:
        """The API process itself (http on loopback, behind the edge); re-read on each access."""
        self.refresh()
        return str(self._primary["direct_api_url"])

    @property
    def direct_web_url(self) -> str:
        self.refresh()
        return str(self._primary["direct_web_url"])

    @property
    def connect_to(self) -> list[str]:
        return list(self.state["connect_to"])

    @property
    def ca_bundle(self) -> Path | None:
        return Path(self.state["ca_bundle"]) if self.state.get("ca_bundle") else None

    @property
    def ca_issuer(self) -> str | None:
        return self.state.get("ca_issuer")

    @property
    def leaf_spki_sha256(self) -> str | None:
        """base64 SHA-256 of the edge leaf's SPKI, for Chromium's --ignore-certificate-errors-spki-list."""
        return self.state.get("leaf_spki_sha256")

    @property
    def host_resolver_rules(self) -> str:
        """For Chromium's --host-resolver-rules (maps every public host to the https edge port)."""
        return str(self.state.get("host_resolver_rules", ""))

    def chromium_args(self) -> list[str]:
        if not self.host_resolver_rules:
            return []
        return [f"--host-resolver-rules={self.host_resolver_rules}",
                f"--ignore-certificate-errors-spki-list={self.leaf_spki_sha256}"]

    @property
    def admin_key(self) -> str | None:
        key = self._secrets.get("local-dev" if self.env == "local-dev" else "production", {}).get("admin_key")
        return key or None

    @property
    def staging_admin_key(self) -> str | None:
        return self._secrets.get("staging", {}).get("admin_key") or None

    @property
    def window_seconds(self) -> int:
        return int(self.state["window_seconds"])

    @property
    def oauth_url(self) -> str:
        """The fake GitHub provider, direct (``/_last_authorize`` lives here)."""
        return str(self.state["oauth"]["direct_url"])

    @property
    def actions(self) -> dict[str, list[str]]:
        base = [sys.executable, "-m", "stackfast_conformance.reference.ctl", "--state-dir", str(self.state_dir)]
        out: dict[str, list[str]] = {}
        for name in ACTIONS:
            if name.startswith("upstash-outage-"):
                out[name] = base + ["upstash-outage", name.rsplit("-", 1)[1]]
            elif name == "logs-api":
                out[name] = base + ["logs", "api"]
            else:
                out[name] = base + [name]
        return out

    def harness_env(self) -> dict[str, str]:
        env = {"STACKFAST_API_URL": self.api_url, "STACKFAST_WEB_URL": self.web_url,
               "STACKFAST_WINDOW_SECONDS": str(self.window_seconds),
               # lets the harness (and its xdist workers) attach to this reference for operator actions
               "STACKFAST_REFERENCE_STATE_DIR": str(self.state_dir)}
        if self.staging_api_url:
            env["STACKFAST_STAGING_API_URL"] = self.staging_api_url
            env["STACKFAST_STAGING_WEB_URL"] = str(self.staging_web_url)
        if self.connect_to:
            env["STACKFAST_CONNECT_TO"] = " ".join(self.connect_to)
        if self.ca_bundle:
            env["STACKFAST_CA_BUNDLE"] = str(self.ca_bundle)
        if self.admin_key:
            env["STACKFAST_ADMIN_KEY"] = self.admin_key
        if self.staging_admin_key:
            env["STACKFAST_STAGING_ADMIN_KEY"] = self.staging_admin_key
        return env

    # lifecycle ---------------------------------------------------------------
    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.stdin:
                proc.stdin.close()  # EOF: the supervisor stops its children and exits
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> Reference:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @classmethod
    def attach(cls, state_dir: str | Path) -> Reference:
        """A handle on a reference another process started (it is not stopped by this handle)."""
        return cls(None, Path(state_dir))

    def __repr__(self) -> str:
        return f"<Reference {self.env} {self.api_url} state_dir={self.state_dir}>"


def start_reference(env: str = "production", faults: Iterable[str] = (), window_seconds: int = 60,
                    staging: bool = True, admin_key_unset: bool = False, db_retry_seconds: int = 30,
                    state_dir: str | os.PathLike[str] | None = None) -> Reference:
    """Start the supervisor and return once every process answers (a few seconds)."""
    if env not in ("production", "local-dev"):
        raise ValueError(f"env must be 'production' (with staging) or 'local-dev', not {env!r}")
    faults = tuple(faults)
    validate_fault_names(faults, load_faults())
    tmp = None
    if state_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="stackfast-ref-")
        state_dir = tmp.name
    directory = Path(state_dir).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "state.json").unlink(missing_ok=True)
    argv = [sys.executable, "-m", "stackfast_conformance.reference", "serve", "--state-dir", str(directory),
            "--env", env, "--window-seconds", str(window_seconds), "--db-retry-seconds", str(db_retry_seconds),
            "--watch-stdin"]
    argv += [a for f in faults for a in ("--fault", f)]
    if not staging:
        argv.append("--no-staging")
    if admin_key_unset:
        argv.append("--admin-key-unset")
    log = open(directory / "supervisor.out", "wb")  # noqa: SIM115 - kept by the child
    project_root = str(Path(__file__).resolve().parents[2])
    child_env = dict(os.environ)
    child_env["PYTHONPATH"] = os.pathsep.join(p for p in (project_root, os.environ.get("PYTHONPATH", "")) if p)
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, env=child_env)
    log.close()
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    state = directory / "state.json"
    while not state.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            if proc.poll() is None:
                proc.terminate()
            proc.wait()
            if proc.stdin:
                proc.stdin.close()
            out = (directory / "supervisor.out").read_text(errors="replace")[-3000:]
            if tmp is not None:
                tmp.cleanup()
            raise ReferenceError(f"the reference did not start (exit {proc.returncode}):\n{out}")
        time.sleep(0.02)
    return Reference(proc, directory, tmp)
