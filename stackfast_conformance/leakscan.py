"""The leak scan: did any planted secret (or a 12-character piece of one) reach what the harness wrote?

The ``leak-secrets-*`` faults of the reference print fresh random secrets in its log, in operator
output and in error answers (``reference/_planted.py``). After a run against them, :func:`scan`
reads every file under the report directory (and the Allure results), the terminal output, and
looks for each planted value and every 12-character fragment of one, also URL- and HTML-decoded.
Zero hits is the bar. A hit names the secret's shape and where it was found, never the value.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from stackfast_conformance.redact import FRAGMENT

__all__ = ["Hit", "fragments", "scan", "scan_text"]


@dataclass(frozen=True)
class Hit:
    shape: str  # which planted secret (e.g. "neon_password")
    where: str  # a file path or "terminal"
    offset: int

    def __str__(self) -> str:
        return f"{self.shape} at {self.where}:{self.offset}"


def fragments(value: str, size: int = FRAGMENT) -> list[str]:
    """Every ``size``-character piece of ``value`` (the value itself when shorter)."""
    if len(value) <= size:
        return [value]
    return [value[i:i + size] for i in range(len(value) - size + 1)]


def scan_text(planted: Mapping[str, str], text: str, where: str) -> list[Hit]:
    """The planted secrets ``text`` shows (one hit per secret: its first fragment found)."""
    variants = {text, unquote(text), html.unescape(text)}
    hits = []
    for shape, value in planted.items():
        for piece in fragments(value):
            offset = next((v.find(piece) for v in variants if piece in v), -1)
            if offset >= 0:
                hits.append(Hit(shape, where, offset))
                break
    return hits


def scan(planted: Mapping[str, str], paths: Iterable[Path | str] = (),
         texts: Mapping[str, str] | None = None) -> list[Hit]:
    """Scan every file under ``paths`` (recursively, binary files decoded leniently) and ``texts``."""
    hits: list[Hit] = []
    for root in paths:
        root = Path(root)
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            hits += scan_text(planted, path.read_bytes().decode("utf-8", errors="replace"), str(path))
    for where, text in (texts or {}).items():
        hits += scan_text(planted, text, where)
    return hits


def exposed(planted: Mapping[str, str], paths: Iterable[Path | str]) -> set[str]:
    """The planted secrets the harness saw and masked: their masked form (``sha256:<8 hex>``) is in ``paths``.

    A scan with zero hits proves nothing if the secrets never reached the harness; this proves they did."""
    from stackfast_conformance.redact import mask_value

    texts = []
    for root in paths:
        root = Path(root)
        for path in ([root] if root.is_file() else root.rglob("*")):
            if path.is_file():
                texts.append(path.read_bytes().decode("utf-8", errors="replace"))
    blob = "\n".join(texts)
    return {shape for shape, value in planted.items() if mask_value(value).split(" ")[1].strip("(,") in blob}


def run_leak_fault(fault, base_dir: Path, window_seconds: float = 2.0, extra_args=()):  # type: ignore[no-untyped-def]
    """The kill matrix's judgement of a ``leak: true`` fault: run the fault's checks against a reference
    with it on (the harness is never told the planted values), then scan the report directory, the
    Allure results and the terminal output. ``missed`` lists every hit; ``stray`` any criterion flagged
    (a leak fault breaks nothing)."""
    from stackfast_conformance.killmatrix import MATRIX_PROFILE, FaultResult, run_harness
    from stackfast_conformance.reference import _planted, start_reference

    window = int(fault.window_seconds or window_seconds)
    report_dir, allure_dir = base_dir / fault.name, base_dir / f"{fault.name}-allure"
    profile = base_dir / f"{fault.name}-profile.yaml"
    profile.write_text(MATRIX_PROFILE)
    with start_reference(faults=(fault.name,), window_seconds=window) as ref:
        planted = _planted.read(ref.state_dir)
        args = ["--profile", "reference", "--window-seconds", str(window), "--profile-file", str(profile),
                "--alluredir", str(allure_dir), *fault.args, *extra_args]
        code, record, output = run_harness(args, report_dir, env=ref.harness_env())
    hits = scan(planted, [report_dir, allure_dir], {"terminal (stdout+stderr)": output})
    verdicts = {c["id"]: c["verdict"] for c in record.get("criteria", [])}
    flagged = tuple(sorted(cid for cid, v in verdicts.items() if v in ("FAILED", "ERROR")))
    missed = tuple(f"leak: {hit}" for hit in hits) + (() if record else ("no report was written",))
    result = FaultResult(fault.name, (), flagged, verdicts, code, str(report_dir), "", missed, flagged)
    result.output = output if not result.ok else ""
    result.planted = planted  # type: ignore[attr-defined]
    result.exposed = exposed(planted, [report_dir])  # type: ignore[attr-defined]
    return result
