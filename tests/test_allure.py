"""Allure results organised by the spec (issue 17 item 1; docs/allure.md).

- the result files, from a record, carry requirement/criterion/safety labels, spec and source links
  and the evidence, and fit Allure's result model (allure-python-commons ``model2``);
- the spec links are GitHub heading anchors of the upstream spec at the catalog's commit;
- a real run writes one result per check plus one per criterion, nothing from allure-pytest;
- docs/allure.md's commands, run as written in a temporary directory (two short runs): the second
  report's history holds both runs for every criterion, and Chromium shows R1–R14 in Behaviors.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from allure_commons import model2

from stackfast_conformance.report._allure import (
    SPEC_HEADINGS,
    SPEC_HEADINGS_COMMIT,
    github_anchor,
    source_root,
    spec_link,
    write_allure,
)

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "allure.md"
ALLURE = ROOT / ".venv" / "bin" / "allure"  # scripts/bootstrap installs it (npm's allure-commandline)
CRITERIA = "R5.1,R11.2"  # short: one read-only check, and R11.2's checks that also verify R11.3/R11.4
STATUSES = {"passed", "failed", "broken", "skipped", "unknown"}
CHECK_FILE, CHECK_NAME = "conformance/test_r04_rate_limit.py", "test_429_retry_after_is_whole_seconds_within_the_window"
SPEC_URL = ("https://github.com/Nether403/Stackfast-2026/blob/d4bc1f71f638e2cab4aff76f51db884b1ad5d81c/"
            ".kiro/specs/phase-8-deployment/requirements.md")


def _validate(result: dict, directory: Path) -> None:
    """Allure 2's result model as allure-python-commons defines it: no unknown field, each typed."""
    model = model2.TestResult(**{k: v for k, v in result.items()})  # an unknown key raises TypeError
    assert isinstance(model.uuid, str) and isinstance(model.historyId, str) and isinstance(model.name, str)
    assert result["status"] in STATUSES and result["stage"] == "finished"
    assert isinstance(result["start"], int) and isinstance(result["stop"], int) and result["stop"] >= result["start"]
    for label in result.get("labels", []):
        assert set(label) == {"name", "value"} and all(isinstance(v, str) for v in label.values()), label
    for link in result.get("links", []):
        assert set(link) <= {"name", "url", "type"} and link["url"].startswith("https://"), link
    for attachment in result.get("attachments", []):
        assert set(attachment) == {"name", "source", "type"}, attachment
        assert (directory / attachment["source"]).is_file(), attachment
    if "statusDetails" in result:
        assert set(result["statusDetails"]) <= {"known", "flaky", "message", "trace"}


def _results(directory: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(directory.glob("*-result.json"))]


def _labels(result: dict, name: str) -> list[str]:
    return [label["value"] for label in result["labels"] if label["name"] == name]


def _record():
    crit = {"id": "R4.7", "requirement": "R4", "statement": "429 with Retry-After", "severity": "blocking",
            "verdict": "FAILED", "reason": "no Retry-After", "spec_url": SPEC_URL,
            "checks": [f"{CHECK_FILE}::{CHECK_NAME}"]}
    other = {**crit, "id": "R5.1", "requirement": "R5", "statement": "health", "verdict": "SKIPPED",
             "severity": "advisory", "reason": "not opted in: opt in with --allow-quota", "checks": []}
    check = {"id": f"{CHECK_FILE}::{CHECK_NAME}", "name": CHECK_NAME, "doc": "429 carries Retry-After",
             "file": CHECK_FILE, "criteria": ["R4.7"], "safety": "quota",
             "outcome": "failed", "reason": "a 429 carries Retry-After", "exchanges": ["x1"], "seed": 123,
             "timeline": [{"t": 0}], "duration_s": 1.5,
             "failure": {"curl": "curl -sS -i https://api.stackfast.app/x", "message": "seen no Retry-After"}}
    harness = {**check, "id": "conformance/test_r04_rate_limit.py::test_h", "name": "test_h", "doc": None,
               "outcome": "error", "error_class": "harness", "reason": "could not build the request",
               "failure": None, "seed": None, "timeline": None, "exchanges": []}
    return {"run": {"started_at": "2026-01-01T00:00:00Z", "finished_at": "2026-01-01T00:00:05Z",
                    "targets": {"api": "https://api.example.test", "web": "https://example.test"},
                    "profile": "reference", "environment": "production", "opt_ins": {"quota": True},
                    "interrupted": False, "exit_status": 1},
            "tool": {"version": "0.1.0"},
            "spec": {"url": SPEC_URL, "commit": SPEC_HEADINGS_COMMIT},
            "requirements": [{"id": "R4", "title": "Upstash Redis rate limiter"}, {"id": "R5", "title": "Health"}],
            "criteria": [crit, other], "checks": [check, harness],
            "exchanges": [{"id": "x1", "started_at": "2026-01-01T00:00:01Z", "method": "GET", "status": 429,
                           "request_headers": {"x-admin-key": "${STACKFAST_ADMIN_KEY}",
                                               "authorization": "Bearer abcdefghijklmnopqrstuvwxyz0123456789ABCD"}}]}


