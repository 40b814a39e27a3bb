"""The properties in ``properties/`` against the embedded reference: they pass when it conforms,
each of their faults is caught with exactly its criteria, the report links every property to its
criteria with the number of generated cases, and a production-profile run stays read-only and
within the read bucket."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from stackfast_conformance.killmatrix import run_harness
from stackfast_conformance.properties import GENERATION_ROUTES, KNOWN_ADMIN_ROUTES, is_read_route
from stackfast_conformance.reference import load_faults, start_reference

# module-scoped fixtures (its reference started once): under `pytest -n 4 --dist loadgroup` one worker runs the whole module
pytestmark = pytest.mark.xdist_group("test_properties")

ONLY_PROPERTIES = ["--", "-k", "test_prop_ or prop_"]
PROPERTY_CRITERIA = ("R10.2", "R10.3", "R10.4", "R8.1", "R8.3", "R8.4", "R8.6", "R11.2", "R4.5", "R4.2", "R4.3",
                     "R4.8")
# fault -> what the properties must flag (the fault registry's breaks, restricted to the properties' criteria)
PROPERTY_FAULTS = ("cors-wildcard", "cors-reflect-any-origin", "cors-suffix-match", "cors-prefix-match",
                   "cors-no-credentials", "admin-guard-known-routes-only", "admin-guard-after-validation",
                   "admin-guard-skips-encoded", "admin-guard-case-sensitive", "admin-bearer-rejected",
                   "admin-key-prefix-accepted", "auth-bypass-in-production", "limiter-fails-closed",
                   "retry-after-on-success")


def _property_checks(record: dict) -> list[dict]:
    return [c for c in record.get("checks", []) if c["file"].startswith("properties/")]


def test_properties_pass_on_the_conforming_reference_and_report_their_cases(tmp_path: Path) -> None:
    code, record, output = run_harness(["--window-seconds", "2", "--criteria", ",".join(PROPERTY_CRITERIA),
                                        *ONLY_PROPERTIES], tmp_path)
    checks = _property_checks(record)
    assert checks, output[-3000:]
    bad = [(c["id"], c["outcome"], c["reason"]) for c in checks if c["outcome"] != "passed"]
    assert not bad, output[-3000:]
    assert code == 0, output[-3000:]
    verdicts = {c["id"]: c for c in record["criteria"]}
    for check in checks:
        assert check["criteria"], check["id"]
        assert (check["cases"] or 0) > 0, f"{check['id']} reports no generated cases"
        assert check["seed"] is not None, check["id"]
        for cid in check["criteria"]:
            assert check["id"] in verdicts[cid]["checks"], (cid, check["id"])
    covered = {cid for c in checks for cid in c["criteria"]}
    assert covered == set(PROPERTY_CRITERIA)
    assert (tmp_path / "hypothesis").is_dir(), "the example database lives under the report dir"


def _run_fault(name: str, base: Path) -> tuple[str, tuple[str, ...], tuple[str, ...], str]:
    fault = load_faults()[name]
    expected = tuple(sorted(c for c in fault.breaks if c in PROPERTY_CRITERIA))
    report_dir = base / name
    # only the properties of the fault's own criteria (the kill matrix runs every check for strays)
    code, record, output = run_harness(["--fault", name, "--window-seconds", "2", "--criteria",
                                        ",".join(expected), *ONLY_PROPERTIES], report_dir)
    flagged = tuple(sorted(c["id"] for c in record.get("criteria", []) if c["verdict"] in ("FAILED", "ERROR")))
    return name, expected, flagged, output[-2500:]


def test_a_failing_property_names_its_seed_and_the_minimal_request(tmp_path: Path) -> None:
    _, _, flagged, output = _run_fault("cors-prefix-match", tmp_path)
    assert flagged == ("R10.4",), output
    record = json.loads((tmp_path / "cors-prefix-match" / "traceability.json").read_text())
    failed = [c for c in _property_checks(record) if c["outcome"] == "failed"]
    assert failed and failed[0]["failure"]["curl"].startswith("curl "), failed
    assert f"seed {failed[0]['seed']}" in failed[0]["failure"]["message"]
    assert "stackfast.app" in failed[0]["failure"]["seen"]


@pytest.fixture(scope="module")
def reference():
    with start_reference(window_seconds=2) as ref:
        yield ref


def test_production_profile_is_read_only_and_within_the_read_bucket(reference, tmp_path: Path) -> None:
    args = ["--profile", "production", "--api", reference.api_url, "--web", reference.web_url,
            "--window-seconds", "2", "--ca-bundle", str(reference.ca_bundle), "--connect-to",
            ",".join(reference.connect_to), *ONLY_PROPERTIES]
    code, record, output = run_harness(args, tmp_path)
    checks = _property_checks(record)
    assert checks, output[-3000:]
    outcomes = {c["id"]: c["outcome"] for c in checks}
    assert "failed" not in outcomes.values() and "error" not in outcomes.values(), output[-3000:]
    ran = [c for c in checks if c["outcome"] == "passed"]
    assert ran and all((c["cases"] or 0) > 0 for c in ran), outcomes
    assert all(c["outcome"] == "skipped" for c in checks if c["safety"] != "read-only"), outcomes
    reads: Counter[str] = Counter()
    for x in record["exchanges"]:
        if not x["check"].startswith("properties/"):
            continue
        path = "/" + x["url"].split("://", 1)[1].split("/", 1)[1] if "/" in x["url"].split("://", 1)[1] else "/"
        bare = path.split("?", 1)[0]
        assert not (x["method"] == "POST" and (bare in GENERATION_ROUTES or bare.lstrip("/").split("/")[0].lower()
                                               in ("admin", "internal") or bare in KNOWN_ADMIN_ROUTES)), x["curl"]
        assert x["method"] in ("GET", "HEAD", "OPTIONS"), x["curl"]
        if is_read_route(x["method"], path):
            reads[x["request_headers"].get("x-forwarded-for", "<none>")] += 1
    assert reads, "the production run sent no read request at all"
    assert max(reads.values()) <= 100, reads.most_common(3)
    assert sum(reads.values()) <= 100, f"{sum(reads.values())} read requests in one production run"


def test_an_example_answered_two_ways_is_an_error_with_both_outcomes(tmp_path: Path) -> None:
    """Issue 16 item 2: a Hypothesis FlakyFailure is ERROR "the target answered the same request
    differently", with the first failure (and its curl) and the replay's outcome as evidence."""
    from types import SimpleNamespace

    from hypothesis import strategies as st

    from stackfast_conformance.evidence import Recorder
    from stackfast_conformance.failures import CheckFailure, CouldNotDecide, FailureDetail
    from stackfast_conformance.properties import PropertyRunner

    settings = SimpleNamespace(hypothesis={"max_examples": 5}, profile="reference", report_dir=str(tmp_path))
    recorder = Recorder(check="t")
    prop = PropertyRunner(settings, recorder, pytest_seed=1)
    answers = iter([503] + [200] * 50)  # the "target": one 503, then 200 for the very same request

    @prop.given(n=st.just(1))
    def health_is_200(n):
        status = next(answers)
        if status != 200:
            raise CheckFailure(FailureDetail("R5.1", "GET /health answers 200", "status 200", f"status {status}",
                                             curl="curl -sS -i https://api.stackfast.app/health"))

    with pytest.raises(CouldNotDecide) as caught:
        prop.run(health_is_200)
    message = str(caught.value)
    assert caught.value.error_class == "target"
    assert message.startswith("the target answered the same request differently")
    assert "status 503" in message and "on replay the same example passed" in message
    assert caught.value.curl == "curl -sS -i https://api.stackfast.app/health"
    assert any("first run" in note for note in recorder.notes)


