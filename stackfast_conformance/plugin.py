"""The pytest plugin (registered through the ``pytest11`` entry point).

It links checks to criteria (``@pytest.mark.requirement``), gates them by safety class,
gives every check an evidence-recording client, and at the end of the session turns the
outcomes into per-criterion verdicts and writes the reports — also when the run is interrupted.
The plugin stays inert in a pytest session that collects no linked check.
"""

from __future__ import annotations

import difflib
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from stackfast_conformance import interrupt
from stackfast_conformance._yamlcheck import ConfigFileError
from stackfast_conformance.checks import NOT_APPLICABLE_PREFIX, require_opt_in
from stackfast_conformance.failures import CheckFailure, CouldNotDecide
from stackfast_conformance.options import OptionError, add_pytest_options, given_values

SAFETY_CLASSES = ("read-only", "quota", "disruptive", "mutating")
CHECK_DIRS = ("conformance", "properties")
_STATE = pytest.StashKey["_RunState"]()
_RECORDER = pytest.StashKey[Any]()
_OUTCOME = pytest.StashKey[dict]()


class _RunState:
    def __init__(self, config: pytest.Config, settings: Any) -> None:
        self.config = config
        self.settings = settings
        self.started = time.time()
        self.results: list[dict[str, Any]] = []
        self.active = False
        self.interrupted = False
        self.record: dict[str, Any] | None = None
        self.reference: Any = None
        self.owns_reference = False
        self.client: Any = None
        self.requests = 0
        self.jsonl: Path | None = None

    def reference_info(self) -> dict[str, Any] | None:
        ref = self.reference
        if ref is None:
            return None
        return {"faults": list(ref.state.get("faults") or ()), "variants": list(ref.state.get("variants") or ()),
                "window_seconds": ref.window_seconds,
                "env": ref.env}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("stackfast", "stackfast-conformance (see `stackfast-conformance run --help`)")
    add_pytest_options(group)
    group.addoption("--sf-phase", dest="sf_phase", default=None, choices=("parallel", "serial"),
                    help="Internal (the CLI's scheduling): 'parallel' runs every check except the disruptive ones "
                         "and keeps their results; 'serial' runs only the disruptive ones and reports both.")
    group.addoption("--sf-verdict-exit", dest="sf_verdict_exit", action="store_true", default=False,
                    help="Exit with the harness's status (0 no blocking failure, 1 blocking failure/error or "
                         "nothing checked) instead of pytest's.")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "requirement(*ids): criteria (e.g. 'R4.7') this check verifies")
    config.addinivalue_line("markers", "safety(cls): read-only (default) | quota | disruptive | mutating")
    config.addinivalue_line("markers", "exclusive: the check shares state with every client; never run it "
                                       "alongside other checks")
    from stackfast_conformance.settings import resolve_settings

    try:
        settings = resolve_settings(given_values(config.option))
        from stackfast_conformance.run import load_run_inputs

        load_run_inputs(settings)  # bad attestations/waivers/snapshot files are usage errors, before any check
    except (OptionError, ConfigFileError, ValueError, OSError) as exc:  # a bad profile file is one too
        raise pytest.UsageError(str(exc)) from None
    from stackfast_conformance.redact import register_settings

    register_settings(settings)  # the profile's secrets are masked in every text, by value; its URLs stay readable
    config.stash[_STATE] = _RunState(config, settings)
    _install_stop(config)


def _criteria_of(item: pytest.Item) -> list[str]:
    ids: list[str] = []
    for mark in item.iter_markers("requirement"):
        ids.extend(str(a) for a in mark.args)
    return ids


def _safety_of(item: pytest.Item) -> str:
    mark = item.get_closest_marker("safety")
    return str(mark.args[0]) if mark and mark.args else "read-only"


def _runs_alone(item: pytest.Item) -> bool:
    """Operator actions, and checks that share state with every client (e.g. the `local` bucket)."""
    return _safety_of(item) == "disruptive" or item.get_closest_marker("exclusive") is not None


