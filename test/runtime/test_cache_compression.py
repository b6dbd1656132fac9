"""Cache entries are stored compressed (fewer KB per hit: ElastiCache Serverless bills ECPUs per KB transferred),
entries written uncompressed by an earlier version are still served, and a corrupt entry is a miss."""

from __future__ import annotations

import json
from typing import Any

import redis

from cached_booking_api.runtime import schema
from cached_booking_api.runtime.cache import CacheKeys, entry_json
from cached_booking_api.runtime.handlers import search
from cached_booking_api.runtime.models import SearchQuery
from cached_booking_api.runtime.search_service import query_hash
from test.conftest import listing, stay
from test.runtime.conftest import SearchCall, load

CHECK_IN, CHECK_OUT = stay(9, 5)
QUERY = {"destination": "Lisbon", "checkIn": CHECK_IN, "checkOut": CHECK_OUT}


def _entry_key() -> str:
    return CacheKeys.for_query(schema.destination_tag("Lisbon"), query_hash(SearchQuery(**QUERY))).entry


def test_entries_are_stored_compressed_and_served_identically(
    search_env: dict[str, str], dynamodb: Any, redis_server: Any, call_search: SearchCall
) -> None:
    load(dynamodb, search_env["TABLE_NAME"], *(listing(f"lis-{i:02d}", price=9000 + i) for i in range(30)))
    miss = call_search(**QUERY, limit=100)
    hit = call_search(**QUERY, limit=100)
    assert (miss[1]["X-Cache"], hit[1]["X-Cache"]) == ("MISS", "HIT")
    assert hit[2] == miss[2]
    raw = redis.Redis.from_url(redis_server.url).get(_entry_key())
    plain = json.dumps({"gen": 0, "fresh_until": 0.0, "results": miss[2]["results"]}, separators=(",", ":"))
    assert len(miss[2]["results"]) == 30
    assert len(raw) * 3 < len(plain), (len(raw), len(plain))  # the results alone are 3x bigger than the entry


def test_an_uncompressed_entry_is_a_hit(
    search_env: dict[str, str], dynamodb: Any, redis_server: Any, call_search: SearchCall
) -> None:
    load(dynamodb, search_env["TABLE_NAME"], listing("lis-1"))
    results = call_search(**QUERY)[2]["results"]
    client = redis.Redis.from_url(redis_server.url)
    generation = json.loads(entry_json(client.get(_entry_key())))["gen"]
    old = {"gen": generation, "fresh_until": 4e9, "results": [{**results[0], "name": "Old"}]}
    client.set(_entry_key(), json.dumps(old))
    status, headers, body = call_search(**QUERY)
    assert (status, headers["X-Cache"], body["results"][0]["name"]) == (200, "HIT", "Old")


def test_an_entry_of_the_counter_generations_of_0_1_is_a_miss(
    search_env: dict[str, str], dynamodb: Any, redis_server: Any, call_search: SearchCall
) -> None:
    """Entries written by 0.1.x carry an integer generation, its generation keys a counter: after an upgrade each
    entry is a miss once, never a HIT, and the old counters are not mistaken for a malformed value (no BYPASS)."""
    load(dynamodb, search_env["TABLE_NAME"], listing("lis-1"))
    client = redis.Redis.from_url(redis_server.url)
    client.set("gen:{d:" + schema.destination_tag("Lisbon") + "}", "3")  # 0.1.x's counter of the destination
    results = call_search(**QUERY)[2]["results"]
    client.set(_entry_key(), json.dumps({"gen": 0, "fresh_until": 4e9, "results": [{**results[0], "name": "Old"}]}))
    status, headers, body = call_search(**QUERY)
    assert (status, headers["X-Cache"], body["results"][0]["name"]) == (200, "MISS", "Listing lis-1")
    assert call_search(**QUERY)[1]["X-Cache"] == "HIT"


def test_a_corrupt_compressed_entry_is_a_miss_not_an_error(
    search_env: dict[str, str], dynamodb: Any, redis_server: Any, call_search: SearchCall
) -> None:
    load(dynamodb, search_env["TABLE_NAME"], listing("lis-1"))
    call_search(**QUERY)
    redis.Redis.from_url(redis_server.url).set(_entry_key(), "z:bm90IHpsaWI=")  # base64 of b"not zlib"
    status, headers, body = call_search(**QUERY)
    assert (status, headers["X-Cache"], body["count"]) == (200, "MISS", 1)
    assert search.search_service().breaker.is_open is False
