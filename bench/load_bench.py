"""Load time of a large listing file on DynamoDB Local (issue 9.2): the loader of ``cached-booking-api load`` next to
the 0.1.0 loader, first load and reload of the same file, measured in the same run.

- 0.1.0 (``runtime/loader.py`` before commit d46b3a6, reproduced below as ``load_0_1_0``): one item per listing-night
  (``available``, ``destinationTag``), written with plain ``BatchWriteItem`` puts of 25 items, one batch after the
  other; a reload writes every item again (and so handed booked units back, the bug of issue 9).
- now (``runtime.loader.load_listings``): the listing items in batches, then per listing one strongly consistent read
  of its month items and, per month, a ``PutItem`` conditional on its absence (new), nothing (unchanged) or one
  conditional ``UpdateItem`` of the nights that change (capacity never below what is booked), 8 listings in parallel.
  Context row: the same with 1 worker, the layout's share of the gain without parallelism.

Each loader runs its first load, reload and changed reload in that order in a DynamoDB Local of its own (the 0.1.0
layout in the 0.1.0 table definition), after a warm-up of the JVM: DynamoDB Local slows down as it fills (streams
included), so loaders sharing one server in turn would favour whichever ran first.

Run: ``make bench`` (50 listings x 365 nights, under a minute); ``python bench/load_bench.py --full`` for the issue's
500 listings x 365 nights (several minutes). JSON goes to bench/out/load.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import boto3  # noqa: E402
from figures import table  # noqa: E402

from cached_booking_api.local.processes import DynamoDBLocal  # noqa: E402
from cached_booking_api.runtime import schema  # noqa: E402
from cached_booking_api.runtime.loader import listing_item, load_listings, parse_listings, put_items  # noqa: E402
from cached_booking_api.runtime.models import ListingRecord  # noqa: E402

OUT = ROOT / "bench" / "out"
DEFAULT_LISTINGS, FULL_LISTINGS, DEFAULT_NIGHTS = 50, 500, 365


# -- the 0.1.0 loader's write path (runtime/loader.py at d46b3a6^) ---------------------------------------------------
# Its listing item and its 25-item BatchWriteItem loop are today's (``listing_item``, ``put_items``: the same item, the
# same batches and retries); what is 0.1.0's own is one item per night and a plain put of every item, every time.
def items_0_1_0(record: ListingRecord) -> list[dict[str, Any]]:
    """The DynamoDB items (low-level format) of one listing in 0.1.0: the listing item and one item per night."""
    tag = schema.destination_tag(record.destination)
    nights = [
        {
            schema.PARTITION_KEY: {"S": f"LISTING#{record.listingId}"},
            schema.SORT_KEY: {"S": f"NIGHT#{night.isoformat()}"},
            "available": {"N": str(units)},
            schema.DESTINATION_TAG_ATTRIBUTE: {"S": tag},
        }
        for night, units in sorted(record.inventory.items())
    ]
    return [listing_item(record), *nights]


def load_0_1_0(client: Any, table_name: str, lines: list[str]) -> int:
    """The 0.1.0 ``load_listings``: validate, then every item in sequential 25-item batches. Returns items written."""
    records, errors = parse_listings(lines)
    assert not errors, errors
    items = [item for record in records for item in items_0_1_0(record)]
    put_items(client, table_name, items)
    return len(items)


def table_definition_0_1_0() -> dict[str, Any]:
    """The 0.1.0 table: today's keys and stream, only the ``byDestination`` index (no inventory index yet)."""
    definition: dict[str, Any] = dict(schema.table_definition())
    index = schema.BY_DESTINATION_INDEX
    definition["GlobalSecondaryIndexes"] = [
        g for g in definition["GlobalSecondaryIndexes"] if g["IndexName"] == index.name
    ]
    keep = {schema.PARTITION_KEY, schema.SORT_KEY, index.partition_key, index.sort_key}
    definition["AttributeDefinitions"] = [a for a in definition["AttributeDefinitions"] if a["AttributeName"] in keep]
    return definition


