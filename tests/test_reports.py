"""The reports rendered from one run record: Markdown, HTML, JUnit, and the files on disk."""

from __future__ import annotations

import copy
import json
import xml.etree.ElementTree as ET
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest

import stackfast_conformance.report as report
from stackfast_conformance.report import render_html, render_junit, render_markdown, write_reports

SAMPLE = Path(__file__).parent / "data" / "sample_traceability.json"
VERDICTS = {
    "PASSED",
    "FAILED",
    "ERROR",
    "SKIPPED",
    "NOT_APPLICABLE",
    "MANUAL",
    "ATTESTED",
    "WAIVED",
    "UNCOVERED",
}
EVIL = "<script>alert(1)</script>"
EVIL_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


@pytest.fixture
def run() -> dict:
    return json.loads(SAMPLE.read_text(encoding="utf-8"))


def _criterion(run: dict, cid: str) -> dict:
    return next(c for c in run["criteria"] if c["id"] == cid)


def _nothing_checked(run: dict) -> dict:
    """The sample as if no check had run: everything skipped or without a check."""
    quiet = copy.deepcopy(run)
    for c in quiet["criteria"]:
        if c["verdict"] in {"PASSED", "FAILED", "ERROR", "WAIVED"}:
            c.update(
                verdict="SKIPPED",
                reason="burns rate-limit quota; opt in with --allow-quota",
                blocks_release=False,
            )
    for ch in quiet["checks"]:
        ch.update(outcome="skipped", reason="not opted in", failure=None)
    quiet["run"].update(checks_executed=0, blocking=[], exit_status=1)
    return quiet


def _no_blocking(run: dict) -> dict:
    clear = copy.deepcopy(run)
    for c in clear["criteria"]:
        if c["verdict"] in {"FAILED", "ERROR"}:
            c.update(verdict="PASSED", reason=None, blocks_release=False)
    clear["run"].update(blocking=[], exit_status=0)
    return clear


# -- the sample itself ---------------------------------------------------------------------


def test_sample_holds_every_verdict_and_keeps_the_schema_rules(run):
    criteria = run["criteria"]
    assert {c["verdict"] for c in criteria} == VERDICTS
    assert len({c["id"] for c in criteria}) == len(criteria)
    assert all(c["reason"] for c in criteria if c["verdict"] != "PASSED")
    assert run["run"]["summary"] == {v: n for v, n in Counter(c["verdict"] for c in criteria).items()} | {
        v: 0 for v in VERDICTS - {c["verdict"] for c in criteria}
    }
    checks = {ch["id"]: ch for ch in run["checks"]}
    exchanges = {x["id"] for x in run["exchanges"]}
    assert run["run"]["checks_executed"] == sum(
        ch["outcome"] in {"passed", "failed", "error"} for ch in checks.values()
    )
    assert all(i in checks for c in criteria for i in c["checks"])
    assert all(x in exchanges for ch in checks.values() for x in ch["exchanges"])
    assert run["run"]["blocking"] == [c["id"] for c in criteria if c["blocks_release"]]
    listed = [i for r in run["requirements"] for i in r["criteria"]]
    assert sorted(listed) == sorted(c["id"] for c in criteria)
    assert any(
        ch["timeline"] and any(e["kind"] == "action" for e in ch["timeline"]) for ch in checks.values()
    )
    assert any(
        ch["outcome"] == "failed" and ch["failure"]["curl"] and ch["exchanges"] for ch in checks.values()
    )
    assert run["findings"]


def test_public_surface_is_pinned():
    assert report.__all__ == ["write_reports", "render_markdown", "render_html", "render_junit"]


# -- Markdown ------------------------------------------------------------------------------


def test_markdown_leads_with_the_release_verdict_and_names_the_target(run):
    md = render_markdown(run)
    assert md.splitlines()[0] == "# Stackfast conformance: RELEASE BLOCKED: 3 blocking criteria"
    assert "`https://api.stackfast.app`" in md
    assert "**Profile:** `ci`" in md


