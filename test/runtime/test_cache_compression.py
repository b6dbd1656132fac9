"""Catalogues are stored compressed (fewer KB per hit: ElastiCache Serverless bills ECPUs per KB transferred), month
hashes in a compact run-length form; uncompressed catalogues are still served, and a corrupt value is a miss."""

from __future__ import annotations

import json
from typing import Any

import redis

from cached_booking_api.runtime import schema
from cached_booking_api.runtime.cache import CacheKeys, entry_json
from cached_booking_api.runtime.handlers import search
from cached_booking_api.runtime.models import SearchQuery
from test.conftest import listing, stay
from test.runtime.conftest import SearchCall, load

CHECK_IN, CHECK_OUT = stay(9, 5)
QUERY = {"destination": "Lisbon", "checkIn": CHECK_IN, "checkOut": CHECK_OUT}


def _keys() -> CacheKeys:
    return CacheKeys.for_stay(schema.destination_tag("Lisbon"), SearchQuery(**QUERY).nights)


def test_catalogues_are_stored_compressed_and_months_compact(
    search_env: dict[str, str], dynamodb: Any, redis_server: Any, call_search: SearchCall
) -> None:
    load(dynamodb, search_env["TABLE_NAME"], *(listing(f"lis-{i:02d}", price=9000 + i) for i in range(30)))
    miss = call_search(**QUERY, limit=100)
    hit = call_search(**QUERY, limit=100)
    assert (miss[1]["X-Cache"], hit[1]["X-Cache"]) == ("MISS", "HIT")
    assert hit[2] == miss[2]
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    raw = client.get(_keys().catalogue)
    assert len(miss[2]["results"]) == 30
    assert len(raw) * 3 < len(entry_json(raw)), (len(raw), len(entry_json(raw)))
    month = client.hgetall(_keys().inventory(_keys().months[0]))
    assert month["lis-00"] == "3*31"[: len(month["lis-00"])] or month["lis-00"].count(",") <= 2, month["lis-00"]


def test_an_uncompressed_catalogue_is_a_hit(
    search_env: dict[str, str], dynamodb: Any, redis_server: Any, call_search: SearchCall
) -> None:
    load(dynamodb, search_env["TABLE_NAME"], listing("lis-1"))
    call_search(**QUERY)
    client = redis.Redis.from_url(redis_server.url)
    stored = json.loads(entry_json(client.get(_keys().catalogue)))
    stored["listings"][0]["name"] = "Old"
    client.set(_keys().catalogue, json.dumps(stored), keepttl=True)
    status, headers, body = call_search(**QUERY)
    assert (status, headers["X-Cache"], body["results"][0]["name"]) == (200, "HIT", "Old")


def test_a_catalogue_of_the_counter_generations_of_0_1_is_a_miss(
    search_env: dict[str, str], dynamodb: Any, redis_server: Any, call_search: SearchCall
) -> None:
    """Entries written by 0.1.x carry an integer generation, its generation keys a counter: after an upgrade each
    is a miss once, never a HIT, and the old counters are not mistaken for a malformed value (no BYPASS)."""
    load(dynamodb, search_env["TABLE_NAME"], listing("lis-1"))
    client = redis.Redis.from_url(redis_server.url)
    client.set("gen:{d:" + schema.destination_tag("Lisbon") + "}", "3")  # 0.1.x's counter of the destination
    call_search(**QUERY)
    stored = json.loads(entry_json(client.get(_keys().catalogue)))
    client.set(
        _keys().catalogue, json.dumps({**stored, "gen": 0, "listings": [{**stored["listings"][0], "name": "Old"}]})
    )
    status, headers, body = call_search(**QUERY)
    assert (status, headers["X-Cache"], body["results"][0]["name"]) == (200, "MISS", "Listing lis-1")
    assert call_search(**QUERY)[1]["X-Cache"] == "HIT"


def test_a_corrupt_compressed_catalogue_is_a_miss_not_an_error(
    search_env: dict[str, str], dynamodb: Any, redis_server: Any, call_search: SearchCall
) -> None:
    load(dynamodb, search_env["TABLE_NAME"], listing("lis-1"))
    call_search(**QUERY)
    redis.Redis.from_url(redis_server.url).set(_keys().catalogue, "z:bm90IHpsaWI=")  # base64 of b"not zlib"
    status, headers, body = call_search(**QUERY)
    assert (status, headers["X-Cache"], body["count"]) == (200, "MISS", 1)
    assert search.search_service().breaker.is_open is False


def test_a_corrupt_month_value_is_a_miss_and_is_replaced(
    search_env: dict[str, str], dynamodb: Any, redis_server: Any, call_search: SearchCall
) -> None:
    """A month hash with a value that is not the compact form is not served: the fill clears it first (a fill's
    HSETNX would otherwise keep the corrupt value)."""
    load(dynamodb, search_env["TABLE_NAME"], listing("lis-1"))
    call_search(**QUERY)
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    month = _keys().inventory(_keys().months[0])
    client.hset(month, "lis-1", "not*a*month")
    status, headers, body = call_search(**QUERY)
    assert (status, headers["X-Cache"], body["results"][0]["available"]) == (200, "MISS", 3)
    assert client.hget(month, "lis-1") != "not*a*month"
    assert call_search(**QUERY)[1]["X-Cache"] == "HIT"
    assert search.search_service().breaker.is_open is False
