"""The search cache stays right under change (issues 8.1, 8.3, 9.5): inventory changes are written through from the
table stream, a fill never overwrites what the consumer wrote, a catalogue is served only under its current
generation, and nothing read before a change settles is kept as current.

Real redis-server and DynamoDB Local; changes reach the cache through the real stream consumer (``invalidate``) fed
from DynamoDB Local's stream. Where the interleaving cannot be produced on demand (an index read that has not caught up
with a write), a scripted timeline injects the lagging read and a clock.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from typing import Any

import boto3
import pytest
import redis

from cached_booking_api.local.gateway import proxy_event
from cached_booking_api.local.streams import StreamReader
from cached_booking_api.runtime import config, schema
from cached_booking_api.runtime.cache import COMPLETE_FIELD, CacheKeys, CachePolicy, SearchCache
from cached_booking_api.runtime.circuit import CircuitBreaker
from cached_booking_api.runtime.handlers import invalidation, search
from cached_booking_api.runtime.models import SearchQuery, today_utc
from cached_booking_api.runtime.redis_client import LazyClient
from cached_booking_api.runtime.repository import ListingRepository
from cached_booking_api.runtime.search_service import CacheStatus, SearchService
from cached_booking_api.runtime.sellable import MonthSellable
from test.conftest import create_table, listing, stay
from test.runtime.conftest import SEARCH_TIMEOUT_MS, SearchContext, load, response_headers

STAY_A = stay(10, 2)
STAY_B = stay(40, 2)
LISBON = schema.destination_tag("Lisbon")


@pytest.fixture
def platform(
    monkeypatch: pytest.MonkeyPatch, dynamodb_local: Any, dynamodb: Any, redis_server: Any
) -> Iterator[dict[str, Any]]:
    """A table with lis-1 (3 units a night for 60 nights) in Lisbon and por-1 in Porto, an empty Redis, the stream
    consumer caught up with the load."""
    redis.Redis.from_url(redis_server.url).flushall()
    table = create_table(dynamodb)
    env = {
        config.TABLE_NAME: table,
        config.DYNAMODB_ENDPOINT: dynamodb_local.endpoint,
        config.CACHE_URL: redis_server.url,
        config.FUNCTION_TIMEOUT_SECONDS: str(SEARCH_TIMEOUT_MS // 1000),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv(config.CACHE_CLUSTER_MODE, raising=False)
    search.search_service.cache_clear()
    invalidation.search_cache.cache_clear()
    stream_arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    reader = StreamReader(boto3.client("dynamodbstreams", endpoint_url=dynamodb_local.endpoint), stream_arn)
    load(dynamodb, table, listing("lis-1"), listing("por-1", destination="Porto"))
    invalidation.invalidate(reader.poll(), invalidation.search_cache())
    yield {"table": table, "reader": reader, "dynamodb": dynamodb, "admin": redis.Redis.from_url(redis_server.url)}
    search.search_service.cache_clear()
    invalidation.search_cache.cache_clear()


def do_search(stay_: tuple[str, str], destination: str = "Lisbon") -> tuple[str, int | None]:
    """(X-Cache, lis-1's available units or None) of a search through the handler."""
    check_in, check_out = stay_
    event = proxy_event(
        "GET", "/search", query={"destination": destination, "checkIn": check_in, "checkOut": check_out}
    )
    response = search.handler(event, SearchContext(SEARCH_TIMEOUT_MS))
    assert response["statusCode"] == 200, response["body"]
    results = json.loads(response["body"])["results"]
    return response_headers(response)["X-Cache"], (results[0]["available"] if results else None)


def change(platform: dict[str, Any], nights: dict[str, int], **fields: Any) -> set[tuple[str, str]]:
    """Reload lis-1 with other capacity on some nights (the loader's safe path), then run the stream consumer."""
    load(platform["dynamodb"], platform["table"], listing("lis-1", overrides=nights, **fields))
    return invalidation.invalidate(platform["reader"].poll(), invalidation.search_cache())


def month_of(stay_: tuple[str, str]) -> str:
    return stay_[0][:7]


# -- 9.5: write-through, not invalidation -------------------------------------------------------------------------
def test_a_capacity_change_is_written_through_and_the_next_search_is_a_hit(platform: dict[str, Any]) -> None:
    """Regression (9.5): every change invalidated the searches over its nights (before: over its whole destination),
    so under Zipf traffic the hottest answers died every few seconds at 100x. Now the new count is in the cache."""
    for stay_ in (STAY_A, STAY_B):
        assert do_search(stay_)[0] == "MISS"
        assert do_search(stay_)[0] == "HIT"
    assert do_search(STAY_A, "Porto")[0] == "MISS"
    scopes = change(platform, {STAY_A[0]: 2})
    assert scopes == {(LISBON, month_of(STAY_A))}  # the month written, no invalidation
    assert do_search(STAY_A) == ("HIT", 2)
    assert do_search(STAY_B) == ("HIT", 3)
    assert do_search(STAY_A, "Porto")[0] == "HIT"


def _month_boundary_stay() -> tuple[tuple[str, str], date]:
    """A 3-night stay within the next 60 days whose last night is in the next month, and that night."""
    day = today_utc() + timedelta(days=5)
    while (day + timedelta(days=1)).month == day.month:
        day += timedelta(days=1)
    last_night = day + timedelta(days=1)
    return ((day - timedelta(days=1)).isoformat(), (last_night + timedelta(days=1)).isoformat()), last_night


def test_a_stay_over_two_months_reads_both(platform: dict[str, Any]) -> None:
    crossing, last_night = _month_boundary_stay()
    assert do_search(crossing)[0] == "MISS"
    assert do_search(crossing)[0] == "HIT"
    change(platform, {last_night.isoformat(): 1})
    assert do_search(crossing) == ("HIT", 1)


def test_a_listing_change_reloads_its_destinations_catalogue_only(platform: dict[str, Any]) -> None:
    for stay_ in (STAY_A, STAY_B):
        do_search(stay_)
    do_search(STAY_A, "Porto")
    change(platform, {}, price=12345)
    assert do_search(STAY_A)[0] == "MISS"
    assert do_search(STAY_B)[0] == "HIT"  # the catalogue is per destination: one reload serves every stay
    assert do_search(STAY_A, "Porto")[0] == "HIT"


# -- 8.1: only the current generation; lost keys never serve stale --------------------------------------------------
def test_a_lost_generation_key_never_revives_a_catalogue_of_an_older_generation(platform: dict[str, Any]) -> None:
    """Regression (8.1): entries were accepted when ``entry.generation >= current``; after the generation keys were
    lost the counter restarted below the entries' generations, and stale data was served as HIT."""
    change(platform, {}, price=20000)
    assert do_search(STAY_A)[0] == "MISS"
    assert do_search(STAY_A)[0] == "HIT"
    admin: redis.Redis = platform["admin"]
    admin.delete(*admin.keys("gen:*"))  # evicted, or lost in a failover
    change(platform, {}, price=30000)
    assert do_search(STAY_A)[0] == "MISS"


@pytest.mark.parametrize("lost", ["gen:*", "cat:*", "inv:*", "chg:*", "*"])
def test_lost_or_evicted_keys_are_a_miss_never_stale(platform: dict[str, Any], lost: str) -> None:
    """Whatever part of the cache goes missing after changes (evicted, lost in a failover, flushed), a search either
    still has every change or reloads from DynamoDB: it never answers from what it cannot prove current."""
    assert do_search(STAY_A) == ("MISS", 3)
    assert do_search(STAY_A) == ("HIT", 3)
    change(platform, {STAY_A[0]: 1}, price=10001)
    admin: redis.Redis = platform["admin"]
    admin.delete(*admin.keys(lost))
    status, available = do_search(STAY_A)
    assert available == 1
    assert status == "MISS"  # the price change reloads the catalogue in every case
    assert do_search(STAY_A) == ("HIT", 1)
    check_in, check_out = STAY_A
    event = proxy_event("GET", "/search", query={"destination": "Lisbon", "checkIn": check_in, "checkOut": check_out})
    body = json.loads(search.handler(event, SearchContext(SEARCH_TIMEOUT_MS))["body"])
    assert body["results"][0]["pricePerNight"] == 10001


# -- write-through against lagging fills (scripted timelines) ------------------------------------------------------
class FakeClock:
    """Wall-clock time the test moves forward."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class LaggingIndex:
    """The real repository, except that the next months read answers ``lagging`` (what an index that has not caught
    up with a write returns)."""

    def __init__(self, repository: ListingRepository) -> None:
        self.repository = repository
        self.lagging: dict[str, dict[str, MonthSellable]] | None = None

    def catalogue(self, destination: str) -> list[dict[str, Any]]:
        return self.repository.catalogue(destination)

    def sellable_months(self, destination: str, months: Sequence[str]) -> dict[str, dict[str, MonthSellable]]:
        if self.lagging is not None:
            answer, self.lagging = self.lagging, None
            return {month: answer[month] for month in months}
        return self.repository.sellable_months(destination, months)

    def find_available(self, *args: Any) -> list[dict[str, Any]]:
        return self.repository.find_available(*args)


@pytest.fixture
def timeline(platform: dict[str, Any]) -> dict[str, Any]:
    """A search service and a stream consumer on one fake clock, the repository able to answer a lagging read."""
    clock = FakeClock(2_000_000_000.0)
    policy = CachePolicy()
    repository = ListingRepository(config.dynamodb_client(), platform["table"])
    index = LaggingIndex(repository)
    cache = SearchCache(LazyClient(config.redis_settings()), policy, clock=clock)
    service = SearchService(index, cache, CircuitBreaker())  # type: ignore[arg-type]
    consumer = SearchCache(LazyClient(config.redis_settings()), policy, clock=clock)
    query = SearchQuery(destination="Lisbon", checkIn=STAY_A[0], checkOut=STAY_A[1])
    before = repository.sellable_months("Lisbon", [month_of(STAY_A)])
    keys = CacheKeys.for_stay(LISBON, query.nights)
    return {**platform, "clock": clock, "index": index, "service": service, "consumer": consumer, "query": query,
            "before": before, "keys": keys}  # fmt: skip


def _search(t: dict[str, Any]) -> tuple[CacheStatus, int | None]:
    outcome = t["service"].search(t["query"])
    results = outcome.body["results"]
    return outcome.cache, (results[0]["available"] if results else None)


def _reload(t: dict[str, Any], nights: dict[str, int]) -> None:
    load(t["dynamodb"], t["table"], listing("lis-1", overrides=nights))


def _consume(t: dict[str, Any]) -> None:
    invalidation.invalidate(t["reader"].poll(), t["consumer"])


def test_a_consumer_write_before_a_lagging_fill_wins(timeline: dict[str, Any]) -> None:
    """Timeline: the month is not cached; a change reaches the consumer (which writes the listing's field: the hash
    has no marker); then a search fills the month from an index that has not caught up. The fill's HSETNX keeps the
    consumer's value, the answer is composed with it, and the month is complete from then on."""
    t = timeline
    t["clock"].now += 60
    _reload(t, {STAY_A[0]: 1})
    _consume(t)
    admin: redis.Redis = t["admin"]
    month = month_of(STAY_A)
    assert admin.hget(t["keys"].inventory(month), COMPLETE_FIELD) is None
    t["clock"].now += 60  # long after the change: the settle window does not protect here, HSETNX does
    t["index"].lagging = t["before"]
    assert _search(t) == (CacheStatus.MISS, 1)
    assert _search(t) == (CacheStatus.HIT, 1)


def test_a_consumer_write_after_a_lagging_fill_wins(timeline: dict[str, Any]) -> None:
    t = timeline
    t["clock"].now += 60
    t["index"].lagging = t["before"]
    _reload(t, {STAY_A[0]: 1})  # the change is in the table; the fill reads an index that has not caught up
    assert _search(t) == (CacheStatus.MISS, 3)  # unavoidable: DynamoDB said so
    _consume(t)  # the change's record arrives: HSET overwrites the fill's value
    assert _search(t) == (CacheStatus.HIT, 1)


def test_a_tombstone_beats_a_lagging_fill(timeline: dict[str, Any]) -> None:
    """A month item that moved to another destination (or was removed) leaves a tombstone, not a missing field: a
    lagging fill's HSETNX cannot bring the listing back."""
    t = timeline
    month = month_of(STAY_A)
    pk = schema.listing_key("lis-1")[schema.PARTITION_KEY]
    old = {"destinationTag": {"S": LISBON}, "c01": {"N": "3"}}
    moved = {"eventName": "MODIFY", "dynamodb": {"Keys": {"pk": {"S": pk}, "sk": {"S": f"MONTH#{month}"}},
             "OldImage": old, "NewImage": {**old, "destinationTag": {"S": "elsewhere"}}}}  # fmt: skip
    invalidation.invalidate([moved], t["consumer"])
    assert t["admin"].hget(t["keys"].inventory(month), "lis-1") == b""
    t["index"].lagging = t["before"]
    assert _search(t) == (CacheStatus.MISS, None)
    assert _search(t) == (CacheStatus.HIT, None)


def test_a_hash_the_consumer_created_is_not_served_as_complete_and_expires(timeline: dict[str, Any]) -> None:
    """The consumer writes only the listings that changed: a hash it created has no marker, is a miss (never a HIT
    missing every other listing), and has an expiry (``EXPIRE ... NX``, Redis >= 7.0) so it cannot live forever."""
    t = timeline
    admin: redis.Redis = t["admin"]
    assert int(admin.info("server")["redis_version"].split(".")[0]) >= 7  # EXPIRE NX needs 7.0
    load(t["dynamodb"], t["table"], listing("lis-2", price=5000))
    _consume(t)
    _reload(t, {STAY_A[0]: 2})
    _consume(t)
    name = t["keys"].inventory(month_of(STAY_A))
    assert admin.hget(name, COMPLETE_FIELD) is None and admin.ttl(name) > 0
    outcome = t["service"].search(t["query"])
    assert outcome.cache is CacheStatus.MISS
    assert [(r["listingId"], r["available"]) for r in outcome.body["results"]] == [("lis-2", 3), ("lis-1", 2)]
    assert admin.hget(name, COMPLETE_FIELD) is not None
    policy = t["service"].cache.policy
    assert admin.ttl(name) <= policy.ttl_seconds * (1 + policy.jitter_ratio) + policy.stale_seconds


def test_a_fill_right_after_a_change_whose_value_was_lost_expires_at_the_settle_end(timeline: dict[str, Any]) -> None:
    """Regression (8.3), in the new layout: "All reads from GSIs and streams are eventually consistent." (DynamoDB
    read consistency). The consumer's value protects a fill only while it is in the hash: here it is lost (evicted)
    right after the change, and a fill within ``settle_seconds`` reads the index before it caught up. That fill is
    kept only until the window ends, then read again."""
    t = timeline
    t["clock"].now += 60
    _reload(t, {STAY_A[0]: 1})
    _consume(t)  # the consumer stamps chg: and writes the field
    admin: redis.Redis = t["admin"]
    admin.delete(t["keys"].inventory(month_of(STAY_A)))  # evicted right away
    t["clock"].now += 0.2
    t["index"].lagging = t["before"]
    assert _search(t) == (CacheStatus.MISS, 3)
    settle = t["service"].cache.policy.settle_seconds
    assert admin.pttl(t["keys"].inventory(month_of(STAY_A))) <= (settle - 0.2) * 1000
    assert _search(t) == (CacheStatus.HIT, 3)  # within the window (unavoidable: the index said so)
    t["clock"].now += settle
    assert _search(t) == (CacheStatus.MISS, 1)
    assert _search(t) == (CacheStatus.HIT, 1)


def test_records_of_one_item_are_applied_in_order_so_the_last_write_wins(timeline: dict[str, Any]) -> None:
    """DynamoDB Streams: "For each item that is modified in a DynamoDB table, the stream records appear in the same
    sequence as the actual modifications to the item." (Change data capture for DynamoDB Streams). The construct's
    event source mapping keeps the default ParallelizationFactor of 1 (one batch per shard at a time), so the
    consumer sees an item's records in order, within a batch and across batches, and applies each batch in record
    order: the value left in the hash is the newest one."""
    t = timeline
    assert _search(t) == (CacheStatus.MISS, 3)
    for units in (2, 1, 2):
        _reload(t, {STAY_A[0]: units})
    records = t["reader"].poll()
    assert len([r for r in records if r["dynamodb"]["Keys"]["sk"]["S"].startswith("MONTH#")]) >= 3
    invalidation.invalidate(records, t["consumer"])
    assert _search(t) == (CacheStatus.HIT, 2)


def test_a_catalogue_read_before_its_change_settled_is_not_cached_as_current(timeline: dict[str, Any]) -> None:
    """Regression (8.3) for the catalogue: the consumer bumps the generation, a search reads the bumped generation
    but the index's pre-change listings; that catalogue may be served only until the change has settled."""
    t = timeline
    index = t["index"]
    old_catalogue = index.repository.catalogue("Lisbon")
    t["clock"].now += 60
    assert t["service"].search(t["query"]).body["results"][0]["pricePerNight"] == 10000
    t["clock"].now += 60
    load(t["dynamodb"], t["table"], listing("lis-1", price=20000))
    _consume(t)  # the bump
    t["clock"].now += 0.2
    original = index.catalogue
    index.catalogue = lambda destination: old_catalogue  # type: ignore[method-assign]
    first = t["service"].search(t["query"])
    assert (first.cache, first.body["results"][0]["pricePerNight"]) == (CacheStatus.MISS, 10000)
    index.catalogue = original  # type: ignore[method-assign]
    t["clock"].now += 5
    after = t["service"].search(t["query"])
    assert (after.cache, after.body["results"][0]["pricePerNight"]) == (CacheStatus.MISS, 20000)
    again = t["service"].search(t["query"])
    assert (again.cache, again.body["results"][0]["pricePerNight"]) == (CacheStatus.HIT, 20000)


def test_a_consumer_write_during_the_refresh_of_a_stale_month_survives_it(timeline: dict[str, Any]) -> None:
    """Timeline: the month is stale (past fresh, within its stale window); a search refreshes it: it WATCHes the
    month's change-time and hash keys, then reads the index; while it reads (an index that has not caught up), a change
    reaches the consumer. Redis aborts the refresh's MULTI/EXEC: the consumer's value stays (the refreshing search
    answers what it loaded, for itself only). The next search finds the month changed within the settle window and
    keeps the written-through hash (STALE, marked fresh until the change settles) instead of refreshing it from the
    lagging index; the one after is a HIT."""
    t = timeline
    assert _search(t) == (CacheStatus.MISS, 3)
    policy = t["service"].cache.policy
    t["clock"].now += policy.ttl_seconds * (1 + policy.jitter_ratio) + 1  # stale, not expired
    index = t["index"]
    real = index.repository.sellable_months

    def read_while_the_consumer_writes(destination: str, months: Sequence[str]) -> dict[str, dict[str, MonthSellable]]:
        before = real(destination, months)
        _reload(t, {STAY_A[0]: 1})
        _consume(t)  # the change is written through while the refresh's read is in flight
        return before  # the read saw the index before the change

    index.sellable_months = read_while_the_consumer_writes  # type: ignore[method-assign]
    assert _search(t)[0] is CacheStatus.MISS
    index.sellable_months = index.repository.sellable_months  # type: ignore[method-assign]
    assert _search(t) == (CacheStatus.STALE, 1)
    assert _search(t) == (CacheStatus.HIT, 1)


def test_a_stale_month_is_served_while_another_request_refreshes_it(timeline: dict[str, Any]) -> None:
    """Stale-while-revalidate for months: a request that finds the month stale and the lock held answers STALE from
    it (values written through meanwhile included), it never waits or loads."""
    t = timeline
    assert _search(t) == (CacheStatus.MISS, 3)
    policy = t["service"].cache.policy
    t["clock"].now += policy.ttl_seconds * (1 + policy.jitter_ratio) + 1
    _reload(t, {STAY_A[0]: 2})
    _consume(t)
    t["admin"].set(t["keys"].lock, "another-request", px=5000)
    assert _search(t) == (CacheStatus.STALE, 2)
