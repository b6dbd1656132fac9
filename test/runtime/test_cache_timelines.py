"""Timelines of the data-level search cache (issue 9.5) where a search could serve a wrong answer for longer than
the design promises, or cost more than the model says (findings R1-R9 of the cache review, as regression tests).

Real redis-server and DynamoDB Local (test/conftest.py fixtures); changes reach the cache through the real stream
consumer. Where an interleaving cannot be produced on demand (an index that has not caught up, a slow Query, DynamoDB
failing at one step), the repository is wrapped to inject it, on an injected clock (as test_generations.py does).
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest
import redis

from cached_booking_api.runtime import config, schema
from cached_booking_api.runtime.cache import COMPLETE_FIELD, CacheKeys
from cached_booking_api.runtime.circuit import CircuitBreaker
from cached_booking_api.runtime.handlers import invalidation
from cached_booking_api.runtime.models import SearchQuery, today_utc
from cached_booking_api.runtime.repository import ListingRepository, RepositoryUnavailable
from cached_booking_api.runtime.search_service import CacheStatus, SearchService
from cached_booking_api.runtime.sellable import MonthSellable
from test.conftest import listing
from test.runtime.conftest import load
from test.runtime.test_generations import STAY_A, LaggingIndex, month_of, platform, timeline

__all__ = ["platform", "timeline"]  # fixtures re-used from test_generations (imported, not redefined)


def _search(t: dict[str, Any], query: SearchQuery | None = None) -> tuple[CacheStatus, dict[str, Any]]:
    outcome = t["service"].search(query or t["query"])
    return outcome.cache, outcome.body


def _first(body: dict[str, Any], field: str) -> Any:
    return body["results"][0][field] if body["results"] else None


def _consume(t: dict[str, Any]) -> None:
    invalidation.invalidate(t["reader"].poll(), t["consumer"])


# -- R1 (high, 8.3): the catalogue's settle check looks at when the load ENDED, not when it started --------------------
def _price_change_read_at_once(t: dict[str, Any]) -> tuple[LaggingIndex, list[dict[str, Any]]]:
    """lis-1's price changes and the consumer bumps the generation (at T); the clock is then at T + 0.1. Returns the
    index and the catalogue it held before the change."""
    index: LaggingIndex = t["index"]
    old_catalogue = index.repository.catalogue("Lisbon")
    t["clock"].now += 60
    load(t["dynamodb"], t["table"], listing("lis-1", price=20000))
    _consume(t)  # the bump, at T
    t["clock"].now += 0.1
    return index, old_catalogue


def test_a_slow_catalogue_read_that_started_in_the_settle_window_is_not_cached_as_current(
    timeline: dict[str, Any],
) -> None:
    """8.3: "a result loaded from a lagging GSI right after a change is not cached as current for a full TTL".

    Timeline: lis-1's price changes (the consumer bumps the generation at T); 0.1 s later a search reads the bumped
    generation and Queries byDestination, which has not caught up (old price) and is slow (2 s: the 8.4 slow-DynamoDB
    case, or a paged catalogue). ``write_catalogue`` compares the WRITE time (T + 2.1) with the settle end (T + 2):
    the pre-change catalogue is cached for the full TTL with a stale window. ``fill_months`` gets this right (it
    compares ``read_started_at``); the catalogue must too.
    """
    t = timeline
    index, old_catalogue = _price_change_read_at_once(t)

    def lagging_and_slow(destination: str) -> list[dict[str, Any]]:
        t["clock"].now += 2.0  # the Query takes 2 s ...
        return old_catalogue  # ... and answers from an index that had not caught up when it was read

    index.catalogue = lagging_and_slow  # type: ignore[method-assign]
    status, body = _search(t)
    assert (status, _first(body, "pricePerNight")) == (CacheStatus.MISS, 10000)  # unavoidable: DynamoDB said so
    index.catalogue = index.repository.catalogue  # type: ignore[method-assign]
    t["clock"].now += 5  # long after the change settled
    status, body = _search(t)
    assert _first(body, "pricePerNight") == 20000, f"pre-change catalogue served as {status} after the settle window"


def test_a_fast_lagging_catalogue_read_followed_by_a_slow_months_read_is_not_cached_as_current(
    timeline: dict[str, Any],
) -> None:
    """R1 made wider by 7fece76 ("catalogue SET rides with the months' change-time reads"): the catalogue is now
    written after the months Query too, and its settle check still uses the write time. A catalogue Query at T + 0.1
    that is fast but lagging, then a months Query that takes 2 s: the pre-change catalogue is cached for the full TTL.
    (Passes on 561eb0d, where the catalogue was written before the months Query.)"""
    t = timeline
    index, old_catalogue = _price_change_read_at_once(t)
    index.catalogue = lambda destination: old_catalogue  # type: ignore[method-assign]
    real_months = index.sellable_months

    def slow_months(destination: str, months: Sequence[str]) -> dict[str, dict[str, MonthSellable]]:
        t["clock"].now += 2.0
        return real_months(destination, months)

    index.sellable_months = slow_months  # type: ignore[method-assign]
    status, body = _search(t)
    assert (status, _first(body, "pricePerNight")) == (CacheStatus.MISS, 10000)
    index.catalogue = index.repository.catalogue  # type: ignore[method-assign]
    index.sellable_months = real_months  # type: ignore[method-assign]
    t["clock"].now += 5
    status, body = _search(t)
    assert _first(body, "pricePerNight") == 20000, f"pre-change catalogue served as {status} after the settle window"


# -- R2 (medium): a failed refresh restores a value the consumer had already overwritten -------------------------------
class FailingMonths(LaggingIndex):
    """The real repository, except that the months Query fails (DynamoDB throttled/unreachable) and the catalogue
    Query runs ``during_catalogue`` while it is in flight (what the stream consumer does meanwhile)."""

    def __init__(self, repository: ListingRepository) -> None:
        super().__init__(repository)
        self.during_catalogue: Any = None
        self.months_fail = False

    def catalogue(self, destination: str) -> list[dict[str, Any]]:
        listings = self.repository.catalogue(destination)
        if self.during_catalogue is not None:
            step, self.during_catalogue = self.during_catalogue, None
            step()
        return listings

    def sellable_months(self, destination: str, months: Sequence[str]) -> dict[str, dict[str, MonthSellable]]:
        if self.months_fail:
            raise RepositoryUnavailable("injected: ProvisionedThroughputExceededException")
        return self.repository.sellable_months(destination, months)


def test_a_failed_refresh_never_puts_back_a_value_the_consumer_overwrote(timeline: dict[str, Any]) -> None:
    """Stale-if-error may serve what the cache holds, not something older than what it held.

    Timeline: the catalogue and the month were filled together (one miss), so they go stale together. A search takes
    the lock, re-reads (the stale copy: lis-1 = 3 units), reloads the catalogue (a Query); meanwhile a booking takes
    lis-1 down to 1 unit and the consumer HSETs it into the hash; then ``_fill_months`` DELetes the hash (the
    consumer's value with it) and the months Query fails: ``restore_months`` HSETNXes the pre-booking copy back with
    the old marker. The cache now says 3 until the stale window ends (600 s) or DynamoDB recovers; every request that
    finds the lock held serves it (STALE), and each failed refresh restores it again. The consumer will not write
    lis-1 again (nothing changed). Fix: do not restore a month whose ``chg:`` is newer than the view (or restore only
    the fields that are absent AND unchanged since the view: keep the consumer's value by reading it before the DEL,
    e.g. clear with a RENAME-free approach: read, then DEL only if ``chg:`` did not move).
    """
    t = timeline
    index = FailingMonths(t["index"].repository)
    service = SearchService(index, t["service"].cache, CircuitBreaker())  # type: ignore[arg-type]
    t["clock"].now += 60
    assert service.search(t["query"]).cache is CacheStatus.MISS
    t["clock"].now += 400  # both past their TTL (300 s +- 10 %), inside the stale window (600 s)

    def booking_reaches_the_consumer() -> None:
        load(t["dynamodb"], t["table"], listing("lis-1", overrides={STAY_A[0]: 1}))
        _consume(t)

    index.during_catalogue = booking_reaches_the_consumer
    index.months_fail = True
    first = service.search(t["query"])
    assert first.cache is CacheStatus.STALE  # DynamoDB failed: stale-if-error
    name = t["keys"].inventory(month_of(STAY_A))
    assert t["admin"].hget(name, COMPLETE_FIELD) is not None  # restored
    again = service.search(t["query"])  # DynamoDB still failing
    assert _first(again.body, "available") == 1, (
        f"{again.cache}: the pre-booking value came back; the cache held the booking before the refresh"
    )


def test_a_failed_refresh_writes_nothing_back_and_keeps_what_the_consumer_wrote_during_it(
    timeline: dict[str, Any],
) -> None:
    """Stale-if-error without a restore: the month is stale and its last change long settled, so a search refreshes
    it; while the months Query is in flight a booking reaches the consumer (HSET lis-1 = 1), then the Query fails. The
    search answers from its stale view (STALE), writes nothing (the marker is the old one, no copy put back), and the
    consumer's value stays in the hash: the next search keeps it (changed within the settle window) and answers 1."""
    from datetime import date

    from cached_booking_api.runtime.sellable import decode

    t = timeline
    index = FailingMonths(t["index"].repository)
    service = SearchService(index, t["service"].cache, CircuitBreaker())  # type: ignore[arg-type]
    t["clock"].now += 60
    assert service.search(t["query"]).cache is CacheStatus.MISS
    t["clock"].now += 400  # stale, inside the stale window
    admin: redis.Redis = t["admin"]
    name = t["keys"].inventory(month_of(STAY_A))
    marker = admin.hget(name, COMPLETE_FIELD)

    def booked_then_failed(destination: str, months: Sequence[str]) -> dict[str, dict[str, MonthSellable]]:
        load(t["dynamodb"], t["table"], listing("lis-1", overrides={STAY_A[0]: 1}))
        _consume(t)
        raise RepositoryUnavailable("injected: ProvisionedThroughputExceededException")

    index.sellable_months = booked_then_failed  # type: ignore[method-assign]
    first = service.search(t["query"])
    assert (first.cache, _first(first.body, "available")) == (CacheStatus.STALE, 3)  # its view, DynamoDB failed
    assert admin.hget(name, COMPLETE_FIELD) == marker, "a failed refresh wrote the month"
    assert decode(admin.hget(name, "lis-1").decode())[date.fromisoformat(STAY_A[0]).day] == 1
    again = service.search(t["query"])
    assert (again.cache, _first(again.body, "available")) == (CacheStatus.STALE, 1)


# -- R5 (low): an unreadable change time makes the fill LONG-lived, not short-lived ------------------------------------
def test_an_unreadable_change_time_keeps_a_fill_short_not_for_a_full_ttl(timeline: dict[str, Any]) -> None:
    """``_change_time`` maps an unreadable ``chg:`` value to ``inf`` with the comment "assume a change just now
    (short-lived fill), never a long one"; but ``fill_months`` then computes ``settled_at = inf``, ``settled_at <= now``
    is False and ``fresh = min(fresh, inf - now)`` = the full TTL: the month is cached fresh for ~300 s (only the stale
    window is dropped). Fix: return ``read_started_at``/``now`` for an unreadable value (a change just now), not
    ``inf``."""
    t = timeline
    t["clock"].now += 60
    month = month_of(STAY_A)
    admin: redis.Redis = t["admin"]
    admin.set(t["keys"].change(month), "not-a-time")
    assert t["service"].search(t["query"]).cache is CacheStatus.MISS
    settle_ms = t["service"].cache.policy.settle_seconds * 1000
    assert admin.pttl(t["keys"].inventory(month)) <= settle_ms, "an unreadable change time kept the fill a full TTL"


# -- R3 (medium, 8.4): the catalogue is single-flight per month set, not per destination -------------------------------
def _stays_over_different_months(count: int) -> list[tuple[str, str]]:
    """``count`` 2-night stays inside the loaded 60 nights, cycling over every distinct set of months they touch."""
    by_months: dict[tuple[str, ...], list[tuple[str, str]]] = collections.defaultdict(list)
    start = today_utc()
    for offset in range(1, 57):
        first = start + timedelta(days=offset)
        nights = [first, first + timedelta(days=1)]
        months = tuple(sorted({schema.month_of(n) for n in nights}))
        by_months[months].append((first.isoformat(), (first + timedelta(days=2)).isoformat()))
    groups = list(by_months.values())
    return [groups[i % len(groups)][i // len(groups) % len(groups[i % len(groups)])] for i in range(count)]


def test_twenty_concurrent_catalogue_misses_of_one_destination_make_one_catalogue_load(
    search_env: dict[str, str], dynamodb: Any, monkeypatch: pytest.MonkeyPatch, call_search: Any
) -> None:
    """The design promises "a listing catalogue per destination (under the destination's generation, single-flight
    filled)". The lock is ``lock:{d:<tag>}:<months of the stay>``: searches of one destination over different months
    (a 1-month stay, the next month, a stay across the boundary) hold DIFFERENT locks, and every one of them loads the
    catalogue (and a month shared by two sets is loaded by both). After a listing of a hot destination changes (a
    generation bump), with DynamoDB slow (8.4's 1 s+ Query), 20 concurrent misses over the next 2 months load the
    catalogue once per distinct month set. Fix: fill the catalogue under its own lock (``lock:{d:<tag>}:catalogue``)
    and each month under a per-month lock, taken in month order (no deadlock), or keep one lock per destination."""
    from cached_booking_api.runtime.handlers import search

    monkeypatch.setenv(config.CACHE_TIMEOUT_MS, "2000")  # threads share a GIL here (see test_single_flight.py)
    monkeypatch.setenv(config.FUNCTION_TIMEOUT_SECONDS, "30")
    search.search_service.cache_clear()
    load(dynamodb, search_env["TABLE_NAME"], listing("lis-1"), listing("lis-2", price=20000))
    svc = search.search_service()
    loads: collections.Counter[str] = collections.Counter()

    def count(params: dict[str, Any], **_: Any) -> None:
        loads[params.get("IndexName", "table")] += 1

    svc.repository.client.meta.events.register("provide-client-params.dynamodb.Query", count)
    svc.repository.client.meta.events.register("before-send.dynamodb.Query", lambda **_: time.sleep(1.0))
    stays = _stays_over_different_months(20)
    assert len({CacheKeys.for_stay("x", SearchQuery(destination="Lisbon", checkIn=a, checkOut=b).nights).months
                for a, b in stays}) >= 3  # fmt: skip
    barrier = threading.Barrier(len(stays))
    outcomes: list[tuple[int, str]] = []

    def one(check_in: str, check_out: str) -> None:
        barrier.wait()
        status, headers, _ = call_search(destination="Lisbon", checkIn=check_in, checkOut=check_out)
        outcomes.append((status, headers.get("X-Cache", "")))

    threads = [threading.Thread(target=one, args=s) for s in stays]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(status == 200 for status, _ in outcomes), outcomes
    month_sets = {CacheKeys.for_stay("x", SearchQuery(destination="Lisbon", checkIn=a, checkOut=b).nights).months
                  for a, b in stays}  # fmt: skip
    # one lock per destination: one catalogue load, at most one months load per distinct month set
    assert loads[schema.INVENTORY_INDEX.name] <= len(month_sets), loads
    assert loads[schema.BY_DESTINATION_INDEX.name] == 1, (
        f"catalogue Queries: {loads[schema.BY_DESTINATION_INDEX.name]}, month Queries: "
        f"{loads[schema.INVENTORY_INDEX.name]} for {len(stays)} searches of one destination; "
        f"{collections.Counter(outcomes)}"
    )


# -- R4 (medium): offset cursors skip or repeat listings as soon as anything changes between two pages -----------------
def test_paging_through_a_search_while_a_listing_sells_out_skips_no_listing(timeline: dict[str, Any]) -> None:
    """A cursor is ``{"o": offset, "q": query hash}``. Pages used to be cut from one cached answer that lived until a
    change of its nights; now every page is composed afresh from data the consumer updates on every booking, so the
    list under the cursor shifts with every booking that sells out (or frees) a listing before the offset.

    Timeline: three Lisbon listings by price (lis-1 < lis-2 < lis-3), page size 1. Page 1 = lis-1; lis-1 sells its
    last unit (written through); page 2 (offset 1) is now lis-3: lis-2 was never shown. (The symmetric case, a
    cheaper listing freed, shows one twice.) Fix: a keyset cursor - the last result's (pricePerNight, listingId),
    bound to the query hash - and return results strictly after it; stable under any change."""
    t = timeline
    load(t["dynamodb"], t["table"], listing("lis-2", price=12000), listing("lis-3", price=14000))
    _consume(t)
    paged = t["query"].model_copy(update={"limit": 1})
    first = t["service"].search(paged)
    assert [r["listingId"] for r in first.body["results"]] == ["lis-1"]
    load(t["dynamodb"], t["table"], listing("lis-1", overrides={STAY_A[0]: 0}))  # the last unit of a night sold
    _consume(t)
    second = t["service"].search(paged.model_copy(update={"cursor": first.body["nextCursor"]}))
    assert [r["listingId"] for r in second.body["results"]] == ["lis-2"], "lis-2 was skipped between pages"


# -- R6 (cost): a hit of a 50-listing destination costs several times the ECPUs the cost model and the cap assume ------
def _redis_cost(admin: redis.Redis, action: Any) -> tuple[int, int, dict[str, int]]:
    """(commands, bytes sent back, calls per command) of ``action`` on the real redis-server (admin INFO/CONFIG out)."""
    admin.config_resetstat()
    action()
    out_bytes = int(admin.info("stats")["total_net_output_bytes"])
    calls = {name.removeprefix("cmdstat_"): int(stat["calls"]) for name, stat in admin.info("commandstats").items()}
    # HELLO: a new pooled connection's handshake, not per search (a warm Lambda reuses its connections)
    calls = {name: n for name, n in calls.items() if name not in ("info", "config|resetstat", "config", "hello")}
    return sum(calls.values()), out_bytes, calls


def test_a_hit_and_a_miss_of_a_50_listing_destination_cost_what_the_cost_model_says(
    timeline: dict[str, Any],
) -> None:
    """ElastiCache Serverless bills every command at least 1 ECPU, and simple commands 1 ECPU per KB transferred
    (complex ones like HGETALL the higher of vCPU time and KB). ``tools/cost.py`` prices a hit at 2 ECPUs ("one GET of
    a compressed entry") and a miss at 12 ("9 commands"), and ``cache_cluster.ECPU_PER_SEARCH = 12`` sizes the ECPU/s
    cap from that. The new hit is 2 GETs + 1 HGETALL per month of the stay (uncompressed hashes: every listing's
    run-length string) and the new miss HSETNXes every listing of every month it fills. Measured on redis-server for a
    50-listing destination, a stay across a month boundary. Fix: re-measure and update ``ecpu_per_hit`` /
    ``ecpu_per_miss`` / ``ECPU_PER_SEARCH`` (and count the consumer's 3 commands per month record), or cut the miss:
    one ``HSET`` of all loaded fields into a fresh temporary key + ``HSETNX`` only for fields the consumer wrote is
    not possible atomically, but a single multi-field ``HSET`` of the listings that are absent (read with the view) is
    one command instead of 50."""
    from cached_booking_api.tools.cost import Assumptions
    from test.runtime.test_generations import _month_boundary_stay

    t = timeline
    records = []
    for i in range(2, 51):
        booked = {(today_utc() + timedelta(days=d)).isoformat(): 1 + (i + d) % 4 for d in range(60) if (d * i) % 5 == 0}
        records.append(listing(f"lis-{i}", price=10000 + 37 * i, units=5, overrides=booked))
    load(t["dynamodb"], t["table"], *records)
    _consume(t)
    crossing, _ = _month_boundary_stay()
    query = SearchQuery(destination="Lisbon", checkIn=crossing[0], checkOut=crossing[1], guests=2)
    admin: redis.Redis = t["admin"]
    miss_cmds, miss_bytes, miss_calls = _redis_cost(admin, lambda: t["service"].search(query))
    hit_cmds, hit_bytes, hit_calls = _redis_cost(admin, lambda: t["service"].search(query))
    assert t["service"].search(query).cache is CacheStatus.HIT
    hit_ecpu = max(hit_cmds, hit_bytes / 1024)  # a lower bound: >= 1 per command, >= 1 per KB
    miss_ecpu = max(miss_cmds, miss_bytes / 1024)
    model = Assumptions()
    figures = (f"hit: {hit_cmds} commands {hit_calls}, {hit_bytes} B out -> >= {hit_ecpu:.1f} ECPU "
               f"(model {model.ecpu_per_hit}); miss: {miss_cmds} commands {miss_calls}, {miss_bytes} B out -> "
               f">= {miss_ecpu:.1f} ECPU (model {model.ecpu_per_miss})")  # fmt: skip
    print(figures)
    assert hit_ecpu <= model.ecpu_per_hit and miss_ecpu <= model.ecpu_per_miss, figures


# -- R7 (low, 8.2): a catalogue of another shape under the current generation fails the search ------------------------
def test_a_catalogue_of_another_shape_is_a_cache_failure_not_a_failed_search(timeline: dict[str, Any]) -> None:
    """8.2: "any cache failure of any kind counts as a cache failure and a search never fails because of the cache".
    ``_decode_catalogue`` checks only the envelope (``gen``, ``fresh_until``, ``listings`` is a list); the listings
    are used by ``_needs_months`` and ``compose`` OUTSIDE ``_redis``. A catalogue whose listings lack a field (a rolling
    deploy where the next release writes ``cat:`` in its own shape under the same generation - old and new Lambda
    versions serve side by side for minutes; or any foreign writer) raises KeyError/AttributeError out of
    ``search()``: a 500 on every search of the destination until the next bump. Fix: validate each listing on decode
    (the ``RESULT_FIELDS`` + ``maxGuests`` with their types; otherwise a miss) and/or version the key (``cat:v1:``)."""
    import json

    from cached_booking_api.runtime.cache import entry_json

    t = timeline
    t["clock"].now += 60
    assert t["service"].search(t["query"]).cache is CacheStatus.MISS
    admin: redis.Redis = t["admin"]
    entry = json.loads(entry_json(admin.get(t["keys"].catalogue)))
    entry["listings"] = [{k: v for k, v in item.items() if k != "pricePerNight"} for item in entry["listings"]]
    admin.set(t["keys"].catalogue, json.dumps(entry), keepttl=True)
    try:
        outcome = t["service"].search(t["query"])
    except Exception as exc:  # noqa: BLE001 - the finding: the cache's data failed the search
        pytest.fail(f"the search failed because of the cache: {exc.__class__.__name__}: {exc}")
    assert _first(outcome.body, "pricePerNight") == 10000


# -- R9 (medium): a stale refresh DELs the consumer's value and a lagging read puts the old one back -------------------
def test_a_stale_refresh_right_after_a_booking_keeps_the_consumers_value(timeline: dict[str, Any]) -> None:
    """New guarantee of this design: "the consumer's write always beats a lagging fill, in any order". Order that
    breaks it: the month is stale (past its TTL, inside the stale window) and up to date (write-through); a booking
    reaches the consumer (HSET lis-1 = 1); 0.3 s later a search refreshes the month: under the lock it DELs the hash
    (``clear_months``, the consumer's value with it), reads the index that has not caught up (3) and fills it. The
    ``chg:`` guard keeps that fill only until the settle window ends, but until then the refreshing search AND every
    HIT answer 3 although the cache held 1 before the refresh. At 100x with Zipf traffic every hot month is refreshed
    once per TTL, right after bookings of it. Fix: refresh without DEL: WATCH the month's ``chg:`` key, read the index,
    then MULTI/HSET the loaded fields + marker + PEXPIRE/EXEC (aborted if the consumer wrote meanwhile: then short-live
    or retry); or, when ``chg:`` is within the settle window, keep serving the stale (written-through) hash and do not
    refresh yet. WATCH/MULTI/EXEC are already in the ACL."""
    t = timeline
    t["clock"].now += 60
    assert t["service"].search(t["query"]).cache is CacheStatus.MISS
    t["clock"].now += 400
    load(t["dynamodb"], t["table"], listing("lis-1", overrides={STAY_A[0]: 1}))
    _consume(t)
    name = t["keys"].inventory(month_of(STAY_A))
    from datetime import date

    from cached_booking_api.runtime.sellable import decode

    held = decode(t["admin"].hget(name, "lis-1").decode())
    assert held[date.fromisoformat(STAY_A[0]).day] == 1  # the booking is in the cache (written through)
    t["clock"].now += 0.3
    t["index"].lagging = t["before"]
    refreshing = t["service"].search(t["query"])
    after = t["service"].search(t["query"])
    assert (_first(refreshing.body, "available"), _first(after.body, "available")) == (1, 1), (
        f"refresh {refreshing.cache}: {_first(refreshing.body, 'available')}, then {after.cache}: "
        f"{_first(after.body, 'available')}; the cache held 1 before the refresh"
    )


def test_a_removed_month_does_not_reappear_when_a_stale_refresh_reads_a_lagging_index(
    timeline: dict[str, Any],
) -> None:
    """Brief: "a listing moving destination or a month item removed never reappears from a lagging fill". The
    tombstone protects a fill's HSETNX only while it is in the hash; a stale refresh DELs it first (R9's root cause),
    and the index that has not caught up still lists lis-1's month: lis-1 is back in Lisbon's answers (the refreshing
    search and every HIT until the settle window ends). The same holds for a month item moved to another destination
    (same tombstone)."""
    t = timeline
    t["clock"].now += 60
    assert _first(t["service"].search(t["query"]).body, "listingId") == "lis-1"
    t["clock"].now += 400  # stale, inside the stale window
    month = month_of(STAY_A)
    t["dynamodb"].delete_item(
        TableName=t["table"], Key={k: {"S": v} for k, v in schema.month_key("lis-1", month).items()}
    )
    _consume(t)  # the REMOVE record: a tombstone in Lisbon's month
    assert t["admin"].hget(t["keys"].inventory(month), "lis-1") == b""
    t["clock"].now += 0.3
    t["index"].lagging = t["before"]  # the index has not caught up with the removal
    refreshing = t["service"].search(t["query"])
    after = t["service"].search(t["query"])
    assert (refreshing.body["results"], after.body["results"]) == ([], []), (
        f"lis-1 reappeared: refresh {refreshing.cache} {refreshing.body['results']}, then {after.cache}"
    )
