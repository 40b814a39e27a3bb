"""`stackfast-conformance` — run the conformance suite, or run the embedded reference deployment.

Exit status of `run`: 0 no blocking criterion FAILED or ERROR; 1 one is (or nothing was checked);
2 usage or configuration error (clear message, no traceback); 130 interrupted (report still written).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from stackfast_conformance._yamlcheck import ConfigFileError
from stackfast_conformance.options import (
    SECRET_ENV,
    OptionError,
    add_argparse_options,
    given_values,
    to_pytest_args,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CHECK_DIRS = ("conformance", "properties")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stackfast-conformance",
        description="Spec-conformance harness for the Stackfast 2026 Phase 8 deployment (R1-R14).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = sub.add_parser("run", help="run the checks and write the traceability report",
                         description="Run the checks against a target (default: the embedded reference) "
                                     "and write the traceability report. Secrets come only from the "
                                     "environment: " + ", ".join(SECRET_ENV.values()) + ".")
    add_argparse_options(run)
    run.add_argument("-n", "--workers", default=None, metavar="N",
                     help="run checks in N parallel worker processes (pytest-xdist); disruptive checks then run "
                          "afterwards, one at a time (default: 4 against the embedded reference, else 1; "
                          "env STACKFAST_WORKERS)")
    run.add_argument("--alluredir", default=None, metavar="DIR", help="also write Allure results to this directory")
    run.add_argument("-v", "--pytest-output", action="store_true",
                     help="show pytest's own output (collection, per-check dots, its summary lines) instead of "
                          "keeping it in pytest-output.log in the report directory")
    run.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")

    ref = sub.add_parser("reference", help="run the embedded reference deployment in the foreground")
    ref.add_argument("--env", default="production", choices=("production", "local-dev"))
    ref.add_argument("--fault", action="append", default=[], help="start with this named fault (repeatable)")
    ref.add_argument("--window-seconds", type=int, default=60, help="rate-limit window in whole seconds (default 60)")
    ref.add_argument("--list-faults", action="store_true", help="list the fault registry and exit")
    ref.add_argument("--variant", action="append", default=[],
                     help="start with this harmless variant on (repeatable; see --list-variants)")
    ref.add_argument("--list-variants", action="store_true",
                     help="list the harmless-variant registry (the false-alarm matrix) and exit")

    sub.add_parser("catalog", help="list the criteria of the catalog")
    sub.add_parser("diff", help="compare two runs' reports: newly failing, fixed, covered in one only (diff --help)",
                   add_help=False)
    sub.add_parser("summary", help="several runs' reports (e.g. one per preview environment) in one Markdown "
                                   "summary (summary --help)", add_help=False)
    sub.add_parser("drift", help="compare a checkout's spec with the catalog (drift --help)", add_help=False)
    checks = sub.add_parser("checks", help="list every check with its criteria and safety class")
    checks.add_argument("--json", action="store_true", help="as JSON")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["diff"]:  # `stackfast-conformance diff A B` (diff.py)
        from stackfast_conformance.diff import main as diff_main

        return diff_main(argv[1:])
    if argv[:1] == ["summary"]:  # `stackfast-conformance summary DIR...` (merge.py)
        from stackfast_conformance.merge import main as merge_main

        return merge_main(argv[1:])
    if argv[:1] == ["drift"]:  # `stackfast-conformance drift --repo PATH [--write-baseline FILE]` (drift.py)
        from stackfast_conformance.audits.drift import main as drift_main

        return drift_main(argv[1:])
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            from stackfast_conformance import interrupt

            # SIGINT and SIGTERM: stop, report what finished, exit 130 within STOP_GRACE_SECONDS (interrupt.py)
            undo_signals = interrupt.install(on_stop=lambda: interrupt.exit_when_reported(
                STOP_GRACE_SECONDS, STOP_REPORT_LIMIT_SECONDS, _say_stopped))
            try:
                return _run(args)
            except KeyboardInterrupt:  # before any check started (e.g. while the reference starts)
                print("stackfast-conformance: interrupted before any check ran; no report", file=sys.stderr)
                return 130
            finally:
                undo_signals()
        if args.command == "reference":
            return _reference(args)
        if args.command == "checks":
            return _checks(args)
        return _catalog()
    except (OptionError, ConfigFileError, ValueError, OSError, RuntimeError) as exc:
        print(f"stackfast-conformance: error: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    import pytest

    from stackfast_conformance import interrupt
    from stackfast_conformance.catalog import load_catalog
    from stackfast_conformance.run import start_embedded_reference
    from stackfast_conformance.settings import resolve_settings

    catalog = load_catalog()  # a broken catalog is a configuration error before anything starts
    given = given_values(args)
    settings = resolve_settings(given)
    unknown = sorted(set(settings.criteria) - set(catalog.criteria))
    if unknown:  # before the reference starts, and once (not once per worker)
        raise OptionError(f"--criteria: unknown criterion id(s) {', '.join(unknown)}")
    from stackfast_conformance.run import load_run_inputs

    load_run_inputs(settings)  # bad attestations/waivers/snapshots: exit 2 before the reference starts
    workers = _workers(args.workers or os.environ.get("STACKFAST_WORKERS"), settings.embedded_reference)
    reference = None
    if settings.embedded_reference:
        reference, settings = start_embedded_reference(settings)
    elif settings.fault or settings.variant:
        raise OptionError(("--fault" if settings.fault else "--variant")
                          + " only applies to the embedded reference; leave out --api to start it")
    try:
        if reference is not None:
            print(f"stackfast-conformance: reference ready: API {settings.api_url}, web {settings.web_url}",
                  file=sys.stderr, flush=True)
            # Point the plugin (and any xdist worker) at the running reference through the environment:
            # secrets never travel on a command line.
            os.environ.update(reference.harness_env())
            given = {k: v for k, v in given.items() if k not in ("api_url", "web_url", "connect_to", "ca_bundle")}
            given["profile"] = settings.profile
            given["report_dir"] = settings.report_dir
            given["window_seconds"] = settings.window_seconds
            if not (settings.fault or settings.variant):  # the demo also audits the reference's own config and repo
                from stackfast_conformance.reference_inputs import inputs_not_given

                given.update(inputs_not_given(reference, settings))
        else:
            given.setdefault("report_dir", settings.report_dir)
        pytest_args = [str(PROJECT_ROOT / d) for d in CHECK_DIRS if (PROJECT_ROOT / d).is_dir()]
        pytest_args += ["--rootdir", str(PROJECT_ROOT), "-c", str(PROJECT_ROOT / "pytest.ini"),
                        "-p", "no:cacheprovider", "--sf-verdict-exit",
                        # checks judge with expect()/fail() (CheckFailure carries its own message), so pytest's
                        # assertion rewriting would only re-compile every plugin's modules (hypothesis,
                        # schemathesis ...: about 3 s of CPU per run, every run where bytecode is not written)
                        "--assert=plain",
                        # the project's own tests turn warnings into errors; a conformance run must not
                        "-W", "default", "-W", "ignore::pytest.PytestAssertRewriteWarning", "-q", "-rfE", "--no-header"]
        pytest_args += to_pytest_args(given)
        if args.alluredir:
            pytest_args += ["--alluredir", args.alluredir]
        pytest_args += list(args.pytest_args)
        if workers <= 1:
            code = _pytest(pytest_args, "checks", settings, args)
        elif not settings.allow_disruptive:
            code = _pytest(pytest_args + ["-n", str(workers)], f"checks on {workers} workers", settings, args)
        else:
            # Window-bound waits overlap across workers; operator actions then run alone, afterwards.
            code = _pytest(pytest_args + ["-n", str(workers), "--sf-phase", "parallel"],
                           f"phase 1/2: checks on {workers} workers", settings, args)
            if int(code) != pytest.ExitCode.INTERRUPTED and not interrupt.requested():
                code = _pytest(pytest_args + ["--sf-phase", "serial"],
                               "phase 2/2: operator actions and exclusive checks, one at a time", settings, args)
    except KeyboardInterrupt:  # between the phases, or while pytest started: report what the first phase finished
        code = pytest.ExitCode.INTERRUPTED
        _finish_between_phases(settings, args.alluredir)
    finally:
        interrupt.trace("checks done")
        if reference is not None:
            reference.stop()
            interrupt.trace("reference stopped")
    if interrupt.requested():
        code = pytest.ExitCode.INTERRUPTED
        since = interrupt.requested_at()
        print(f"stackfast-conformance: stopped {time.monotonic() - since:.1f} s after {interrupt.signal_name()}"
              if since is not None else "stackfast-conformance: stopped", file=sys.stderr, flush=True)
    return _summarise(_exit_code(int(code), Path(settings.report_dir)), Path(settings.report_dir))


def _workers(given: str | None, embedded: bool) -> int:
    """``--workers``/``STACKFAST_WORKERS``, else 4 against the embedded reference (window waits overlap), else 1."""
    if not given:
        return 4 if embedded else 1
    if not given.strip().isdigit() or int(given) < 1:
        raise ValueError(f"--workers/STACKFAST_WORKERS: {given!r} is not a number of worker processes (1, 2, 4 ...)")
    return int(given)


def _pytest(pytest_args: list[str], phase: str, settings: Any, args: argparse.Namespace) -> int:
    """One pytest phase with the progress line; pytest's own output only with -v/--pytest-output."""
    from stackfast_conformance.console import run_pytest

    return run_pytest(pytest_args, phase, Path(settings.report_dir), show_pytest_output=args.pytest_output)