def test_results_carry_requirement_criterion_safety_links_and_evidence(tmp_path, monkeypatch):
    monkeypatch.setenv("STACKFAST_SOURCE_URL", "https://github.com/org/repo/blob/main")
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    assert write_allure(_record(), tmp_path) == 4  # two checks, two criteria
    results = _results(tmp_path)
    for result in results:
        _validate(result, tmp_path)
    check = next(r for r in results if r["fullName"].endswith(f"::{CHECK_NAME}"))
    assert _labels(check, "epic") == ["R4 Upstash Redis rate limiter"]
    assert _labels(check, "feature") == ["R4.7 429 with Retry-After"] and not _labels(check, "story")
    assert _labels(check, "tag") == ["quota"] and _labels(check, "severity") == ["blocker"]
    assert check["status"] == "failed" and check["name"] == "429 carries Retry-After"
    assert check["start"] == 1767225601000 and check["stop"] - check["start"] == 1500  # first exchange + duration
    links = {link["name"]: link["url"] for link in check["links"]}
    assert links["R4.7: Requirement 4, acceptance criterion 7"] == f"{SPEC_URL}#requirement-4-upstash-redis-rate-limiter"
    line = next(i for i, text in enumerate((ROOT / CHECK_FILE).read_text().splitlines(), 1)
                if text.startswith(f"def {CHECK_NAME}("))
    source = f"https://github.com/org/repo/blob/main/{CHECK_FILE}#L{line}"
    assert source in links.values()
    names = {a["name"] for a in check["attachments"]}
    assert {"exchange x1: GET 429", "reproduce with curl", "Hypothesis seed", "operator timeline"} <= names
    exchange = (tmp_path / next(a["source"] for a in check["attachments"] if a["name"].startswith("exchange x1")))
    text = exchange.read_text()
    assert "${STACKFAST_ADMIN_KEY}" in text and "abcdefghijklmnopqrstuvwxyz0123456789ABCD" not in text  # masked
    seed = (tmp_path / next(a["source"] for a in check["attachments"] if a["name"] == "Hypothesis seed")).read_text()
    assert "--hypothesis-seed=123" in seed and "seen no Retry-After" in seed
    harness = next(r for r in results if r["fullName"].endswith("::test_h"))
    assert harness["status"] == "broken" and harness["statusDetails"]["message"].startswith("harness error: ")
    verdicts = {r["name"]: (r["status"], _labels(r, "severity")) for r in results
                if r["fullName"].startswith("criterion|")}
    assert verdicts == {"R4.7 verdict: FAILED": ("failed", ["blocker"]), "R5.1 verdict: SKIPPED": ("skipped", ["minor"])}


