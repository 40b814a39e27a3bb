"""The run record itself, as ``traceability.json`` (the input every other report renders)."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import PurePath
from typing import Any


def _plain(value: Any) -> Any:
    """Values a run record may carry that JSON does not know: paths, times, sets."""
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return sorted(value, key=str) if isinstance(value, set | frozenset) else list(value)
    raise TypeError(f"traceability record holds a {type(value).__name__}, which JSON cannot carry: {value!r}")


def render_json(run: dict) -> str:
    return json.dumps(run, indent=2, sort_keys=False, ensure_ascii=False, default=_plain) + "\n"
