"""Spec drift: does the checkout's spec still say what the catalog tests?

Reads ``.kiro/specs/phase-8-deployment/requirements.md`` of a checkout (numbered EARS criteria
under ``### Requirement N`` headings) and compares it with the catalog:

- ``added``: criteria in the spec that the catalog lacks (nothing tests them);
- ``removed``: criteria in the catalog that the spec no longer has (tests of a dropped clause);
- ``changed``: criteria whose source text changed since the baseline was recorded (a stale link:
  the catalog's restatement, and the checks behind it, were written against the old wording).

Text changes are detected against a baseline: one ``source_fingerprint``
(:func:`stackfast_conformance.catalog.fingerprint` of the spec's own sentence: whitespace collapsed,
lower-cased, sha256, 12 hex) per criterion — fingerprints only, never the sentences.

- ``requirements/spec-baseline.yaml`` (the default) was recorded from the upstream
  ``Nether403/Stackfast-2026`` file at the commit the catalog names, with
  ``scripts/record_spec_baseline.py``, so a real checkout at that commit reports no drift.
- ``requirements/spec-baseline-sample.yaml`` belongs to the sample checkout
  (``stackfast_conformance/sample_checkout.py``), whose spec file restates the catalog and starts
  with :data:`SAMPLE_SPEC_MARKER`; a spec file with that marker is compared with it.

Re-record after reviewing a newer upstream spec (and moving the catalog's ``spec.commit``)::

    python scripts/record_spec_baseline.py --repo PATH/TO/Stackfast-2026

Command line::

    python -m stackfast_conformance.audits.drift --repo PATH [--baseline FILE] [--write-baseline FILE] [--json]

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

__all__ = ["SAMPLE_SPEC_MARKER", "SPEC_PATH", "compare", "default_baseline_path", "parse_requirements",
           "render_baseline", "sample_baseline_path", "write_baseline"]

SPEC_PATH = ".kiro/specs/phase-8-deployment/requirements.md"
SAMPLE_SPEC_MARKER = "stackfast-conformance:sample-spec"  # first line of the sample checkout's spec file
_REQUIREMENT = re.compile(r"^#{2,4}\s*Requirement\s+(\d+)\b", re.I)
_CRITERION = re.compile(r"^\s*(\d+)\.\s+(.*\S)")
_HEADING = re.compile(r"^#{1,4}\s")


def default_baseline_path(spec_text: str | None = None) -> Path:
    """The upstream baseline; the sample's own one when ``spec_text`` is the sample's spec."""
    if spec_text is not None and SAMPLE_SPEC_MARKER in spec_text.split("\n", 1)[0]:
        return sample_baseline_path()
    return Path(__file__).resolve().parents[2] / "requirements" / "spec-baseline.yaml"


def sample_baseline_path() -> Path:
    return Path(__file__).resolve().parents[2] / "requirements" / "spec-baseline-sample.yaml"


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


def spec_text(repo: Path) -> str:
    path = Path(repo) / SPEC_PATH
    if not path.is_file():
        raise FileNotFoundError(f"--repo {repo}: no {SPEC_PATH} in the checkout; cannot compare the spec")
    return path.read_text(encoding="utf-8")


def read_spec(repo: Path) -> dict[str, str]:
    return parse_requirements(spec_text(repo))


def load_baseline(path: Path) -> dict[str, str]:
    return dict(load_baseline_file(path)["source_fingerprints"])


def load_baseline_file(path: Path) -> dict[str, Any]:
    """The whole baseline file, validated (fingerprints and how they were recorded)."""
    from stackfast_conformance._yamlcheck import DictOf, Mapping, Str, load

    schema = Mapping(
        required={"source_fingerprints": DictOf(Str(pattern=r"sha256:[0-9a-f]{12}",
                                                    description="'sha256:' + 12 hex digits"),
                                                key=Str(pattern=r"R\d+\.\d+", description="a criterion id"))},
        optional={"recorded_from": Str(), "commit": Str(), "recorded_at": Str(), "procedure": Str(), "note": Str()},
        name="spec baseline",
    )
    return dict(load(path, schema))


_BASELINE_NOTE = ("source_fingerprint of each criterion's sentence in the spec file (whitespace collapsed, "
                  "lower-cased, sha256, 12 hex); fingerprints only, never the text")
_PROCEDURE = "python scripts/record_spec_baseline.py --repo CHECKOUT (stackfast_conformance.audits.drift.write_baseline)"


def render_baseline(fingerprints: dict[str, str], recorded_from: str, recorded_at: str,
                    commit: str | None = None) -> str:
    """The baseline file's text; the one writer, so a shipped baseline can be checked against it."""
    data: dict[str, Any] = {"note": _BASELINE_NOTE, "procedure": _PROCEDURE, "recorded_from": recorded_from}
    if commit:
        data["commit"] = commit
    data["recorded_at"] = recorded_at
    data["source_fingerprints"] = {cid: fingerprints[cid] for cid in sorted(fingerprints, key=_id_key)}
    return ("# Spec drift baseline (see stackfast_conformance/audits/drift.py); re-record with scripts/record_spec_baseline.py\n"
            + yaml.safe_dump(data, sort_keys=False, width=120))


def write_baseline(repo: Path, path: Path, source: str | None = None, commit: str | None = None,
                   recorded_at: str | None = None) -> dict[str, str]:
    """Record the source fingerprint of every criterion of the checkout's spec."""
    spec = read_spec(repo)
    fingerprints = {cid: fingerprint(spec[cid]) for cid in spec}
    Path(path).write_text(render_baseline(fingerprints, source or f"{Path(repo).resolve().name}/{SPEC_PATH}",
                                          recorded_at or datetime.now(UTC).isoformat(timespec="seconds"), commit))
    return fingerprints


def compare(repo: Path, catalog: Catalog | None = None, baseline: Path | None = None) -> dict[str, Any]:
    """The ``drift`` section of the run record for the checkout at ``repo``."""
    catalog = catalog or load_catalog()
    text = spec_text(repo)
    baseline_path = baseline or default_baseline_path(text)
    spec = parse_requirements(text)
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
    parser.add_argument("--commit", default=None, help="with --write-baseline: the commit of the checkout's spec")
    parser.add_argument("--json", action="store_true", help="print the drift section as JSON")
    args = parser.parse_args(argv)
    try:
        if args.write_baseline:
            written = write_baseline(Path(args.repo), Path(args.write_baseline), args.source, args.commit)
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
