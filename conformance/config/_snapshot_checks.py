"""Shared judgement of the config checks: secret strength and cross-environment distinctness.

Messages show fingerprints (``sha256:<8 hex> (N chars)``), never values.
"""

from __future__ import annotations

from stackfast_conformance.checks import expect
from stackfast_conformance.snapshots import Snapshot, fingerprint, secret_strength


def expect_strong_secret(snapshot: Snapshot, name: str, criterion: str, recorder) -> None:
    value = snapshot.get(name)
    strength = secret_strength(value)
    recorder.notes.append(f"{snapshot.environment} {name}: {fingerprint(value)}"
                          + (f", {strength.encoding}, {strength.decoded_bytes} bytes" if strength.encoding else ""))
    expect(strength.ok, criterion,
           expected=f"{name} in {snapshot.environment}: 32 random bytes, hex/base64/base64url-encoded, "
                    "not a placeholder",
           seen=f"{name} {fingerprint(value)} {strength.problem}")


def expect_distinct(first: Snapshot, second: Snapshot, name: str, criterion: str, recorder,
                    other_name: str | None = None) -> None:
    """``first[name]`` must be set and differ from ``second[other_name or name]``."""
    other_name = other_name or name
    a, b = first.get(name), second.get(other_name)
    where_a, where_b = f"{first.environment} {name}", f"{second.environment} {other_name}"
    recorder.notes.append(f"{where_a}: {fingerprint(a)}; {where_b}: {fingerprint(b)}")
    expect(bool(a) and bool(b), criterion, expected=f"{where_a} and {where_b} both set",
           seen=f"{where_a} {fingerprint(a)}, {where_b} {fingerprint(b)}")
    expect(a != b, criterion, expected=f"{where_a} different from {where_b}",
           seen=f"the same value in both ({fingerprint(a)})")
