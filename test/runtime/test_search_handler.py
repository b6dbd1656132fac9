"""The search handler against a real redis-server and DynamoDB Local."""

from __future__ import annotations

import io
import json
import threading
import time
from typing import Any

import pytest
import redis

from cached_booking_api.runtime import schema
from cached_booking_api.runtime.cache import COMPLETE_FIELD, CacheKeys, entry_json
from cached_booking_api.runtime.handlers import search
from cached_booking_api.runtime.models import SearchQuery
from test.conftest import listing, stay
from test.runtime.conftest import SearchCall, load

CHECK_IN, CHECK_OUT = stay(10, 3)


@pytest.fixture
def lisbon(search_env: dict[str, str], dynamodb: Any) -> dict[str, str]:
    """Four Lisbon listings (one too small, one sold out one night) and one Porto listing."""
    sold_out_night = CHECK_IN
    load(
        dynamodb,
        search_env["TABLE_NAME"],
        listing("lis-b", price=9000, units=2),
        listing("lis-a", price=9000, units=5, overrides={stay(11, 1)[0]: 1}),
        listing("lis-c", price=5000, max_guests=2),
        listing("lis-d", price=7000, overrides={sold_out_night: 0}),
        listing("por-1", destination="Porto", price=1000),
    )
    return search_env


def cache_keys(destination: str, check_in: str, check_out: str, guests: int = 1) -> CacheKeys:
    """The keys a search reads: its destination's generation and catalogue, the months of its stay."""
    query = SearchQuery(destination=destination, checkIn=check_in, checkOut=check_out, guests=guests)
    return CacheKeys.for_stay(schema.destination_tag(destination), query.nights)


def test_results_follow_the_contract(lisbon: dict[str, str], call_search: SearchCall) -> None:
    status, headers, body = call_search(destination="Lisbon", checkIn=CHECK_IN, checkOut=CHECK_OUT, guests=3)
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    # lis-c is too small for 3 guests, lis-d is sold out on the first night; equal prices are ordered by id.
    assert [r["listingId"] for r in body["results"]] == ["lis-a", "lis-b"]
    assert body["results"][0] == {
        "listingId": "lis-a",
        "name": "Listing lis-a",
        "destination": "Lisbon",
        "pricePerNight": 9000,
        "totalPrice": 27000,
        "currency": "EUR",
        "available": 1,
    }
    assert body["count"] == 2
    assert body["nextCursor"] is None


def test_miss_then_hit_returns_the_same_body(lisbon: dict[str, str], call_search: SearchCall) -> None:
    first = call_search(destination="Lisbon", checkIn=CHECK_IN, checkOut=CHECK_OUT)
    second = call_search(destination="Lisbon", checkIn=CHECK_IN, checkOut=CHECK_OUT)
    assert first[1]["X-Cache"] == "MISS"
    assert second[1]["X-Cache"] == "HIT"
    assert first[2] == second[2]
    assert [r["listingId"] for r in first[2]["results"]] == ["lis-c", "lis-a", "lis-b"]


def test_equivalent_queries_and_other_stays_of_the_month_share_the_cached_data(
    lisbon: dict[str, str], call_search: SearchCall
) -> None:
    """The cache holds data, not answers (issue 9.5): once a destination's catalogue and a month are cached, every
    search of them is a HIT, whatever its spelling, guests, check-in or length within the month."""
    assert call_search(destination="Lisbon", checkIn=CHECK_IN, checkOut=CHECK_OUT)[1]["X-Cache"] == "MISS"
    same_month = stay(10, 1) if stay(10, 1)[0][:7] == stay(10, 1)[1][:7] else stay(10, 0)
    for variant in (
        {"destination": "  LISBON ", "checkIn": CHECK_IN, "checkOut": CHECK_OUT},
        {"checkOut": CHECK_OUT, "guests": 1, "destination": "lisbon", "checkIn": CHECK_IN},
        {"destination": "lisbon", "checkIn": CHECK_IN, "checkOut": CHECK_OUT, "limit": 1},
        {"destination": "Lisbon", "checkIn": CHECK_IN, "checkOut": CHECK_OUT, "guests": 2},
        {"destination": "Lisbon", "checkIn": same_month[0], "checkOut": CHECK_OUT, "guests": 3},
    ):
        assert call_search(**variant)[1]["X-Cache"] == "HIT", variant
    assert call_search(destination="Porto", checkIn=CHECK_IN, checkOut=CHECK_OUT)[1]["X-Cache"] == "MISS"


