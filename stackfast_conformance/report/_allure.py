"""Allure results organised by the spec, written from the run record (issue 17 item 1).

``write_allure(record, directory)`` writes, for every check, an Allure result whose labels are
``epic`` = requirement ("R4 Upstash Redis rate limiter"), ``feature`` and ``story`` = criterion
("R4.7 …"), a ``tag`` per safety class and ``severity`` from the catalog, with links to the
criterion in the spec and to the check's source, and the evidence attached (each recorded
exchange as the report has it — secrets masked —, the curl reproduction, the Hypothesis seed,
the operator timeline). One synthetic result per criterion (status = verdict) lets Allure's
overview count criteria. Also ``environment.properties``, ``executor.json`` (from GitHub/GitLab CI
variables) and ``categories.json``. The record is already redacted (run.finish_run).
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path
from typing import Any

__all__ = ["CATEGORIES", "allure_status", "write_allure"]

_CHECK_STATUS = {"passed": "passed", "failed": "failed", "error": "broken", "skipped": "skipped",
                 "not_applicable": "skipped"}
_VERDICT_STATUS = {"PASSED": "passed", "FAILED": "failed", "ERROR": "broken", "SKIPPED": "skipped",
                   "NOT_APPLICABLE": "skipped", "MANUAL": "unknown", "ATTESTED": "passed", "WAIVED": "skipped",
                   "UNCOVERED": "unknown"}
_SEVERITY = {"blocker": "blocker", "critical": "critical", "major": "normal", "high": "critical",
             "medium": "normal", "normal": "normal", "low": "minor", "minor": "minor", "trivial": "trivial"}
SOURCE_URL_ENV = "STACKFAST_SOURCE_URL"  # e.g. https://github.com/org/repo/blob/main (links to each check)

CATEGORIES = [
    {"name": "target fails the spec", "matchedStatuses": ["failed"]},
    {"name": "harness error", "matchedStatuses": ["broken"], "messageRegex": "(?s).*harness error.*"},
    {"name": "transient infrastructure", "matchedStatuses": ["broken"], "messageRegex": "(?s).*transient.*"},
    {"name": "could not decide", "matchedStatuses": ["broken"]},
    {"name": "not opted in", "matchedStatuses": ["skipped"], "messageRegex": "(?s).*(not opted in|opt in with).*"},
    {"name": "interrupted (not run)", "matchedStatuses": ["skipped"], "messageRegex": "(?s).*interrupted.*"},
]


def allure_status(outcome: str) -> str:
    return _CHECK_STATUS.get(outcome, "unknown")


def _ms(iso: str | None) -> int:
    from datetime import datetime

    try:
        return int(datetime.fromisoformat(str(iso).replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return 0


def _anchor(spec_url: str | None, cid: str) -> str | None:
    return f"{spec_url}#{cid.lower().replace('.', '')}" if spec_url else None


def _message(check: dict[str, Any]) -> str | None:
    reason = check.get("reason")
    if check.get("outcome") == "error" and check.get("error_class") in ("harness", "transient"):
        label = "harness error" if check["error_class"] == "harness" else "transient"
        return reason if reason and reason.lower().startswith(label) else f"{label}: {reason}"
    return reason


class _Writer:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def attach(self, name: str, body: str, mime: str, ext: str) -> dict[str, str]:
        source = f"{uuid.uuid4()}-attachment.{ext}"
        (self.directory / source).write_text(body)
        return {"name": name, "source": source, "type": mime}

    def result(self, result: dict[str, Any]) -> None:
        (self.directory / f"{result['uuid']}-result.json").write_text(json.dumps(result, indent=1))


def _labels(crit: dict[str, Any], requirement: str, safety: str | None, suite: str) -> list[dict[str, str]]:
    story = f"{crit['id']} {crit['statement']}"[:200]
    labels = [{"name": "epic", "value": requirement}, {"name": "feature", "value": story},
              {"name": "story", "value": story}, {"name": "severity", "value": _SEVERITY.get(
                  str(crit.get("severity")).lower(), "normal")},
              {"name": "parentSuite", "value": requirement}, {"name": "suite", "value": crit["id"]},
              {"name": "subSuite", "value": suite}, {"name": "framework", "value": "stackfast-conformance"}]
    if safety:
        labels.append({"name": "tag", "value": safety})
    return labels


def write_allure(record: dict[str, Any], directory: Path) -> None:
    """Write Allure 2 result files for ``record`` into ``directory`` (e.g. ``--alluredir``)."""
    out = _Writer(Path(directory))
    run = record["run"]
    start, stop = _ms(run.get("started_at")), _ms(run.get("finished_at"))
    requirements = {r["id"]: f"{r['id']} {r['title']}" for r in record.get("requirements", [])}
    criteria = {c["id"]: c for c in record["criteria"]}
    exchanges = {x.get("id"): x for x in record.get("exchanges", [])}
    source_root = os.environ.get(SOURCE_URL_ENV)
    for check in record["checks"]:
        for cid in check["criteria"]:
            crit = criteria.get(cid)
            if crit is None:
                continue
            attachments = []
            for xid in check.get("exchanges") or ():
                if xid in exchanges:
                    attachments.append(out.attach(f"exchange {xid}", json.dumps(exchanges[xid], indent=1),
                                                  "application/json", "json"))
            failure = check.get("failure") or {}
            if failure.get("curl"):
                attachments.append(out.attach("reproduce with curl", failure["curl"], "text/plain", "txt"))
            if check.get("seed") is not None:
                attachments.append(out.attach("Hypothesis seed", f"seed: {check['seed']}\n"
                                              + (failure.get("message") or ""), "text/plain", "txt"))
            if check.get("timeline"):
                attachments.append(out.attach("operator timeline", json.dumps(check["timeline"], indent=1),
                                              "application/json", "json"))
            if check.get("notes"):
                attachments.append(out.attach("notes", "\n".join(check["notes"]), "text/plain", "txt"))
            links = [{"name": f"{cid} in the spec", "url": _anchor(crit.get("spec_url"), cid), "type": "tms"}]
            if source_root and check.get("file"):
                links.append({"name": "check source", "url": f"{source_root.rstrip('/')}/{check['file']}",
                              "type": "link"})
            key = f"{check['id']}|{cid}"
            out.result({
                "uuid": str(uuid.uuid4()), "historyId": hashlib.md5(key.encode()).hexdigest(),
                "testCaseId": hashlib.md5(key.encode()).hexdigest(), "fullName": key,
                "name": check.get("doc") or check["name"], "status": allure_status(check["outcome"]),
                "statusDetails": {"message": _message(check) or "", "trace": failure.get("message") or ""},
                "stage": "finished", "start": start, "stop": stop,
                "labels": _labels(crit, requirements.get(crit["requirement"], crit["requirement"]),
                                  check.get("safety"), "checks"),
                "links": [link for link in links if link["url"]], "attachments": attachments,
                "parameters": [], "steps": [], "description": check["id"],
            })
    for crit in record["criteria"]:  # one result per criterion: the overview counts criteria
        key = f"criterion|{crit['id']}"
        out.result({
            "uuid": str(uuid.uuid4()), "historyId": hashlib.md5(key.encode()).hexdigest(),
            "testCaseId": hashlib.md5(key.encode()).hexdigest(), "fullName": key,
            "name": f"{crit['id']} verdict: {crit['verdict']}", "status": _VERDICT_STATUS.get(crit["verdict"], "unknown"),
            "statusDetails": {"message": crit.get("reason") or "", "trace": ""},
            "stage": "finished", "start": start, "stop": stop,
            "labels": _labels(crit, requirements.get(crit["requirement"], crit["requirement"]), None, "verdict"),
            "links": [{"name": f"{crit['id']} in the spec", "url": _anchor(crit.get("spec_url"), crit["id"]),
                       "type": "tms"}] if crit.get("spec_url") else [],
            "attachments": [], "parameters": [], "steps": [], "description": crit["statement"],
        })
    _environment(record, out.directory)
    (out.directory / "categories.json").write_text(json.dumps(CATEGORIES, indent=1))
    (out.directory / "executor.json").write_text(json.dumps(_executor(), indent=1))


def _environment(record: dict[str, Any], directory: Path) -> None:
    run = record["run"]
    values = {"api": run["targets"].get("api"), "web": run["targets"].get("web"), "profile": run.get("profile"),
              "environment": run.get("environment"),
              "opt_ins": ",".join(k for k, v in (run.get("opt_ins") or {}).items() if v) or "none",
              "spec": (record.get("spec") or {}).get("url"),
              "spec_commit": (record.get("spec") or {}).get("commit"),
              "harness_version": (record.get("tool") or {}).get("version"), "interrupted": run.get("interrupted")}
    lines = [f"{k}={str(v).replace(chr(10), ' ')}" for k, v in values.items() if v not in (None, "")]
    (directory / "environment.properties").write_text("\n".join(lines) + "\n")


def _executor() -> dict[str, Any]:
    env = os.environ
    if env.get("GITHUB_ACTIONS"):
        server = env.get("GITHUB_SERVER_URL", "https://github.com")
        url = f"{server}/{env.get('GITHUB_REPOSITORY', '')}/actions/runs/{env.get('GITHUB_RUN_ID', '')}"
        return {"name": "GitHub Actions", "type": "github", "buildName": f"{env.get('GITHUB_WORKFLOW', '')} "
                f"#{env.get('GITHUB_RUN_NUMBER', '')}", "buildUrl": url, "reportUrl": url}
    if env.get("GITLAB_CI"):
        return {"name": "GitLab CI", "type": "gitlab", "buildName": f"{env.get('CI_JOB_NAME', '')} "
                f"#{env.get('CI_JOB_ID', '')}", "buildUrl": env.get("CI_JOB_URL", ""),
                "reportUrl": env.get("CI_PIPELINE_URL", "")}
    return {"name": "local", "type": "local", "buildName": "stackfast-conformance run"}