def _in_check_dir(item: pytest.Item) -> bool:
    return any(part in CHECK_DIRS for part in Path(str(item.path)).parts[-3:-1])


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    from stackfast_conformance.catalog import load_catalog

    linked = [i for i in items if _criteria_of(i) or _in_check_dir(i)]
    if not linked:
        return
    state = config.stash[_STATE]
    catalog = load_catalog()
    problems = []
    for item in linked:
        ids = _criteria_of(item)
        if not ids:
            problems.append(f"{item.nodeid}: a check must say which criteria it verifies: "
                            "add @pytest.mark.requirement('R…')")
        for cid in ids:
            if cid not in catalog.criteria:
                close = difflib.get_close_matches(cid, list(catalog.criteria), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                problems.append(f"{item.nodeid}: unknown criterion id {cid!r} in @pytest.mark.requirement{hint}")
        safety = _safety_of(item)
        if safety not in SAFETY_CLASSES:
            problems.append(f"{item.nodeid}: unknown safety class {safety!r}; use one of {', '.join(SAFETY_CLASSES)}")
    if problems:
        raise pytest.UsageError("invalid checks:\n  " + "\n  ".join(problems))
    state.active = True
    if config.getoption("allure_report_dir", None):  # the harness alone writes Allure results (report/_allure.py)
        from stackfast_conformance.report._allure import silence_allure_pytest

        silence_allure_pytest(config)
    _plan_run(config, state, items, catalog)  # every selected check of the run, in both phases (not-run accounting)
    phase = config.getoption("sf_phase")
    if phase:
        # operator actions (restarts, outages) must not run while other checks run: they get a serial phase
        keep = [i for i in items if _runs_alone(i) == (phase == "serial")]
        dropped = [i for i in items if i not in keep]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = keep
    # exclusive checks close the run: what they leave behind (an exhausted shared bucket) hurts no later check
    items.sort(key=lambda i: i.get_closest_marker("exclusive") is not None)
    wanted = set(state.settings.criteria)
    if wanted:
        unknown = sorted(wanted - set(catalog.criteria))
        if unknown:
            raise pytest.UsageError(f"--criteria: unknown criterion id(s) {', '.join(unknown)}")
        keep = [i for i in items if set(_criteria_of(i)) & wanted]
        dropped = [i for i in items if i not in keep]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = keep


# --- per-check recording -------------------------------------------------------------------------

def pytest_runtest_setup(item: pytest.Item) -> None:
    from stackfast_conformance.evidence import Recorder

    item.stash[_RECORDER] = Recorder(check=item.nodeid, reporter=_progress_writer(item.config))
    item.stash[_OUTCOME] = {"outcome": "passed", "reason": None, "failure": None}
    state = item.config.stash[_STATE]
    if state.active and _criteria_of(item):
        require_opt_in(state.settings, _safety_of(item))


def _progress_writer(config: pytest.Config) -> Any:
    """Write a progress line to the terminal even while the check's output is captured."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or hasattr(config, "workerinput"):
        return None

    def write(message: str) -> None:
        from stackfast_conformance.redact import redact_text

        message = redact_text(message) or ""
        if capture is not None:
            with capture.global_and_fixture_disabled():
                reporter.write_line(f"  … {message}")
        else:
            reporter.write_line(f"  … {message}")

    return write


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    state = item.config.stash[_STATE]
    if not (state.active and _criteria_of(item)) or _OUTCOME not in item.stash:
        return
    mine = item.stash[_OUTCOME]
    if interrupt.requested() and call.when != "teardown" and not mine.get("interrupted"):
        _mark_interrupted(mine, call.when)  # whatever the check reported after a stop request, it did not finish
    if call.excinfo is not None and mine["outcome"] == "passed":
        exc = call.excinfo.value
        if report.skipped:
            reason = _skip_reason(report)
            if reason.startswith(NOT_APPLICABLE_PREFIX):
                mine.update(outcome="not_applicable", reason=reason[len(NOT_APPLICABLE_PREFIX):])
            else:
                mine.update(outcome="skipped", reason=reason)
        elif isinstance(exc, AssertionError) and _withheld(item, exc, mine):
            pass  # a FAILED verdict on evidence with unresolved gateway errors is ERROR transient (_transient.py)
        elif isinstance(exc, CheckFailure):
            mine.update(outcome="failed", reason=exc.detail.expected, failure=exc.detail.as_dict())
        elif isinstance(exc, AssertionError) and call.when == "call":
            mine.update(outcome="failed", reason=str(exc).splitlines()[0] if str(exc) else "assertion failed",
                        failure={"criterion": (_criteria_of(item) or [""])[0], "statement": "",
                                 "expected": "the check's assertion to hold", "seen": str(exc)[:2000],
                                 "curl": _last_curl(item), "message": str(exc)[:4000]})
        elif isinstance(exc, CouldNotDecide):
            mine.update(outcome="error", reason=str(exc).splitlines()[0], error_class=exc.error_class)
        elif not isinstance(exc, (KeyboardInterrupt, SystemExit)):
            mine.update(outcome="error", reason=f"{call.when}: {type(exc).__name__}: {str(exc)[:300]}",
                        error_class="harness")
    if call.when == "teardown":
        from stackfast_conformance.redact import redact_record

        report.user_properties.append(("stackfast_check", redact_record(_result(item, mine, report))))
    _redact_report(report)  # the terminal (tracebacks, Hypothesis notes, captured output) shows no secret


def _withheld(item: pytest.Item, exc: BaseException, mine: dict[str, Any]) -> bool:
    from stackfast_conformance._transient import withheld_failure_reason

    reason = withheld_failure_reason(item.stash[_RECORDER])
    if reason is None:
        return False
    item.stash[_RECORDER].notes.append("FAILED withheld (disturbed evidence): " + str(exc).splitlines()[0][:300])
    mine.update(outcome="error", reason=reason, error_class="transient")
    return True


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item):  # type: ignore[no-untyped-def]
    outcome = yield
    exc = getattr(outcome, "exception", None)
    state = item.config.stash.get(_STATE, None)
    if exc is not None and state is not None and state.active and _criteria_of(item):
        _redact_exception(exc)  # before any reporter (pytest's, Allure's) formats it


def _redact_exception(exc: BaseException) -> None:
    from stackfast_conformance.redact import redact_text

    text = str(exc)
    redacted = redact_text(text)
    if redacted != text:
        exc.args = (redacted,)
    notes = getattr(exc, "__notes__", None)
    if notes:
        exc.__notes__ = [redact_text(str(note)) or "" for note in notes]


def _redact_report(report: pytest.TestReport) -> None:
    from stackfast_conformance.redact import redact_text

    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        report.longrepr = (longrepr[0], longrepr[1], redact_text(str(longrepr[2])))
    elif longrepr is not None:
        text = str(longrepr)
        redacted = redact_text(text)
        if redacted != text:
            report.longrepr = redacted
    report.sections = [(title, redact_text(content) or "") for title, content in report.sections]


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        text = str(longrepr[2])
        return text[len("Skipped: "):] if text.startswith("Skipped: ") else text
    return str(longrepr)


def _last_curl(item: pytest.Item) -> str | None:
    rec = item.stash.get(_RECORDER, None)
    return rec.exchanges[-1].curl if rec and rec.exchanges else None


def _result(item: pytest.Item, mine: dict[str, Any], report: pytest.TestReport) -> dict[str, Any]:
    rec = item.stash[_RECORDER]
    doc = (getattr(getattr(item, "function", None), "__doc__", None) or "").strip().splitlines()
    return {
        "id": item.nodeid,
        "name": item.name,
        "file": str(Path(str(item.path)).relative_to(item.config.rootpath)) if str(item.path).startswith(str(item.config.rootpath)) else str(item.path),
        "doc": doc[0] if doc else None,
        "criteria": _criteria_of(item),
        "safety": _safety_of(item),
        "outcome": mine["outcome"],
        "reason": mine["reason"],
        "error_class": mine.get("error_class"),
        "duration_s": round(time.monotonic() - rec.started, 3),
        "failure": mine["failure"],
        "exchanges": [x.id for x in rec.exchanges],
        "cases": rec.extra.get("cases"),
        "seed": rec.extra.get("seed"),
        "timeline": rec.timeline or None,
        "notes": rec.notes or None,
        "exchange_records": [x.as_dict() for x in rec.exchanges],
        "findings": [{**f, "check": item.nodeid} for f in rec.findings],
        "observed": dict(rec.observed),
        "violations": [{"criterion": v.criterion, "message": v.message, "exchange": v.exchange,
                        "curl": next((x.curl for x in rec.exchanges if x.id == v.exchange), None)}
                       for v in rec.violations],
        "deploy_evidence": rec.extra.get("deploy_evidence"),
        "interrupted": bool(mine.get("interrupted")) or None,
    }


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when != "teardown":
        return
    for name, value in report.user_properties:
        if name == "stackfast_check":
            state = _state_from_report()
            if state is not None:
                state.results.append(value)
                _append_jsonl(state, value)


_CONFIG: list[pytest.Config] = []


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    _CONFIG[:] = [session.config]


def _state_from_report() -> _RunState | None:
    return _CONFIG[0].stash.get(_STATE, None) if _CONFIG else None


def _append_jsonl(state: _RunState, value: dict[str, Any]) -> None:
    if hasattr(state.config, "workerinput"):
        return
    if state.jsonl is None:
        directory = Path(state.settings.report_dir)
        directory.mkdir(parents=True, exist_ok=True)
        state.jsonl = directory / "results.jsonl"
        state.jsonl.write_text("")
    with state.jsonl.open("a") as fh:
        from stackfast_conformance.redact import redact_record

        fh.write(json.dumps(redact_record({k: v for k, v in value.items() if k != "exchange_records"})) + "\n")


def pytest_keyboard_interrupt(excinfo: Any) -> None:
    state = _state_from_report()
    if state is not None:
        state.interrupted = True


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _finish_session(session.config, exitstatus)
    state = session.config.stash.get(_STATE, None)
    if state is None or state.record is None:
        return
    if state.record["run"]["interrupted"]:
        session.exitstatus = pytest.ExitCode.INTERRUPTED  # the CLI exits 130; an interrupted run is never a pass
    elif session.config.option.sf_verdict_exit:
        session.exitstatus = state.record["run"]["exit_status"]


class _FinishFirstWhenInterrupted:
    """An interrupted run writes its report first, before pytest formats the traceback, tears fixtures
    down or waits for xdist workers to exit: a stop must be fast (interrupt.py)."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_keyboard_interrupt(self, excinfo: Any) -> None:
        state = _state_from_report()
        if state is not None:
            state.interrupted = True
            _finish_session(state.config, pytest.ExitCode.INTERRUPTED)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if interrupt.requested() or exitstatus == pytest.ExitCode.INTERRUPTED:
            _finish_session(session.config, exitstatus)


def _finish_session(config: pytest.Config, exitstatus: int) -> None:
    state = config.stash.get(_STATE, None)
    if state is None or hasattr(config, "workerinput") or getattr(state, "finished", False):
        return
    state.finished = True
    interrupt.trace("writing the report")
    if state.client is not None:
        state.client.close()
    if state.reference is not None and state.owns_reference:
        state.reference.stop()
    _merge_phases(config, state, interrupted=state.interrupted or exitstatus == pytest.ExitCode.INTERRUPTED
                  or interrupt.requested())
    if not (state.active or state.results or state.plan):
        return
    interrupted = state.interrupted or exitstatus == pytest.ExitCode.INTERRUPTED or interrupt.requested()
    from stackfast_conformance.run import finish_run

    state.record = finish_run(state.settings, state.results, state.started, interrupted, state.reference_info(),
                              plan=state.plan, started_ids=state.started_ids)
    config.stash[RECORD] = state.record
    alluredir = config.getoption("allure_report_dir", None)
    final = interrupted or config.getoption("sf_phase") != "parallel"  # the serial phase writes both phases
    if alluredir and final:  # Allure organised by the spec, from the record (report/_allure.py)
        from stackfast_conformance.report._allure import write_allure

        write_allure(state.record, Path(alluredir))
    if interrupted:
        interrupt.mark_reported()


RECORD = pytest.StashKey[dict]()


def _merge_phases(config: pytest.Config, state: _RunState, interrupted: bool = False) -> None:
    """The CLI's two phases make one report: the parallel phase keeps its results for the serial one.

    Under xdist the workers collect, so the controller reads the run's plan from the file the workers
    wrote. An interrupted parallel phase writes the final report itself (the serial phase never runs).
    """
    phase = config.getoption("sf_phase")
    directory = Path(state.settings.report_dir)
    plan_file = directory / ".plan.json"
    if not state.plan and plan_file.is_file():
        state.plan = json.loads(plan_file.read_text())
    if plan_file.is_file():
        plan_file.unlink()
    phase_file = directory / ".parallel-phase.json"
    if phase == "parallel" and not interrupted:
        phase_file.parent.mkdir(parents=True, exist_ok=True)
        phase_file.write_text(json.dumps({"started": state.started, "results": state.results, "plan": state.plan,
                                          "started_ids": state.started_ids,
                                          "reference": state.reference_info()}))
    elif phase == "serial" and phase_file.is_file():
        earlier = json.loads(phase_file.read_text())
        state.results[:0] = earlier["results"]
        state.started = min(state.started, earlier["started"])
        state.plan = state.plan or earlier.get("plan") or []
        state.started_ids[:0] = earlier.get("started_ids") or []
        phase_file.unlink()


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    state = config.stash.get(_STATE, None)
    if state is None or state.record is None:
        return
    from stackfast_conformance.console import console_active

    if console_active(config):  # the CLI prints the one summary of the whole run, after its last phase
        return
    from stackfast_conformance.run import summary_lines

    for line in summary_lines(state.record, Path(state.settings.report_dir)):
        terminalreporter.write_line(line)


# --- stopping when asked (Ctrl-C, SIGTERM; interrupt.py) -----------------------------------------

_UNDO_SIGNALS = pytest.StashKey[Any]()


def _install_stop(config: pytest.Config) -> None:
    """SIGINT/SIGTERM stop the run (interrupt.py); the xdist controller passes the request to its workers."""
    state = config.stash[_STATE]
    state.plan = []  # every selected check of the run (both phases): [{id, name, file, doc, criteria, safety}]
    state.started_ids = []  # checks that started (pytest_runtest_logstart; under xdist, in the controller)
    interrupt.reset()
    worker = hasattr(config, "workerinput")
    config.stash[_UNDO_SIGNALS] = interrupt.install(
        on_stop=None if worker else (lambda: _stop_workers(config)), announce=not worker)
    if not worker:
        config.pluginmanager.register(_FinishFirstWhenInterrupted(), "stackfast-finish-first-when-interrupted")
        from stackfast_conformance.run import warm_up

        warm_up()  # what an interrupted run needs to write its report, imported now: a stop must not wait


def pytest_unconfigure(config: pytest.Config) -> None:
    interrupt.trace("pytest session over")
    undo = config.stash.get(_UNDO_SIGNALS, None)
    if undo is not None:
        undo()


def _stop_workers(config: pytest.Config) -> None:
    """Pass a stop request on to the xdist workers (SIGTERM); kill any still running 1 s later.

    A terminal's Ctrl-C reaches them too (one process group); CI's SIGTERM may reach only us.
    Their checks end as not run, so nothing they report after the request is evidence.
    """
    import signal
    import threading

    pids = _worker_pids(config)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass

    def kill_stragglers() -> None:
        time.sleep(1.0)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

    if pids:
        threading.Thread(target=kill_stragglers, name="stop-xdist-workers", daemon=True).start()


def _worker_pids(config: pytest.Config) -> list[int]:
    dsession = config.pluginmanager.get_plugin("dsession")
    group = getattr(getattr(dsession, "nodemanager", None), "group", None)
    pids = []
    for gateway in list(getattr(group, "_gateways", None) or ()):
        popen = getattr(getattr(gateway, "_io", None), "popen", None)
        if popen is not None and popen.poll() is None:
            pids.append(popen.pid)
    return pids


def _plan_run(config: pytest.Config, state: _RunState, items: list[pytest.Item], catalog: Any) -> None:
    """Remember every check this run means to execute (after --criteria, before the phase split)."""
    wanted = set(state.settings.criteria)
    state.plan = [_describe(item) for item in items
                  if _criteria_of(item) and (not wanted or set(_criteria_of(item)) & wanted)]
    if hasattr(config, "workerinput"):  # the xdist controller does not collect: it reads this file
        directory = Path(state.settings.report_dir)
        directory.mkdir(parents=True, exist_ok=True)
        tmp = directory / f".plan.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(state.plan))
        tmp.replace(directory / ".plan.json")


def _describe(item: pytest.Item) -> dict[str, Any]:
    doc = (getattr(getattr(item, "function", None), "__doc__", None) or "").strip().splitlines()
    root = str(item.config.rootpath)
    path = str(item.path)
    return {"id": item.nodeid, "name": item.name,
            "file": str(Path(path).relative_to(root)) if path.startswith(root) else path,
            "doc": doc[0] if doc else None, "criteria": _criteria_of(item), "safety": _safety_of(item)}


def _mark_interrupted(mine: dict[str, Any], when: str) -> None:
    mine.update(outcome="skipped", interrupted=True, failure=None, error_class=None,
                reason=f"interrupted ({interrupt.signal_name() or 'stop requested'}): the run stopped while this "
                       f"check was running ({when}); not run")


def pytest_runtest_logstart(nodeid: str, location: Any) -> None:
    state = _state_from_report()
    if state is not None and hasattr(state, "started_ids"):
        state.started_ids.append(nodeid)


# --- fixtures ------------------------------------------------------------------------------------

def _state(request: pytest.FixtureRequest) -> _RunState:
    return request.config.stash[_STATE]


@pytest.fixture(scope="session")
def settings(request: pytest.FixtureRequest) -> Any:
    return _state(request).settings


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest) -> Any:
    """The target; starts the embedded reference when no API URL was given (plain `pytest` use)."""
    from stackfast_conformance.target import Target

    state = _state(request)
    if state.settings.embedded_reference and state.reference is None:
        from stackfast_conformance.run import start_embedded_reference

        state.reference, state.settings = start_embedded_reference(state.settings)
        state.owns_reference = True
        from stackfast_conformance.redact import register_settings

        register_settings(state.settings)
    elif state.reference is None and os.environ.get("STACKFAST_REFERENCE_STATE_DIR"):
        from stackfast_conformance.reference import Reference

        state.reference = Reference.attach(os.environ["STACKFAST_REFERENCE_STATE_DIR"])
    return Target(state.settings, state.reference)


