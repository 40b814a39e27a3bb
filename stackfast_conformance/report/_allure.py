"""Allure results organised by the spec, written from the run record (issue 17 item 1).

``write_allure(record, directory)`` (``run --alluredir DIR``, or ``pytest --alluredir DIR`` on the
checks) writes one Allure result per check and one per criterion, plus ``environment.properties``,
``executor.json`` and ``categories.json``. It is the only writer of the directory during a
harness run: :func:`silence_allure_pytest` turns allure-pytest's own listener off once the
plugin knows the session runs checks, because a check's Allure status must be its verdict in our
report (a FAILED withheld as transient, a check cut by Ctrl-C, a check that never started), which
exists only in the record. allure-pytest still provides what it is for here: the ``--alluredir``
option, and allure-python-commons' result model and file writer (``model2``, ``AllureFileLogger``).

A check's result: ``epic`` = requirement ("R4 Upstash Redis rate limiter"), ``feature`` =
criterion ("R4.7 …", one label per criterion it verifies), a ``tag`` for its safety class,
``severity`` from the catalog (blocking → blocker, advisory → minor), a link to the criterion's
requirement in the spec (GitHub's heading anchor at the catalog's commit) and to the check's
source, and its evidence attached: each recorded exchange (as the record has it, secrets masked),
the curl reproduction, the Hypothesis seed with the falsifying example, the operator timeline.
A criterion's result carries the same labels, is named by the criterion and has its verdict as
status, so the Behaviors tab reads requirement → criterion → verdict and checks.

No ``story`` label: Allure groups by every combination of epic, feature and story values, so a
check verifying two criteria would also appear under "R11.3 > R11.2"; epic → feature is the tree.
Every text written passes redaction (``redact.py``) although the record already did.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

__all__ = ["CATEGORIES", "SPEC_HEADINGS", "SPEC_HEADINGS_COMMIT", "allure_status", "github_anchor",
           "silence_allure_pytest", "source_root", "spec_link", "write_allure"]

_CHECK_STATUS = {"passed": "passed", "failed": "failed", "error": "broken", "skipped": "skipped",
                 "not_applicable": "skipped"}
_VERDICT_STATUS = {"PASSED": "passed", "FAILED": "failed", "ERROR": "broken", "SKIPPED": "skipped",
                   "NOT_APPLICABLE": "skipped", "MANUAL": "unknown", "ATTESTED": "passed", "WAIVED": "skipped",
                   "UNCOVERED": "unknown"}
_SEVERITY = {"blocking": "blocker", "advisory": "minor"}  # the catalog's two severities
SOURCE_URL_ENV = "STACKFAST_SOURCE_URL"  # e.g. https://github.com/org/stackfast-conformance/blob/main
EXCHANGES_ATTACHED_ONE_BY_ONE = 25  # beyond this, the rest of a check's exchanges go in one attachment

# The upstream spec's requirement headings (``### Requirement N: …``) at the catalog's commit: GitHub
# renders each as an anchor, the only anchors the file has near a criterion (the numbered criteria
# are list items). When the catalog moves to another commit, re-read the headings (tests check the pin).
SPEC_HEADINGS_COMMIT = "d4bc1f71f638e2cab4aff76f51db884b1ad5d81c"
SPEC_HEADINGS = {
    "R1": "Requirement 1: Split Railway Services",
    "R2": "Requirement 2: Neon Postgres Production Branch",
    "R3": "Requirement 3: Better Auth + GitHub OAuth in Production",
    "R4": "Requirement 4: Upstash Redis Rate Limiter",
    "R5": "Requirement 5: Production Health Check",
    "R6": "Requirement 6: Rate Limiting Verified in Production",
    "R7": "Requirement 7: Sentry Feature-Flagged Error Tracking",
    "R8": "Requirement 8: Admin API Key Enforcement",
    "R9": "Requirement 9: DNS and Custom Domains",
    "R10": "Requirement 10: CORS and Cross-Origin Policy",
    "R11": "Requirement 11: Auth Fails Closed in Production",
    "R12": "Requirement 12: Rollback Procedure",
    "R13": "Requirement 13: Staging Environment Isolation",
    "R14": "Requirement 14: README Deployment Documentation",
}

# First match wins (Allure's rule); the message is the check's reason as the report words it.
CATEGORIES = [
    {"name": "target fails the spec", "matchedStatuses": ["failed"]},
    {"name": "harness error", "matchedStatuses": ["broken"], "messageRegex": "(?s)harness error.*"},
    {"name": "transient infrastructure", "matchedStatuses": ["broken"], "messageRegex": "(?s)transient.*"},
    {"name": "could not decide", "matchedStatuses": ["broken"]},
    {"name": "not opted in", "matchedStatuses": ["skipped"], "messageRegex": "(?s).*(not opted in|opt in with).*"},
    {"name": "interrupted (not run)", "matchedStatuses": ["skipped"], "messageRegex": "(?s).*interrupted.*"},
]


def allure_status(outcome: str) -> str:
    return _CHECK_STATUS.get(outcome, "unknown")


def github_anchor(heading: str) -> str:
    """The fragment GitHub gives a Markdown heading: lower-case, punctuation dropped, each space a '-'."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def spec_link(spec_url: str | None, criterion_id: str) -> tuple[str, str] | None:
    """(name, url) of the criterion's requirement heading in the spec at the catalog's commit."""
    requirement, _, number = criterion_id.partition(".")
    heading = SPEC_HEADINGS.get(requirement)
    if not spec_url:
        return None
    if heading is None:
        return f"{criterion_id} in the spec", spec_url
    return (f"{criterion_id}: {heading.split(':')[0]}, acceptance criterion {number}",
            f"{spec_url.split('#')[0]}#{github_anchor(heading)}")


