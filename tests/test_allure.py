"""Allure results organised by the spec (issue 17 item 1), validated against Allure 2's result schema."""

from __future__ import annotations

import json

from stackfast_conformance.report._allure import write_allure

STATUSES = {"passed", "failed", "broken", "skipped", "unknown"}
RESULT_KEYS = {"uuid": str, "historyId": str, "name": str, "fullName": str, "status": str, "stage": str,
               "start": int, "stop": int, "labels": list, "links": list, "attachments": list,
               "statusDetails": dict, "parameters": list, "steps": list}


def _validate(result: dict, directory) -> None:
    """Allure 2's TestResult shape (allure-python-commons model): types, status, labels, attachments exist."""
    for key, kind in RESULT_KEYS.items():
        assert isinstance(result.get(key), kind), (key, result.get(key))
    assert result["status"] in STATUSES and result["stage"] == "finished"
    for label in result["labels"]:
        assert set(label) == {"name", "value"} and all(isinstance(v, str) for v in label.values()), label
    for link in result["links"]:
        assert {"name", "url", "type"} <= set(link) and link["url"].startswith("http"), link
    for attachment in result["attachments"]:
        assert (directory / attachment["source"]).is_file(), attachment


def _record():
    crit = {"id": "R4.7", "requirement": "R4", "statement": "429 with Retry-After", "severity": "major",
            "verdict": "FAILED", "reason": "no Retry-After", "spec_url": "https://example.test/spec.md",
            "checks": ["conformance/test_r04.py::test_ra"]}
    other = {**crit, "id": "R5.1", "requirement": "R5", "statement": "health", "verdict": "SKIPPED",
             "reason": "not opted in: opt in with --allow-quota", "checks": []}
    check = {"id": "conformance/test_r04.py::test_ra", "name": "test_ra", "doc": "429 carries Retry-After",
             "file": "conformance/test_r04.py", "criteria": ["R4.7"], "safety": "quota", "outcome": "failed",
             "reason": "a 429 carries Retry-After", "exchanges": ["x1"], "seed": 123, "timeline": [{"t": 0}],
             "failure": {"curl": "curl -sS -i https://api.stackfast.app/x", "message": "seen no Retry-After"}}
    return {"run": {"started_at": "2026-01-01T00:00:00Z", "finished_at": "2026-01-01T00:00:05Z",
                    "targets": {"api": "https://api.stackfast.app", "web": "https://stackfast.app"},
                    "profile": "reference", "environment": "production", "opt_ins": {"quota": True},
                    "interrupted": False},
            "tool": {"version": "0.1.0"}, "spec": {"url": "https://example.test/spec.md", "commit": "abc"},
            "requirements": [{"id": "R4", "title": "Upstash Redis rate limiter"}, {"id": "R5", "title": "Health"}],
            "criteria": [crit, other], "checks": [check],
            "exchanges": [{"id": "x1", "request": {"headers": {"x-admin-key": "${STACKFAST_ADMIN_KEY}"}}}]}


def test_results_carry_requirement_criterion_safety_links_and_evidence(tmp_path, monkeypatch):
    monkeypatch.setenv("STACKFAST_SOURCE_URL", "https://github.com/org/repo/blob/main")
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    write_allure(_record(), tmp_path)
    results = [json.loads(p.read_text()) for p in tmp_path.glob("*-result.json")]
    for result in results:
        _validate(result, tmp_path)
    check = next(r for r in results if r["fullName"].startswith("conformance/"))
    labels = {(label["name"], label["value"]) for label in check["labels"]}
    assert ("epic", "R4 Upstash Redis rate limiter") in labels
    assert ("story", "R4.7 429 with Retry-After") in labels and ("feature", "R4.7 429 with Retry-After") in labels
    assert ("tag", "quota") in labels and ("severity", "normal") in labels
    assert check["status"] == "failed"
    urls = {link["url"] for link in check["links"]}
    assert "https://example.test/spec.md#r47" in urls
    assert "https://github.com/org/repo/blob/main/conformance/test_r04.py" in urls
    names = {a["name"] for a in check["attachments"]}
    assert {"exchange x1", "reproduce with curl", "Hypothesis seed", "operator timeline"} <= names
    exchange = next(a for a in check["attachments"] if a["name"] == "exchange x1")
    assert "${STACKFAST_ADMIN_KEY}" in (tmp_path / exchange["source"]).read_text()  # the record's masked text
    verdicts = {r["name"]: r["status"] for r in results if r["fullName"].startswith("criterion|")}
    assert verdicts == {"R4.7 verdict: FAILED": "failed", "R5.1 verdict: SKIPPED": "skipped"}


def test_environment_executor_and_categories(tmp_path, monkeypatch):
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_REPOSITORY", "org/repo")
    monkeypatch.setenv("GITHUB_RUN_ID", "42")
    write_allure(_record(), tmp_path)
    env = (tmp_path / "environment.properties").read_text()
    assert "api=https://api.stackfast.app" in env and "spec_commit=abc" in env and "opt_ins=quota" in env
    executor = json.loads((tmp_path / "executor.json").read_text())
    assert executor["buildUrl"].endswith("/org/repo/actions/runs/42")
    names = [c["name"] for c in json.loads((tmp_path / "categories.json").read_text())]
    for name in ("target fails the spec", "could not decide", "harness error", "transient infrastructure",
                 "not opted in"):
        assert name in names