@pytest.fixture(scope="session")
def _session_http(request: pytest.FixtureRequest, target: Any) -> Any:
    from stackfast_conformance._transport import build_client

    state = _state(request)
    if state.client is None:
        state.client = build_client(target.settings)
    return state.client


@pytest.fixture
def recorder(request: pytest.FixtureRequest) -> Any:
    """What this check saw (exchanges, timeline, findings); filled by ``http`` and by the check."""
    return request.node.stash[_RECORDER]


@pytest.fixture
def http(request: pytest.FixtureRequest, target: Any, _session_http: Any, recorder: Any) -> Any:
    """The evidence-recording HTTP client bound to this check (see docs/ARCHITECTURE.md)."""
    from stackfast_conformance.evidence import EvidenceClient, Masker, response_wide_observers

    state = _state(request)

    def count() -> None:
        state.requests += 1

    client = EvidenceClient(
        _session_http, recorder, target.bases(), Masker(_secret_env(target.settings)),
        response_wide_observers(target.environment), target.connect_to, target.ca_bundle, count,
    )
    # operator-action checks judge availability itself (R1.5/R1.6, R5.2, R12.x): their timeline decides
    client.raw_transients = _safety_of(request.node) == "disruptive"
    # a read-only check's requests have no effect, so one lost without an answer may go again (evidence.py)
    client.resend_unanswered = _safety_of(request.node) == "read-only"
    return client