def source_root(env: dict[str, str] | None = None, project_root: Path | None = None) -> str | None:
    """Where the checks' source is browsable: ``STACKFAST_SOURCE_URL``, or in GitHub Actions the blob URL
    of the commit being built when the harness is that checkout (``GITHUB_WORKSPACE``); else None."""
    env = dict(os.environ) if env is None else env
    if env.get(SOURCE_URL_ENV):
        return env[SOURCE_URL_ENV].rstrip("/")
    server, repository, sha = env.get("GITHUB_SERVER_URL"), env.get("GITHUB_REPOSITORY"), env.get("GITHUB_SHA")
    workspace = env.get("GITHUB_WORKSPACE")
    if not (server and repository and sha and workspace):
        return None
    root = (project_root or Path(__file__).resolve().parents[2]).resolve()
    try:
        inside = root.relative_to(Path(workspace).resolve()).as_posix()
    except ValueError:
        return None  # the harness is not the repository being built: no link would resolve
    return "/".join(p for p in (f"{server.rstrip('/')}/{repository}/blob/{sha}", inside) if p and p != ".")


def _def_line(project_root: Path, file: str, name: str) -> int | None:
    """The line of the check's ``def`` (``test_x[param]`` → ``test_x``), for a ``#L<n>`` source link."""
    path = project_root / file
    if not file.endswith(".py") or not path.is_file():
        return None
    function = name.split("[")[0]
    try:
        tree = ast.parse(path.read_text())
    except (SyntaxError, UnicodeDecodeError):
        return None
    return next((node.lineno for node in ast.walk(tree)
                 if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == function), None)


def silence_allure_pytest(config: Any) -> None:
    """Turn allure-pytest's per-test listener off for this pytest process: the harness writes the results.

    Only the pytest side is unregistered: allure-pytest's own cleanup unregisters the listener from
    allure-commons at exit and expects to find it there; without pytest hooks it records nothing.
    """
    listener = config.pluginmanager.get_plugin("allure_listener")
    if listener is not None:
        config.pluginmanager.unregister(listener, "allure_listener")


