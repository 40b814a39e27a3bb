"""``attestations.yaml``: a person's recorded confirmation of a criterion the harness cannot observe.

Example::

    attestations:
      - criterion: R1.4
        by: ops@stackfast.app
        at: 2026-11-20
        evidence: https://railway.com/project/…/deployments     # a URL …
        expires: 2027-02-20
      - criterion: R12.4
        by: lead@stackfast.app
        at: 2026-11-21
        evidence: evidence/rollback-drill.log                   # … or a file (relative to this YAML)
        sha256: 3b1f…                                           # whose sha256 must match
        expires: 2027-02-21

Validated with ``file:line`` errors (:mod:`stackfast_conformance._yamlcheck`); a file whose
sha256 no longer matches is an error too (the evidence changed since it was attested).
An expired attestation stays listed with ``expired: true`` and leaves the criterion MANUAL.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

from stackfast_conformance._yamlcheck import ConfigFileError, Date, ListOf, Mapping, Str
from stackfast_conformance.inputs._criterionfile import criterion_entries

__all__ = ["load_attestations"]

_ATTESTATION = Mapping(
    required={
        "criterion": Str(pattern=r"R\d+\.\d+", description="a criterion id like R1.4"),
        "by": Str(one_line=True, description="who attests (name or e-mail)"),
        "at": Date(),
        "evidence": Str(one_line=True, description="a URL or a file path"),
        "expires": Date(),
    },
    optional={"sha256": Str(pattern=r"[0-9a-f]{64}", description="the evidence file's sha256 (64 lowercase hex)"),
              "note": Str()},
    name="attestation",
    id_key="criterion",
)
_SCHEMA = Mapping(required={"attestations": ListOf(_ATTESTATION)}, name="attestations file")


def load_attestations(path: Path | str, today: dt.date | None = None) -> dict[str, dict[str, Any]]:
    """``{criterion: {by, at, evidence, sha256?, expires, expired}}``; ``ConfigFileError`` on any mistake."""
    path = Path(path)
    today = today or dt.date.today()
    result: dict[str, dict[str, Any]] = {}
    for cid, entry in criterion_entries(path, _SCHEMA, "attestations", "--attestations", "attested"):
        if entry["at"] > today:
            raise ConfigFileError(path, entry.line_of("at"), f"attestation date {entry['at']} is in the future")
        if entry["expires"] < entry["at"]:
            raise ConfigFileError(path, entry.line_of("expires"), "expires is before the attestation date 'at'")
        evidence = entry["evidence"]
        is_url = evidence.startswith(("https://", "http://"))
        record: dict[str, Any] = {"by": entry["by"], "at": entry["at"].isoformat(), "evidence": evidence,
                                  "expires": entry["expires"].isoformat(), "expired": entry["expires"] < today}
        if not is_url:
            file = (path.parent / evidence) if not Path(evidence).is_absolute() else Path(evidence)
            if "sha256" not in entry:
                raise ConfigFileError(path, entry.line_of("evidence"),
                                      f"evidence {evidence!r} is a file: add sha256: "
                                      + (repr(_sha256(file)) if file.is_file() else "<its sha256>"))
            if not file.is_file():
                raise ConfigFileError(path, entry.line_of("evidence"), f"evidence file {file} not found")
            actual = _sha256(file)
            if actual != entry["sha256"]:
                raise ConfigFileError(path, entry.line_of("sha256"),
                                      f"evidence {evidence} changed since it was attested: sha256 is {actual}, "
                                      f"the attestation says {entry['sha256']}")
            record["sha256"] = actual
        elif "sha256" in entry:
            record["sha256"] = entry["sha256"]
        if "note" in entry:
            record["note"] = entry["note"]
        result[cid] = record
    return result


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