def test_openapi_documents_like_upstream_pass_and_name_the_unusable_operation(tmp_path: Path) -> None:
    """Issue 12 fact 4 and issue 16 item 3: a bearer security scheme (schemathesis draws
    'Authorization: Bearer ', which no client can send) and Hono's catch-all /api/auth/{...path}
    (an undefined path parameter) are no ERROR: unsendable cases are never generated, the unusable
    operation is an advisory finding and skipped, every other operation is still driven."""
    code, record, output = run_harness(["--window-seconds", "2", "--criteria", "R4.8,R10.3,R8.1",
                                        "--variant", "openapi-bearer-session", "--variant", "openapi-catch-all-auth",
                                        "--", "-k", "test_openapi_operations_keep_the_invariants"], tmp_path)
    verdicts = {c["id"]: c["verdict"] for c in record.get("criteria", [])}
    assert {cid: verdicts.get(cid) for cid in ("R4.8", "R10.3", "R8.1")} == dict.fromkeys(
        ("R4.8", "R10.3", "R8.1"), "PASSED"), output[-3000:]
    assert code == 0, output[-3000:]
    titles = [f["title"] for f in record["findings"]]
    assert any("GET /api/auth/{...path} cannot be used" in t for t in titles), titles
    driven = next(c for c in record["checks"] if c["id"].endswith("[R4.8-no-retry-after-on-non-429]"))
    notes = " ".join(driven.get("notes") or [])
    assert "POST /api/v1/blueprints" in notes and "Path parameter '...path' is not defined" in notes
    bearer = [x for x in record["exchanges"] if "authorization" in {k.lower() for k in x["request_headers"]}]
    assert bearer, "the bearer scheme's generated Authorization values were sent"
