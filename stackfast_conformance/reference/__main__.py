"""``python -m stackfast_conformance.reference serve --state-dir DIR [...]`` — run the supervisor."""

from __future__ import annotations

import argparse
import asyncio
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m stackfast_conformance.reference",
                                     description="Run the embedded Stackfast reference deployment.")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="start every process and serve the control API until stopped")
    serve.add_argument("--state-dir", required=True, help="where state.json, ca.pem, logs and databases go")
    serve.add_argument("--env", choices=("production", "local-dev"), default="production")
    serve.add_argument("--fault", action="append", default=[], metavar="NAME",
                       help="inject a fault from reference/faults/*.yaml (repeatable)")
    serve.add_argument("--variant", action="append", default=[], metavar="NAME",
                       help="switch on a harmless variant from reference/variants/*.yaml (repeatable)")
    serve.add_argument("--window-seconds", type=int, default=60, help="rate-limit window (default 60)")
    serve.add_argument("--db-retry-seconds", type=int, default=30)
    serve.add_argument("--no-staging", action="store_true", help="production only, no staging stack")
    serve.add_argument("--admin-key-unset", action="store_true",
                       help="start the API with ADMIN_API_KEY empty (the R8.5 configuration)")
    serve.add_argument("--ca-name", default="Stackfast Reference CA", help="common name of the local CA")
    serve.add_argument("--watch-stdin", action="store_true", help="stop when stdin reaches EOF (parent died)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from . import _supervisor, load_faults, load_variants, validate_fault_names, validate_variant_names

    try:
        faults = load_faults()
        validate_fault_names(args.fault, faults)
        if args.variant:
            validate_variant_names(args.variant, load_variants(faults=faults))
    except ValueError as exc:
        print(f"reference: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(_supervisor.run(args))


if __name__ == "__main__":
    sys.exit(main())