def test_environment_executor_and_categories(tmp_path, monkeypatch):
    for name, value in {"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "org/repo", "GITHUB_RUN_ID": "42",
                        "GITHUB_RUN_NUMBER": "7", "GITHUB_WORKFLOW": "conformance"}.items():
        monkeypatch.setenv(name, value)
    write_allure(_record(), tmp_path)
    env = dict(line.split("=", 1) for line in (tmp_path / "environment.properties").read_text().splitlines())
    assert env["api"] == "https://api.example.test" and env["spec_commit"] == SPEC_HEADINGS_COMMIT
    assert env["opt_ins"] == "quota" and env["interrupted"] == "False" and env["harness_version"] == "0.1.0"
    executor = json.loads((tmp_path / "executor.json").read_text())
    assert executor["buildUrl"] == "https://github.com/org/repo/actions/runs/42"
    assert executor["buildName"] == "conformance #7" and executor["buildOrder"] == 7
    categories = json.loads((tmp_path / "categories.json").read_text())
    assert [c["name"] for c in categories][:5] == ["target fails the spec", "harness error",
                                                   "transient infrastructure", "could not decide", "not opted in"]


def test_spec_links_are_github_heading_anchors_at_the_catalogs_commit():
    """GitHub's anchor rule: lower-case, punctuation dropped (the '+' leaves two hyphens), spaces → '-'."""
    from stackfast_conformance.catalog import load_catalog

    catalog = load_catalog()
    assert SPEC_HEADINGS_COMMIT == catalog.spec["commit"], (
        "the catalog moved to another spec commit: re-read the '### Requirement N: …' headings there "
        "(SPEC_HEADINGS in report/_allure.py)")
    assert set(SPEC_HEADINGS) == {cid.split(".")[0] for cid in catalog.criteria}
    for requirement, heading in SPEC_HEADINGS.items():
        assert heading.startswith(f"Requirement {requirement[1:]}: ")
    assert github_anchor(SPEC_HEADINGS["R3"]) == "requirement-3-better-auth--github-oauth-in-production"
    assert github_anchor(SPEC_HEADINGS["R7"]) == "requirement-7-sentry-feature-flagged-error-tracking"
    assert github_anchor(SPEC_HEADINGS["R10"]) == "requirement-10-cors-and-cross-origin-policy"
    assert spec_link(catalog.spec["url"], "R12.4") == (
        "R12.4: Requirement 12, acceptance criterion 4", f"{SPEC_URL}#requirement-12-rollback-procedure")


def test_source_links_from_the_environment(tmp_path):
    root = tmp_path / "work" / "harness"
    assert source_root({}, root) is None
    assert source_root({"STACKFAST_SOURCE_URL": "https://git.example/o/r/blob/v1/"}, root) == \
        "https://git.example/o/r/blob/v1"
    github = {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "o/r", "GITHUB_SHA": "abc123"}
    assert source_root({**github, "GITHUB_WORKSPACE": str(root)}, root) == "https://github.com/o/r/blob/abc123"
    assert source_root({**github, "GITHUB_WORKSPACE": str(tmp_path / "work")}, root) == \
        "https://github.com/o/r/blob/abc123/harness"
    assert source_root({**github, "GITHUB_WORKSPACE": str(tmp_path / "elsewhere")}, root) is None  # not our checkout


# --- docs/allure.md, run as written ----------------------------------------------------------------

def _doc_commands() -> list[str]:
    text = DOC.read_text()
    commands = []
    for block in re.finditer(r"^```sh\n(.*?)^```", text, re.S | re.M):
        commands += [line.strip() for line in block.group(1).splitlines() if line.strip()]
    return commands


def _allure_cli() -> tuple[Path | None, str]:
    """The Allure command line, installed by scripts/bootstrap when it is missing; else why it cannot be."""
    if not ALLURE.exists() and shutil.which("npm") and shutil.which("java"):
        subprocess.run([str(ROOT / "scripts" / "bootstrap")], cwd=ROOT, capture_output=True, timeout=300)
    if not shutil.which("java"):
        return None, "no Java runtime: the Allure command line needs one (apt-get install default-jre-headless)"
    if not ALLURE.exists():
        return None, ("the Allure command line is not installed and scripts/bootstrap could not install it: "
                      + ("npm not found (apt-get install npm)" if not shutil.which("npm")
                         else "npm install allure-commandline failed (is the npm registry reachable?)"))
    return ALLURE, ""


