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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Fault", "Reference", "ReferenceError", "Variant", "load_faults", "load_variants", "start_reference",
           "validate_fault_names", "validate_variant_names"]

_FAULTS_DIR = Path(__file__).with_name("faults")
_VARIANTS_DIR = Path(__file__).with_name("variants")
_COMPONENTS = {"api", "edge", "web", "oauth", "supervisor", "redis"}
INPUT_COMPONENTS = frozenset({"checkout", "snapshot"})
_VARIANT_COMPONENTS = _COMPONENTS | INPUT_COMPONENTS
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
    # the fault plants secrets (faults/leaks.yaml): it proves masking, not a criterion; the kill matrix
    # judges it by a leak scan of the run's output (stackfast_conformance/leakscan.py)
    leak: bool = False


@dataclass(frozen=True)
class Variant:
    """A harmless behaviour a conforming Stackfast may show: every check must still pass with it on.

    Inside the reference a variant is switched on exactly like a fault (one ``REF_FAULTS`` switch set).
    Components ``checkout`` and ``snapshot`` are not reference switches: they are inputs the false-alarm
    matrix builds with ``stackfast_conformance.sample_checkout.variant_inputs``.
    """

    name: str
    component: str
    description: str
    seen: str  # where the real stack behaves this way
    env: str | None = None
    needs: tuple[str, ...] = ()
    window_seconds: int | None = None
    args: tuple[str, ...] = ()  # extra harness arguments for the matrix run
    criteria: tuple[str, ...] | None = None  # the matrix runs only these criteria's checks
    alone: bool = False  # cannot share a reference run with other variants

    @property
    def is_switch(self) -> bool:
        """Switched inside the reference (else an input: a checkout or an environment snapshot)."""
        return self.component not in INPUT_COMPONENTS


