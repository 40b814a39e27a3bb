"""Spec drift: does the checkout's spec still say what the catalog tests?

Reads ``.kiro/specs/phase-8-deployment/requirements.md`` of a checkout (numbered EARS criteria
under ``### Requirement N`` headings) and compares it with the catalog:

- ``added``: criteria in the spec that the catalog lacks (nothing tests them);
- ``removed``: criteria in the catalog that the spec no longer has (tests of a dropped clause);
- ``changed``: criteria whose source text changed since the baseline was recorded (a stale link:
  the catalog's restatement, and the checks behind it, were written against the old wording).

Text changes are detected against ``requirements/spec-baseline.yaml``: one ``source_fingerprint``
(:func:`stackfast_conformance.catalog.fingerprint` of the spec's own sentence) per criterion.
Honest limits: the baseline shipped with the project was recorded from the sample checkout
(``stackfast_conformance/sample_checkout.py``), whose spec file restates the catalog in the spec's
layout — not from the upstream text. Against a real checkout, record a baseline first
(``--write-baseline``) at the commit the catalog names, then compare later checkouts with it.

Command line::

    python -m stackfast_conformance.drift --repo PATH [--baseline FILE] [--write-baseline FILE] [--json]

Exit status: 0 no drift, 1 drift found, 2 usage error.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from stackfast_conformance._yamlcheck import ConfigFileError
from stackfast_conformance.catalog import Catalog, fingerprint, load_catalog

__all__ = ["SPEC_PATH", "compare", "default_baseline_path", "parse_requirements", "write_baseline"]

SPEC_PATH = ".kiro/specs/phase-8-deployment/requirements.md"
_REQUIREMENT = re.compile(r"^#{2,4}\s*Requirement\s+(\d+)\b", re.I)
_CRITERION = re.compile(r"^\s*(\d+)\.\s+(.*\S)")
_HEADING = re.compile(r"^#{1,4}\s")


def default_baseline_path() -> Path:
    return Path(__file__).resolve().parent.parent / "requirements" / "spec-baseline.yaml"


def parse_requirements(text: str) -> dict[str, str]:
    """``{"R4.7": "WHEN a request exceeds ... SHALL ..."}`` from the spec's markdown.

    A criterion's text runs from ``N.`` to the next numbered item, heading or blank line.
    """
    criteria: dict[str, str] = {}
    requirement: str | None = None
    current: str | None = None
    for line in text.splitlines():
        heading = _REQUIREMENT.match(line)
        if heading:
            requirement, current = f"R{heading.group(1)}", None
            continue
        if _HEADING.match(line):
            if re.match(r"^##\s", line) and not line.lower().startswith("## requirements"):
                requirement = None
            current = None
            continue
        if requirement is None:
            continue
        item = _CRITERION.match(line)
        if item:
            current = f"{requirement}.{item.group(1)}"
            criteria[current] = item.group(2).strip()
        elif current and line.strip():
            criteria[current] += " " + line.strip()
        else:
            current = None
    return criteria


def _id_key(cid: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", cid))


def read_spec(repo: Path) -> dict[str, str]:
    path = Path(repo) / SPEC_PATH
    if not path.is_file():
        raise FileNotFoundError(f"--repo {repo}: no {SPEC_PATH} in the checkout; cannot compare the spec")
    return parse_requirements(path.read_text(encoding="utf-8"))


def load_baseline(path: Path) -> dict[str, str]:
    from stackfast_conformance._yamlcheck import DictOf, Mapping, Str, load

    schema = Mapping(
        required={"source_fingerprints": DictOf(Str(pattern=r"sha256:[0-9a-f]{12}",
                                                    description="'sha256:' + 12 hex digits"),
                                                key=Str(pattern=r"R\d+\.\d+", description="a criterion id"))},
        optional={"recorded_from": Str(), "recorded_at": Str(), "note": Str()},
        name="spec baseline",
    )
    return dict(load(path, schema)["source_fingerprints"])


def write_baseline(repo: Path, path: Path, source: str | None = None) -> dict[str, str]:
    """Record the source fingerprint of every criterion of the checkout's spec."""
    spec = read_spec(repo)
    fingerprints = {cid: fingerprint(spec[cid]) for cid in sorted(spec, key=_id_key)}
    data = {
        "note": "source_fingerprint of each criterion's sentence in the spec file; "
                "written by `python -m stackfast_conformance.drift --write-baseline`",
        "recorded_from": source or f"{Path(repo).resolve().name}/{SPEC_PATH}",
        "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "source_fingerprints": fingerprints,
    }
    Path(path).write_text("# Spec drift baseline (see stackfast_conformance/drift.py)\n"
                          + yaml.safe_dump(data, sort_keys=False, width=120))
    return fingerprints


