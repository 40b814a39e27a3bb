"""A request the harness cannot build or send is the harness's error, named as such everywhere.

Fact 4 of issue 12: schemathesis generated ``Authorization: Bearer `` (an empty token), httpx
refused it, and the run blamed the target ("could not reach the target"). Now: such a request is a
``HarnessError`` (error_class ``harness``), the criterion's reason opens with "harness error", and the
terminal and every report label it ``ERROR (harness error)`` — still not a pass.
"""

from __future__ import annotations

import copy
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from stackfast_conformance._sendable import unsendable_header
from stackfast_conformance.evidence import EvidenceClient, Masker, Recorder
from stackfast_conformance.failures import HARNESS_PREFIX, CouldNotDecide, HarnessError
from stackfast_conformance.report import render_html, render_junit, render_markdown
from stackfast_conformance.run import summary_lines
from stackfast_conformance.verdicts import error_class_of, error_reason, verdict_label

SAMPLE = Path(__file__).parent / "data" / "sample_traceability.json"


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"OK")

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def loopback():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def client(loopback):
    with httpx.Client(timeout=5) as raw:
        yield EvidenceClient(raw, Recorder(check="t"), {"api": loopback}, Masker({}))


@pytest.mark.parametrize("headers", [
    {"Authorization": "Bearer "},          # what schemathesis generated from a bearer security scheme
    {"X-Thing": "a\r\nInjected: 1"},
    {"X-Thing": " padded"},
    {"X-Thing": "caf\u00e9"},              # httpx encodes str header values as ASCII
    {"Bad Name": "1"},
], ids=["empty-bearer", "crlf", "leading-space", "non-ascii", "bad-name"])
def test_unsendable_request_is_a_harness_error_not_the_target_s(client, headers):
    with pytest.raises(HarnessError) as caught:
        client.get("/health", headers=headers)
    assert caught.value.error_class == "harness"
    assert str(caught.value).startswith(HARNESS_PREFIX)
    assert "could not reach the target" not in str(caught.value)


def test_a_sendable_request_still_goes_through(client):
    r = client.get("/health", headers={"Authorization": "Bearer token", "Origin": "https://st\u0430ckfast.app".encode()})
    assert r.status_code == 200


def test_an_unreachable_target_stays_the_target_s_error():
    with httpx.Client(timeout=2) as raw:
        # a host no earlier test reached: a refusal after an answer would be transient (the evidence client's
        # memory of answered hosts), which is not what this test is about
        evidence = EvidenceClient(raw, Recorder(check="t"), {"api": "http://127.0.0.2:9"}, Masker({}))
        with pytest.raises(CouldNotDecide) as caught:
            evidence.get("/health")
    assert not isinstance(caught.value, HarnessError) and caught.value.error_class == "target"
    assert "could not reach the target" in str(caught.value)


def test_an_unsendable_header_value_names_why():
    assert unsendable_header("Authorization", "Bearer ") is not None
    assert unsendable_header("Authorization", "Bearer x") is None
    assert unsendable_header("Origin", "https://st\u0430ckfast.app".encode()) is None  # obs-text bytes are fine


def test_error_reason_names_the_class():
    harness = {"outcome": "error", "error_class": "harness", "reason": HARNESS_PREFIX + "GET /x: bad header"}
    target = {"outcome": "error", "error_class": "target", "reason": "could not reach the target: ReadTimeout"}
    transient = {"outcome": "error", "error_class": "transient", "reason": "transient: 3 gateway errors (502)"}
    assert error_reason([harness]).startswith("harness error: the harness could not build or send")
    assert error_reason([target]).startswith("could not decide: could not reach the target")
    assert error_reason([transient]) == "transient: 3 gateway errors (502)"  # never "transient: transient: …"
    assert error_class_of([harness]) == "harness"
    assert error_class_of([harness, target]) == "target"  # the target's own error outweighs ours
    assert verdict_label({"verdict": "ERROR", "error_class": "harness"}) == "ERROR (harness error)"
    assert verdict_label({"verdict": "FAILED"}) == "FAILED"


def _with_harness_error() -> dict:
    run = json.loads(SAMPLE.read_text(encoding="utf-8"))
    run = copy.deepcopy(run)
    run["run"].setdefault("nothing_checked", False)
    crit = next(c for c in run["criteria"] if c["verdict"] == "ERROR")
    crit.update(error_class="harness", blocks_release=True,
                reason="harness error: " + HARNESS_PREFIX + "POST /api/v1/blueprints: header Authorization: "
                       "value b'Bearer ' has surrounding whitespace")
    for check in run["checks"]:
        if check["id"] in crit["checks"] and check["outcome"] == "error":
            check["error_class"] = "harness"
    if crit["id"] not in run["run"]["blocking"]:
        run["run"]["blocking"].append(crit["id"])
    return run


def test_every_report_and_the_terminal_label_a_harness_error():
    run = _with_harness_error()
    markdown = render_markdown(run)
    assert "ERROR (harness error)" in markdown
    assert "ERROR (harness error)" in render_html(run)
    assert 'type="ERROR (harness error)"' in render_junit(run)
    lines = "\n".join(summary_lines(run, Path("/tmp/r")))
    assert "ERROR (harness error)" in lines
    assert "HARNESS ERROR" in lines and "not of the target" in lines


def test_a_target_error_is_not_labelled_as_the_harness_s():
    run = json.loads(SAMPLE.read_text(encoding="utf-8"))
    crit = next(c for c in run["criteria"] if c["verdict"] == "ERROR")
    crit["error_class"] = "target"
    run["run"].setdefault("nothing_checked", False)
    assert "harness error" not in render_markdown(run)
    assert "HARNESS ERROR" not in "\n".join(summary_lines(run, Path("/tmp/r")))
