"""The search function's time budget: a request waiting for another request's load never outlives its invocation.

Real redis-server and DynamoDB Local; the holder whose load never finishes is a lock left in Redis, the invocation's
remaining time a context whose clock runs down like Lambda's.
"""

from __future__ import annotations

import json
import time
from datetime import date, timedelta
from typing import Any

import pytest
import redis

from cached_booking_api.local.gateway import proxy_event
from cached_booking_api.runtime import config, schema
from cached_booking_api.runtime.cache import CacheKeys
from cached_booking_api.runtime.handlers import search
from cached_booking_api.runtime.models import SearchQuery
from cached_booking_api.runtime.search_service import WAIT_MARGIN_MS
from test.conftest import listing, stay
from test.runtime.conftest import SearchContext, load

CHECK_IN, CHECK_OUT = stay(12, 3)
QUERY = {"destination": "Lisbon", "checkIn": CHECK_IN, "checkOut": CHECK_OUT}


@pytest.fixture
def loads(search_env: dict[str, str], dynamodb: Any, redis_server: Any) -> list[int]:
    """Two Lisbon listings, a lock on the query held by a request that is still loading; the Query calls made."""
    load(dynamodb, search_env["TABLE_NAME"], listing("lis-1"), listing("lis-2", price=20000))
    keys = CacheKeys.for_stay(schema.destination_tag("Lisbon"), SearchQuery(**QUERY).nights)
    redis.Redis.from_url(redis_server.url).set(keys.lock, "holder-still-loading", px=60_000)
    service = search.search_service()
    made: list[int] = []
    service.repository.client.meta.events.register(
        "provide-client-params.dynamodb.Query", lambda **kw: _count_load(made, **kw), unique_id="count-loads"
    )
    return made


def _count_load(loads: list[int], params: dict[str, Any], **_: Any) -> None:
    """A fill is two Queries (the catalogue, then the months' inventory): count the first."""
    if params.get("IndexName") == schema.BY_DESTINATION_INDEX.name:
        loads.append(1)


def _search(remaining_ms: int) -> tuple[int, dict[str, Any], float]:
    started = time.monotonic()
    response = search.handler(proxy_event("GET", "/search", query=QUERY), SearchContext(remaining_ms))
    return response["statusCode"], json.loads(response["body"]), time.monotonic() - started


def test_a_waiter_with_no_time_left_for_a_load_answers_503_before_its_timeout(loads: list[int]) -> None:
    remaining_ms = 1500  # less than the DynamoDB client's worst case: waiting is all it can do
    status, body, elapsed = _search(remaining_ms)
    assert (status, body["error"]["code"]) == (503, "SERVICE_UNAVAILABLE")
    assert elapsed < remaining_ms / 1000, "the invocation would have timed out"
    assert elapsed >= (remaining_ms - WAIT_MARGIN_MS) / 1000 - 0.1, "it gave up before its time was up"
    assert loads == []