def test_cache_ttls_have_bounded_jitter(
    lisbon: dict[str, str], call_search: SearchCall, redis_server: Any, dynamodb: Any
) -> None:
    """Month hashes (12 months) and catalogues (12 destinations) filled together do not expire together."""
    client = redis.Redis.from_url(redis_server.url)
    ttls = []
    for offset in range(12):
        check_in, check_out = stay(1 + 30 * offset, 1)
        call_search(destination="Lisbon", checkIn=check_in, checkOut=check_out)
        keys = cache_keys("Lisbon", check_in, check_out)
        ttls.append(client.pttl(keys.inventory(keys.months[0])) / 1000)
    catalogue_ttls = []
    for index in range(12):
        load(dynamodb, lisbon["TABLE_NAME"], listing(f"jit-{index}", destination=f"Jitter {index}"))
        call_search(destination=f"Jitter {index}", checkIn=CHECK_IN, checkOut=CHECK_OUT)
        catalogue_ttls.append(client.pttl(cache_keys(f"Jitter {index}", CHECK_IN, CHECK_OUT).catalogue) / 1000)
    policy = search.search_service().cache.policy
    low = policy.ttl_seconds * (1 - policy.jitter_ratio) + policy.stale_seconds - 1
    high = policy.ttl_seconds * (1 + policy.jitter_ratio) + policy.stale_seconds
    for values in (ttls, catalogue_ttls):
        assert all(low <= ttl <= high for ttl in values), values
        assert len({round(ttl) for ttl in values}) > 1, "jitter must spread expiries"


def _age(client: redis.Redis, keys: CacheKeys) -> None:
    """Make the catalogue and the stay's months stale (past fresh, not expired)."""
    data = json.loads(entry_json(client.get(keys.catalogue)))
    data["fresh_until"] = 0
    client.set(keys.catalogue, json.dumps(data), keepttl=True)
    for month in keys.months:
        client.hset(keys.inventory(month), COMPLETE_FIELD, repr(time.time() - 1))  # stale, within its stale window


def test_stale_entry_is_served_while_another_request_revalidates(
    lisbon: dict[str, str], call_search: SearchCall, redis_server: Any
) -> None:
    client = redis.Redis.from_url(redis_server.url)
    keys = cache_keys("Lisbon", CHECK_IN, CHECK_OUT)
    call_search(destination="Lisbon", checkIn=CHECK_IN, checkOut=CHECK_OUT)
    _age(client, keys)
    client.set(keys.lock, "someone-else", px=5000)
    assert call_search(destination="Lisbon", checkIn=CHECK_IN, checkOut=CHECK_OUT)[1]["X-Cache"] == "STALE"
    client.delete(keys.lock)
    assert call_search(destination="Lisbon", checkIn=CHECK_IN, checkOut=CHECK_OUT)[1]["X-Cache"] == "MISS"
    assert call_search(destination="Lisbon", checkIn=CHECK_IN, checkOut=CHECK_OUT)[1]["X-Cache"] == "HIT"


