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


class CouldNotDecide(Exception):
    """The check could not reach or read the target (refused, TLS, timeout): an ERROR, never FAILED."""

    def __init__(self, message: str, curl: str | None = None) -> None:
        self.curl = curl
        super().__init__(message + (f"\n  reproduce with: {curl}" if curl else ""))


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
