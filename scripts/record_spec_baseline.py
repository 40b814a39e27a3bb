#!/usr/bin/env python3
"""Record the spec-drift baseline from a checkout: fingerprints of each criterion's sentence, no text.

The shipped ``requirements/spec-baseline.yaml`` was recorded with this script from the upstream
``Nether403/Stackfast-2026`` spec at the commit the catalog names; the sample checkout's
``requirements/spec-baseline-sample.yaml`` from ``python -m stackfast_conformance.sample_checkout``.

    git clone https://github.com/Nether403/Stackfast-2026 /tmp/sf && git -C /tmp/sf checkout <catalog spec.commit>
    .venv/bin/python scripts/record_spec_baseline.py --repo /tmp/sf

    .venv/bin/python -m stackfast_conformance.sample_checkout /tmp/sample
    .venv/bin/python scripts/record_spec_baseline.py --repo /tmp/sample/checkout   # -> the sample's baseline

The output file follows from the spec file: the sample's spec (it starts with the sample marker)
goes to the sample baseline, any other spec to the default one. For a git checkout the script reads
its HEAD commit and refuses one other than the catalog's ``spec.commit`` (the baseline must describe
the text the catalog was written against); pass ``--commit`` when the checkout is not a git
repository (e.g. an exported tree).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stackfast_conformance.audits import drift  # noqa: E402
from stackfast_conformance.catalog import load_catalog  # noqa: E402


def _head(repo: Path) -> str | None:
    try:
        proc = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repo", required=True, type=Path, help="the checkout whose spec to fingerprint")
    parser.add_argument("--out", type=Path, default=None, help="baseline file (default: chosen by the spec, see above)")
    parser.add_argument("--commit", default=None, help="the checkout's commit when it is not a git repository")
    args = parser.parse_args(argv)
    try:
        text = drift.spec_text(args.repo)
    except FileNotFoundError as exc:
        print(f"record_spec_baseline: {exc}", file=sys.stderr)
        return 2
    sample = drift.default_baseline_path(text) == drift.sample_baseline_path()
    out = args.out or drift.default_baseline_path(text)
    spec = load_catalog().spec
    if sample:
        source, commit = "the sample checkout (stackfast_conformance/sample_checkout.py): our restatement of the catalog", None
    else:
        commit = args.commit or _head(args.repo)
        if commit is None:
            print("record_spec_baseline: not a git checkout; pass --commit SHA of the spec's text", file=sys.stderr)
            return 2
        if commit != spec.get("commit") and args.out is None:
            print(f"record_spec_baseline: the checkout is at {commit}, the catalog names {spec.get('commit')}; "
                  "check out that commit (or move the catalog's spec.commit after reviewing the new text)",
                  file=sys.stderr)
            return 2
        source = f"{spec.get('repository')}/{spec.get('path')}"
    written = drift.write_baseline(args.repo, out, source, commit)
    print(f"recorded {len(written)} source fingerprints from {source} in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
