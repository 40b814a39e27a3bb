"""``waivers.yaml``: known failures a named owner accepted until a date.

Example::

    waivers:
      - criterion: R2.6
        reason: "0007 drops tools.legacy_slug: phase 2 of a reviewed two-deploy change"
        owner: lead@stackfast.app
        expires: 2026-12-31

A waived failure is reported (WAIVED) but does not block; an expired waiver blocks again
(:mod:`stackfast_conformance.verdicts`); a waiver on a criterion that PASSED is stale
(:func:`mark_stale` flags it and adds a finding, so it gets removed).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from stackfast_conformance._yamlcheck import Date, ListOf, Mapping, Str
from stackfast_conformance.inputs._criterionfile import criterion_entries

__all__ = ["load_waivers", "mark_stale"]

_WAIVER = Mapping(
    required={
        "criterion": Str(pattern=r"R\d+\.\d+", description="a criterion id like R2.6"),
        "reason": Str(one_line=True, description="why the failure is accepted"),
        "owner": Str(one_line=True, description="who owns fixing it"),
        "expires": Date(),
    },
    name="waiver",
    id_key="criterion",
)
_SCHEMA = Mapping(required={"waivers": ListOf(_WAIVER)}, name="waivers file")


def load_waivers(path: Path | str, today: dt.date | None = None) -> dict[str, dict[str, Any]]:
    """``{criterion: {reason, owner, expires, expired}}``; ``ConfigFileError`` on any mistake."""
    path = Path(path)
    today = today or dt.date.today()
    result: dict[str, dict[str, Any]] = {}
    for cid, entry in criterion_entries(path, _SCHEMA, "waivers", "--waivers", "waived"):
        result[cid] = {"reason": entry["reason"], "owner": entry["owner"],
                       "expires": entry["expires"].isoformat(), "expired": entry["expires"] < today}
    return result


def mark_stale(record: dict[str, Any]) -> list[str]:
    """Flag waivers of criteria that PASSED (``"stale": true`` + a finding); returns their ids."""
    stale = []
    for criterion in record["criteria"]:
        waiver = criterion.get("waiver")
        if waiver and criterion["verdict"] == "PASSED":
            waiver["stale"] = True
            stale.append(criterion["id"])
            record["findings"].append({
                "id": f"f{len(record['findings']) + 1}", "title": f"stale waiver: {criterion['id']} passed",
                "severity": "advisory", "criteria": [criterion["id"]],
                "detail": f"{criterion['id']} passed in this run but waivers.yaml still waives it "
                          f"(owner {waiver.get('owner')}, expires {waiver.get('expires')}): remove the waiver",
                "check": None, "exchange": None,
            })
    return stale
