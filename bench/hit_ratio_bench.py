"""Cache hit ratio under bookings (issue 9.5): a Zipf search trace with one booking per 50 searches, the hit ratio with
the bookings as a fraction of the same trace without them, for this version's cache (catalogue per destination +
sellable per destination-month, bookings written through from the stream) next to the per-night generations of
6df8c1c (per-query result entries, a booking bumps the generation of each night it books), in the same run.

What runs: the real ``SearchService`` and ``SearchCache`` on a real redis-server; every booking goes through the real
stream consumer entry point (``handlers.invalidation.invalidate``) as the DynamoDB stream records a booking writes (one
MODIFY of a month item per month, NEW_AND_OLD_IMAGES with the whole item). The per-night baseline is 6df8c1c's own
``src`` (``git archive``), run by this file in a subprocess on the same trace and the same simulated table.
Simulated: the clock (hours of trace take seconds; freshness is decided on it) and DynamoDB, replaced by an in-memory
table (50 destinations x 30 listings, 1-5 units a night) that answers the repository's reads and applies the bookings.

Also measured per search, at the client: bytes sent + received for a HIT and for a MISS (ElastiCache Serverless bills
an ECPU per KB transferred, so bytes per hit is the cache's running cost).

Run: ``make bench`` (``BENCH_HIT_SEARCHES`` searches per run, default 5000; JSON goes to bench/out/hit_ratio.json;
``--before REF`` picks the baseline commit).
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "bench",
        "POWERTOOLS_METRICS_NAMESPACE": "Bench",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
)

import redis  # noqa: E402
from figures import table  # noqa: E402

# Only names that exist in the baseline's src too: the worker runs this file against it.
from cached_booking_api.local.processes import RedisServer  # noqa: E402
from cached_booking_api.runtime import schema  # noqa: E402
from cached_booking_api.runtime.cache import CachePolicy, SearchCache  # noqa: E402
from cached_booking_api.runtime.circuit import CircuitBreaker  # noqa: E402
from cached_booking_api.runtime.handlers.invalidation import invalidate  # noqa: E402
from cached_booking_api.runtime.models import SearchQuery, today_utc  # noqa: E402
from cached_booking_api.runtime.redis_client import LazyClient, RedisSettings  # noqa: E402
from cached_booking_api.runtime.search_service import CacheStatus, SearchService  # noqa: E402

SEARCHES = int(os.environ.get("BENCH_HIT_SEARCHES", "5000"))
BOOKING_EVERY = 50  # one booking per 50 searches (the mission's mix)
DESTINATIONS = 50
DESTINATION_ZIPF = 1.0
LEAD_DAYS = 120  # check-in 1..120 days ahead, Zipf: near dates are searched (and booked) most
LEAD_ZIPF = 1.0
STAY_NIGHTS = (1, 2, 2, 3, 3, 3, 4, 5, 7, 7, 10, 14)
GUESTS = (1, 2, 2, 2, 3, 4)
LISTINGS = 30  # per destination
UNITS = (1, 1, 2, 3, 5)  # per night, per listing
MAX_GUESTS = (2, 2, 4, 4, 6)
#: Searches per second: the design load (~50k searches/day) and 100x.
RATES = (("design load, 0.58 searches/s", 50_000 / 86_400), ("100x, 58 searches/s", 5_000_000 / 86_400))
GOAL = 0.90
BASELINE_REF = "6df8c1c"  # main before this change: per-night generations, per-query entries
NEW = "data cache, write-through (this version)"


def baseline_label(ref: str) -> str:
    """How the table names the baseline: what 6df8c1c is, or just the commit given with ``--before``."""
    return "per-night generations (6df8c1c)" if ref == BASELINE_REF else f"baseline ({ref})"


@dataclass(frozen=True)
class Event:
    """One step of the trace: a search, or a booking of the same shape (destination, check-in, nights)."""

    at: float
    booking: bool
    destination: str
    check_in: date
    nights: int
    guests: int

    @property
    def stay(self) -> list[date]:
        return [self.check_in + timedelta(days=i) for i in range(self.nights)]


def _zipf(n: int, s: float) -> list[float]:
    weights = [1 / (rank + 1) ** s for rank in range(n)]
    total, cumulative, running = sum(weights), [], 0.0
    for weight in weights:
        running += weight / total
        cumulative.append(running)
    return cumulative


def trace(rate: float, seed: int = 7) -> list[Event]:
    """``SEARCHES`` searches at ``rate``/s (Poisson arrivals), with a booking of the same distribution after every
    ``BOOKING_EVERY - 1`` searches."""
    rng = random.Random(seed)
    destinations, leads = _zipf(DESTINATIONS, DESTINATION_ZIPF), _zipf(LEAD_DAYS, LEAD_ZIPF)
    today, now, events, searches = today_utc(), 1_900_000_000.0, [], 0
    while searches < SEARCHES:
        now += rng.expovariate(rate)
        booking = len(events) % BOOKING_EVERY == BOOKING_EVERY - 1
        destination = f"Destination {bisect.bisect_left(destinations, rng.random()):02d}"
        check_in = today + timedelta(days=1 + min(bisect.bisect_left(leads, rng.random()), LEAD_DAYS - 1))
        events.append(Event(now, booking, destination, check_in, rng.choice(STAY_NIGHTS), rng.choice(GUESTS)))
        searches += not booking
    return events


class Table:
    """Stands in for DynamoDB: listings and month items in memory, answering the repository's reads (the per-query
    ``find_available`` of the baseline, the ``catalogue`` and ``sellable_months`` fills of this version) and applying
    bookings as conditional increments that return the month items' stream records."""

    def __init__(self, seed: int = 11) -> None:
        rng = random.Random(seed)
        self.listings: dict[str, list[dict[str, Any]]] = {}
        self.months: dict[tuple[str, str], dict[str, Any]] = {}  # (listing id, yyyy-mm) -> month item (DynamoDB JSON)
        first = today_utc()
        for d in range(DESTINATIONS):
            destination = f"Destination {d:02d}"
            listings = []
            for i in range(LISTINGS):
                listing_id = f"d{d:02d}-l{i:02d}"
                listings.append({"listingId": listing_id, "name": f"Listing {listing_id}", "destination": destination,
                                 "pricePerNight": rng.randrange(5_000, 30_000, 100), "currency": "EUR",
                                 "maxGuests": rng.choice(MAX_GUESTS)})  # fmt: skip
                units = rng.choice(UNITS)
                for offset in range(LEAD_DAYS + max(STAY_NIGHTS) + 2):
                    night = first + timedelta(days=offset)
                    item = self._month(listing_id, destination, schema.month_of(night))
                    item[schema.capacity_attribute(night)] = {"N": str(units)}
            listings.sort(key=lambda r: (r["pricePerNight"], r["listingId"]))
            self.listings[destination] = listings

    def _month(self, listing_id: str, destination: str, month: str) -> dict[str, Any]:
        key = (listing_id, month)
        if key not in self.months:
            keys = {k: {"S": v} for k, v in schema.month_key(listing_id, month).items()}
            tag = {"S": schema.destination_tag(destination)}
            self.months[key] = {**keys, schema.DESTINATION_TAG_ATTRIBUTE: tag}
        return self.months[key]

    def _left(self, listing_id: str, night: date) -> int:
        item = self.months.get((listing_id, schema.month_of(night)), {})
        capacity = item.get(schema.capacity_attribute(night))
        booked = item.get(schema.booked_attribute(night), {"N": "0"})
        return 0 if capacity is None else int(capacity["N"]) - int(booked["N"])

    # -- the repository's reads ----------------------------------------------------------------------------------
    def find_available(self, destination: str, nights: Sequence[date], guests: int) -> list[dict[str, Any]]:
        results = []
        for listing in self.listings.get(destination, []):
            available = min((self._left(listing["listingId"], n) for n in nights), default=0)
            if listing["maxGuests"] >= guests and available > 0:
                result = {k: v for k, v in listing.items() if k != "maxGuests"}
                results.append({**result, "totalPrice": listing["pricePerNight"] * len(nights), "available": available})
        return results

    def catalogue(self, destination: str) -> list[dict[str, Any]]:
        return [dict(listing) for listing in self.listings.get(destination, [])]

    def sellable_months(self, destination: str, months: Sequence[str]) -> dict[str, dict[str, dict[int, int]]]:
        from cached_booking_api.runtime.sellable import month_sellable  # this version only

        return {month: {listing["listingId"]: month_sellable(self.months[(listing["listingId"], month)])
                        for listing in self.listings.get(destination, [])
                        if (listing["listingId"], month) in self.months} for month in months}  # fmt: skip

    # -- the booking path ----------------------------------------------------------------------------------------
    def book(self, event: Event) -> list[dict[str, Any]]:
        """Book one unit of the cheapest listing that fits and is free every night; the month items' MODIFY records
        (NEW_AND_OLD_IMAGES); none when nothing fits."""
        for listing in self.listings[event.destination]:
            if listing["maxGuests"] >= event.guests and all(
                self._left(listing["listingId"], n) > 0 for n in event.stay
            ):
                break
        else:
            return []
        records = []
        for month, nights in schema.nights_by_month(event.stay).items():
            item = self.months[(listing["listingId"], month)]
            old = json.loads(json.dumps(item))
            for night in nights:
                booked = int(item.get(schema.booked_attribute(night), {"N": "0"})["N"])
                item[schema.booked_attribute(night)] = {"N": str(booked + 1)}
            keys = {name: item[name] for name in (schema.PARTITION_KEY, schema.SORT_KEY)}
            change = {"Keys": keys, "NewImage": json.loads(json.dumps(item)), "OldImage": old,
                      "StreamViewType": "NEW_AND_OLD_IMAGES"}  # fmt: skip
            records.append({"eventName": "MODIFY", "dynamodb": change})
        return records


