"""The ``cached-booking-api`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

_RUNTIME_HINT = "this command needs the runtime extras: pip install 'cached-booking-api[runtime]'"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="cached-booking-api", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    load = commands.add_parser("load", help="validate a listing file (JSON Lines) and write it to the table")
    load.add_argument("file", type=Path, help="listing file, one JSON listing per line (see README)")
    load.add_argument("--table", required=True, help="DynamoDB table name (the construct's TableName output)")
    load.add_argument("--endpoint-url", help="DynamoDB endpoint, e.g. http://127.0.0.1:8000 for DynamoDB Local")
    load.add_argument("--region", help="AWS region (default: from the AWS configuration)")

    args = parser.parse_args(argv)
    if args.command == "load":
        return _load(args)
    return 2  # pragma: no cover - argparse rejects unknown commands


def _load(args: argparse.Namespace) -> int:
    try:
        import boto3

        from .runtime.loader import load_listings
    except ImportError:
        print(f"error: {_RUNTIME_HINT}", file=sys.stderr)
        return 2
    if not args.file.is_file():
        print(f"error: {args.file}: no such file", file=sys.stderr)
        return 2
    client = boto3.client("dynamodb", endpoint_url=args.endpoint_url, region_name=args.region)
    with args.file.open(encoding="utf-8") as lines:
        report = load_listings(client, args.table, lines)
    for error in report.rejected:
        print(f"{args.file}:{error}", file=sys.stderr)
    print(
        f"loaded {report.listings} listings ({report.inventory_items} inventory items) into {args.table}; "
        f"rejected {len(report.rejected)} line(s)"
    )
    return 0 if report.ok else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
