"""Single-flight holds when DynamoDB is slow or the lock holder dies: identical concurrent misses make one load.

Real redis-server and DynamoDB Local; the slowness is injected into the real DynamoDB client (a botocore event hook
sleeps before the Query is sent), the dead holder is a lock left behind in Redis.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Any

import pytest
import redis

from cached_booking_api.runtime import config, schema
from cached_booking_api.runtime.cache import CacheKeys
from cached_booking_api.runtime.handlers import search
from cached_booking_api.runtime.models import SearchQuery
from test.conftest import listing, stay
from test.runtime.conftest import SearchCall, load

CHECK_IN, CHECK_OUT = stay(12, 3)
QUERY = {"destination": "Lisbon", "checkIn": CHECK_IN, "checkOut": CHECK_OUT}
CONCURRENT = 20


@pytest.fixture
def service(search_env: dict[str, str], dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The search service over two Lisbon listings, counting the DynamoDB loads (Query calls) it makes."""
    # Threads share one interpreter here (in Lambda each request has its own process): a 50 ms socket timeout can
    # expire while a thread waits for the GIL, which is the timeout path, not the one under test.
    monkeypatch.setenv(config.CACHE_TIMEOUT_MS, "2000")
    # ... and a budget that fits those cache commands (10 x 2 s) and a load (2 x 3 s): the lock lives 6 s.
    monkeypatch.setenv(config.FUNCTION_TIMEOUT_SECONDS, "30")
    search.search_service.cache_clear()
    load(dynamodb, search_env["TABLE_NAME"], listing("lis-1"), listing("lis-2", price=20000))
    svc = search.search_service()
    svc.loads = []
    svc.repository.client.meta.events.register(
        "provide-client-params.dynamodb.Query", lambda **kw: _count_load(svc, **kw)
    )
    return svc


def _count_load(svc: Any, params: dict[str, Any], **_: Any) -> None:
    """A fill is two Queries (the catalogue, then the months' inventory): count the first."""
    if params.get("IndexName") == schema.BY_DESTINATION_INDEX.name:
        svc.loads.append(1)


def _concurrent_identical_searches(call_search: SearchCall) -> list[tuple[int, str]]:
    barrier = threading.Barrier(CONCURRENT)
    outcomes: list[tuple[int, str]] = []

    def one() -> None:
        barrier.wait()
        status, headers, _ = call_search(**QUERY)
        outcomes.append((status, headers.get("X-Cache", "")))

    threads = [threading.Thread(target=one) for _ in range(CONCURRENT)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_twenty_identical_misses_make_one_load_when_dynamodb_takes_1_8_seconds(
    service: Any, call_search: SearchCall
) -> None:
    service.repository.client.meta.events.register("before-send.dynamodb.Query", lambda **_: time.sleep(1.8))
    outcomes = _concurrent_identical_searches(call_search)
    assert len(service.loads) == 1, collections.Counter(outcomes)
    assert collections.Counter(outcomes) == {(200, "MISS"): 1, (200, "HIT"): CONCURRENT - 1}


def test_a_lock_left_by_a_dead_holder_is_taken_over_by_one_waiter(
    service: Any, call_search: SearchCall, redis_server: Any
) -> None:
    keys = CacheKeys.for_stay(schema.destination_tag("Lisbon"), SearchQuery(**QUERY).nights)
    redis.Redis.from_url(redis_server.url).set(keys.lock, "holder-that-died", px=600)
    outcomes = _concurrent_identical_searches(call_search)
    assert len(service.loads) == 1, collections.Counter(outcomes)
    assert collections.Counter(outcomes) == {(200, "MISS"): 1, (200, "HIT"): CONCURRENT - 1}


def test_the_lock_outlives_the_dynamodb_clients_worst_case_and_waiters_wait_that_long(service: Any) -> None:
    client_config = service.repository.client.meta.config
    attempts = client_config.retries["total_max_attempts"]  # botocore: max_attempts=3 is 3 retries, 4 attempts
    # botocore's standard retry mode sleeps random() * 2 ** (attempt - 1) seconds before each retry.
    backoff = sum(2 ** (attempt - 1) for attempt in range(1, attempts))
    worst_case_s = attempts * (client_config.connect_timeout + client_config.read_timeout) + backoff
    policy = service.cache.policy
    assert policy.lock_ttl_ms >= config.SEARCH_LOAD_CALLS * worst_case_s * 1000  # every call of the load
    assert policy.wait_ms >= policy.lock_ttl_ms


def test_unlock_never_deletes_a_lock_that_changed_hands_after_it_was_read(redis_server: Any) -> None:
    """Timeline: our lock is read back as ours, then (before the delete) it expires and another request takes it.

    The proxy holds the reply to our ``GET`` of the lock while another client re-sets the lock, so the interleaving
    happens on a real redis-server on every run. Release must be atomic: the other request's lock survives.
    """
    from cached_booking_api.runtime.cache import SearchCache
    from cached_booking_api.runtime.redis_client import LazyClient, RedisSettings
    from test.runtime.redis_proxy import RedisProxy

    admin = redis.Redis.from_url(redis_server.url, decode_responses=True)
    keys = CacheKeys("unlock-race", ("2030-01",))
    admin.delete(keys.lock)
    armed = [False]

    def take_the_lock_over(request: bytes, index: int) -> None:
        if armed[0] and request.startswith(b"*2\r\n$3\r\nGET\r\n") and keys.lock.encode() in request:
            armed[0] = False
            admin.set(keys.lock, "another-request", px=60_000)

    port = int(redis_server.url.rsplit(":", 1)[1])
    with RedisProxy(port, take_the_lock_over) as proxy:
        cache = SearchCache(LazyClient(RedisSettings(url=proxy.url, socket_timeout_ms=2000)))
        token = cache.try_lock(keys)
        assert token is not None
        armed[0] = True
        cache.unlock(keys, token)
        assert not armed[0], "the interleaving did not happen"
    assert admin.get(keys.lock) == "another-request"


def test_unlock_releases_our_own_lock(redis_server: Any) -> None:
    from cached_booking_api.runtime.cache import SearchCache
    from cached_booking_api.runtime.redis_client import LazyClient, RedisSettings

    cache = SearchCache(LazyClient(RedisSettings(url=redis_server.url)))
    keys = CacheKeys("unlock-own", ("2030-01",))
    token = cache.try_lock(keys)
    assert token is not None and cache.try_lock(keys) is None
    cache.unlock(keys, token)
    assert cache.try_lock(keys) is not None