def _summarise(code: int, report_dir: Path) -> int:
    """The run's one summary (and, in GitHub Actions, its job summary and annotations)."""
    from stackfast_conformance.console import print_final_summary

    record = print_final_summary(report_dir, code)
    if record is not None:
        from stackfast_conformance.github import publish

        publish(record, report_dir)
    return code


STOP_GRACE_SECONDS = 1.5  # after Ctrl-C/SIGTERM the process exits this soon once the report is written
STOP_REPORT_LIMIT_SECONDS = 10.0  # ... and waits at most this long for the report (a loaded machine)


def _say_stopped() -> None:
    from stackfast_conformance import interrupt

    since = interrupt.requested_at()
    print(f"\nstackfast-conformance: INTERRUPTED ({interrupt.signal_name()}): stopped "
          f"{time.monotonic() - since if since is not None else 0:.1f} s after the request; the report covers "
          "what finished; exit 130", file=sys.stderr, flush=True)


def _finish_between_phases(settings: Any, alluredir: str | None = None) -> None:
    """Write the interrupted run's report from the parallel phase's results (the serial phase never ran)."""
    import json

    from stackfast_conformance.run import finish_run

    phase_file = Path(settings.report_dir) / ".parallel-phase.json"
    if not phase_file.is_file():
        return
    earlier = json.loads(phase_file.read_text())
    phase_file.unlink()
    record = finish_run(settings, earlier["results"], earlier["started"], True, earlier.get("reference"),
                        plan=earlier.get("plan"), started_ids=earlier.get("started_ids") or ())
    if alluredir:  # the serial phase would have written them (plugin._finish_session)
        from stackfast_conformance.report._allure import write_allure

        write_allure(record, Path(alluredir))
    print(f"stackfast-conformance: INTERRUPTED: the report covers what finished: {settings.report_dir}",
          file=sys.stderr)


