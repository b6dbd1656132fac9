"""Cache hit ratio under bookings (issue 9.5): a Zipf search trace with one booking per 50 searches, the hit ratio with
the bookings as a fraction of the same trace without them, for the generations of this version (one per night of the
stay + one per destination) next to 0.1.x's one generation per destination and to one per (destination, month), all
in the same run.

What runs: the real ``SearchService`` and ``SearchCache`` (keys, generations, single-flight lock, settle window) on a
real redis-server; every booking goes through the real stream consumer entry point (``handlers.invalidation.
invalidate``) as the DynamoDB stream records a booking writes (one MODIFY of a month item per month, the booked nights'
``bDD`` attributes changed). Simulated: the clock (so hours of trace take seconds; freshness is decided on it) and
DynamoDB, replaced by a constant one-listing answer (the hit ratio does not depend on what a load returns).
The two other schemes run the same code with their keys mapped: per destination = no night generations and a booking
bumps the destination; per month = the first day of each month stands for the month's nights.

Run: ``make bench`` (``BENCH_HIT_SEARCHES`` searches per run, default 5000; JSON goes to bench/out/hit_ratio.json).
"""

from __future__ import annotations

import bisect
import json
import os
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
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

from cached_booking_api.local.processes import RedisServer  # noqa: E402
from cached_booking_api.runtime import schema  # noqa: E402
from cached_booking_api.runtime import search_service as search_module  # noqa: E402
from cached_booking_api.runtime.cache import ALL_NIGHTS, CacheKeys, CachePolicy, SearchCache  # noqa: E402
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
#: Searches per second: the design load (~50k searches/day) and 100x.
RATES = (("design load, 0.58 searches/s", 50_000 / 86_400), ("100x, 58 searches/s", 5_000_000 / 86_400))
GOAL = 0.90


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


def stream_records(event: Event) -> list[dict[str, Any]]:
    """The month-item MODIFY records a booking of ``event``'s stay writes to the table stream (``bDD`` + 1)."""
    tag = {"S": schema.destination_tag(event.destination)}
    records = []
    for month, nights in schema.nights_by_month(event.stay).items():
        old = {schema.DESTINATION_TAG_ATTRIBUTE: tag, **{schema.booked_attribute(n): {"N": "0"} for n in nights}}
        new = {**old, **{schema.booked_attribute(n): {"N": "1"} for n in nights}}
        keys = {**schema.month_key("bench-listing", month)}
        change = {"Keys": {name: {"S": value} for name, value in keys.items()}, "NewImage": new, "OldImage": old}
        records.append({"eventName": "MODIFY", "dynamodb": change})
    return records


class ConstantAnswer:
    """Stands in for DynamoDB: one listing, always available (what a load returns does not change the hit ratio)."""

    def find_available(self, destination: str, nights: Sequence[date], guests: int) -> list[dict[str, Any]]:
        return [{"listingId": "bench-listing", "name": "Bench", "destination": destination, "pricePerNight": 10000,
                 "currency": "EUR", "totalPrice": 10000 * len(nights), "available": 3}]  # fmt: skip


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


#: How each scheme maps a query's nights to generation keys, and a booking to the scopes it bumps.
Scheme = tuple[Callable[[Sequence[date]], Sequence[date]], Callable[[Event], list[dict[str, Any]] | None]]


def _first_days(nights: Sequence[date]) -> list[date]:
    return sorted({night.replace(day=1) for night in nights})


SCHEMES: dict[str, Scheme] = {
    "per night (this version)": (lambda nights: nights, stream_records),
    "per destination (0.1.x)": (lambda nights: (), lambda event: None),
    "per month": (_first_days, lambda event: None),
}


def run(events: list[Event], scheme: str, with_bookings: bool, url: str) -> float:
    """The hit ratio of the trace's searches under ``scheme``; bookings applied or not."""
    redis.Redis.from_url(url).flushall()
    clock = Clock()
    # Generous timeouts: this measures hit ratios, not latency, and a busy machine must not turn a search into BYPASS.
    settings = RedisSettings(url=url, socket_timeout_ms=10_000, connect_timeout_ms=10_000)
    cache = SearchCache(LazyClient(settings), CachePolicy(), clock=clock)
    consumer = SearchCache(LazyClient(settings), CachePolicy(), clock=clock)
    service = SearchService(ConstantAnswer(), cache, CircuitBreaker())  # type: ignore[arg-type]
    key_nights, records_of = SCHEMES[scheme]

    class SchemeKeys(CacheKeys):
        @classmethod
        def for_query(cls, destination_tag: str, query_hash: str, nights: Sequence[date] = ()) -> CacheKeys:
            return CacheKeys.for_query(destination_tag, query_hash, key_nights(nights))

    search_module.CacheKeys = SchemeKeys  # type: ignore[misc]
    hits = searches = 0
    try:
        for event in events:
            clock.now = event.at
            if event.booking:
                if with_bookings:
                    records = records_of(event)
                    if records is not None:
                        invalidate(records, consumer)  # the real stream consumer path
                    else:  # 0.1.x and per-month: the scopes that scheme bumps
                        tag = schema.destination_tag(event.destination)
                        scopes = (
                            [(tag, ALL_NIGHTS)]
                            if scheme.startswith("per destination")
                            else [(tag, d.isoformat()) for d in _first_days(event.stay)]
                        )
                        consumer.bump_generations(scopes)
                continue
            query = SearchQuery(destination=event.destination, checkIn=event.check_in.isoformat(),
                                checkOut=(event.check_in + timedelta(days=event.nights)).isoformat(),
                                guests=event.guests)  # fmt: skip
            outcome = service.search(query)
            assert outcome.cache in (CacheStatus.HIT, CacheStatus.MISS), outcome.cache
            searches += 1
            hits += outcome.cache is CacheStatus.HIT
    finally:
        search_module.CacheKeys = CacheKeys  # type: ignore[misc]
    return hits / searches


def main() -> None:
    figures: dict[str, Any] = {"searches_per_run": SEARCHES, "booking_every": BOOKING_EVERY, "rates": {}}
    rows = []
    started = time.monotonic()
    with RedisServer() as server:
        url = server.url  # type: ignore[attr-defined]
        for label, rate in RATES:
            events = trace(rate)
            without = run(events, "per night (this version)", False, url)
            ratios = {scheme: run(events, scheme, True, url) for scheme in SCHEMES}
            figures["rates"][label] = {"without_bookings": without, "with_bookings": ratios}
            ours, before, month = (ratios[s] for s in SCHEMES)
            rows += [
                (f"{label}: hit ratio, no bookings", f"{without:.1%}", "-", "context"),
                (f"{label}: with bookings / without", f"{ours / without:.1%}",
                 f"per destination (0.1.x) {before / without:.1%}; per month {month / without:.1%}",
                 f">= {GOAL:.0%}"),
                (f"{label}: hit ratio with bookings", f"{ours:.1%}",
                 f"per destination (0.1.x) {before:.1%}; per month {month:.1%}", "context"),
            ]  # fmt: skip
    print(table(rows))
    print(f"(real SearchService + SearchCache on redis-server, bookings through the real stream consumer; simulated "
          f"clock and DynamoDB; {SEARCHES} searches per run, 1 booking per {BOOKING_EVERY}, {DESTINATIONS} destinations"
          f" Zipf s={DESTINATION_ZIPF}, check-in 1-{LEAD_DAYS} days ahead Zipf s={LEAD_ZIPF}; TTL 300 s ± 10 %; "
          f"{time.monotonic() - started:.0f} s)")  # fmt: skip
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "hit_ratio.json").write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