def test_markdown_blocking_section_gives_reason_statement_and_curl(run):
    md = render_markdown(run)
    blocking = md.split("## Blocking", 1)[1].split("## Matrix", 1)[0]
    assert "**R4.7 FAILED** — 429 without Retry-After" in blocking
    assert _criterion(run, "R4.7")["statement"] in blocking
    curl = next(ch for ch in run["checks"] if "R4.7" in ch["criteria"])["failure"]["curl"]
    assert f"```sh\n{curl}\n```" in blocking
    assert "**R2.3 ERROR**" in blocking and "**R4.8 FAILED**" in blocking
    assert "R4.4" not in blocking  # waived: listed, but not as blocking
    assert "302934307671667531413257853548643485645" in blocking  # the property's replay seed


def test_markdown_matrix_lists_every_criterion_once_with_its_checks_count(run):
    md = render_markdown(run)
    matrix = md.split("## Matrix", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in matrix.splitlines() if line.startswith("| ") and "**R" in line]
    assert len(rows) == len(run["criteria"])
    for crit in run["criteria"]:
        (row,) = [r for r in rows if f"**{crit['id']}**" in r]
        assert crit["verdict"] in row
        assert row.rstrip().endswith(f"| {len(crit['checks'])} |")


def test_markdown_sections_for_people(run):
    md = render_markdown(run)
    manual = md.split("## Still to confirm by a person", 1)[1].split("\n## ", 1)[0]
    assert {c["id"] for c in run["criteria"] if c["verdict"] == "MANUAL"} == {
        line.split("**")[1] for line in manual.splitlines() if line.startswith("- **")
    }
    skipped = md.split("## Skipped and why", 1)[1].split("\n## ", 1)[0]
    assert _criterion(run, "R1.6")["reason"] in skipped
    findings = md.split("## Advisory findings", 1)[1]
    assert "The edge overwrites x-forwarded-for" in findings


def test_markdown_escapes_pipes_and_html_in_table_cells(run):
    _criterion(run, "R4.7")["reason"] = f"seen a|b then {EVIL}"
    md = render_markdown(run)
    (row,) = [line for line in md.splitlines() if line.startswith("| ") and "**R4.7**" in line]
    assert "a\\|b" in row
    assert EVIL not in md and EVIL_ESCAPED in md
    unescaped_pipes = row.replace("\\|", "").count("|")
    assert unescaped_pipes == 6  # five cells


@pytest.mark.parametrize(
    ("variant", "headline"),
    [(_nothing_checked, "NOTHING CHECKED"), (_no_blocking, "No blocking failures")],
)
def test_markdown_headline_for_other_run_verdicts(run, variant, headline):
    md = render_markdown(variant(run))
    assert md.splitlines()[0] == f"# Stackfast conformance: {headline}"
    assert "## Blocking" not in md


# -- JUnit ---------------------------------------------------------------------------------


def _suite(xml: str) -> ET.Element:
    root = ET.fromstring(xml)
    suites = root.findall("testsuite") if root.tag == "testsuites" else [root]
    assert len(suites) == 1 and suites[0].get("name") == "stackfast-conformance"
    return suites[0]


def test_junit_has_one_testcase_per_criterion_and_counts_that_add_up(run):
    suite = _suite(render_junit(run))
    cases = suite.findall("testcase")
    assert [c.get("name").split(" ", 1)[0] for c in cases] == [c["id"] for c in run["criteria"]]
    assert int(suite.get("tests")) == len(cases)
    assert int(suite.get("failures")) == sum(c.find("failure") is not None for c in cases) == 2
    assert int(suite.get("errors")) == sum(c.find("error") is not None for c in cases) == 1
    assert int(suite.get("skipped")) == sum(c.find("skipped") is not None for c in cases) == 14


