"""How a check ends when the target is wrong (FAILED) or when it cannot tell (ERROR).

``CheckFailure`` is an ``AssertionError`` so pytest reports it as a failure; it carries the
criterion, what was expected and seen, and the curl reproduction. ``format_failure`` is the one
formatter used by the terminal and by every report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class FailureDetail:
    criterion: str
    statement: str
    expected: str
    seen: str
    curl: str | None = None
    hint: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "criterion": self.criterion,
            "statement": self.statement,
            "expected": self.expected,
            "seen": self.seen,
            "curl": self.curl,
            "message": format_failure(self),
        }


class CheckFailure(AssertionError):
    """The target does not do what criterion ``detail.criterion`` requires."""

    def __init__(self, detail: FailureDetail) -> None:
        self.detail = detail
        super().__init__(format_failure(detail))


# Why a check could not decide; recorded as the check's ``error_class`` and shown in every report.
ERROR_CLASSES = ("target", "harness", "transient")


class CouldNotDecide(Exception):
    """The check could not reach or read the target (refused, TLS, timeout): an ERROR, never FAILED.

    ``error_class`` says whose problem it is: ``target`` (the target did not answer usably),
    ``harness`` (the harness could not build or send the request: our defect, never the target's),
    ``transient`` (gateway errors / resets the network produced: no evidence either way).
    """

    error_class = "target"

    def __init__(self, message: str, curl: str | None = None) -> None:
        self.curl = curl
        super().__init__(message + (f"\n  reproduce with: {curl}" if curl else ""))


class HarnessError(CouldNotDecide):
    """The harness could not build or send a request (e.g. a header value httpx refuses).

    Worded as the harness's defect, never the target's: the message always opens with
    ``HARNESS_PREFIX``. Still not a pass (the criterion is ERROR, the run exits 1).
    """

    error_class = "harness"

    def __init__(self, message: str, curl: str | None = None) -> None:
        if not message.startswith(HARNESS_PREFIX):
            message = HARNESS_PREFIX + message
        super().__init__(message, curl)


HARNESS_PREFIX = "the harness could not build or send this request: "


class TransientFault(CouldNotDecide):
    """Only gateway errors or connection resets were seen where evidence was needed."""

    error_class = "transient"


def format_failure(detail: FailureDetail) -> str:
    lines = [
        f"{detail.criterion} FAILED: {detail.statement}",
        f"  expected: {detail.expected}",
        f"  seen:     {detail.seen}",
    ]
    if detail.hint:
        lines.append(f"  note:     {detail.hint}")
    if detail.curl:
        lines.append(f"  reproduce with: {detail.curl}")
    return "\n".join(lines)