def _ms(iso: str | None) -> int:
    from datetime import datetime

    try:
        return int(datetime.fromisoformat(str(iso).replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return 0


def _message(check: dict[str, Any]) -> str:
    reason = check.get("reason") or ""
    if check.get("outcome") == "error" and check.get("error_class") in ("harness", "transient"):
        label = "harness error" if check["error_class"] == "harness" else "transient"
        return reason if reason.lower().startswith(label) else f"{label}: {reason}"
    return reason


def _criterion_message(crit: dict[str, Any]) -> str:
    reason = crit.get("reason") or ""
    if crit.get("verdict") == "ERROR" and crit.get("error_class") in ("harness", "transient"):
        label = "harness error" if crit["error_class"] == "harness" else "transient"
        return reason if reason.lower().startswith(label) else f"{label}: {reason}"
    return reason


class _Writer:
    """allure-python-commons' file writer, every text redacted on its way out."""

    def __init__(self, directory: Path) -> None:
        from allure_commons.logger import AllureFileLogger

        self.logger = AllureFileLogger(str(directory))  # never cleans: --clean-alluredir is allure-pytest's
        self.written = 0

    def attach(self, name: str, body: str, mime: str, ext: str) -> Any:
        import uuid

        from allure_commons.model2 import ATTACHMENT_PATTERN, Attachment

        from stackfast_conformance.redact import redact_text

        source = ATTACHMENT_PATTERN.format(prefix=uuid.uuid4(), ext=ext)
        self.logger.report_attached_data(body=redact_text(body) or "", file_name=source)
        return Attachment(name=name, source=source, type=mime)

    def result(self, result: Any) -> None:
        from stackfast_conformance.redact import redact_text

        for field in ("name", "fullName", "description"):
            setattr(result, field, redact_text(getattr(result, field)))
        if result.statusDetails is not None:
            result.statusDetails.message = redact_text(result.statusDetails.message)
            result.statusDetails.trace = redact_text(result.statusDetails.trace)
        for label in result.labels:
            label.value = redact_text(label.value)
        self.logger.report_result(result)
        self.written += 1


def _labels(requirement: str, criteria: list[dict[str, Any]], safety: str | None, suite: str) -> list[Any]:
    from allure_commons.model2 import Label

    labels = [Label(name="epic", value=requirement), Label(name="parentSuite", value=requirement)]
    for crit in criteria:
        text = f"{crit['id']} {crit['statement']}"[:200]
        labels += [Label(name="feature", value=text), Label(name="suite", value=crit["id"])]
    severities = [_SEVERITY.get(str(c.get("severity")).lower(), "normal") for c in criteria]
    order = ["blocker", "critical", "normal", "minor", "trivial"]
    labels += [Label(name="severity", value=min(severities, key=order.index) if severities else "normal"),
               Label(name="subSuite", value=suite), Label(name="framework", value="stackfast-conformance")]
    if safety:
        labels.append(Label(name="tag", value=safety))
    return labels


def _history_id(key: str) -> str:
    return hashlib.md5(key.encode()).hexdigest()


def _evidence(out: _Writer, check: dict[str, Any], exchanges: dict[str, Any]) -> list[Any]:
    attachments = []
    failure = check.get("failure") or {}
    if failure.get("curl"):
        attachments.append(out.attach("reproduce with curl", failure["curl"], "text/plain", "txt"))
    for violation in check.get("violations") or ():
        if violation.get("curl"):
            attachments.append(out.attach(f"reproduce {violation.get('criterion')} with curl", violation["curl"],
                                          "text/plain", "txt"))
    if check.get("seed") is not None:
        text = (f"Hypothesis seed {check['seed']}; replay with "
                f"`stackfast-conformance run ... -- --hypothesis-seed={check['seed']}`\n")
        if failure.get("message"):
            text += "\n" + failure["message"]
        attachments.append(out.attach("Hypothesis seed", text, "text/plain", "txt"))
    if check.get("timeline"):
        attachments.append(out.attach("operator timeline", json.dumps(check["timeline"], indent=1),
                                      "application/json", "json"))
    if check.get("notes"):
        attachments.append(out.attach("notes", "\n".join(map(str, check["notes"])), "text/plain", "txt"))
    recorded = [exchanges[x] for x in check.get("exchanges") or () if x in exchanges]
    for exchange in recorded[:EXCHANGES_ATTACHED_ONE_BY_ONE]:
        title = f"exchange {exchange.get('id')}: {exchange.get('method', '')} {exchange.get('status', '')}".strip()
        attachments.append(out.attach(title, json.dumps(exchange, indent=1), "application/json", "json"))
    rest = recorded[EXCHANGES_ATTACHED_ONE_BY_ONE:]
    if rest:
        attachments.append(out.attach(f"exchanges {EXCHANGES_ATTACHED_ONE_BY_ONE + 1}–{len(recorded)}",
                                      json.dumps(rest, indent=1), "application/json", "json"))
    return attachments


def write_allure(record: dict[str, Any], directory: Path, project_root: Path | None = None) -> int:
    """Write Allure 2 result files for ``record`` into ``directory``; returns how many results."""
    from allure_commons.model2 import Link, StatusDetails, TestResult

    from stackfast_conformance.redact import redact_record

    record = redact_record(record)  # idempotent: the record is already masked (run.finish_run)
    project_root = project_root or Path(__file__).resolve().parents[2]
    out = _Writer(Path(directory))
    run = record["run"]
    start, stop = _ms(run.get("started_at")), _ms(run.get("finished_at"))
    requirements = {r["id"]: f"{r['id']} {r['title']}" for r in record.get("requirements", [])}
    criteria = {c["id"]: c for c in record["criteria"]}
    exchanges = {x.get("id"): x for x in record.get("exchanges", [])}
    source = source_root(project_root=project_root)

    def spec_links(ids: list[str]) -> list[Any]:
        found = [spec_link(criteria[cid].get("spec_url") or (record.get("spec") or {}).get("url"), cid)
                 for cid in ids]
        return [Link(type="tms", url=url, name=name) for name, url in dict.fromkeys(f for f in found if f)]

    for check in record["checks"]:
        linked = [criteria[cid] for cid in check.get("criteria") or () if cid in criteria]
        if not linked:
            continue
        links = spec_links([c["id"] for c in linked])
        if source and check.get("file"):
            line = _def_line(project_root, check["file"], check.get("name") or "")
            links.append(Link(type="link", url=f"{source}/{check['file']}" + (f"#L{line}" if line else ""),
                              name=f"check source: {check['file']}" + (f":{line}" if line else "")))
        requirement = linked[0]["requirement"]
        failure = check.get("failure") or {}
        first = next((exchanges[x].get("started_at") for x in check.get("exchanges") or () if x in exchanges), None)
        began = _ms(first) or start
        ended = began + int(float(check.get("duration_s") or 0) * 1000) if check.get("duration_s") else stop
        out.result(TestResult(
            uuid=_uuid(), historyId=_history_id(check["id"]), testCaseId=_history_id(check["id"]),
            fullName=check["id"], name=check.get("doc") or check.get("name") or check["id"],
            status=allure_status(check.get("outcome", "")),
            statusDetails=StatusDetails(message=_message(check), trace=failure.get("message") or None),
            stage="finished", start=began, stop=max(began, ended), description=check["id"],
            labels=_labels(requirements.get(requirement, requirement), linked, check.get("safety"), "checks"),
            links=links, attachments=_evidence(out, check, exchanges)))
    for crit in record["criteria"]:  # one result per criterion: status = verdict
        key = f"criterion|{crit['id']}"
        checks = ", ".join(crit.get("checks") or ()) or "no check"
        out.result(TestResult(
            uuid=_uuid(), historyId=_history_id(key), testCaseId=_history_id(key), fullName=key,
            name=f"{crit['id']} verdict: {crit['verdict']}", status=_VERDICT_STATUS.get(crit["verdict"], "unknown"),
            statusDetails=StatusDetails(message=_criterion_message(crit)),
            stage="finished", start=start, stop=stop,
            description=f"{crit['statement']}\n\nchecks: {checks}",
            labels=_labels(requirements.get(crit["requirement"], crit["requirement"]), [crit], None, "verdict"),
            links=spec_links([crit["id"]])))
    directory = Path(directory)
    _environment(record, directory)
    _write_json(directory / "categories.json", CATEGORIES)
    _write_json(directory / "executor.json", _executor())
    return out.written


def _uuid() -> str:
    import uuid

    return str(uuid.uuid4())


def _write_json(path: Path, value: Any) -> None:
    from stackfast_conformance.redact import redact_record

    if isinstance(value, dict):
        value = {k: v for k, v in value.items() if v is not None}
    path.write_text(json.dumps(redact_record(value), indent=1) + "\n")


def _environment(record: dict[str, Any], directory: Path) -> None:
    from stackfast_conformance.redact import redact_text

    run = record["run"]
    spec = record.get("spec") or {}
    values = {"api": run["targets"].get("api"), "web": run["targets"].get("web"), "profile": run.get("profile"),
              "environment": run.get("environment"),
              "opt_ins": ",".join(k for k, v in (run.get("opt_ins") or {}).items() if v) or "none",
              "spec": spec.get("url"), "spec_commit": spec.get("commit"),
              "harness_version": (record.get("tool") or {}).get("version"), "interrupted": run.get("interrupted"),
              "exit_status": run.get("exit_status")}
    # each line redacted whole: NAME=value is the shape redaction judges (a commit is no secret, a token is)
    lines = [redact_text(f"{k}={str(v).replace(chr(10), ' ')}") for k, v in values.items() if v not in (None, "")]
    (directory / "environment.properties").write_text("\n".join(lines) + "\n")


def _executor() -> dict[str, Any]:
    env = os.environ
    if env.get("GITHUB_ACTIONS"):
        server = env.get("GITHUB_SERVER_URL", "https://github.com")
        url = f"{server}/{env.get('GITHUB_REPOSITORY', '')}/actions/runs/{env.get('GITHUB_RUN_ID', '')}"
        return {"name": "GitHub Actions", "type": "github", "buildName": f"{env.get('GITHUB_WORKFLOW', '')} "
                f"#{env.get('GITHUB_RUN_NUMBER', '')}", "buildOrder": _int(env.get("GITHUB_RUN_NUMBER")),
                "buildUrl": url, "reportUrl": url}
    if env.get("GITLAB_CI"):
        return {"name": "GitLab CI", "type": "gitlab", "buildName": f"{env.get('CI_JOB_NAME', '')} "
                f"#{env.get('CI_JOB_ID', '')}", "buildOrder": _int(env.get("CI_PIPELINE_IID")),
                "buildUrl": env.get("CI_JOB_URL", ""), "reportUrl": env.get("CI_PIPELINE_URL", "")}
    return {"name": "local", "type": "local", "buildName": "stackfast-conformance run"}


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None
