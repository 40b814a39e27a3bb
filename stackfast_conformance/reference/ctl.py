"""Operator actions against a running reference (what Railway's CLI does in production).

    python -m stackfast_conformance.reference.ctl --state-dir DIR ACTION [args] [--env staging]

Actions: restart-api, redeploy-web, redeploy-api, rollback-web, rollback-api,
upstash-outage refuse|hang|error, upstash-recover, db-outage-start, db-outage-end,
logs api, status. Exit 0 when the action is done (restart-api: the new API process is
listening), 1 with a message on failure, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import httpx

ACTION_TIMEOUT_SECONDS = 120.0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m stackfast_conformance.reference.ctl",
                                description="Operator actions against a running reference deployment.")
    p.add_argument("--state-dir", required=True)
    p.add_argument("--env", default=None, help="stack to act on: production (default), staging, local-dev")
    p.add_argument("action", choices=("restart-api", "redeploy-web", "redeploy-api", "rollback-web", "rollback-api",
                                      "upstash-outage", "upstash-recover", "db-outage-start", "db-outage-end",
                                      "logs", "status"))
    p.add_argument("arg", nargs="?", help="upstash-outage: refuse|hang|error; logs: api")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    state_path = Path(args.state_dir) / "state.json"
    try:
        state = json.loads(state_path.read_text())
    except (OSError, ValueError) as exc:
        print(f"ctl: no running reference at {args.state_dir} ({exc})", file=sys.stderr)
        return 1
    if args.action == "logs":
        if args.arg != "api":
            print("ctl: usage: logs api", file=sys.stderr)
            return 2
        stack = state["stacks"].get(args.env or state["env"])
        if stack is None:
            print(f"ctl: no {args.env} stack", file=sys.stderr)
            return 1
        for key in ("log_file", "api_output"):
            path = Path(stack[key])
            if path.is_file() and path.stat().st_size:
                sys.stdout.write(path.read_text(errors="replace"))
                return 0
        return 0
    if args.action == "upstash-outage" and args.arg not in ("refuse", "hang", "error"):
        print("ctl: usage: upstash-outage refuse|hang|error", file=sys.stderr)
        return 2
    try:
        with httpx.Client(base_url=state["control_url"], timeout=ACTION_TIMEOUT_SECONDS, trust_env=False) as c:
            if args.action == "status":
                r = c.get("/status")
                print(json.dumps(r.json(), indent=1))
                return 0 if r.status_code == 200 else 1
            r = c.post(f"/actions/{args.action}", json={"env": args.env, "mode": args.arg})
    except httpx.TransportError as exc:
        print(f"ctl: the reference supervisor does not answer at {state['control_url']}: {exc}", file=sys.stderr)
        return 1
    answer = r.json()
    if r.status_code == 200 and answer.get("ok"):
        print(answer["message"])
        return 0
    print(f"ctl: {args.action} failed: {answer.get('error', r.text)}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
