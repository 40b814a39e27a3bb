"""Schemathesis over the target's /openapi.json: every operation, through the run's evidence client.

Every generated case is sent with ``http`` (so each response passes the response-wide invariants and
lands in the report) under its own fresh client id (one read token per case). Custom checks decide
R8.1 (admin operations without a key -> 401), R4.8 (no Retry-After on a non-429) and R10.3 (never
ACAO ``*``); schemathesis' built-in server-error and schema-conformance checks become advisory findings.
The operations are driven once per run; each criterion is its own check (parametrized), so a fault
flags only its criterion. Production profile: GET operations only, few cases. POST operations only
with ``quota`` opted in; admin operations (POST) only with ``mutating`` (a broken guard would run them).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from stackfast_conformance._sendable import unsendable_reason
from stackfast_conformance.checks import fail

pytestmark = pytest.mark.usefixtures("applicable")
_RUN = pytest.StashKey[dict]()


@dataclass
class _Drive:
    cases: int = 0
    seed: int | None = None
    operations: list[str] = field(default_factory=list)
    admin_cases: int = 0
    violations: dict[str, tuple[str, str, str | None]] = field(default_factory=dict)  # criterion -> (expected, seen, curl)
    skipped: str | None = None
    unusable: list[str] = field(default_factory=list)  # "METHOD path: why" the document gives no usable operation


def _is_admin(path: str) -> bool:
    return path.split("/", 2)[1].lower() in ("admin", "internal") if path.startswith("/") else False


def _load_schema(http):
    import schemathesis

    r = http.get("/openapi.json")
    if r.status_code != 200:
        return None, f"the target has no usable OpenAPI document: GET /openapi.json answered {r.status_code}"
    try:
        doc = r.json()
        return schemathesis.openapi.from_dict(doc), None
    except (ValueError, json.JSONDecodeError) as exc:
        return None, f"the target's /openapi.json is not JSON: {exc}"
    except Exception as exc:  # schemathesis' own loading errors
        return None, f"the target's /openapi.json is not a usable OpenAPI document: {type(exc).__name__}: {exc}"


def _request_parts(case):
    """(headers, body, params) of a generated case, as ``_send`` puts them on the wire."""
    kwargs = case.as_transport_kwargs(base_url="")
    headers = {k: str(v) for k, v in (kwargs.get("headers") or {}).items()}
    cookies = kwargs.get("cookies") or {}
    if cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    body = None
    if "json" in kwargs:
        body = json.dumps(kwargs["json"])
        headers.setdefault("Content-Type", "application/json")
    elif kwargs.get("data") is not None:
        body = kwargs["data"]
    params = {k: (v if isinstance(v, str) else json.dumps(v) if not isinstance(v, list) else ",".join(map(str, v)))
              for k, v in (kwargs.get("params") or {}).items()}
    return headers, body, params


def _sendable(case) -> bool:
    """Only cases HTTP can carry: schemathesis draws e.g. ``Authorization: Bearer `` (an empty token)
    from a bearer security scheme, which no client can send (issue 12 fact 4)."""
    headers, _, _ = _request_parts(case)
    return unsendable_reason(headers.items()) is None


def _send(http, case, identity):
    headers, body, params = _request_parts(case)
    return http.request(case.method.upper(), case.formatted_path, headers=headers, identity=identity,
                        content=body, params=params or None)


def _drive(http, target, settings, fresh_identity, findings, prop) -> _Drive:
    from schemathesis.checks import not_a_server_error
    from schemathesis.core.errors import InvalidSchema
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    drive = _Drive(seed=prop.seed)
    schema, why = _load_schema(http)
    if schema is None:
        drive.skipped = why
        return drive
    builtin = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
    reported: set[tuple[str, str]] = set()
    for result in schema.get_all_operations():
        try:
            operation = result.ok()
        except Exception as exc:
            findings.add("an OpenAPI operation could not be loaded", str(exc)[:500])
            continue
        method, path = operation.method.upper(), operation.path
        if method != "GET" and not settings.opted_in("quota"):
            continue
        if _is_admin(path) and method != "GET" and not settings.opted_in("mutating"):
            continue
        try:
            prop.run(_property(operation, method, path, http, fresh_identity, findings, prop, drive, builtin,
                               reported), scale=0.05)
        except InvalidSchema as exc:  # e.g. Hono's catch-all /api/auth/{...path}: a finding about the document
            why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            drive.unusable.append(f"{method} {path}: {why}")
            findings.add(f"the OpenAPI document's {method} {path} cannot be used to generate requests",
                         f"/openapi.json declares {method} {path}, but schemathesis cannot generate requests for it: "
                         f"{why}. The operation was skipped; every other operation was checked, and the "
                         "response-wide invariants judged every response the run saw.")
            continue
        drive.operations.append(f"{method} {path}")
    return drive


def _property(operation, method, path, http, fresh_identity, findings, prop, drive, builtin, reported):
    """The property of one operation: send each generated case, apply the custom and built-in checks."""

    @prop.given(case=operation.as_strategy().filter(_sendable))
    def operation_keeps_the_invariants(case):
        admin = _is_admin(path)
        if admin:
            for name in list(case.headers or {}):
                if name.lower() in ("x-admin-api-key", "authorization"):
                    del case.headers[name]  # the custom check is about requests without a key
        r = _send(http, case, fresh_identity())
        drive.cases += 1
        curl = r.exchange.curl
        if admin:
            drive.admin_cases += 1
            if r.status_code != 401:
                drive.violations.setdefault("R8.1", (f"401 for {method} {case.formatted_path} without a key",
                                                     f"status {r.status_code}, body {r.text[:120]!r}", curl))
        if r.status_code != 429 and "retry-after" in r.headers:
            drive.violations.setdefault("R4.8", ("no Retry-After on a non-429 response",
                                                 f"status {r.status_code} with Retry-After: "
                                                 f"{r.headers['retry-after']} ({method} {path})", curl))
        if r.headers.get("access-control-allow-origin", "").strip() == "*":
            drive.violations.setdefault("R10.3", ("never Access-Control-Allow-Origin: *",
                                                  f"ACAO * on {method} {case.formatted_path}", curl))
        try:
            case.validate_response(r, checks=builtin)
        except (Exception, BaseExceptionGroup) as exc:  # schemathesis FailureGroup: advisory
            title = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__
            key = (f"{method} {path}", title)
            if key not in reported:
                reported.add(key)
                findings.add(f"schemathesis: {method} {path}: {title}", str(exc)[:1500],
                             criteria=(), exchange=r)

    return operation_keeps_the_invariants


@pytest.mark.parametrize("criterion", [
    pytest.param("R8.1", marks=pytest.mark.requirement("R8.1"), id="R8.1-admin-operations-401-without-key"),
    pytest.param("R4.8", marks=pytest.mark.requirement("R4.8"), id="R4.8-no-retry-after-on-non-429"),
    pytest.param("R10.3", marks=pytest.mark.requirement("R10.3"), id="R10.3-never-wildcard-acao"),
])
def test_openapi_operations_keep_the_invariants(criterion, request, http, target, settings, fresh_identity,
                                                findings, recorder, prop):
    """Every operation of /openapi.json, generated by schemathesis, keeps this criterion's invariant."""
    cache = request.config.stash.setdefault(_RUN, {})
    if "drive" not in cache:
        cache["drive"] = _drive(http, target, settings, fresh_identity, findings, prop)
        cache["by"] = request.node.nodeid
    else:
        recorder.notes.append(f"operations driven once for the run by {cache['by']} (its exchanges are the evidence)")
    drive: _Drive = cache["drive"]
    if drive.skipped:
        pytest.skip(drive.skipped)
    if not drive.cases:
        pytest.skip("no operation of /openapi.json could be driven"
                    + (f" ({'; '.join(drive.unusable)})" if drive.unusable else ""))
    recorder.extra["cases"] = drive.cases
    recorder.extra["seed"] = drive.seed
    recorder.notes.append(f"{len(drive.operations)} operations: {', '.join(drive.operations)}")
    for unusable in drive.unusable:
        recorder.notes.append(f"skipped (the document does not define it usably): {unusable}")
    if criterion == "R8.1" and not drive.admin_cases:
        pytest.skip("no admin operation was driven (they are POSTs: opt in with --allow-mutating)")
    if criterion in drive.violations:
        expected, seen, curl = drive.violations[criterion]
        fail(criterion, expected=expected, seen=seen, curl=curl,
             hint=f"schemathesis over /openapi.json, Hypothesis seed {drive.seed}")