def test_junit_maps_each_verdict(run):
    cases = {c.get("name").split(" ", 1)[0]: c for c in _suite(render_junit(run)).findall("testcase")}
    r47 = cases["R4.7"]
    assert r47.get("classname") == "R4"
    assert r47.get("name") == f"R4.7 {_criterion(run, 'R4.7')['statement']}"
    failure = r47.find("failure")
    assert failure.get("message") == "429 without Retry-After"
    assert "expected: status 429 with a Retry-After header" in failure.text
    assert "seen:     status 429 without a Retry-After header" in failure.text
    assert "reproduce with: curl " in failure.text
    assert "Connection refused" in cases["R2.3"].find("error").text
    assert cases["R1.4"].find("skipped").get("message") == f"MANUAL: {_criterion(run, 'R1.4')['reason']}"
    assert cases["R2.7"].find("skipped").get("message").startswith("NOT_APPLICABLE: ")
    assert cases["R2.4"].find("skipped").get("message").startswith("UNCOVERED: ")
    assert cases["R1.6"].find("skipped").get("message").startswith("SKIPPED: ")
    waived = cases["R4.4"]
    assert waived.find("skipped").get("message").startswith("WAIVED: ")
    assert "ops@stackfast.app" in waived.find("system-out").text
    for passed in ("R5.1", "R1.3"):  # PASSED, ATTESTED
        assert list(cases[passed]) == []


def test_junit_survives_control_characters_from_the_target(run):
    _criterion(run, "R4.7")["reason"] = "body \x00\x1b[31mred\x07 & <b>"
    suite = _suite(render_junit(run))
    message = (
        next(c for c in suite.findall("testcase") if c.get("name").startswith("R4.7 "))
        .find("failure")
        .get("message")
    )
    assert message == "body \ufffd\ufffd[31mred\ufffd & <b>"


def test_junit_fails_a_run_that_checked_nothing(run):
    suite = _suite(render_junit(_nothing_checked(run)))
    cases = suite.findall("testcase")
    assert int(suite.get("tests")) == len(cases) == len(run["criteria"]) + 1
    (verdict,) = [c for c in cases if c.get("classname") == "run"]
    assert verdict.get("name") == "run: NOTHING CHECKED"
    assert int(suite.get("failures")) == 1 and verdict.find("failure") is not None


# -- HTML ----------------------------------------------------------------------------------


