"""The search handler against a real redis-server and DynamoDB Local."""

from __future__ import annotations

import io
import json
import threading
from typing import Any

import pytest
import redis

from cached_booking_api.runtime import schema
from cached_booking_api.runtime.cache import CacheKeys, entry_json
from cached_booking_api.runtime.handlers import search
from cached_booking_api.runtime.models import SearchQuery
from cached_booking_api.runtime.search_service import query_hash
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


def entry_key(destination: str, check_in: str, check_out: str, guests: int = 1) -> CacheKeys:
    query = SearchQuery(destination=destination, checkIn=check_in, checkOut=check_out, guests=guests)
    return CacheKeys.for_query(schema.destination_tag(destination), query_hash(query), query.nights)


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


def test_equivalent_queries_share_one_canonical_key(lisbon: dict[str, str], call_search: SearchCall) -> None:
    assert call_search(destination="Lisbon", checkIn=CHECK_IN, checkOut=CHECK_OUT)[1]["X-Cache"] == "MISS"
    for variant in (
        {"destination": "  LISBON ", "checkIn": CHECK_IN, "checkOut": CHECK_OUT},
        {"checkOut": CHECK_OUT, "guests": 1, "destination": "lisbon", "checkIn": CHECK_IN},
        {"destination": "lisbon", "checkIn": CHECK_IN, "checkOut": CHECK_OUT, "limit": 1},
    ):
        assert call_search(**variant)[1]["X-Cache"] == "HIT", variant
    assert call_search(destination="Lisbon", checkIn=CHECK_IN, checkOut=CHECK_OUT, guests=2)[1]["X-Cache"] == "MISS"


def test_entry_ttl_has_bounded_jitter(lisbon: dict[str, str], call_search: SearchCall, redis_server: Any) -> None:
    client = redis.Redis.from_url(redis_server.url)
    ttls = []
    for offset in range(12):
        check_in, check_out = stay(20 + offset, 2)
        call_search(destination="Lisbon", checkIn=check_in, checkOut=check_out)
        ttls.append(client.pttl(entry_key("Lisbon", check_in, check_out).entry) / 1000)
    policy = search.search_service().cache.policy
    low = policy.ttl_seconds * (1 - policy.jitter_ratio) + policy.stale_seconds - 1
    high = policy.ttl_seconds * (1 + policy.jitter_ratio) + policy.stale_seconds
    assert all(low <= ttl <= high for ttl in ttls), ttls
    assert len({round(ttl) for ttl in ttls}) > 1, "jitter must spread expiries"


def _age_entry(client: redis.Redis, key: str) -> None:
    data = json.loads(entry_json(client.get(key)))
    data["fresh_until"] = 0
    client.set(key, json.dumps(data), keepttl=True)


def test_stale_entry_is_served_while_another_request_revalidates(
    lisbon: dict[str, str], call_search: SearchCall, redis_server: Any
) -> None:
    client = redis.Redis.from_url(redis_server.url)
    keys = entry_key("Lisbon", CHECK_IN, CHECK_OUT)
    call_search(destination="Lisbon", checkIn=CHECK_IN, checkOut=CHECK_OUT)
    _age_entry(client, keys.entry)
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
    _age_entry(client, entry_key("Lisbon", CHECK_IN, CHECK_OUT).entry)
    _break_dynamodb(monkeypatch)
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
    ttl = redis.Redis.from_url(redis_server.url).pttl(entry_key("Atlantis", CHECK_IN, CHECK_OUT).entry) / 1000
    policy = search.search_service().cache.policy
    assert 0 < ttl <= policy.negative_ttl_seconds * (1 + policy.jitter_ratio)


def test_generation_bump_invalidates_a_destination(
    lisbon: dict[str, str], call_search: SearchCall, dynamodb: Any
) -> None:
    call_search(destination="Lisbon", checkIn=CHECK_IN, checkOut=CHECK_OUT)
    call_search(destination="Porto", checkIn=CHECK_IN, checkOut=CHECK_OUT)
    load(dynamodb, lisbon["TABLE_NAME"], listing("lis-e", price=100))
    search.search_service().cache.bump_generation(schema.destination_tag("lisbon"))
    status, headers, body = call_search(destination="Lisbon", checkIn=CHECK_IN, checkOut=CHECK_OUT)
    assert headers["X-Cache"] == "MISS" and body["results"][0]["listingId"] == "lis-e"
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
    assert len(queries) == 2, __import__("collections").Counter(statuses)  # one load: listings + inventory Query
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
