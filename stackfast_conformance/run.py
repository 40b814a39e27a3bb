"""The life of one run: start the embedded reference if needed, finish with verdicts and reports."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from stackfast_conformance.settings import Settings


def start_embedded_reference(settings: Settings) -> tuple[Any, Settings]:
    """Start the embedded reference and return it with settings pointing at it."""
    from stackfast_conformance.reference import start_reference

    print(f"stackfast-conformance: starting the embedded reference deployment "
          f"(env {settings.reference_env}, window {settings.window_seconds:g} s"
          + (f", faults: {', '.join(settings.fault)}" if settings.fault else "")
          + (f", variants: {', '.join(settings.variant)}" if settings.variant else "") + ") …",
          file=sys.stderr, flush=True)
    ref = start_reference(env=settings.reference_env, faults=tuple(settings.fault), variants=tuple(settings.variant),
                          window_seconds=_whole(settings.window_seconds),
                          db_retry_seconds=settings.reference_db_retry_seconds)
    return ref, point_at_reference(settings, ref)


def _whole(seconds: float) -> int:
    """The reference's windows are whole seconds (Retry-After is an integer)."""
    if seconds != int(seconds) or seconds < 1:
        raise ValueError(f"--window-seconds: the embedded reference takes a whole number of seconds, not {seconds:g}")
    return int(seconds)


def point_at_reference(settings: Settings, ref: Any) -> Settings:
    secrets = dict(settings.secrets)
    secrets["admin_key"] = ref.admin_key
    if getattr(ref, "staging_admin_key", None):
        secrets["staging_admin_key"] = ref.staging_admin_key
    return settings.with_values(
        api_url=ref.api_url,
        web_url=ref.web_url,
        staging_api_url=getattr(ref, "staging_api_url", None),
        staging_web_url=getattr(ref, "staging_web_url", None),
        connect_to=tuple(ref.connect_to),
        ca_bundle=str(ref.ca_bundle) if ref.ca_bundle else None,
        window_seconds=float(ref.window_seconds),
        secrets=secrets,
    )


def load_run_inputs(settings: Settings) -> dict[str, Any]:
    """Validate and load the files a person gave (attestations, waivers, env snapshots, checkout).

    Called before any check runs, so a bad file is a usage error (exit 2) with ``file:line``;
    loading the snapshots also registers their secret values with the masker.
    """
    from stackfast_conformance.inputs.attestations import load_attestations
    from stackfast_conformance.inputs.waivers import load_waivers

    inputs: dict[str, Any] = {
        "attestations": load_attestations(settings.attestations) if settings.attestations else None,
        "waivers": load_waivers(settings.waivers) if settings.waivers else None,
    }
    if settings.env_snapshot:
        from stackfast_conformance.snapshots import load_snapshots

        load_snapshots(settings.env_snapshot)
    if settings.har:
        from stackfast_conformance.har import load_hars

        inputs["har"] = load_hars(settings.har)  # registers every cookie value and token with the masker
    if settings.repo and not Path(settings.repo).is_dir():
        raise ValueError(f"--repo: {settings.repo} is not a directory; give the path of a Stackfast checkout")
    return inputs


def _drift(settings: Settings) -> dict[str, Any] | None:
    if not settings.repo:
        return None
    from stackfast_conformance.audits.drift import compare

    try:
        return compare(Path(settings.repo))
    except (OSError, ValueError) as exc:
        return {"error": str(exc), "drifted": None}


def not_run_results(plan: list[dict[str, Any]], results: list[dict[str, Any]],
                    started_ids: list[str] | tuple[str, ...] = (), signal_name: str | None = None) -> list[dict[str, Any]]:
    """One result per planned check that did not finish (the run was interrupted): SKIPPED, ``interrupted``.

    A check that started but never reported was running when the stop came; the others never started.
    """
    finished = {r["id"] for r in results}
    started = set(started_ids)
    how = f"interrupted ({signal_name})" if signal_name else "interrupted"
    missing = []
    for check in plan:
        if check["id"] in finished:
            continue
        when = "was running when the run stopped" if check["id"] in started else "had not started when the run stopped"
        missing.append({**check, "outcome": "skipped", "interrupted": True, "reason": f"{how}: not run (it {when})",
                        "error_class": None, "duration_s": 0.0, "failure": None, "exchanges": [], "cases": None,
                        "seed": None, "timeline": None, "notes": None})
    return missing


def warm_up() -> None:
    """Import what ``finish_run`` needs now, so an interrupted run's report is not held up by imports."""
    import importlib

    for name in ("catalog", "record", "report", "report._json", "report._markdown", "report._html",
                 "report._junit", "waivers", "attestations", "redact", "reference_inputs", "verdicts"):
        try:
            importlib.import_module(f"stackfast_conformance.{name}")
        except ImportError:
            pass


