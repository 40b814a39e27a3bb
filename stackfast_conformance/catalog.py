"""The catalog: the spec's acceptance criteria as data (``requirements/criteria.yaml``).

Everything that reports on a criterion (markers, verdicts, reports) reads it
from here, so a criterion's id, statement and observation class are defined
once. The file is validated on load: a mistake is a :class:`ConfigFileError`
saying ``file:line``, what was expected and what was found.

Each statement carries a fingerprint (see :func:`fingerprint`). When someone
edits a statement without re-recording its fingerprint, loading fails with a
"stale link" error: the checks linked to that criterion were written against
the old wording and deserve a look before the new fingerprint is recorded.

Callers must treat the returned objects as read-only: :func:`load_catalog`
caches one :class:`Catalog` per file and hands the same object to everyone.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from stackfast_conformance._yamlcheck import (
    ConfigFileError,
    Enum,
    Int,
    ListOf,
    Mapping,
    MappingData,
    Str,
    did_you_mean,
    load,
)

__all__ = [
    "ENVIRONMENTS",
    "MODALITIES",
    "OBSERVATIONS",
    "SEVERITIES",
    "Catalog",
    "ConfigFileError",
    "Criterion",
    "Requirement",
    "UnknownCriterionError",
    "default_catalog_path",
    "fingerprint",
    "load_catalog",
]

MODALITIES = ("shall", "may", "exemption")
OBSERVATIONS = ("http", "prop", "edge", "config", "repo", "ops", "cross-env", "manual", "permissive")
ENVIRONMENTS = ("local", "ci", "staging", "production")
SEVERITIES = ("blocking", "advisory")

CATALOG_ENV_VAR = "STACKFAST_CATALOG"
CRITERION_ID_PATTERN = r"R\d+\.\d+"
REQUIREMENT_ID_PATTERN = r"R\d+"
_NOT_AUTOMATED = frozenset({"manual", "permissive"})


def fingerprint(statement: str) -> str:
    """``"sha256:" + 12 hex`` of the statement with whitespace collapsed and lowercased.

    Insensitive to re-wrapping and capitalisation; any change of wording changes it.
    """
    normalised = " ".join(statement.split()).lower()
    return "sha256:" + hashlib.sha256(normalised.encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True)
class Criterion:
    """One acceptance criterion, e.g. R4.7, as the catalog states it."""

    id: str
    requirement: str
    requirement_title: str
    statement: str
    modality: str  # shall | may | exemption
    observation: tuple[str, ...]  # first = primary way of observing it
    applies_to: tuple[str, ...]  # environments where it is meant to hold
    severity: str  # blocking | advisory
    fingerprint: str
    why_not_automated: str | None
    line: int  # line of the criterion in the catalog file (1-based)

    @property
    def blocking(self) -> bool:
        """A failure of this criterion blocks the release."""
        return self.severity == "blocking"

    @property
    def permissive(self) -> bool:
        """A MAY clause or an exemption: nothing to verify."""
        return self.modality in ("may", "exemption") or "permissive" in self.observation

    @property
    def manual_only(self) -> bool:
        """No automated observation exists: only an attestation (or nothing) can cover it."""
        return set(self.observation) <= _NOT_AUTOMATED


@dataclass(frozen=True)
class Requirement:
    """A numbered requirement (R1..R14) and the ids of its criteria, in order."""

    id: str
    title: str
    criteria: tuple[str, ...]


class UnknownCriterionError(KeyError):
    """``Catalog.get`` of an id the catalog does not have; ``str()`` is the readable message."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class Catalog:
    """The loaded catalog. ``criteria`` is ordered by id (R1.1, R1.2, ..., R14.5)."""

    spec: dict[str, str]
    requirements: tuple[Requirement, ...]
    criteria: dict[str, Criterion]
    path: Path | None = None

    def get(self, cid: str) -> Criterion:
        """The criterion ``cid``; :class:`UnknownCriterionError` (a ``KeyError``) says "did you mean"."""
        try:
            return self.criteria[cid]
        except KeyError:
            hint = did_you_mean(cid, self.criteria) or (
                f" (ids run from {next(iter(self.criteria), '?')} to {next(reversed(self.criteria), '?')})"
            )
            raise UnknownCriterionError(f"unknown criterion id {cid!r}{hint}") from None

    def __contains__(self, cid: object) -> bool:
        return cid in self.criteria


def default_catalog_path() -> Path:
    """``$STACKFAST_CATALOG`` if set, else ``<repo root>/requirements/criteria.yaml``."""
    override = os.environ.get(CATALOG_ENV_VAR)
    if override:
        return Path(override)
    return Path(__file__).resolve().parent.parent / "requirements" / "criteria.yaml"


def load_catalog(path: Path | str | None = None) -> Catalog:
    """Load and validate the catalog (default: :func:`default_catalog_path`).

    Cached per resolved path; an edit of the file (new mtime or size) is picked up.
    """
    resolved = (Path(path) if path is not None else default_catalog_path()).resolve()
    try:
        stat = resolved.stat()
        version: tuple[int, int] | None = (stat.st_mtime_ns, stat.st_size)
    except OSError:
        version = None  # let the loader report the missing file
    return _load_cached(str(resolved), version)


# --------------------------------------------------------------------------- schema

