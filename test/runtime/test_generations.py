"""Cache generations: only the current generation is served, nothing read before a change settles is cached as current,
and a change invalidates only the searches whose answer it can change (issue 8.1, 8.3, 9.5).

Real redis-server and DynamoDB Local; changes reach the cache through the real stream consumer (``invalidate``) fed
from DynamoDB Local's stream. Where the interleaving cannot be produced on demand (an index read that has not caught
up with a write), a scripted timeline injects the stale read and a clock.
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
from cached_booking_api.runtime import config
from cached_booking_api.runtime.cache import CachePolicy, SearchCache
from cached_booking_api.runtime.circuit import CircuitBreaker
from cached_booking_api.runtime.handlers import invalidation, search
from cached_booking_api.runtime.models import SearchQuery, today_utc
from cached_booking_api.runtime.redis_client import LazyClient
from cached_booking_api.runtime.repository import ListingRepository
from cached_booking_api.runtime.search_service import CacheStatus, SearchService
from test.conftest import create_table, listing, stay
from test.runtime.conftest import SEARCH_TIMEOUT_MS, SearchContext, load, response_headers

STAY_A = stay(10, 2)
STAY_B = stay(40, 2)


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


def change_capacity(platform: dict[str, Any], nights: dict[str, int], **fields: Any) -> None:
    """Reload lis-1 with other capacity on some nights (the loader's safe path), then run the stream consumer."""
    load(platform["dynamodb"], platform["table"], listing("lis-1", overrides=nights, **fields))
    invalidation.invalidate(platform["reader"].poll(), invalidation.search_cache())


# -- 8.1: only the current generation ---------------------------------------------------------------------------
def test_a_lost_generation_key_never_revives_an_entry_of_an_older_generation(platform: dict[str, Any]) -> None:
    """Regression (8.1): entries were accepted when ``entry.generation >= current``; after the generation keys were
    lost the counter restarted below the entries' generations, and stale availability was served as HIT."""
    night = STAY_A[0]
    assert do_search(STAY_A) == ("MISS", 3)
    change_capacity(platform, {night: 2})
    assert do_search(STAY_A) == ("MISS", 2)
    assert do_search(STAY_A) == ("HIT", 2)
    admin: redis.Redis = platform["admin"]
    admin.delete(*admin.keys("gen:*"))  # evicted, or lost in a failover
    change_capacity(platform, {night: 1})
    assert do_search(STAY_A) == ("MISS", 1)


def test_a_missing_generation_matches_no_entry(platform: dict[str, Any]) -> None:
    """Whatever was cached before the generation keys went missing cannot be proven current: it is not a HIT."""
    assert do_search(STAY_A)[0] == "MISS"
    assert do_search(STAY_A)[0] == "HIT"
    admin: redis.Redis = platform["admin"]
    admin.delete(*admin.keys("gen:*"))
    assert do_search(STAY_A) == ("MISS", 3)


# -- 9.5: invalidation as fine as the data ----------------------------------------------------------------------
def test_a_change_invalidates_only_searches_over_its_nights(platform: dict[str, Any]) -> None:
    """Regression (9.5): a change bumped the generation of its whole destination."""
    for stay_ in (STAY_A, STAY_B):
        assert do_search(stay_)[0] == "MISS"
        assert do_search(stay_)[0] == "HIT"
    assert do_search(STAY_A, "Porto")[0] == "MISS"
    change_capacity(platform, {STAY_A[0]: 2})
    assert do_search(STAY_A) == ("MISS", 2)
    assert do_search(STAY_B) == ("HIT", 3)  # other nights of the same destination keep their entries
    assert do_search(STAY_A, "Porto")[0] == "HIT"


def _month_boundary_stay() -> tuple[tuple[str, str], date]:
    """A 3-night stay within the next 60 days whose last night is in the next month, and that night."""
    day = today_utc() + timedelta(days=5)
    while (day + timedelta(days=1)).month == day.month:
        day += timedelta(days=1)
    last_night = day + timedelta(days=1)
    return ((day - timedelta(days=1)).isoformat(), (last_night + timedelta(days=1)).isoformat()), last_night


def test_a_stay_over_two_months_depends_on_both(platform: dict[str, Any]) -> None:
    crossing, last_night = _month_boundary_stay()
    assert do_search(crossing)[0] == "MISS"
    assert do_search(crossing)[0] == "HIT"
    change_capacity(platform, {last_night.isoformat(): 1})
    assert do_search(crossing) == ("MISS", 1)


def test_a_listing_change_invalidates_every_search_of_its_destination(platform: dict[str, Any]) -> None:
    for stay_ in (STAY_A, STAY_B):
        do_search(stay_)
    change_capacity(platform, {}, price=12345)
    assert do_search(STAY_A)[0] == "MISS"
    assert do_search(STAY_B)[0] == "MISS"


# -- 8.3: nothing read before a change settles is cached as current -----------------------------------------------
class FakeClock:
    """Wall-clock time the test moves forward."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class StaleIndex:
    """The real repository, except that the next read answers ``stale`` (what an index that has not caught up with a
    write returns)."""

    def __init__(self, repository: ListingRepository) -> None:
        self.repository = repository
        self.stale: list[dict[str, Any]] | None = None

    def find_available(self, destination: str, nights: Sequence[date], guests: int) -> list[dict[str, Any]]:
        if self.stale is not None:
            answer, self.stale = self.stale, None
            return answer
        return self.repository.find_available(destination, nights, guests)


def test_a_read_the_index_answers_before_it_caught_up_is_not_cached_as_current(platform: dict[str, Any]) -> None:
    """Regression (8.3). DynamoDB read consistency: "All reads from GSIs and streams are eventually consistent." and
    (Query, ConsistentRead) "Strongly consistent reads are not supported on global secondary indexes." So a search
    that reads the bumped generation can still read the pre-change nights from the index, and that answer was cached
    as current until its TTL with no further bump coming. It may be served only until the change has settled."""
    clock = FakeClock(2_000_000_000.0)
    policy = CachePolicy()
    consumer = SearchCache(LazyClient(config.redis_settings()), policy, clock=clock)
    repository = ListingRepository(config.dynamodb_client(), platform["table"])
    index = StaleIndex(repository)
    service = SearchService(index, SearchCache(LazyClient(config.redis_settings()), policy, clock=clock),  # type: ignore[arg-type]
                            CircuitBreaker())  # fmt: skip
    query = SearchQuery(destination="Lisbon", checkIn=STAY_A[0], checkOut=STAY_A[1])
    before = repository.find_available("Lisbon", query.nights, 1)
    clock.now += 60
    assert service.search(query).body["results"][0]["available"] == 3

    clock.now += 60
    load(platform["dynamodb"], platform["table"], listing("lis-1", overrides={STAY_A[0]: 2}))
    invalidation.invalidate(platform["reader"].poll(), consumer)  # the bump
    clock.now += 0.2
    index.stale = before  # the index has not caught up yet
    first = service.search(query)
    assert (first.cache, first.body["results"][0]["available"]) == (
        CacheStatus.MISS,
        3,
    )  # unavoidable: DynamoDB said so

    clock.now += 5  # a few seconds later: the index has long caught up, and no bump is coming
    after = service.search(query)
    assert (after.cache, after.body["results"][0]["available"]) == (CacheStatus.MISS, 2)
    again = service.search(query)
    assert (again.cache, again.body["results"][0]["available"]) == (CacheStatus.HIT, 2)