# -- the measurement --------------------------------------------------------------------------------------------------
def listing_file(listings: int, nights: int, start: date, shift: int = 0) -> list[str]:
    """A listing file: ``listings`` listings over 10 destinations, ``nights`` nights of capacity 1-5 each (``shift``:
    every night gets another capacity)."""
    return [
        json.dumps({"listingId": f"lis-{i:04d}", "name": f"Listing {i}", "destination": f"City {i % 10}",
                    "pricePerNight": 5_000 + 37 * i, "currency": "EUR", "maxGuests": 1 + i % 6,
                    "inventory": {(start + timedelta(days=d)).isoformat(): 1 + (i + d + shift) % 5
                                  for d in range(nights)}})
        for i in range(listings)
    ]  # fmt: skip


class RequestCounter:
    """Counts the DynamoDB requests a client sends (botocore's before-send event, thread-safe)."""

    def __init__(self, client: Any) -> None:
        self.count, self._lock = 0, threading.Lock()
        client.meta.events.register("before-send.dynamodb", self._sent)

    def _sent(self, **_: Any) -> None:
        with self._lock:
            self.count += 1


def fresh_table(client: Any, definition: dict[str, Any]) -> str:
    name = f"load-{uuid.uuid4().hex[:10]}"
    client.create_table(TableName=name, **definition)
    return name


def timed(counter: RequestCounter, run: Callable[[], object]) -> dict[str, float]:
    before = counter.count
    started = time.perf_counter()
    run()
    return {"seconds": time.perf_counter() - started, "requests": counter.count - before}


def loader_at(rev: str) -> Any:
    """``runtime/loader.py`` as it was at git revision ``rev``, imported next to today's (``--before``)."""
    path = "src/cached_booking_api/runtime/loader.py"
    shown = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:{path}"], capture_output=True, text=True)
    if shown.returncode != 0:
        raise SystemExit(f"--before {rev}: {shown.stderr.strip() or 'git show failed'}")
    name = f"cached_booking_api.runtime.loader_at_{uuid.uuid4().hex[:8]}"  # a sibling: its relative imports work
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(name, loader=None))  # type: ignore[arg-type]
    sys.modules[name] = module
    exec(compile(shown.stdout, f"{rev}:{path}", "exec"), module.__dict__)  # noqa: S102 - our own file at a revision
    return module


def chain(
    endpoint: str, loader: Any, listings: int, nights: int, workers: int = 8, steps: int = 3
) -> dict[str, dict[str, float]]:
    """One loader's first load, reload of the same file and reload with every capacity changed, in that order, into
    one fresh table of a DynamoDB Local of its own (its JVM warmed up first): both loaders meet the same server state
    at each step, so a server that slows as it fills cannot favour either. ``loader``: "0.1.0", "now" or a module
    with a ``load_listings`` (``loader_at``)."""
    client = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="bench", aws_secret_access_key="bench")  # fmt: skip
    counter = RequestCounter(client)
    start = date.today() + timedelta(days=1)
    files = {"first": listing_file(listings, nights, start), "reload": listing_file(listings, nights, start),
             "reload_changed": listing_file(listings, nights, start, shift=1)}  # fmt: skip
    old = loader == "0.1.0"
    load_file = load_listings if isinstance(loader, str) else loader.load_listings
    definition = table_definition_0_1_0() if old else schema.table_definition()
    warm = listing_file(4, 62, start)
    if old:
        load_0_1_0(client, fresh_table(client, definition), warm)
    else:
        assert load_file(client, fresh_table(client, definition), warm).ok
    table_name = fresh_table(client, definition)

    def run(lines: list[str]) -> Callable[[], None]:
        def load() -> None:
            if old:
                load_0_1_0(client, table_name, lines)
            else:
                report = load_file(client, table_name, lines, workers=workers)
                assert report.ok and report.listings == listings

        return load

    return {kind: timed(counter, run(lines)) for kind, lines in list(files.items())[:steps]}


