"""Files a person keeps per criterion (attestations.yaml, waivers.yaml): one entry per known criterion."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from stackfast_conformance._yamlcheck import ConfigFileError, Schema, did_you_mean, load


def criterion_entries(path: Path, schema: Schema, list_key: str, option: str, verb: str) -> Iterator[tuple[str, Any]]:
    """Yield ``(criterion id, entry)`` of a validated file; unknown or repeated criteria are file:line errors."""
    from stackfast_conformance.catalog import load_catalog

    if not path.is_file():
        raise ConfigFileError(path, None, f"{list_key} file not found ({option})")
    catalog = load_catalog()
    seen: set[str] = set()
    for entry in load(path, schema)[list_key]:
        cid = entry["criterion"]
        if cid not in catalog.criteria:
            raise ConfigFileError(path, entry.line_of("criterion"),
                                  f"unknown criterion {cid!r}{did_you_mean(cid, catalog.criteria)}")
        if cid in seen:
            raise ConfigFileError(path, entry.line_of("criterion"), f"criterion {cid} is {verb} twice")
        seen.add(cid)
        yield cid, entry