def finish_run(settings: Settings, results: list[dict[str, Any]], started: float, interrupted: bool,
               reference_info: dict[str, Any] | None, plan: list[dict[str, Any]] | None = None,
               started_ids: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """Verdicts and reports for a run; an interrupted run records every planned check that did not finish."""
    from stackfast_conformance.catalog import load_catalog
    from stackfast_conformance.inputs.waivers import mark_stale
    from stackfast_conformance.record import build_record
    from stackfast_conformance.report import write_reports

    inputs = load_run_inputs(settings)
    if interrupted and plan:
        from stackfast_conformance import interrupt

        results = list(results) + not_run_results(plan, results, started_ids, interrupt.signal_name())
    record = build_record(load_catalog(), settings, results, started, interrupted, reference=reference_info,
                          attestations=inputs["attestations"], waivers=inputs["waivers"], drift=_drift(settings))
    mark_stale(record)
    from stackfast_conformance.redact import redact_record

    record = redact_record(record)  # the terminal summary, every report and Allure see only masked text
    directory = Path(settings.report_dir)
    _add_context(settings, record, directory)
    write_reports(record, directory)
    _point_latest(directory)
    return record


def _add_context(settings: Settings, record: dict[str, Any], directory: Path) -> None:
    """Label the embedded reference's own inputs; compare with ``--baseline`` (comparison.md/.html)."""
    from stackfast_conformance.reference_inputs import label_for

    label = label_for(settings)
    if label:
        record["run"]["reference_inputs"] = label
    baseline = getattr(settings, "baseline", None)
    if baseline:
        from stackfast_conformance.diff import compare, load_report, write_comparison

        try:
            record["comparison"] = compare(load_report(baseline), record)
            write_comparison(record["comparison"], directory)
        except (OSError, ValueError) as exc:
            record["comparison"] = {"error": f"--baseline {baseline}: {exc}"}


def _point_latest(directory: Path) -> None:
    latest = directory.parent / "latest"
    try:
        if latest.is_symlink() or latest.exists():
            latest.unlink()
        os.symlink(directory.name, latest)
    except OSError:
        pass


def summary_lines(record: dict[str, Any], directory: Path, exit_code: int | None = None) -> list[str]:
    """The one end-of-run summary: verdict counts, blocking criteria with their reasons, report, exit status."""
    run = record["run"]
    from stackfast_conformance.verdicts import ERROR_LABELS, error_class_counts, verdict_label

    classes = error_class_counts(record["criteria"])
    by_class = ", ".join(f"{n} {ERROR_LABELS.get(c, c)}" for c, n in sorted(classes.items()))
    summary = ", ".join(f"{n} {v}" + (f" ({by_class})" if v == "ERROR" and by_class else "")
                        for v, n in run["summary"].items() if n)
    lines = ["", "stackfast-conformance: " + summary]
    for crit in record["criteria"]:
        if crit["blocks_release"]:
            lines.append(f"  {crit['id']} {verdict_label(crit)}: {crit['reason']}")
            for check_id in crit["checks"]:
                check = next((c for c in record["checks"] if c["id"] == check_id), None)
                if check and check.get("failure") and check["failure"].get("curl"):
                    lines.append(f"    reproduce with: {check['failure']['curl']}")
                    break
    if classes.get("harness"):
        lines.append("  HARNESS ERROR: the harness could not build or send some requests; that is a defect of "
                     "stackfast-conformance, not of the target (still not a pass)")
    if run["nothing_checked"]:
        lines.append("  NOTHING CHECKED: no check executed, so this run is not a pass")
    if run["interrupted"]:
        lines.append("  INTERRUPTED: the report covers what finished")
    comparison = record.get("comparison")
    if isinstance(comparison, dict):  # run --baseline DIR (diff.py)
        from stackfast_conformance.diff import summary_line

        lines.append("  " + summary_line(comparison))
    verdict = "RELEASE BLOCKED" if run["exit_status"] else "no blocking failure"
    lines.append(f"stackfast-conformance: {verdict}; report: {directory / 'traceability.html'}")
    code = run["exit_status"] if exit_code is None else exit_code
    lines.append("stackfast-conformance: " + EXIT_MEANINGS.get(code, f"exit {code}"))
    return lines


EXIT_MEANINGS = {
    0: "exit 0: no blocking criterion FAILED or ERROR",
    1: "exit 1: release blocked: a blocking criterion FAILED or ERROR, or nothing was checked",
    2: "exit 2: usage or configuration error",
    130: "exit 130: interrupted; the report covers what finished",
}