def test_docs_allure_md_procedure_one_result_per_check_history_kept_and_behaviors_in_chromium(tmp_path):
    """One test (one pair of runs, also under xdist): the commands of docs/allure.md as written."""
    procedure = _run_procedure(tmp_path / "procedure")
    _one_result_per_check_and_per_criterion_and_nothing_else(procedure)
    if procedure["cli"] is None:
        pytest.skip(f"results checked; report, history and browser not: {procedure['why']}")
    _the_documented_copy_carries_the_history_per_criterion(procedure)
    _the_report_shows_r1_to_r14_in_behaviors_in_chromium(procedure, tmp_path)


def _run_procedure(work: Path) -> dict:
    """docs/allure.md's commands in order, in ``work``; ``open`` is run by the browser check."""
    cli, why = _allure_cli()
    work.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STACKFAST_", "GITHUB_", "GITLAB_"))}
    # one worker (STACKFAST_WORKERS): the procedure's result is the same, without four xdist workers' start-up
    env.update(STACKFAST_WINDOW_SECONDS="2", STACKFAST_CRITERIA=CRITERIA, STACKFAST_REPORT_DIR=str(work / "report"),
               STACKFAST_WORKERS="1")
    steps: dict = {"work": work, "cli": cli, "why": why, "runs": [], "open": None, "serve": None, "timings": []}
    for command in _doc_commands():
        if re.search(r" (open|serve) ", command):  # servers: run by the browser check
            steps[command.split()[1]] = command
            continue
        if command.startswith(".venv/bin/allure") and cli is None:
            continue
        line = re.sub(r"^stackfast-conformance\b", str(ROOT / ".venv/bin/stackfast-conformance"), command)
        line = line.replace(".venv/bin/allure", str(cli))
        started = time.monotonic()
        proc = subprocess.run(["bash", "-c", line], cwd=work, env=env, capture_output=True, text=True, timeout=300,
                              stdin=subprocess.DEVNULL)
        steps["timings"].append((command, round(time.monotonic() - started, 1)))
        assert proc.returncode == 0, f"{command}\n{(proc.stdout + proc.stderr)[-3000:]}"
        if " run " in f" {command} ":
            record = json.loads((work / "report" / "traceability.json").read_text())
            kept = shutil.copytree(work / "allure-results", work / f"results-of-run-{len(steps['runs']) + 1}")
            steps["runs"].append({"record": record, "results": _results(kept), "directory": kept,
                                  "files": sorted(p.name for p in kept.iterdir())})
    return steps


def _one_result_per_check_and_per_criterion_and_nothing_else(procedure: dict) -> None:
    assert len(procedure["runs"]) == 2
    for run in procedure["runs"]:
        record, results = run["record"], run["results"]
        assert not [f for f in run["files"] if f.endswith("-container.json")], "allure-pytest wrote containers"
        assert {r["fullName"] for r in results if not r["fullName"].startswith("criterion|")} == \
            {c["id"] for c in record["checks"]}
        assert len(results) == len(record["checks"]) + len(record["criteria"]), "a result appears twice"
        assert all(_labels(r, "framework") == ["stackfast-conformance"] for r in results)  # none from pytest
        outcome = {c["id"]: c["outcome"] for c in record["checks"]}
        verdict = {f"criterion|{c['id']}": c["verdict"] for c in record["criteria"]}
        for result in results:
            _validate(result, run["directory"])
            if result["fullName"] in verdict:
                assert result["name"] == f"{result['fullName'][10:]} verdict: {verdict[result['fullName']]}"
            else:
                assert result["status"] == {"passed": "passed", "failed": "failed", "error": "broken"}.get(
                    outcome[result["fullName"]], "skipped")
        both = next(r for r in results if len(_labels(r, "feature")) > 1)  # a check verifying two criteria
        assert _labels(both, "epic") == ["R11 Auth fails closed in production"]
        assert {"categories.json", "environment.properties", "executor.json"} <= set(run["files"])