_CRITERION_SCHEMA = Mapping(
    required={
        "id": Str(pattern=CRITERION_ID_PATTERN, description="a criterion id like R4.7"),
        "statement": Str(one_line=True, description="a one-line statement"),
        "modality": Enum(MODALITIES),
        "observation": ListOf(Enum(OBSERVATIONS), min_items=1, unique=True),
        "applies_to": ListOf(Enum(ENVIRONMENTS), min_items=1, unique=True),
        "severity": Enum(SEVERITIES),
    },
    optional={
        # Optional in the schema only so that a missing one can be reported with the value to record.
        "fingerprint": Str(
            pattern=r"sha256:[0-9a-f]{12}", description="'sha256:' followed by 12 lowercase hex digits"
        ),
        "why_not_automated": Str(one_line=True, description="a one-line reason"),
    },
    name="criterion",
    id_key="id",
)

_REQUIREMENT_SCHEMA = Mapping(
    required={
        "id": Str(pattern=REQUIREMENT_ID_PATTERN, description="a requirement id like R4"),
        "title": Str(one_line=True),
        "criteria": ListOf(_CRITERION_SCHEMA, min_items=1),
    },
    name="requirement",
    id_key="id",
)

_CATALOG_SCHEMA = Mapping(
    required={
        "schema_version": Int(minimum=1, maximum=1),
        "spec": Mapping(
            required={
                "repository": Str(pattern=r"[\w.-]+/[\w.-]+", description="an owner/name repository"),
                "path": Str(),
                "commit": Str(pattern=r"[0-9a-f]{40}", description="a 40-hex-digit commit"),
                "url": Str(pattern=r"https://\S+", description="an https:// URL"),
            },
            name="spec",
        ),
        "requirements": ListOf(_REQUIREMENT_SCHEMA, min_items=1),
    },
    name="the catalog",
)


def _id_key(cid: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", cid))


@functools.lru_cache(maxsize=8)
def _load_cached(resolved_path: str, version: tuple[int, int] | None) -> Catalog:
    del version  # only part of the cache key
    path = Path(resolved_path)
    data = load(path, _CATALOG_SCHEMA)

    requirements: list[Requirement] = []
    criteria: dict[str, Criterion] = {}
    requirement_lines: dict[str, int] = {}
    criterion_lines: dict[str, int] = {}
    for req in data["requirements"]:
        rid = req["id"]
        if rid in requirement_lines:
            raise ConfigFileError(
                path,
                req.line_of("id"),
                f"duplicate requirement id {rid!r} (first at line {requirement_lines[rid]})",
            )
        requirement_lines[rid] = req.line_of("id")
        ids: list[str] = []
        for crit in req["criteria"]:
            criterion = _criterion(path, rid, req["title"], crit)
            if criterion.id in criterion_lines:
                raise ConfigFileError(
                    path,
                    crit.line_of("id"),
                    f"duplicate criterion id {criterion.id!r} (first at line {criterion_lines[criterion.id]})",
                )
            criterion_lines[criterion.id] = crit.line_of("id")
            criteria[criterion.id] = criterion
            ids.append(criterion.id)
        requirements.append(Requirement(rid, req["title"], tuple(sorted(ids, key=_id_key))))

    return Catalog(
        spec=dict(data["spec"]),
        requirements=tuple(sorted(requirements, key=lambda r: _id_key(r.id))),
        criteria={cid: criteria[cid] for cid in sorted(criteria, key=_id_key)},
        path=path,
    )


def _criterion(path: Path, rid: str, title: str, crit: MappingData) -> Criterion:
    """Build one criterion, applying the checks a schema cannot express."""
    cid: str = crit["id"]
    if cid.split(".")[0] != rid:
        raise ConfigFileError(
            path,
            crit.line_of("id"),
            f"criterion {cid} is listed under requirement {rid}; expected an id like {rid}.N",
        )

    actual = fingerprint(crit["statement"])
    recorded = crit.get("fingerprint")
    if recorded is None:
        raise ConfigFileError(
            path, crit.line, f"criterion {cid} has no fingerprint; record fingerprint: {actual!r}"
        )
    if recorded != actual:
        raise ConfigFileError(
            path,
            crit.line_of("fingerprint"),
            f"stale link: the statement of criterion {cid} changed since it was fingerprinted "
            f"(recorded {recorded}, statement now gives {actual}); review the checks marked "
            f"with {cid}, then record fingerprint: {actual!r}",
        )

    observation = tuple(crit["observation"])
    manual_only = set(observation) <= _NOT_AUTOMATED
    why = crit.get("why_not_automated")
    if manual_only and why is None:
        raise ConfigFileError(
            path,
            crit.line_of("observation"),
            f"criterion {cid} has no automated observation (observation: [{', '.join(observation)}]); "
            "expected a why_not_automated: line saying why no check can cover it",
        )
    if not manual_only and why is not None:
        raise ConfigFileError(
            path,
            crit.line_of("why_not_automated"),
            f"criterion {cid} has an automated observation (observation: [{', '.join(observation)}]); "
            "why_not_automated is only for criteria observed manually or not at all: remove it",
        )

    return Criterion(
        id=cid,
        requirement=rid,
        requirement_title=title,
        statement=crit["statement"],
        modality=crit["modality"],
        observation=observation,
        applies_to=tuple(crit["applies_to"]),
        severity=crit["severity"],
        fingerprint=actual,
        why_not_automated=why,
        line=crit.line,
    )