class _Collect(HTMLParser):
    VOID = {"meta", "input", "br", "link", "img", "hr", "rect", "line", "path"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.open: list[str] = []
        self.mismatched: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        if not self.open or self.open[-1] != tag:
            self.mismatched.append(tag)
            return
        self.open.pop()


def _parse(page: str) -> _Collect:
    parser = _Collect()
    parser.feed(page)
    parser.close()
    return parser


def test_html_has_one_row_per_criterion_with_its_verdict(run):
    parsed = _parse(render_html(run))
    assert parsed.open == [] and parsed.mismatched == []
    rows = {a["id"]: a for _tag, a in parsed.elements if (a.get("id") or "").startswith("crit-")}
    assert len(rows) == len(run["criteria"])
    for crit in run["criteria"]:
        assert rows[f"crit-{crit['id']}"]["data-verdict"] == crit["verdict"]
    sections = [
        a["id"] for tag, a in parsed.elements if tag == "section" and (a.get("id") or "").startswith("req-")
    ]
    assert sections == [f"req-{r['id']}" for r in run["requirements"]]


def test_html_offers_a_filter_per_verdict_and_a_search_box(run):
    parsed = _parse(render_html(run))
    filters = {a["data-filter"] for tag, a in parsed.elements if tag == "button" and "data-filter" in a}
    assert filters == VERDICTS | {"all", "blocking"}
    assert any(tag == "input" and a.get("type") == "search" for tag, a in parsed.elements)


def test_html_shows_header_verdict_checks_curl_exchanges_timeline_and_findings(run):
    page = render_html(run)
    assert '<h1 id="run-verdict" data-state="blocked">RELEASE BLOCKED: 3 blocking criteria</h1>' in page
    assert "https://api.stackfast.app" in page and ">ci<" in page
    assert "test_over_limit_answers_429_with_retry_after" in page
    assert "--connect-to api.stackfast.app:443:127.0.0.1:41234" in page
    assert "x-ratelimit-remaining" in page  # a response header of a recorded exchange
    assert page.count('<svg class="tl"') == sum(
        bool(ch["timeline"]) for ch in run["checks"] for _ in ch["criteria"]
    )
    assert "The edge overwrites x-forwarded-for" in page
    assert page.count('class="copy"') > 0


def test_html_is_self_contained(run):
    page = render_html(run)
    parsed = _parse(page)
    assert "<script src" not in page.lower() and "<link" not in page.lower()
    for tag, attrs in parsed.elements:
        assert "src" not in attrs, tag
        if tag != "a":
            assert "href" not in attrs, tag
    assert page.lower().count("<script") == 1
    assert "@import" not in page and "url(http" not in page


def test_html_escapes_everything_the_target_sent(run):
    evil = copy.deepcopy(run)
    exchange = evil["exchanges"][0]
    exchange["response_body"] = EVIL
    exchange["response_headers"][EVIL] = EVIL
    exchange["url"] = f"https://api.stackfast.app/?q={EVIL}"
    _criterion(evil, "R4.7")["reason"] = EVIL
    evil["findings"][0]["title"] = EVIL
    evil["checks"][0]["timeline"] = [{"t": 0.1, "kind": "action", "label": EVIL, "ok": True}]
    _criterion(evil, "R1.2")["spec_url"] = "javascript:alert(1)"
    page = render_html(evil)
    assert EVIL not in page
    assert EVIL_ESCAPED in page
    assert page.lower().count("<script") == 1
    assert 'href="javascript:' not in page


def test_html_headline_for_a_run_that_checked_nothing(run):
    assert 'data-state="nothing">NOTHING CHECKED</h1>' in render_html(_nothing_checked(run))


# -- files ---------------------------------------------------------------------------------


def test_write_reports_writes_the_four_files_atomically(run, tmp_path):
    target = tmp_path / "reports" / "latest"
    (target.parent).mkdir()
    paths = write_reports(run, target)
    assert {k: p.name for k, p in paths.items()} == {
        "json": "traceability.json",
        "markdown": "traceability.md",
        "html": "traceability.html",
        "junit": "junit.xml",
    }
    assert sorted(p.name for p in target.iterdir()) == sorted(
        p.name for p in paths.values()
    )  # no temp files left
    assert json.loads(paths["json"].read_text(encoding="utf-8")) == run
    assert paths["markdown"].read_text(encoding="utf-8") == render_markdown(run)
    assert paths["html"].read_text(encoding="utf-8") == render_html(run)
    ET.parse(paths["junit"])

    again = write_reports(_no_blocking(run), target)  # replaces, never appends
    assert again == paths
    assert render_markdown(_no_blocking(run)) == paths["markdown"].read_text(encoding="utf-8")


def test_write_reports_keeps_the_json_when_a_renderer_breaks(run, tmp_path, monkeypatch):
    def broken(_run):
        raise ValueError("renderer bug")

    monkeypatch.setitem(report._REPORTS, "html", ("traceability.html", broken))
    with pytest.raises(RuntimeError, match="traceability.html") as caught:
        write_reports(run, tmp_path)
    assert isinstance(caught.value.__cause__, ValueError)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junit.xml", "traceability.json", "traceability.md"]


@pytest.mark.parametrize(
    "record",
    [
        {},
        {"run": None, "criteria": [{"id": "R9.1"}], "checks": [{"id": "a", "timeline": [{"t": "soon"}]}]},
        {
            "run": {"checks_executed": 1, "interrupted": True},
            "criteria": [{"id": "R1.1", "verdict": "ERROR", "checks": ["a", "gone"], "blocks_release": True}],
            "checks": [
                {"id": "a", "outcome": "error", "exchanges": ["x"], "timeline": [{"t": 0, "kind": "action"}]}
            ],
            "exchanges": [{"id": "x", "status": None, "elapsed_ms": None, "response_headers": None}],
        },
    ],
)
def test_every_renderer_copes_with_a_sparse_record(record):
    """An interrupted run writes whatever it has; a report must still come out."""
    assert render_markdown(record).startswith("# Stackfast conformance: ")
    assert _parse(render_html(record)).mismatched == []
    suite = _suite(render_junit(record))
    assert int(suite.get("tests")) == len(suite.findall("testcase"))