def stream_records(event: Event, table_: Table | None = None) -> list[dict[str, Any]]:
    """The month-item MODIFY records a booking of ``event``'s stay writes to the table stream."""
    return (table_ or Table()).book(event)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def commands_in(data: bytes) -> int:
    """How many Redis commands a chunk the client sends holds (RESP arrays of bulk strings, pipelined back to back)."""
    count = position = 0
    while position < len(data):
        end = data.index(b"\r\n", position)
        items = int(data[position + 1 : end])  # "*<n>"
        position = end + 2
        for _ in range(items):
            end = data.index(b"\r\n", position)
            position = end + 2 + int(data[position + 1 : end]) + 2  # "$<len>" + payload + CRLF
        count += 1
    return count


class CountingSocket:
    """A socket that counts the bytes it sends and receives (``counter[0]``: in, ``counter[1]``: out) and the commands
    it sends (``counter[2]``; ElastiCache Serverless bills at least one ECPU per command)."""

    def __init__(self, sock: Any, counter: list[int]) -> None:
        self._sock, self._counter = sock, counter

    def recv_into(self, buffer: Any, *args: Any) -> int:
        read: int = self._sock.recv_into(buffer, *args)
        self._counter[0] += read
        return read

    def recv(self, *args: Any) -> bytes:
        data: bytes = self._sock.recv(*args)
        self._counter[0] += len(data)
        return data

    def sendall(self, data: bytes, *args: Any) -> None:
        self._counter[1] += len(data)
        self._counter[2] += commands_in(bytes(data))
        self._sock.sendall(data, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def counting_client(url: str, counter: list[int]) -> redis.Redis:
    """A plain redis client whose connections count bytes on the wire."""

    class CountingConnection(redis.connection.Connection):
        def _connect(self) -> Any:
            return CountingSocket(super()._connect(), counter)

    pool = redis.ConnectionPool.from_url(url, connection_class=CountingConnection, decode_responses=True,
                                         socket_timeout=10, socket_connect_timeout=10)  # fmt: skip
    return redis.Redis(connection_pool=pool)


def run(events: list[Event], with_bookings: bool, url: str) -> dict[str, float]:
    """Hit ratio and bytes per HIT / MISS of the trace's searches, bookings applied or not (the src on sys.path)."""
    redis.Redis.from_url(url).flushall()
    clock = Clock()
    # Generous timeouts: this measures hit ratios, not latency, and a busy machine must not turn a search into BYPASS.
    settings = RedisSettings(url=url, socket_timeout_ms=10_000, connect_timeout_ms=10_000)
    cache = SearchCache(LazyClient(settings), CachePolicy(), clock=clock)
    counter = [0, 0, 0]
    cache.client._client = counting_client(url, counter)  # type: ignore[attr-defined]
    consumer = SearchCache(LazyClient(settings), CachePolicy(), clock=clock)
    data = Table()
    service = SearchService(data, cache, CircuitBreaker())  # type: ignore[arg-type]
    hits = stale = searches = 0
    transferred: dict[str, list[int]] = {"HIT": [], "MISS": [], "STALE": []}
    commands: dict[str, list[int]] = {"HIT": [], "MISS": [], "STALE": []}
    for event in events:
        clock.now = event.at
        if event.booking:
            if with_bookings:
                invalidate(data.book(event), consumer)  # the real stream consumer path
            continue
        query = SearchQuery(destination=event.destination, checkIn=event.check_in.isoformat(),
                            checkOut=(event.check_in + timedelta(days=event.nights)).isoformat(),
                            guests=event.guests)  # fmt: skip
        before, sent = counter[0] + counter[1], counter[2]
        outcome = service.search(query)
        # STALE: a month past its TTL kept (not reloaded) because a change written through to it has not settled in
        # the index yet - answered from the cache, no DynamoDB read, so it counts as a hit (as in the cost model).
        assert outcome.cache in (CacheStatus.HIT, CacheStatus.MISS, CacheStatus.STALE), outcome.cache
        transferred[outcome.cache.value].append(counter[0] + counter[1] - before)
        commands[outcome.cache.value].append(counter[2] - sent)
        searches += 1
        hits += outcome.cache in (CacheStatus.HIT, CacheStatus.STALE)
        stale += outcome.cache is CacheStatus.STALE
    mean = {name: (sum(values) / len(values) if values else 0.0) for name, values in transferred.items()}
    per = {name: (sum(values) / len(values) if values else 0.0) for name, values in commands.items()}
    return {"hit_ratio": hits / searches, "stale_ratio": stale / searches,
            "bytes_per_hit": mean["HIT"], "bytes_per_miss": mean["MISS"],
            "commands_per_hit": per["HIT"], "commands_per_miss": per["MISS"],
            "commands_per_search": sum(map(sum, commands.values())) / searches}  # fmt: skip


def measure(url: str) -> dict[str, Any]:
    """Every rate, without and with bookings, for the src on sys.path."""
    figures = {}
    for label, rate in RATES:
        events = trace(rate)
        figures[label] = {"without": run(events, False, url), "with": run(events, True, url)}
    return figures


def extract(ref: str) -> Path:
    """``src`` of a commit, in a temporary directory (returns its ``src``)."""
    target = Path(tempfile.mkdtemp(prefix="bench-before-"))
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "src"], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target / "src"


