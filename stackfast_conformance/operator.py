"""Operator actions: the commands that restart, redeploy, roll back or break the target.

An operator wires their own commands (e.g. Railway CLI calls) in the profile file::

    operator:
      restart-api: {command: "railway redeploy --service api --yes", timeout: 300}
      rollback-web: "railway rollback --service web --yes"
      logs: {command: "railway logs --service api --json", timeout: 60}

Against the embedded reference the same actions come from ``target.reference.actions``.
What a check may rely on:

- ``Operator.require(*names)`` SKIPs the check (before it sends anything) unless every named
  action is configured and allowed: disruptive opt-in, and against the ``production`` profile
  only actions named in ``--allow-production-action`` / ``STACKFAST_ALLOW_PRODUCTION_ACTIONS``.
- ``Operator.run(name)`` runs the command with its timeout and returns an ``ActionResult``;
  a failed or timed-out command ends the check as ERROR (``CouldNotDecide``) with the tail of the
  command's output, secrets masked (``redact.py``). An action is never a pass by itself.
- ``Operator.logs(*needles)`` returns only the log lines that contain a needle (masked): what a
  check uses is what is recorded (the lines and their counts), never the whole log.
- Every action lands on the check's timeline (``kind: action``, ``t`` = start, ``duration_s``);
  its output is kept there only when it failed or timed out, trimmed to the last
  ``FAILED_OUTPUT_EXCERPT`` characters. ``Poller`` adds one ``kind: request`` entry per poll.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import re
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from stackfast_conformance.failures import CouldNotDecide

__all__ = ["ACTIONS", "ActionResult", "Operator", "Poll", "Poller", "api_fingerprint", "web_fingerprint"]

RECOVERY_OF = {"upstash-outage-refuse": "upstash-recover", "upstash-outage-hang": "upstash-recover",
               "upstash-outage-error": "upstash-recover", "db-outage-start": "db-outage-end"}
RECOVERY_ACTIONS = frozenset(RECOVERY_OF.values())  # they end an outage: a stop request lets them finish
ACTIONS = ("restart-api", "redeploy-web", "redeploy-api", "rollback-web", "rollback-api",
           "upstash-outage-refuse", "upstash-outage-hang", "upstash-outage-error", "upstash-recover",
           "db-outage-start", "db-outage-end", "logs")
DEFAULT_TIMEOUT_SECONDS = 600.0  # a Railway redeploy takes minutes
REFERENCE_TIMEOUT_SECONDS = 90.0
FAILED_OUTPUT_EXCERPT = 1500  # what a failed action's output keeps (its tail), in the error and on the timeline
LOG_LINES_KEPT = 20  # matching log lines recorded per call (their count is always recorded)
LOG_LINE_CHARS = 4000  # a recorded log line is cut after this many characters (masked before the cut)
_REFERENCE_NAMES = {"logs": "logs-api"}  # the reference's name for an action, where it differs


@dataclass(frozen=True)
class ActionSpec:
    name: str
    argv: tuple[str, ...] | None  # the reference's commands: no shell
    command: str | None  # a profile file's command: run by the shell, as the operator wrote it
    timeout: float
    source: str  # "reference" | "profile file"

    @property
    def display(self) -> str:
        return self.command if self.command is not None else shlex.join(self.argv or ())


@dataclass
class ActionResult:
    name: str
    command: str  # masked
    exit_code: int | None  # None when it timed out
    output: str  # stdout + stderr, masked; in memory only (recorded only for a failed action, trimmed)
    duration_s: float
    started: float  # seconds since the check started
    timed_out: bool = False
    timeline_entry: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return not self.timed_out and self.exit_code == 0


def _spec_from_profile(name: str, raw: Any) -> ActionSpec:
    if isinstance(raw, str):
        return ActionSpec(name, None, raw, DEFAULT_TIMEOUT_SECONDS, "profile file")
    return ActionSpec(name, None, str(raw["command"]), float(raw.get("timeout") or DEFAULT_TIMEOUT_SECONDS),
                      "profile file")


class Operator:
    """The operator actions of one check (see the module docstring for the contract)."""

    def __init__(self, settings: Any, reference: Any = None, recorder: Any = None,
                 masker: Any = None) -> None:
        from stackfast_conformance.evidence import Masker
        from stackfast_conformance.options import SECRET_ENV

        self._settings = settings
        self._reference = reference
        self._recorder = recorder
        secrets = {SECRET_ENV[k]: v for k, v in settings.secrets.items() if v and k in SECRET_ENV}
        self._masker = masker or Masker(secrets)  # every settings.secret_values(), named by its env var
        self.results: list[ActionResult] = []
        self._lock = threading.Lock()

    # -- configuration -------------------------------------------------------------------------
    def spec(self, name: str) -> ActionSpec | None:
        if name not in ACTIONS:
            raise ValueError(f"unknown operator action {name!r}; one of {', '.join(ACTIONS)}")
        if self._reference is not None:
            argv = self._reference.actions.get(_REFERENCE_NAMES.get(name, name))
            return ActionSpec(name, tuple(argv), None, REFERENCE_TIMEOUT_SECONDS, "reference") if argv else None
        raw = (self._settings.operator or {}).get(name)
        return _spec_from_profile(name, raw) if raw else None

    def configured(self, name: str) -> bool:
        return self.spec(name) is not None

    def _unconfigured_reason(self, name: str) -> str:
        reason = (f"no operator command configured for {name}: add operator.{name} to the profile file "
                  f"(a command string or {{command: ..., timeout: seconds}})")
        close = difflib.get_close_matches(name, list(self._settings.operator or {}), n=1)
        if close and close[0] not in ACTIONS:
            reason += f" (the profile file has {close[0]!r}: did you mean {name!r}?)"
        return reason

    def refusal(self, name: str) -> str | None:
        """Why ``name`` may not run in this run (None when it may)."""
        if not self._settings.opted_in("disruptive"):
            return (f"not opted in: operator action {name} disrupts the target and the {self._settings.profile} "
                    "profile does not allow it; opt in with --allow-disruptive")
        if name != "logs" and self._settings.profile == "production" and \
                name not in self._settings.allow_production_actions:
            return (f"the production profile runs no operator action unless it is named: {name} was not; "
                    f"name it with --allow-production-action {name} "
                    f"(or STACKFAST_ALLOW_PRODUCTION_ACTIONS={name})")
        if not self.configured(name):
            return self._unconfigured_reason(name)
        return None

    def require(self, *names: str) -> None:
        """SKIP the check unless every named action is configured and allowed (call it first)."""
        for name in names:
            reason = self.refusal(name)
            if reason:
                pytest.skip(reason)

    # -- running -------------------------------------------------------------------------------
    def run(self, name: str, *, check: bool = True) -> ActionResult:
        """Run ``name``; with ``check`` a failure or timeout raises ``CouldNotDecide`` (ERROR).

        When the run is asked to stop (interrupt.py): a recovery step (``RECOVERY_ACTIONS``) still runs
        to its end and says so; any other action is not started, or is killed, and when it began an
        outage its recovery step runs before the stop goes on.
        """
        from stackfast_conformance import interrupt

        if name in RECOVERY_ACTIONS:
            with interrupt.shielded(name):
                return self._run(name, check)
        if interrupt.requested():
            raise interrupt.RunInterrupted(f"interrupted before operator action {name}")
        try:
            return self._run(name, check)
        except KeyboardInterrupt:
            recovery = RECOVERY_OF.get(name)
            if recovery and self.configured(recovery):
                interrupt.say(f"interrupted during operator action {name}: running its recovery step {recovery}")
                with contextlib.suppress(Exception):
                    self.run(recovery, check=False)
            raise

    def _run(self, name: str, check: bool) -> ActionResult:
        self.require(name)
        spec = self.spec(name)
        assert spec is not None
        started = self._now()
        t0 = time.monotonic()
        if self._recorder is not None and hasattr(self._recorder, "progress"):
            self._recorder.progress(f"operator action {name} …")
        env = dict(os.environ)
        env["STACKFAST_ACTION"] = name
        proc = subprocess.Popen(
            spec.argv if spec.argv is not None else spec.command,  # type: ignore[arg-type]
            shell=spec.command is not None, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
        timed_out = False
        try:
            out, _ = proc.communicate(timeout=spec.timeout)
        except KeyboardInterrupt:  # the run is stopping (not during a recovery step: that one is shielded)
            _kill_group(proc)
            self._mark(ActionResult(name, self._masker.text(spec.display) or "", None, "interrupted",
                                    round(time.monotonic() - t0, 3), started, True))
            raise
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(proc)
            try:
                out, _ = proc.communicate(timeout=5)
            except subprocess.TimeoutExpired:  # a detached grandchild still holds the pipe: stop reading
                out = b""
        duration = time.monotonic() - t0
        text = out.decode("utf-8", errors="replace")
        result = ActionResult(name, self._masker.text(spec.display) or "", None if timed_out else proc.returncode,
                              self._masker.text(text) or "",
                              round(duration, 3), started, timed_out)
        with self._lock:
            self.results.append(result)
        self._mark(result)
        if check and not result.ok:
            raise CouldNotDecide(self.describe_failure(result, spec))
        return result

    def describe_failure(self, result: ActionResult, spec: ActionSpec | None = None) -> str:
        spec = spec or self.spec(result.name)
        how = (f"did not finish within {spec.timeout:g} s (killed)" if result.timed_out and spec
               else f"failed with exit status {result.exit_code}")
        tail = result.output.strip()[-FAILED_OUTPUT_EXCERPT:] or "(no output)"
        return (f"operator action {result.name} {how} after {result.duration_s:.1f} s, so the check cannot "
                f"decide: {result.command}\n  output:\n    " + tail.replace("\n", "\n    "))

    def logs(self, *needles: str) -> list[str] | None:
        """The lines of the log command's output that contain any of ``needles`` (masked), or None when
        no log command is configured. Only these lines (the last ``LOG_LINES_KEPT``, each trimmed) and
        their counts are recorded on the timeline: the rest of the log is never stored."""
        if not needles:
            raise ValueError("operator.logs(...) needs the text a line must contain: only what a check uses "
                             "is kept")
        if self.refusal("logs"):
            return None
        result = self.run("logs")
        all_lines = result.output.splitlines()
        lines = [line for line in all_lines if any(needle in line for needle in needles)]
        result.output = ""  # the whole log is not kept, not even in memory
        entry = result.timeline_entry
        if entry is not None:
            entry["log"] = {"lines_read": len(all_lines),
                            "matched": {needle: sum(needle in line for line in lines) for needle in needles},
                            "lines": [line[:LOG_LINE_CHARS] for line in lines[-LOG_LINES_KEPT:]]}
        return lines

    def run_later(self, name: str, delay: float) -> threading.Thread:
        """Run ``name`` after ``delay`` seconds in a thread; the caller reads the outcome with ``last(name)``.

        A stop request ends the delay early (a delayed recovery step then runs at once)."""
        from stackfast_conformance import interrupt

        def target() -> None:
            interrupt.wait(delay)
            with contextlib.suppress(BaseException):  # a failure shows as a failed ``last(name)`` (or none)
                self.run(name, check=False)

        thread = threading.Thread(target=target, name=f"operator-{name}", daemon=True)
        thread.start()
        return thread

    def last(self, name: str) -> ActionResult | None:
        with self._lock:
            return next((r for r in reversed(self.results) if r.name == name), None)

    def _now(self) -> float:
        rec = self._recorder
        return round(time.monotonic() - rec.started, 3) if rec is not None else 0.0

    def _mark(self, result: ActionResult) -> None:
        if self._recorder is None:
            return
        label = result.name + ("" if result.ok else (" timed out" if result.timed_out else f" exit {result.exit_code}"))
        entry = {"t": result.started, "kind": "action", "label": label, "ok": result.ok,
                 "duration_s": result.duration_s, "command": result.command}
        if not result.ok:  # a successful action's output is not evidence: it is not kept
            entry["output"] = result.output.strip()[-FAILED_OUTPUT_EXCERPT:]
        result.timeline_entry = entry
        self._recorder.timeline.append(entry)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Kill the timed-out command and whatever it started (its own process group)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()


# --- polling while an action runs ---------------------------------------------------------------

@dataclass
class Poll:
    t: float  # seconds since the check started
    status: int | None
    error: str | None
    ok: bool
    response: Any = None


@dataclass
class Poller:
    """GET ``path`` every ``interval`` seconds in a background thread until stopped (bounded).

    ``is_ok`` decides a good answer (default: 200). A transport error is a failed poll, never an
    exception. Each poll is an exchange of the check and a ``request`` entry on its timeline.
    """

    http: Any
    path: str
    base: str = "api"
    interval: float = 0.05
    timeout: float = 2.0
    max_seconds: float = 900.0
    max_polls: int = 5000
    is_ok: Callable[[Any], bool] = field(default=lambda r: r.status_code == 200)
    polls: list[Poll] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Poller:
        self._thread = threading.Thread(target=self._loop, name=f"poll {self.path}", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.timeout + 5)

    def wait_for(self, count: int, seconds: float = 5.0) -> None:
        """Wait (bounded) until at least ``count`` polls are done."""
        deadline = time.monotonic() + seconds
        while len(self.polls) < count and time.monotonic() < deadline:
            time.sleep(0.01)

    def _loop(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        recorder = self.http.recorder
        while not self._stop.is_set() and time.monotonic() < deadline and len(self.polls) < self.max_polls:
            began = time.monotonic()
            poll = self.once(self.http, self.path, self.base, self.timeout, self.is_ok, recorder)
            self.polls.append(poll)
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - began)))

    @staticmethod
    def once(http: Any, path: str, base: str, timeout: float, is_ok: Callable[[Any], bool], recorder: Any) -> Poll:
        t = round(time.monotonic() - recorder.started, 3)
        try:
            r = http.get(path, base=base, timeout=timeout)
        except CouldNotDecide as exc:
            error = str(exc).splitlines()[0].rsplit(": ", 2)[-2:]
            text = ": ".join(error)
            recorder.mark("request", f"GET {path} no answer ({text[:80]})", False)
            return Poll(t, None, text, False)
        ok = bool(is_ok(r))
        recorder.mark("request", f"GET {path} {r.status_code}", ok)
        return Poll(t, r.status_code, None, ok, r)

    @property
    def failures(self) -> list[Poll]:
        return [p for p in self.polls if not p.ok]

    def summary(self) -> str:
        bad = self.failures
        if not bad:
            return f"{len(self.polls)} polls of {self.path}, all answered"
        first = bad[0]
        what = f"status {first.status}" if first.status is not None else f"no answer ({first.error})"
        return (f"{len(bad)} of {len(self.polls)} polls of {self.path} failed, the first at t={first.t:.2f} s: "
                f"{what}")


# --- build fingerprints ---------------------------------------------------------------------------

_META_BUILD = re.compile(r'<meta\s+name=["\']stackfast-build["\']\s+content=["\']([^"\']+)["\']', re.I)
_ASSET = re.compile(r'(?:src|href)=["\'](/assets/[^"\']+)["\']')


def web_fingerprint(http: Any, base: str = "web") -> tuple[str, Any]:
    """Which web build answers: ``<meta name="stackfast-build">``, else the hashed asset names."""
    r = http.get("/", base=base)
    match = _META_BUILD.search(r.text)
    if match:
        return match.group(1), r
    assets = sorted(set(_ASSET.findall(r.text)))
    if assets:
        return "assets:" + ",".join(assets), r
    import hashlib

    return "sha256:" + hashlib.sha256(r.content).hexdigest()[:16], r


def api_fingerprint(http: Any, base: str = "api") -> tuple[str, Any]:
    """Which API build answers: ``/openapi.json`` ``info.version`` (the reference: ``1.0.0+api-build-N``)."""
    r = http.get("/openapi.json", base=base)
    try:
        version = str(r.json().get("info", {}).get("version"))
    except ValueError:
        version = None
    if r.status_code != 200 or not version:
        raise CouldNotDecide(f"cannot tell which API build answers: GET /openapi.json -> {r.status_code} "
                             "without info.version", getattr(getattr(r, "exchange", None), "curl", None))
    return version, r


def matching_lines(text: str | None, needle: str) -> list[str]:
    """The lines of ``text`` that contain ``needle``."""
    return [line for line in (text or "").splitlines() if needle in line]