def _secret_env(settings: Any) -> dict[str, str]:
    from stackfast_conformance.options import SECRET_ENV

    return {SECRET_ENV[name]: value for name, value in settings.secrets.items() if value}


_IDENTITIES: list[Any] = []


@pytest.fixture
def fresh_identity() -> Any:
    """Callable returning a new, never-used client id for x-forwarded-for (own rate-limit bucket)."""
    from stackfast_conformance.target import IdentityFactory

    if not _IDENTITIES:
        _IDENTITIES.append(IdentityFactory())
    return _IDENTITIES[0]


class _Findings:
    def __init__(self, recorder: Any) -> None:
        self._recorder = recorder

    def add(self, title: str, detail: str, criteria: tuple[str, ...] = (), exchange: Any = None,
            severity: str = "advisory") -> None:
        exchange_id = getattr(getattr(exchange, "exchange", exchange), "id", None)
        self._recorder.findings.append({"title": title, "detail": detail, "criteria": list(criteria),
                                        "severity": severity, "exchange": exchange_id})


@pytest.fixture
def findings(recorder: Any) -> _Findings:
    """``findings.add(title, detail, criteria=(...), exchange=response)``: an advisory finding."""
    return _Findings(recorder)


@pytest.fixture(scope="session")
def quota_plan(target: Any) -> Any:
    """Session-wide quota planning (``stackfast_conformance.quota.QuotaPlan``): whether the target
    honours client-supplied x-forwarded-for, probed once by the first quota check that asks."""
    from stackfast_conformance.quota import plan_for

    return plan_for(target)
