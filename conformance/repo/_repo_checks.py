"""The one way a repo audit ends a check: pass, or fail naming every problem with file:line."""

from __future__ import annotations

import hashlib

from stackfast_conformance.audits.repo import Problem, RepoAudit
from stackfast_conformance.checks import expect


def record_files(checkout: RepoAudit, recorder, *relative: str) -> None:
    """Note which files the verdict rests on (path + sha256 prefix), as evidence."""
    for path in relative:
        text = checkout.text(path)
        digest = hashlib.sha256(text.encode()).hexdigest()[:12] if text is not None else "missing"
        recorder.notes.append(f"{checkout.find(path) or path}: sha256:{digest}")


def manifest_path(checkout: RepoAudit, service: str) -> str:
    """The service's Railway manifest as the checkout names it (railway.toml or railway.json)."""
    manifest, _ = checkout.manifest(service)
    return manifest.path if manifest else f"apps/{service}/railway.toml"


def expect_no_problems(problems: list[Problem], criterion: str, expected: str) -> None:
    first = problems[0] if problems else None
    expect(not problems, criterion, expected=f"{expected}" + (f" ({first.expected})" if first else ""),
           seen="; ".join(f"{p.where}: {p.seen}" for p in problems[:5])
           + (f" (+{len(problems) - 5} more)" if len(problems) > 5 else ""))