def compare(repo: Path, catalog: Catalog | None = None, baseline: Path | None = None) -> dict[str, Any]:
    """The ``drift`` section of the run record for the checkout at ``repo``."""
    catalog = catalog or load_catalog()
    baseline_path = baseline or default_baseline_path()
    spec = read_spec(repo)
    recorded = load_baseline(baseline_path) if baseline_path.is_file() else {}
    added = sorted(set(spec) - set(catalog.criteria), key=_id_key)
    removed = sorted(set(catalog.criteria) - set(spec), key=_id_key)
    changed = [
        {"id": cid, "baseline": recorded[cid], "now": fingerprint(spec[cid]),
         "catalog_fingerprint": catalog.criteria[cid].fingerprint if cid in catalog.criteria else None}
        for cid in sorted(spec, key=_id_key)
        if cid in recorded and recorded[cid] != fingerprint(spec[cid])
    ]
    unbaselined = sorted(set(spec) - set(recorded), key=_id_key) if recorded else []
    return {
        "spec_file": SPEC_PATH,
        "baseline": str(baseline_path) if baseline_path.is_file() else None,
        "criteria_in_spec": len(spec),
        "criteria_in_catalog": len(catalog.criteria),
        "added": [{"id": cid, "text": spec[cid][:300]} for cid in added],
        "removed": removed,
        "changed": changed,
        "not_in_baseline": unbaselined,
        "drifted": bool(added or removed or changed),
    }


def summary(drift: dict[str, Any]) -> str:
    if not drift["drifted"]:
        return f"spec drift: none ({drift['criteria_in_spec']} criteria in the spec match the catalog)"
    parts = []
    if drift["added"]:
        parts.append("added " + ", ".join(a["id"] for a in drift["added"]))
    if drift["removed"]:
        parts.append("removed " + ", ".join(drift["removed"]))
    if drift["changed"]:
        parts.append("text changed " + ", ".join(c["id"] for c in drift["changed"]))
    return "spec drift: " + "; ".join(parts) + " — the harness no longer tests exactly the spec in the checkout"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="stackfast-conformance drift",
                                     description="Compare a checkout's Phase 8 spec with the catalog.")
    parser.add_argument("--repo", required=True, help="path to a Stackfast checkout")
    parser.add_argument("--baseline", default=None, help="baseline to compare with (default: requirements/spec-baseline.yaml)")
    parser.add_argument("--write-baseline", default=None, metavar="FILE", help="record the checkout's spec as a baseline")
    parser.add_argument("--source", default=None, help="with --write-baseline: what the baseline was recorded from")
    parser.add_argument("--json", action="store_true", help="print the drift section as JSON")
    args = parser.parse_args(argv)
    try:
        if args.write_baseline:
            written = write_baseline(Path(args.repo), Path(args.write_baseline), args.source)
            print(f"recorded {len(written)} source fingerprints in {args.write_baseline}")
            return 0
        drift = compare(Path(args.repo), baseline=Path(args.baseline) if args.baseline else None)
    except (OSError, ValueError, ConfigFileError) as exc:
        print(f"stackfast-conformance drift: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(drift, indent=2) if args.json else summary(drift))
    return 1 if drift["drifted"] else 0


if __name__ == "__main__":
    sys.exit(main())