def test_stale_entry_is_served_when_dynamodb_fails(
    lisbon: dict[str, str], call_search: SearchCall, redis_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = redis.Redis.from_url(redis_server.url)
    first = call_search(destination="Lisbon", checkIn=CHECK_IN, checkOut=CHECK_OUT)
    _age(client, cache_keys("Lisbon", CHECK_IN, CHECK_OUT))
    _break_dynamodb(monkeypatch)
    for _ in range(2):  # the refresh that failed put the stale months back: the next request is served too
        status, headers, body = call_search(destination="Lisbon", checkIn=CHECK_IN, checkOut=CHECK_OUT)
        assert (status, headers["X-Cache"], body) == (200, "STALE", first[2])


def test_dynamodb_down_and_nothing_cached_is_503_without_internals(
    lisbon: dict[str, str], call_search: SearchCall, monkeypatch: pytest.MonkeyPatch
) -> None:
    _break_dynamodb(monkeypatch)
    status, _, body = call_search(destination="Lisbon", checkIn=CHECK_IN, checkOut=CHECK_OUT)
    assert status == 503
    assert body["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert "Traceback" not in json.dumps(body) and "127.0.0.1" not in json.dumps(body)


def _break_dynamodb(monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the service's repository at a port nothing listens on."""
    from cached_booking_api.local.processes import free_port

    monkeypatch.setenv("DYNAMODB_ENDPOINT", f"http://127.0.0.1:{free_port()}")
    from cached_booking_api.runtime import config

    monkeypatch.setattr(search.search_service().repository, "client", config.dynamodb_client())


def test_empty_results_are_cached_briefly(lisbon: dict[str, str], call_search: SearchCall, redis_server: Any) -> None:
    first = call_search(destination="Atlantis", checkIn=CHECK_IN, checkOut=CHECK_OUT)
    second = call_search(destination="Atlantis", checkIn=CHECK_IN, checkOut=CHECK_OUT)
    assert (first[0], first[2]["results"], first[1]["X-Cache"]) == (200, [], "MISS")
    assert second[1]["X-Cache"] == "HIT"
    ttl = redis.Redis.from_url(redis_server.url).pttl(cache_keys("Atlantis", CHECK_IN, CHECK_OUT).catalogue) / 1000
    policy = search.search_service().cache.policy
    assert 0 < ttl <= policy.negative_ttl_seconds * (1 + policy.jitter_ratio)


def test_a_new_listing_reaches_the_cache_through_the_stream_consumer(
    lisbon: dict[str, str], call_search: SearchCall, dynamodb: Any
) -> None:
    """A new listing changes its destination's catalogue (generation bumped) and writes its months through; the other
    destinations keep their cache."""
    import boto3

    from cached_booking_api.local.streams import StreamReader
    from cached_booking_api.runtime.handlers import invalidation

    stream_arn = dynamodb.describe_table(TableName=lisbon["TABLE_NAME"])["Table"]["LatestStreamArn"]
    reader = StreamReader(boto3.client("dynamodbstreams", endpoint_url=lisbon["DYNAMODB_ENDPOINT"]), stream_arn)
    consumer = search.search_service().cache
    invalidation.invalidate(reader.poll(), consumer)  # the fixture's load
    call_search(destination="Lisbon", checkIn=CHECK_IN, checkOut=CHECK_OUT)
    call_search(destination="Porto", checkIn=CHECK_IN, checkOut=CHECK_OUT)
    load(dynamodb, lisbon["TABLE_NAME"], listing("lis-e", price=100))
    scopes = invalidation.invalidate(reader.poll(), consumer)
    assert (schema.destination_tag("Lisbon"), "*") in scopes
    status, headers, body = call_search(destination="Lisbon", checkIn=CHECK_IN, checkOut=CHECK_OUT)
    assert headers["X-Cache"] == "MISS" and body["results"][0]["listingId"] == "lis-e"  # the catalogue reloaded
    assert call_search(destination="Lisbon", checkIn=CHECK_IN, checkOut=CHECK_OUT)[1]["X-Cache"] == "HIT"
    assert call_search(destination="Porto", checkIn=CHECK_IN, checkOut=CHECK_OUT)[1]["X-Cache"] == "HIT"


def test_fifty_concurrent_identical_misses_make_one_dynamodb_query(
    lisbon: dict[str, str], call_search: SearchCall, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 50 threads share one interpreter here (in Lambda each request has its own process): a 50 ms socket timeout
    # can expire while a thread waits for the GIL, which is the timeout path, not the one under test.
    monkeypatch.setenv("CACHE_TIMEOUT_MS", "2000")
    monkeypatch.setenv("FUNCTION_TIMEOUT_SECONDS", "30")  # a budget that fits 10 cache commands of 2 s and a load
    search.search_service.cache_clear()
    service = search.search_service()
    queries: list[str] = []
    service.repository.client.meta.events.register("before-call.dynamodb.Query", lambda **_: queries.append("q"))
    barrier = threading.Barrier(50)
    statuses: list[str] = []

    def one() -> None:
        barrier.wait()
        statuses.append(call_search(destination="Lisbon", checkIn=CHECK_IN, checkOut=CHECK_OUT)[1]["X-Cache"])

    threads = [threading.Thread(target=one) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(queries) == 2, __import__("collections").Counter(statuses)  # one fill: catalogue + inventory Query
    assert sorted(set(statuses)) == ["HIT", "MISS"] and statuses.count("MISS") == 1


def test_pages_follow_the_cursor(search_env: dict[str, str], dynamodb: Any, call_search: SearchCall) -> None:
    load(dynamodb, search_env["TABLE_NAME"], *(listing(f"l-{i:02d}", price=1000 + i) for i in range(7)))
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        query = {"destination": "Lisbon", "checkIn": CHECK_IN, "checkOut": CHECK_OUT, "limit": 3}
        status, _, body = call_search(**query, **({"cursor": cursor} if cursor else {}))
        assert status == 200
        seen += [r["listingId"] for r in body["results"]]
        pages += 1
        cursor = body["nextCursor"]
        if cursor is None:
            break
    assert pages == 3 and seen == [f"l-{i:02d}" for i in range(7)]
    _, first_page, _ = call_search(destination="Lisbon", checkIn=CHECK_IN, checkOut=CHECK_OUT, limit=3)[2].values()
    status, _, body = call_search(destination="Porto", checkIn=CHECK_IN, checkOut=CHECK_OUT, cursor=first_page)
    assert status == 400 and body["error"]["details"][0]["field"] == "cursor"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"checkIn": CHECK_IN, "checkOut": CHECK_OUT}, "destination"),
        ({"destination": "  ", "checkIn": CHECK_IN, "checkOut": CHECK_OUT}, "destination"),
        ({"destination": "x" * 101, "checkIn": CHECK_IN, "checkOut": CHECK_OUT}, "destination"),
        ({"destination": "Lisbon", "checkOut": CHECK_OUT}, "checkIn"),
        ({"destination": "Lisbon", "checkIn": "01/12/2026", "checkOut": CHECK_OUT}, "checkIn"),
        ({"destination": "Lisbon", "checkIn": "2026-02-30", "checkOut": CHECK_OUT}, "checkIn"),
        ({"destination": "Lisbon", "checkIn": stay(-1, 1)[0], "checkOut": CHECK_OUT}, "checkIn"),
        ({"destination": "Lisbon", "checkIn": CHECK_IN}, "checkOut"),
        ({"destination": "Lisbon", "checkIn": CHECK_IN, "checkOut": CHECK_IN}, "checkOut"),
        ({"destination": "Lisbon", "checkIn": stay(5, 31)[0], "checkOut": stay(5, 31)[1]}, "checkOut"),
        ({"destination": "Lisbon", "checkIn": CHECK_IN, "checkOut": CHECK_OUT, "guests": 0}, "guests"),
        ({"destination": "Lisbon", "checkIn": CHECK_IN, "checkOut": CHECK_OUT, "guests": 17}, "guests"),
        ({"destination": "Lisbon", "checkIn": CHECK_IN, "checkOut": CHECK_OUT, "guests": "two"}, "guests"),
        ({"destination": "Lisbon", "checkIn": CHECK_IN, "checkOut": CHECK_OUT, "limit": 0}, "limit"),
        ({"destination": "Lisbon", "checkIn": CHECK_IN, "checkOut": CHECK_OUT, "limit": 101}, "limit"),
        ({"destination": "Lisbon", "checkIn": CHECK_IN, "checkOut": CHECK_OUT, "cursor": "garbage"}, "cursor"),
        ({"destination": "Lisbon", "checkIn": CHECK_IN, "checkOut": CHECK_OUT, "checkin": CHECK_IN}, "checkin"),
    ],
)
def test_bad_queries_are_400_naming_the_field(
    search_env: dict[str, str], call_search: SearchCall, query: dict[str, Any], field: str
) -> None:
    status, _, body = call_search(**query)
    assert status == 400
    assert body["error"]["code"] == "VALIDATION_ERROR"
    assert field in [detail["field"] for detail in body["error"]["details"]]
    assert body["error"]["message"]


@pytest.mark.fast
def test_unknown_route_is_404_in_the_error_format() -> None:
    from cached_booking_api.local.gateway import proxy_event
    from test.runtime.conftest import LambdaContextStub

    response = search.handler(proxy_event("GET", "/nope"), LambdaContextStub())
    assert response["statusCode"] == 404
    assert json.loads(response["body"])["error"]["code"] == "NOT_FOUND"


def test_search_completed_line_carries_the_event_and_no_personal_data(
    lisbon: dict[str, str], call_search: SearchCall
) -> None:
    buffer = io.StringIO()
    handler = search.logger.registered_handler
    previous = handler.setStream(buffer)
    search.logger.setLevel("INFO")
    try:
        call_search(destination="Lisbon", checkIn=CHECK_IN, checkOut=CHECK_OUT, guests=2)
    finally:
        search.logger.setLevel("WARNING")
        handler.setStream(previous)
    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    events = [line["search_completed"] for line in lines if line.get("message") == "search.completed"]
    assert len(events) == 1
    event = events[0]
    assert set(event) == {
        "queryHash", "destination", "checkIn", "checkOut", "guests", "resultCount", "cache", "latencyMs",
    }  # fmt: skip
    assert (event["destination"], event["guests"], event["resultCount"], event["cache"]) == ("Lisbon", 2, 3, "MISS")