def measure(endpoint: str | None, listings: int, nights: int, before: str | None = None) -> dict[str, Any]:
    """The three steps for the 0.1.0 loader, today's, and today's with 1 worker (first load only is reported); with
    ``before`` (a git revision) also that revision's loader, between the 0.1.0 one and today's."""
    results: dict[str, Any] = {"listings": listings, "nights": nights}
    runs: list[tuple[str, Any, int, int]] = [("before", "0.1.0", 8, 3), ("after", "now", 8, 3), ("serial", "now", 1, 1)]
    if before is not None:
        results["revision"] = before
        runs.insert(1, ("revision", loader_at(before), 8, 3))
    for name, loader, workers, steps in runs:
        with dynamodb_endpoint(endpoint) as url:
            for kind, figures in chain(url, loader, listings, nights, workers, steps).items():
                results[f"{name}_{kind}"] = figures
    results["after_first_1_worker"] = results.pop("serial_first")
    return results


def rows(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    size = f"{results['listings']} x {results['nights']}"
    out = []
    labels = {
        "first": "first load",
        "reload": "reload (same file)",
        "reload_changed": "reload (every capacity changed)",
    }
    for kind, label in labels.items():
        after, before = results[f"after_{kind}"], results[f"before_{kind}"]
        out.append((f"{label} s, {size} listing-nights", f"{after['seconds']:.1f}",
                    f"0.1.0 loader {before['seconds']:.1f}",
                    f"<= 0.1.0 (now {after['seconds'] / before['seconds']:.2f}x its time)"))  # fmt: skip
        out.append((f"    requests, {label}", f"{after['requests']:,}", f"0.1.0 loader {before['requests']:,}",
                    "context"))  # fmt: skip
    if "revision" in results:
        for kind, label in labels.items():
            after, then = results[f"after_{kind}"], results[f"revision_{kind}"]
            out.append((f"{label} s, loader now vs at {results['revision']}", f"{after['seconds']:.1f}",
                        f"at {results['revision']} {then['seconds']:.1f}",
                        f"context (now {after['seconds'] / then['seconds']:.2f}x its time)"))  # fmt: skip
    serial = results["after_first_1_worker"]
    out.append(("first load s, 1 worker (layout alone)", f"{serial['seconds']:.1f}",
                f"0.1.0 loader {results['before_first']['seconds']:.1f}", "context"))  # fmt: skip
    return out


@contextmanager
def dynamodb_endpoint(endpoint: str | None) -> Iterator[str]:
    """The given DynamoDB endpoint, or a DynamoDB Local started for the run."""
    if endpoint is not None:
        yield endpoint
        return
    server = DynamoDBLocal(search_from=[ROOT])
    server.start(timeout=180)  # a busy shared machine starts a JVM slowly
    try:
        yield server.endpoint  # type: ignore[attr-defined]
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--listings", type=int, default=DEFAULT_LISTINGS, help=f"default {DEFAULT_LISTINGS}")
    parser.add_argument("--nights", type=int, default=DEFAULT_NIGHTS, help=f"default {DEFAULT_NIGHTS}")
    parser.add_argument("--full", action="store_true", help=f"the issue's size: {FULL_LISTINGS} listings x 365 nights")
    parser.add_argument("--endpoint", help="a running DynamoDB Local (default: start one)")
    parser.add_argument(
        "--before", metavar="REV", help="also run runtime/loader.py as it was at git revision REV (its own server)"
    )
    parser.add_argument("--out", default="load.json", help="file name of the JSON figures in bench/out/")
    args = parser.parse_args(argv)
    listings, nights = (FULL_LISTINGS, DEFAULT_NIGHTS) if args.full else (args.listings, args.nights)
    if listings < 1 or nights < 1:
        parser.error("--listings and --nights must be at least 1")
    results = measure(args.endpoint, listings, nights, args.before)
    print(table(rows(results)))
    print("(DynamoDB Local; 0.1.0: one item per night, sequential 25-item BatchWriteItem; now: per listing one read of "
          "its months, then a conditional put per new month, an update per changed month, nothing for an unchanged "
          "one; 8 listings in parallel)")  # fmt: skip
    if not args.full:
        print("(the issue's size, 500 x 365: python bench/load_bench.py --full)")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / args.out).write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main()
