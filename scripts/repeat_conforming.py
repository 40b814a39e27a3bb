#!/usr/bin/env python3
"""Run the harness N times against the conforming reference and show any verdict that is not stable.

    .venv/bin/python scripts/repeat_conforming.py --runs 20 --window-seconds 2

A criterion that is FAILED or ERROR in any run, or whose verdict differs between runs, is a false
alarm or a flaky check: the script lists it and exits 1.
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from stackfast_conformance.killmatrix import BAD, run_harness


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--window-seconds", type=int, default=2)
    parser.add_argument("--parallel", type=int, default=2, help="runs side by side")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="repeat-"))

    def one(i: int) -> dict[str, str]:
        code, record, output = run_harness(["--window-seconds", str(args.window_seconds)], base / f"run-{i}")
        print(f"run {i + 1}/{args.runs}: exit {code}", flush=True)
        return {c["id"]: c["verdict"] for c in record.get("criteria", [])}

    with ThreadPoolExecutor(args.parallel) as pool:
        runs = list(pool.map(one, range(args.runs)))
    seen: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for verdicts in runs:
        for cid, verdict in verdicts.items():
            seen[cid][verdict] += 1
    unstable = {cid: dict(c) for cid, c in seen.items() if len(c) > 1 or set(c) & set(BAD)}
    print(f"{args.runs} runs, {len(seen)} criteria, reports under {base}")
    for cid, counts in sorted(unstable.items()):
        print(f"  {cid}: {counts}")
    print("no flaky or false verdicts" if not unstable else f"{len(unstable)} criteria unstable or flagged")
    return 1 if unstable else 0


if __name__ == "__main__":
    sys.exit(main())
