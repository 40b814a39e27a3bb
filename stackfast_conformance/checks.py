"""Helpers a check calls to decide: ``expect``/``fail`` (FAILED), ``not_applicable``, ``require_opt_in``."""

from __future__ import annotations

from typing import Any, NoReturn

import pytest

from stackfast_conformance.failures import CheckFailure, FailureDetail, TransientFault

NOT_APPLICABLE_PREFIX = "NOT_APPLICABLE: "

OPT_IN_FLAGS = {
    "quota": ("spends rate-limit quota", "--allow-quota"),
    "disruptive": ("disrupts the target (restart/redeploy/rollback/outage)", "--allow-disruptive"),
    "mutating": ("changes state on the target", "--allow-mutating"),
}


def _statement(criterion: str) -> str:
    from stackfast_conformance.catalog import load_catalog

    try:
        return load_catalog().get(criterion).statement
    except KeyError:
        return "(criterion not in the catalog)"


def fail(criterion: str, *, expected: str, seen: str, response: Any = None, hint: str | None = None,
         curl: str | None = None) -> NoReturn:
    """End the check as FAILED for ``criterion`` with expected vs seen and a curl reproduction.

    A ``response`` that is an edge's error page (``response.transient``, see ``_transient.py``) is no
    answer of the target's: the check ends ERROR ``TransientFault`` instead of judging it.
    """
    exchange = getattr(response, "exchange", None)
    transient = getattr(response, "transient", None)
    if transient:
        from stackfast_conformance._transient import reason

        raise TransientFault(reason([transient], f"where {criterion} needed the target's answer (expected "
                                                 f"{expected}); not judged"), getattr(exchange, "curl", None))
    raise CheckFailure(FailureDetail(
        criterion=criterion,
        statement=_statement(criterion),
        expected=expected,
        seen=seen,
        curl=curl or (exchange.curl if exchange is not None else None),
        hint=hint,
    ))


def expect(condition: Any, criterion: str, *, expected: str, seen: str, response: Any = None,
           hint: str | None = None) -> None:
    """``fail(...)`` unless ``condition`` holds."""
    if not condition:
        fail(criterion, expected=expected, seen=seen, response=response, hint=hint)


def not_applicable(reason: str) -> NoReturn:
    """End the check as NOT_APPLICABLE (permissive clause, other environment, …)."""
    pytest.skip(NOT_APPLICABLE_PREFIX + reason)


def require_opt_in(settings: Any, safety: str) -> None:
    """SKIP unless the run opted in to this safety class; the reason says how to opt in."""
    if safety == "read-only" or settings.opted_in(safety):
        return
    what, flag = OPT_IN_FLAGS[safety]
    pytest.skip(f"not opted in: this check {what} and the {settings.profile} profile does not allow it; "
                f"opt in with {flag}")