def baseline(ref: str, url: str) -> dict[str, Any]:
    """``measure`` run by ``ref``'s own src in a subprocess (same trace, same simulated table, same redis-server)."""
    env = {**os.environ, "PYTHONPATH": str(extract(ref))}
    done = subprocess.run([sys.executable, __file__, "--worker", url], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"the baseline ({ref}) failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default=BASELINE_REF, help="the baseline commit (per-night generations)")
    parser.add_argument("--worker", metavar="REDIS_URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(measure(args.worker)))
        return
    started = time.monotonic()
    OLD = baseline_label(args.before)  # noqa: N806 - the column's name, as NEW
    with RedisServer() as server:
        url = server.url  # type: ignore[attr-defined]
        ours = measure(url)
        before = baseline(args.before, url)
    rows = []
    figures: dict[str, Any] = {"searches_per_run": SEARCHES, "booking_every": BOOKING_EVERY, "baseline": args.before,
                               "schemes": {NEW: ours, OLD: before}}  # fmt: skip
    for label, _ in RATES:
        new, old = ours[label], before[label]
        ratio_new = new["with"]["hit_ratio"] / new["without"]["hit_ratio"]
        ratio_old = old["with"]["hit_ratio"] / old["without"]["hit_ratio"]
        rows += [
            (f"{label}: with bookings / without", f"{ratio_new:.1%}", f"{OLD} {ratio_old:.1%}", f">= {GOAL:.0%}"),
            (f"{label}: hit ratio with bookings (of it STALE: {new['with'].get('stale_ratio', 0):.1%})",
             f"{new['with']['hit_ratio']:.1%}",
             f"{OLD} {old['with']['hit_ratio']:.1%}", "context"),
            (f"{label}: hit ratio, no bookings", f"{new['without']['hit_ratio']:.1%}",
             f"{OLD} {old['without']['hit_ratio']:.1%}", "context"),
            (f"{label}: bytes per HIT (sent + received)", f"{new['with']['bytes_per_hit']:.0f}",
             f"{OLD} {old['with']['bytes_per_hit']:.0f}", "context (ECPU ~ KB)"),
            (f"{label}: bytes per MISS", f"{new['with']['bytes_per_miss']:.0f}",
             f"{OLD} {old['with']['bytes_per_miss']:.0f}", "context"),
            (f"{label}: commands per HIT / MISS", f"{new['with']['commands_per_hit']:.1f} / "
             f"{new['with']['commands_per_miss']:.1f}", f"{OLD} {old['with']['commands_per_hit']:.1f} / "
             f"{old['with']['commands_per_miss']:.1f}", "context (>= 1 ECPU each)"),
            (f"{label}: commands per search", f"{new['with']['commands_per_search']:.1f}",
             f"{OLD} {old['with']['commands_per_search']:.1f}", "context"),
        ]  # fmt: skip
    print(table(rows))
    print(f"(real SearchService + SearchCache on redis-server, bookings through the real stream consumer; baseline = "
          f"{args.before}'s src on the same trace; simulated clock and DynamoDB ({DESTINATIONS} destinations x "
          f"{LISTINGS} listings); {SEARCHES} searches per run, 1 booking per {BOOKING_EVERY}, Zipf s={DESTINATION_ZIPF}"
          f" destinations, check-in 1-{LEAD_DAYS} days ahead Zipf s={LEAD_ZIPF}; TTL 300 s ± 10 %; "
          f"{time.monotonic() - started:.0f} s)")  # fmt: skip
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "hit_ratio.json").write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