def _exit_code(code: int, report_dir: Path) -> int:
    if code in (0, 1):
        return code
    if code == 2:  # interrupted: the report was still written for what finished
        return 130
    if code == 5:
        print("stackfast-conformance: no check was collected: nothing was checked, so this is not a pass",
              file=sys.stderr)
        return 1
    return 2  # usage error / internal error: pytest printed the reason


def _reference(args: argparse.Namespace) -> int:
    from stackfast_conformance.reference import load_faults, load_variants, start_reference

    if args.list_faults:
        for fault in sorted(load_faults().values(), key=lambda f: f.name):
            print(f"{fault.name:38} breaks {', '.join(fault.breaks) or '-':30} {fault.description}")
        return 0
    if args.list_variants:
        for variant in sorted(load_variants().values(), key=lambda v: v.name):
            print(f"{variant.name:38} {variant.component:10} {variant.description}\n{'':38} seen: {variant.seen}")
        return 0
    ref = start_reference(env=args.env, faults=tuple(args.fault), window_seconds=args.window_seconds,
                          variants=tuple(args.variant))
    def _stop(*_: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    try:
        print(f"Stackfast reference deployment ({args.env}) is up"
              + (f" with faults: {', '.join(args.fault)}" if args.fault else "")
              + (f" with variants: {', '.join(args.variant)}" if args.variant else "") + ".")
        print(f"  API: {ref.api_url}\n  web: {ref.web_url}")
        if getattr(ref, "staging_api_url", None):
            print(f"  staging API: {ref.staging_api_url}\n  staging web: {ref.staging_web_url}")
        print("  reach it like curl does:")
        for item in ref.connect_to:
            print(f"    --connect-to {item}")
        print(f"    --ca-bundle {ref.ca_bundle}")
        print("  point the harness at it (the admin keys are secrets: they are not printed):")
        for key, value in ref.harness_env().items():
            if key in SECRET_ENV.values():
                print(f"    export {key}=$(cat {ref.state_dir}/secrets.json | …)  # see the state dir")
            else:
                print(f"    export {key}={value!r}" if " " in str(value) else f"    export {key}={value}")
        print("  operator actions:")
        for name, argv in ref.actions.items():
            print(f"    {name}: {' '.join(argv)}")
        print("Ctrl-C stops it.", flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        ref.stop()
    return 0


def list_checks() -> list[dict[str, Any]]:
    """Every check of the suite (collected, not run): id, criteria, safety class."""
    import contextlib
    import io

    import pytest

    from stackfast_conformance.plugin import _criteria_of, _safety_of

    found: list[dict[str, Any]] = []

    class _Collector:
        @pytest.hookimpl(trylast=True)
        def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
            for item in items:
                found.append({"id": item.nodeid, "criteria": _criteria_of(item), "safety": _safety_of(item)})

    args = [str(PROJECT_ROOT / d) for d in CHECK_DIRS if (PROJECT_ROOT / d).is_dir()]
    args += ["--rootdir", str(PROJECT_ROOT), "-c", str(PROJECT_ROOT / "pytest.ini"), "-p", "no:cacheprovider",
             "--collect-only", "-q", "--assert=plain", "--sf-api=http://127.0.0.1:9", "-W", "ignore::pytest.PytestAssertRewriteWarning"]
    with contextlib.redirect_stdout(io.StringIO()):
        code = pytest.main(args, plugins=[_Collector()])
    if code not in (0, 5):
        raise RuntimeError(f"collecting the checks failed (pytest exit {code}); run pytest --collect-only to see why")
    return found


def _checks(args: argparse.Namespace) -> int:
    import json

    checks = list_checks()
    if args.json:
        print(json.dumps(checks, indent=2))
    else:
        for check in checks:
            print(f"{','.join(check['criteria']):24} {check['safety']:10} {check['id']}")
    return 0


def _catalog() -> int:
    from stackfast_conformance.catalog import load_catalog

    catalog = load_catalog()
    for crit in catalog.criteria.values():
        print(f"{crit.id:7} {crit.severity:8} {','.join(crit.observation):24} {crit.statement}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