def test_a_waiter_with_time_left_for_a_load_answers_from_its_own_load(
    loads: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    # 6 s leave 4 s for a load (cache 1.5 s, response 0.5 s): two calls of one 1 + 1 s attempt each = 4 s (lock 4 s)
    monkeypatch.setenv(config.FUNCTION_TIMEOUT_SECONDS, "6")
    monkeypatch.setenv(config.DYNAMODB_READ_TIMEOUT_SECONDS, "1")
    search.search_service.cache_clear()
    service = search.search_service()
    service.repository.client.meta.events.register(
        "provide-client-params.dynamodb.Query", lambda **kw: _count_load(loads, **kw), unique_id="count-loads"
    )
    assert service.cache.policy.lock_ttl_ms == 4000
    # The lock outlives the wait (4 s, the lock's lifetime); 9 s - 4 s leave time for a 4 s load + the margin.
    status, body, elapsed = _search(9000)
    assert status == 200, body
    assert [r["listingId"] for r in body["results"]] == ["lis-1", "lis-2"]
    assert loads == [1]
    assert 4.0 <= elapsed < 8.5


def test_the_lock_outlives_every_call_of_a_load(search_env: dict[str, str], dynamodb: Any) -> None:
    """A load is all the DynamoDB calls of a miss; the single-flight lock lives as long as all of them together may
    take, and that fits in the function's timeout with the cache's own worst case."""
    load(dynamodb, search_env["TABLE_NAME"], listing("lis-1"))
    service = search.search_service()
    calls: list[str] = []
    service.repository.client.meta.events.register(
        "before-call.dynamodb", lambda model, **_: calls.append(model.name), unique_id="count-calls"
    )
    outcome = service.search(SearchQuery(**QUERY))
    assert outcome.cache.value == "MISS" and calls == ["Query", "Query"]
    assert len(calls) == config.SEARCH_LOAD_CALLS
    per_call = config.dynamodb_worst_case_seconds(service.repository.client.meta.config)
    lock_seconds = service.cache.policy.lock_ttl_ms / 1000
    assert lock_seconds >= len(calls) * per_call
    settings = config.redis_settings()
    cache_seconds = settings.connect_timeout_ms / 1000 + 10 * settings.socket_timeout_ms / 1000
    assert lock_seconds + cache_seconds <= int(search_env[config.FUNCTION_TIMEOUT_SECONDS])
    assert cache_seconds <= config.cache_worst_case_seconds()


def test_the_local_mode_fits_a_whole_search_in_the_timeout_its_gateway_gives_the_handler() -> None:
    """Before, the local mode set no function timeout: its DynamoDB client kept 3 retries of a 10 s read (51 s a call)
    and the lock lived as long, while the local gateway gives a search 10 s, so a waiter could only answer 503."""
    from types import SimpleNamespace

    from cached_booking_api.local.gateway_rules import TIMEOUTS_MS
    from cached_booking_api.local.platform import TIME_BUDGET

    timeout = TIMEOUTS_MS["search"] / 1000
    assert float(TIME_BUDGET[config.FUNCTION_TIMEOUT_SECONDS]) == timeout
    client = SimpleNamespace(**config.dynamodb_client_settings(TIME_BUDGET))
    policy = config.cache_policy(TIME_BUDGET, load_worst_case_seconds=config.load_worst_case_seconds(client))
    cache = config.cache_worst_case_seconds(TIME_BUDGET)
    assert policy.lock_ttl_ms / 1000 + cache + config.RESPONSE_MARGIN_SECONDS <= timeout


def test_the_costliest_miss_makes_no_more_cache_round_trips_than_the_budget_counts(
    search_env: dict[str, str], dynamodb: Any, redis_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cache's worst case in the time budget is ``CACHE_ROUND_TRIPS_PER_MISS`` commands: the costliest miss (the
    generation lost, the catalogue and both months of the stay stale: everything refilled) stays within it."""
    import redis.connection

    from cached_booking_api.runtime.cache import COMPLETE_FIELD, entry_json

    load(dynamodb, search_env["TABLE_NAME"], listing("lis-1"))
    service = search.search_service()
    first_of_month = (date.today() + timedelta(days=32)).replace(day=1)  # a stay over two months
    query = SearchQuery(destination="Lisbon", checkIn=(first_of_month - timedelta(days=1)).isoformat(),
                        checkOut=(first_of_month + timedelta(days=1)).isoformat())  # fmt: skip
    assert service.search(query).cache.value == "MISS"
    keys = CacheKeys.for_stay(schema.destination_tag("Lisbon"), query.nights)
    assert len(keys.months) == 2
    admin = redis.Redis.from_url(redis_server.url)
    stored = json.loads(entry_json(admin.get(keys.catalogue)))
    admin.set(keys.catalogue, json.dumps({**stored, "fresh_until": 0}), keepttl=True)
    for month in keys.months:
        admin.hset(keys.inventory(month), COMPLETE_FIELD, repr(time.time() - 1))
    admin.delete(keys.generation)
    sent: list[int] = []
    original = redis.connection.AbstractConnection.send_packed_command

    def counting(self: Any, command: Any, check_health: bool = True) -> None:
        sent.append(1)
        original(self, command, check_health)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counting)
    outcome = service.search(query)
    monkeypatch.undo()
    assert outcome.cache.value == "MISS"
    assert len(sent) <= config.CACHE_ROUND_TRIPS_PER_MISS, len(sent)
