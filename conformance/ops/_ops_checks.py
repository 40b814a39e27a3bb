"""Shared steps of the operator-action checks (spending a bucket, fingerprint round trips)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from stackfast_conformance.failures import CouldNotDecide

GENERATION_PATH = "/api/v1/blueprints"
SESSION_PATH = "/api/auth/get-session"


def generation_posts(http: Any, count: int, identity: str, *, base: str = "api", parallel: int = 1) -> list[Any]:
    """``count`` empty POSTs to the generation bucket as ``identity`` (the limiter runs before auth)."""
    def one(_: int) -> Any:
        return http.post(GENERATION_PATH, base=base, json={}, identity=identity)

    if parallel <= 1:
        return [one(i) for i in range(count)]
    with ThreadPoolExecutor(max_workers=min(parallel, count)) as pool:
        return list(pool.map(one, range(count)))


def statuses(responses: Sequence[Any]) -> str:
    """``"401 x30, 429 x1"``: a compact account of what a burst saw."""
    counts = Counter(r.status_code for r in responses)
    return ", ".join(f"{status} x{n}" for status, n in sorted(counts.items()))


def ensure_not_limited(responses: Sequence[Any], what: str) -> None:
    """A fresh client must not be limited before its bucket is spent: otherwise nothing can be decided."""
    early = next((r for r in responses if r.status_code == 429), None)
    if early is not None:
        raise CouldNotDecide(f"{what}: a fresh client was already answered 429 ({statuses(responses)}), "
                             "so this check cannot tell what the limiter does", early.exchange.curl)


def skip_longer_window(what: str, elapsed: float, window: float) -> None:
    pytest.skip(f"{what} took {elapsed:.1f} s, longer than one rate-limit window ({window:g} s), so the "
                "bucket may have reset on its own: cannot decide; run with a longer --window-seconds "
                "(against the reference, e.g. --window-seconds 10)")


class Stopwatch:
    def __init__(self) -> None:
        self.started = time.monotonic()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started