def _the_documented_copy_carries_the_history_per_criterion(procedure: dict) -> None:
    work = procedure["work"]
    assert (work / "allure-results" / "history" / "history.json").is_file()  # the layout Allure reads
    history = json.loads((work / "allure-report" / "history" / "history.json").read_text())
    runs = procedure["runs"]
    for crit in runs[1]["record"]["criteria"]:
        result = next(r for r in runs[1]["results"] if r["fullName"] == f"criterion|{crit['id']}")
        # Allure 2 keys history by the historyId (recent versions: "md5(historyId).md5(parameters)")
        ours = {result["historyId"], hashlib.md5(result["historyId"].encode()).hexdigest()}
        entry = next(v for k, v in history.items() if k.split(".")[0] in ours)
        assert entry["statistic"]["total"] == 2, (crit["id"], entry)  # both runs, per criterion
    trend = json.loads((work / "allure-report" / "history" / "history-trend.json").read_text())
    assert len(trend) == 2 and trend[0]["data"]["total"] == len(runs[1]["results"])


def _the_report_shows_r1_to_r14_in_behaviors_in_chromium(procedure: dict, tmp_path: Path) -> None:
    """``allure open`` (as docs/allure.md shows it) serves the report; Chromium's Behaviors tab lists R1–R14,
    the Overview its Environment and Executor. ``allure serve`` serves the results the same way."""
    from stackfast_conformance.browser import Browser, BrowserError, find_chromium

    if find_chromium() is None:
        pytest.skip("no Chromium: apt-get install chromium (scripts/bootstrap does)")
    with _serving(procedure["open"], procedure) as url:
        with urllib.request.urlopen(f"{url}/data/behaviors.json", timeout=10) as answer:  # noqa: S310 - loopback
            epics = [child["name"] for child in json.load(answer)["children"]]
        assert sorted(epics, key=lambda n: int(n.split()[0][1:]))[0].startswith("R1 ")
        try:
            with Browser.launch() as browser:
                page = browser.new_page()
                page.navigate(f"{url}/#behaviors")
                try:
                    titles = page.wait_for(
                        "(() => { const t = Array.from(document.querySelectorAll('.node__title'))"
                        ".map(e => e.textContent.trim()); return t.length >= 14 ? t : null; })()", timeout=60)
                finally:
                    page.screenshot(tmp_path / "behaviors.png")
                shown = {m.group(1) for t in titles if (m := re.match(r"(R\d+) ", t))}
                assert shown == {f"R{n}" for n in range(1, 15)}, (titles, browser.log_tail())
                page.navigate(f"{url}/#")  # Overview: Environment (environment.properties), Executors
                overview = page.wait_for("(() => { const t = document.body.innerText; return t.includes('Environment')"
                                         " && t.includes('Executors') ? t : null; })()", timeout=30)
                assert "opt_ins" in overview and "stackfast-conformance run" in overview, overview[-2000:]
        except BrowserError as exc:
            pytest.fail(f"Chromium: {exc}")
    with _serving(procedure["serve"], procedure) as url:
        with urllib.request.urlopen(f"{url}/data/behaviors.json", timeout=10) as answer:  # noqa: S310 - loopback
            assert len(json.load(answer)["children"]) == 14


@contextlib.contextmanager
def _serving(command: str, procedure: dict) -> Iterator[str]:
    """Run ``allure open|serve`` as the doc shows it; yield the URL it prints; stop its process group."""
    command = command.replace(".venv/bin/allure", str(procedure["cli"]))
    server = subprocess.Popen(["bash", "-c", f"exec {command}"], cwd=procedure["work"], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL, start_new_session=True)
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in server.stdout or ()], daemon=True)
    reader.start()
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                seen.append(lines.get(timeout=max(0.1, deadline - time.monotonic())))
            except queue.Empty:
                break
            match = re.search(r"<(http://127\.0\.0\.1:\d+)/?>", seen[-1])
            if match:
                break
        else:
            match = None
        assert match, f"{command} printed no URL:\n" + "".join(seen)[-2000:]
        yield match.group(1)
    finally:  # the node wrapper and its java server: the process group this test started
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        reader.join(timeout=5)
        if server.stdout:
            server.stdout.close()
