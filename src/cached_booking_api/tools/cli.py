"""The ``cached-booking-api`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import date
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
    load.add_argument("--dry-run", action="store_true", help="print what would change; write nothing")
    load.add_argument(
        "--allow-partial",
        action="store_true",
        help="exit 0 even when some nights' capacity is below what is booked (those nights are reported, not applied)",
    )
    load.add_argument(
        "--quiet", "-q", action="store_true",
        help="no progress bar and no summary line: only problems (standard error) and, with --dry-run, the changes",
    )  # fmt: skip

    local = commands.add_parser(
        "local", help="run the booking API on this machine: redis-server, DynamoDB Local, events (no Docker, no AWS)"
    )
    local.add_argument("--port", type=int, default=8080, help="HTTP port on 127.0.0.1 (default 8080)")
    local.add_argument("--api-key", help="the API key clients must send as x-api-key (default: generated)")
    local.add_argument(
        "--data", type=Path, help="listing file, JSON Lines (default: the sample, inventory from today for a year)"
    )
    local.add_argument("--redis-url", help="use this running Redis instead of starting redis-server")
    local.add_argument("--dynamodb-endpoint", help="use this running DynamoDB Local instead of starting one")
    local.add_argument("--throttle-rps", type=float, default=100.0, help="usage plan rate (default 100/s, burst 2x)")
    local.add_argument("--events-file", type=Path, help="append every delivered event here (default: a temp file)")
    local.add_argument("--cors-origin", action="append", default=[], metavar="ORIGIN",
                       help="an exact origin CORS allows, as cors_allowed_origins (repeatable)")  # fmt: skip
    local.add_argument("--inventory-source", action="append", default=[], metavar="SOURCE",
                       help="an EventBridge source allowed to send inventory.updated events, as inventory_sources "
                            "(repeatable); they arrive at POST /local/inventory-events")  # fmt: skip

    inventory = commands.add_parser(
        "inventory-event",
        help="send inventory.updated events (JSON Lines: PutEvents entries or delivered events) to the local mode",
    )
    inventory.add_argument("file", type=Path, help="one event per line, e.g. {\"Source\": \"pms.acme\", "
                           "\"DetailType\": \"inventory.updated\", \"Detail\": \"{...}\"}")  # fmt: skip
    inventory.add_argument("--url", required=True, help="the local mode's URL, e.g. http://127.0.0.1:8080")
    inventory.add_argument("--api-key", required=True, help="the local mode's API key")
    inventory.add_argument("--timeout", type=float, default=30.0, help="seconds per event (default 30)")

    sample = commands.add_parser(
        "sample", help="write the sample listings (JSON Lines) with inventory from today (UTC) for a year"
    )
    sample.add_argument("--output", "-o", type=Path, help="file to write (default: standard output)")
    sample.add_argument("--start", type=_iso_date, help="first night, YYYY-MM-DD (default: today, UTC)")
    sample.add_argument("--nights", type=int, default=365, help="nights of inventory per listing (default 365)")

    cost = commands.add_parser("cost", help="monthly cost estimate of the deployed construct for a workload")
    cost.add_argument("--searches-per-day", type=float, default=50_000, help="default 50000")
    cost.add_argument("--bookings-per-day", type=float, default=1_000, help="default 1000")
    cost.add_argument("--inventory-events-per-day", type=float, default=0,
                      help="inbound inventory.updated events (default 0; prices the consumer inventory_sources "
                      "deploys)")  # fmt: skip
    cost.add_argument("--cache-mode", choices=["serverless", "provisioned"], default="serverless")
    cost.add_argument("--engine", choices=["valkey", "redis"], default="valkey")
    cost.add_argument(
        "--hit-ratio",
        type=float,
        help="cache hit ratio of searches (default 0.026, measured by bench/hit_ratio_bench.py: see README)",
    )
    cost.add_argument("--prices", type=Path, help="price file (default: the shipped, dated us-east-1 list prices)")
    cost.add_argument(
        "--template",
        type=Path,
        help="price this synthesized template (cdk.out/<Stack>.template.json): its cache, memory, "
        "sampling rule, log levels, alarms and dashboards instead of the construct's defaults",
    )
    cost.add_argument("--scale", action="store_true", help="also print the bill at 10x and 100x the load, line by line")
    cost.add_argument("--regulated", action="store_true",
                      help="price regulated=True: 2 KMS keys and their requests, daily AWS Backup, a WAF web ACL "
                      "(with --template: read from the template)")  # fmt: skip
    cost.add_argument("--free-tier", action="store_true",
                      help="apply the always-free X-Ray and CloudWatch tiers (only if nothing else in the account "
                           "uses them)")  # fmt: skip

    smoke = commands.add_parser("smoke", help="check a deployed API (or the local mode): one pass/fail line per step")
    smoke.add_argument("--url", required=True, help="the stage URL (the stack's ApiUrl output)")
    key = smoke.add_mutually_exclusive_group(required=True)
    key.add_argument("--api-key", help="the API key value")
    key.add_argument("--api-key-id", help="the API key id (ApiKeyId output): its value is read from API Gateway")
    smoke.add_argument("--region", help="AWS region of --api-key-id (default: from the AWS configuration)")
    smoke.add_argument("--destination", default="Lisbon", help="destination to search (default Lisbon)")
    smoke.add_argument("--check-in", type=_iso_date, help="YYYY-MM-DD (default: 30 days from today)")
    smoke.add_argument("--nights", type=int, default=2, help="stay length (default 2)")
    smoke.add_argument("--listing", help="book this listing for real (default: a dry run that books nothing)")
    smoke.add_argument("--origin", help="also check CORS headers for this origin")
    smoke.add_argument("--timeout", type=float, default=15.0, help="seconds per request (default 15)")

    args = parser.parse_args(argv)
    if args.command == "smoke":
        return _smoke(args)
    if args.command == "load":
        return _load(args)
    if args.command == "local":
        return _local(args)
    if args.command == "inventory-event":
        return _inventory_event(args)
    if args.command == "cost":
        return _cost(args)
    if args.command == "sample":
        return _sample(args)
    return 2  # pragma: no cover - argparse rejects unknown commands


def _inventory_event(args: argparse.Namespace) -> int:
    """POST each line of the file to the local mode's /local/inventory-events; one result line per event, errors
    with their line number on stderr; exit 1 if any event was refused."""
    import json
    import urllib.error
    import urllib.request

    if not args.file.is_file():
        print(f"error: {args.file}: no such file", file=sys.stderr)
        return 2
    failed = 0
    with args.file.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except ValueError as exc:
                print(f"{args.file}:{number}: not valid JSON ({exc})", file=sys.stderr)
                failed += 1
                continue
            request = urllib.request.Request(
                args.url.rstrip("/") + "/local/inventory-events", data=json.dumps(event).encode(), method="POST",
                headers={"x-api-key": args.api_key, "Content-Type": "application/json"},
            )  # fmt: skip
            try:
                with urllib.request.urlopen(request, timeout=args.timeout) as response:
                    print(f"{args.file}:{number}: {response.read().decode()}")
            except urllib.error.HTTPError as error:
                answer = error.read().decode(errors="replace")
                try:
                    detail = json.loads(answer)["error"]
                    answer = f"{detail['code']}: {detail['message']} {json.dumps(detail.get('details', []))}"
                except (ValueError, KeyError, TypeError):
                    pass
                print(f"{args.file}:{number}: {error.code} {answer}", file=sys.stderr)
                failed += 1
            except (urllib.error.URLError, OSError) as exc:
                print(f"error: {args.url}: {exc} (is 'cached-booking-api local' running there?)", file=sys.stderr)
                return 2
    return 1 if failed else 0


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _sample(args: argparse.Namespace) -> int:
    from .sample import sample_lines, write_sample

    if args.nights < 1:
        print(f"error: --nights must be at least 1 (got {args.nights})", file=sys.stderr)
        return 2
    if args.output is None:
        sys.stdout.writelines(sample_lines(args.start, args.nights))
    else:
        write_sample(args.output, args.start, args.nights)
    return 0


def _smoke(args: argparse.Namespace) -> int:
    from . import smoke

    if not 1 <= args.nights <= 30:
        print("error: --nights must be 1 to 30", file=sys.stderr)
        return 2
    api_key = args.api_key
    if api_key is None:
        try:
            api_key = smoke.api_key_value(args.api_key_id, args.region)
        except ImportError:
            print(f"error: --api-key-id: {_RUNTIME_HINT}", file=sys.stderr)
            return 2
        except Exception as exc:  # no credentials, no such key, access denied
            print(f"error: --api-key-id {args.api_key_id}: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 2
    options = smoke.SmokeOptions(url=args.url, api_key=api_key, destination=args.destination, nights=args.nights,
                                 listing_id=args.listing, origin=args.origin, timeout=args.timeout)  # fmt: skip
    if args.check_in is not None:
        options.check_in = args.check_in
    return 0 if smoke.run(options, sys.stdout) else 1


def _cost(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from . import cost

    hit_ratio = cost.Assumptions().hit_ratio if args.hit_ratio is None else args.hit_ratio
    if min(args.searches_per_day, args.bookings_per_day, args.inventory_events_per_day) < 0 or not 0 <= hit_ratio <= 1:
        print("error: --searches-per-day, --bookings-per-day and --inventory-events-per-day must be >= 0, --hit-ratio "
              "within 0..1", file=sys.stderr)  # fmt: skip
        return 2
    try:
        prices = cost.load_prices(args.prices) if args.prices else cost.load_prices()
        deployment = cost.Deployment.from_template(args.template) if args.template else cost.Deployment()
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.template is None:
        deployment = replace(deployment, cache_mode=args.cache_mode, engine=args.engine)
        if args.regulated:
            deployment = replace(deployment, regulated=True, kms_keys=deployment.kms_keys + cost.REGULATED_KMS_KEYS)
        if args.inventory_events_per_day:  # as with inventory_sources
            deployment = replace(deployment, inventory_consumer_gb=cost.INVENTORY_CONSUMER_GB)
    elif args.inventory_events_per_day and not deployment.inventory_consumer_gb:
        print(f"error: {args.template} has no inventory.updated consumer (the construct deploys one with "
              "inventory_sources): --inventory-events-per-day cannot be priced", file=sys.stderr)  # fmt: skip
        return 2
    assumptions = cost.Assumptions(hit_ratio=hit_ratio)
    common = {"prices": prices, "assumptions": assumptions, "deployment": deployment, "free_tier": args.free_tier}
    workload = (args.searches_per_day, args.bookings_per_day)
    events = args.inventory_events_per_day
    inventory = f", {events:,.0f} inventory events/day" if events else ""
    print(f"{args.searches_per_day:,.0f} searches/day, {args.bookings_per_day:,.0f} bookings/day{inventory}, "
          f"hit ratio {hit_ratio:.1%}{' (measured, bench/hit_ratio_bench.py)' if args.hit_ratio is None else ''}; "
          f"{deployment.source}: {deployment.cache_mode} {deployment.engine}, X-Ray rule "
          f"{deployment.trace_reservoir_per_second:g}/s + {deployment.trace_sampling_rate:.0%}, platform logs "
          f"{deployment.system_log_level}, logs kept {deployment.log_retention_days} days, "
          f"{len(deployment.alarms)} alarms ({deployment.alarm_metrics} alarm metrics), {deployment.dashboards} "
          f"dashboard(s), {len(deployment.custom_metrics)} custom metrics "
          f"({'detailed' if deployment.detailed_metrics else 'alarmed only'}); free tiers "
          f"{'applied' if args.free_tier else 'not applied'}")  # fmt: skip
    ours = cost.estimate(*workload, **common, inventory_events_per_day=events)
    idle = cost.estimate(0, 0, **common)
    idle.design = "the same, idle"
    print(cost.render([ours, idle, cost.nat_design(*workload, prices, assumptions)], prices))
    print()
    print(cost.render_fixed(deployment, prices, *workload, assumptions))
    if args.scale:
        scaled = []
        for factor in cost.SCALES:
            estimate = cost.estimate(workload[0] * factor, workload[1] * factor, **common,
                                     inventory_events_per_day=events * factor)  # fmt: skip
            estimate.design = f"{factor}x load"
            scaled.append(estimate)
        print()
        print(cost.render(scaled, prices))
    return 0


def _local(args: argparse.Namespace) -> int:
    try:
        from ..local.http_front import LocalApi, curl_examples
        from ..local.platform import LocalOptions, LocalPlatform
        from ..local.processes import ServerError, port_is_open
    except ImportError:
        print("error: the local mode needs: pip install 'cached-booking-api[local]'", file=sys.stderr)
        return 2
    import secrets
    from datetime import UTC, datetime, timedelta

    if port_is_open(args.port):
        print(f"error: port {args.port} is already in use on 127.0.0.1; pass --port with a free one", file=sys.stderr)
        return 2
    if args.data is not None and not args.data.is_file():
        print(f"error: {args.data}: no such file", file=sys.stderr)
        return 2
    for origin in args.cors_origin:
        if origin == "*" or not origin.startswith(("https://", "http://")):
            print(
                f"error: --cors-origin {origin!r}: give an exact origin such as https://app.example.com",
                file=sys.stderr,
            )
            return 2
    if args.cors_origin:
        import os

        from ..runtime import config

        os.environ[config.CORS_ALLOWED_ORIGINS] = ",".join(args.cors_origin)  # the handlers and the gateway read it
    for source in args.inventory_source:
        if not source or source.startswith("aws.") or any(c.isspace() for c in source):
            print(f"error: --inventory-source {source!r}: give an EventBridge source such as pms.acme", file=sys.stderr)
            return 2
    options = LocalOptions(redis_url=args.redis_url, dynamodb_endpoint=args.dynamodb_endpoint,
                           events_file=args.events_file, search_from=[Path.cwd()],
                           inventory_sources=list(args.inventory_source))  # fmt: skip
    if args.data is not None:
        options.data = args.data
    import signal

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)  # before anything starts, and also when run in the background
    signal.signal(signal.SIGTERM, interrupt)
    platform = LocalPlatform(options)
    server: LocalApi | None = None
    try:
        try:
            platform.start()
            api_key = args.api_key or secrets.token_urlsafe(24)
            server = LocalApi(args.port, api_key, args.throttle_rps, inventory_events=platform.put_inventory_event)
        except (ServerError, OSError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        url = f"http://127.0.0.1:{args.port}"
        check_in = (datetime.now(UTC).date() + timedelta(days=14)).isoformat()
        check_out = (datetime.now(UTC).date() + timedelta(days=17)).isoformat()
        print(f"cached-booking-api local: {platform.loaded} listings loaded from {options.data}")
        print(f"  URL:         {url}")
        print(f"  API key:     {api_key}")
        print(f"  events file: {platform.events_file}")
        if options.inventory_sources:
            print(f"  inventory.updated from {', '.join(options.inventory_sources)}: POST {url}/local/inventory-events"
                  " or 'cached-booking-api inventory-event FILE'")  # fmt: skip
        print(f"  redis: {platform.redis_url}  dynamodb: {platform.dynamodb_endpoint}")
        print("Try:")
        for line in curl_examples(url, api_key, check_in, check_out):
            print(f"  {line}")
        print("ready", flush=True)
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopping", flush=True)
    finally:
        if server is not None:
            server.server_close()
        platform.stop()
    return 0


def _load(args: argparse.Namespace) -> int:
    try:
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError

        from ..runtime.loader import LoadError, load_records, parse_listings
    except ImportError:
        print(f"error: {_RUNTIME_HINT}", file=sys.stderr)
        return 2
    from .progress import progress_bar

    if not args.file.is_file():
        print(f"error: {args.file}: no such file", file=sys.stderr)
        return 2
    client = boto3.client("dynamodb", endpoint_url=args.endpoint_url, region_name=args.region)
    with args.file.open(encoding="utf-8") as lines:
        records, rejected = parse_listings(lines)
    nights = sum(len(record.inventory) for record in records)
    description = "checking" if args.dry_run else "loading"
    try:
        with progress_bar(nights, unit=" nights", description=description, quiet=args.quiet) as advance:
            report = load_records(client, args.table, records, dry_run=args.dry_run, progress=advance)
    except LoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            print(f"error: table {args.table} not found: check --table (the stack's TableName output), --region and "
                  "--endpoint-url", file=sys.stderr)  # fmt: skip
            return 2
        print(f"error: DynamoDB: {exc}; loading again is safe", file=sys.stderr)
        return 1
    except BotoCoreError as exc:  # no credentials, endpoint unreachable, ...
        print(f"error: DynamoDB: {exc}; loading again is safe", file=sys.stderr)
        return 1
    report.rejected[:0] = rejected
    for error in report.rejected:
        print(f"{args.file}:{error}", file=sys.stderr)
    for conflict in report.conflicts:
        print(f"{args.file}: {conflict}", file=sys.stderr)
    for change in report.changes:
        print(f"would change: {change}")
    if not args.quiet:
        verb = "would load" if args.dry_run else "loaded"
        print(
            f"{verb} {report.listings} listings ({report.nights_changed} nights' capacity changed) into {args.table}; "
            f"rejected {len(report.rejected)} line(s); {len(report.conflicts)} night(s) below what is booked, "
            "not applied"
        )
    if report.rejected or (report.conflicts and not args.allow_partial):
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