def _registry_entries(directory: Path, kind: str, allowed: set[str], required: tuple[str, ...],
                      components: set[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, entry) for every entry of every ``*.yaml`` of a registry, its shared keys validated."""
    import yaml

    for path in sorted(directory.glob("*.yaml")):
        entries = yaml.safe_load(path.read_text()) or []
        if not isinstance(entries, list):
            raise ValueError(f"{path}: expected a YAML list of {kind}s")
        for i, e in enumerate(entries):
            where = f"{path}: entry {i + 1}"
            if not isinstance(e, dict):
                raise ValueError(f"{where}: expected a mapping")
            if "name" in e:
                where = f"{path}:{e['name']}"
            unknown = set(e) - allowed
            if unknown:
                hints = [f"{k!r} (did you mean {difflib.get_close_matches(k, sorted(allowed), n=1)[0]!r}?)"
                         if difflib.get_close_matches(k, sorted(allowed), n=1) else repr(k) for k in sorted(unknown)]
                raise ValueError(f"{where}: unknown keys {', '.join(hints)}")
            for key in required:
                if key not in e:
                    raise ValueError(f"{where}: missing {key!r}")
            if e["component"] not in components:
                raise ValueError(f"{where}: component {e['component']!r} not one of {sorted(components)}")
            if e.get("env") is not None and e["env"] not in _ENVS:
                raise ValueError(f"{where}: env {e['env']!r} not one of {sorted(_ENVS)}")
            if not set(e.get("needs") or ()) <= _NEEDS:
                raise ValueError(f"{where}: needs {e['needs']!r} must be among {sorted(_NEEDS)}")
            yield where, e


def load_faults(directory: Path | None = None) -> dict[str, Fault]:
    """Every fault of every ``reference/faults/*.yaml``; a malformed entry is a ValueError naming file:entry."""
    faults: dict[str, Fault] = {}
    allowed = {"name", "component", "description", "breaks", "env", "needs", "errors_elsewhere",
               "window_seconds", "args", "findings", "collateral", "leak"}
    for where, e in _registry_entries(directory or _FAULTS_DIR, "fault", allowed,
                                      ("name", "component", "description", "breaks"), _COMPONENTS):
        if e["name"] in faults:
            raise ValueError(f"{where}: fault {e['name']!r} is defined twice")
        faults[e["name"]] = Fault(str(e["name"]), str(e["component"]), str(e["description"]).strip(),
                                  tuple(str(b) for b in e["breaks"]), e.get("env"), tuple(e.get("needs") or ()),
                                  bool(e.get("errors_elsewhere", False)), e.get("window_seconds"),
                                  tuple(str(a) for a in e.get("args") or ()),
                                  tuple(str(t) for t in e.get("findings") or ()),
                                  bool(e.get("collateral", False)), bool(e.get("leak", False)))
    return faults


def load_variants(directory: Path | None = None, faults: dict[str, Fault] | None = None) -> dict[str, Variant]:
    """Every harmless variant of every ``reference/variants/*.yaml`` (the false-alarm matrix's registry).

    A malformed entry, an unknown key or a name that is also a fault's is a ValueError naming file:entry.
    """
    faults = load_faults() if faults is None else faults
    variants: dict[str, Variant] = {}
    allowed = {"name", "component", "description", "seen", "env", "needs", "window_seconds", "args",
               "criteria", "alone"}
    for where, e in _registry_entries(directory or _VARIANTS_DIR, "variant", allowed,
                                      ("name", "component", "description", "seen"), _VARIANT_COMPONENTS):
        name = str(e["name"])
        if name in variants:
            raise ValueError(f"{where}: variant {name!r} is defined twice")
        if name in faults:
            raise ValueError(f"{where}: variant {name!r} has the name of a fault; harmless variants and faults "
                             "share one switch set, so the names must differ")
        criteria = e.get("criteria")
        if criteria is not None and (not isinstance(criteria, list) or not criteria):
            raise ValueError(f"{where}: criteria must be a non-empty list of criterion ids")
        variants[name] = Variant(name, str(e["component"]), str(e["description"]).strip(), str(e["seen"]).strip(),
                                 e.get("env"), tuple(e.get("needs") or ()), e.get("window_seconds"),
                                 tuple(str(a) for a in e.get("args") or ()),
                                 tuple(str(c) for c in criteria) if criteria else None,
                                 bool(e.get("alone", False)))
    return variants


def _validate_names(names: Iterable[str], known: dict[str, Any], kind: str, listing: str) -> None:
    for name in names:
        if name not in known:
            close = difflib.get_close_matches(name, list(known), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else f" (see `{listing}`)"
            raise ValueError(f"unknown reference {kind} {name!r}{hint}")


def validate_fault_names(names: Iterable[str], known: dict[str, Fault]) -> None:
    _validate_names(names, known, "fault", "stackfast-conformance reference --list-faults")


def validate_variant_names(names: Iterable[str], known: dict[str, Variant]) -> None:
    _validate_names(names, known, "variant", "stackfast-conformance reference --list-variants")


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
                    state_dir: str | os.PathLike[str] | None = None, variants: Iterable[str] = ()) -> Reference:
    """Start the supervisor and return once every process answers (a few seconds).

    ``variants`` are harmless variants (``reference/variants/*.yaml``) switched on like faults;
    checkout/snapshot variants are not reference switches and are refused here.
    """
    if env not in ("production", "local-dev"):
        raise ValueError(f"env must be 'production' (with staging) or 'local-dev', not {env!r}")
    faults, variants = tuple(faults), tuple(variants)
    known_faults = load_faults()
    validate_fault_names(faults, known_faults)
    if variants:
        known_variants = load_variants(faults=known_faults)
        validate_variant_names(variants, known_variants)
        inputs = [v for v in variants if not known_variants[v].is_switch]
        if inputs:
            raise ValueError(f"variant(s) {', '.join(inputs)} are inputs (a checkout or a snapshot), not reference "
                             "switches: the false-alarm matrix builds them with sample_checkout.variant_inputs")
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
    argv += [a for v in variants for a in ("--variant", v)]
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
