"""Redis failing never fails a search: tight timeouts, a circuit breaker, BYPASS to DynamoDB, recovery after restart."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from cached_booking_api.local.processes import RedisServer
from cached_booking_api.runtime import config
from cached_booking_api.runtime.handlers import search
from test.conftest import listing, stay
from test.runtime.conftest import SearchCall, load

CHECK_IN, CHECK_OUT = stay(7, 2)


@pytest.fixture
def own_redis(search_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, dynamodb: Any) -> Iterator[RedisServer]:
    """A redis-server this test may stop and restart, with a short circuit cool-down."""
    server = RedisServer().start()
    monkeypatch.setenv(config.CACHE_URL, server.url)
    monkeypatch.setenv(config.CIRCUIT_COOLDOWN_SECONDS, "0.3")
    search.search_service.cache_clear()
    load(dynamodb, search_env["TABLE_NAME"], listing("lis-1"), listing("lis-2", price=20000))
    yield server  # type: ignore[misc]
    server.stop()


def test_searches_bypass_a_stopped_redis_and_resume_after_restart(
    own_redis: RedisServer, call_search: SearchCall
) -> None:
    query = {"destination": "Lisbon", "checkIn": CHECK_IN, "checkOut": CHECK_OUT}
    assert call_search(**query)[1]["X-Cache"] == "MISS"
    expected = call_search(**query)
    assert expected[1]["X-Cache"] == "HIT"

    own_redis.stop()
    breaker = search.search_service().breaker
    for _ in range(10):
        status, headers, body = call_search(**query)
        assert (status, headers["X-Cache"], body) == (200, "BYPASS", expected[2])
    assert breaker.is_open

    RedisServer(own_redis.port).start()  # same port, empty
    import time

    time.sleep(0.35)  # past the cool-down: the next search is the half-open trial
    assert call_search(**query)[1]["X-Cache"] == "MISS"
    assert not breaker.is_open
    assert call_search(**query)[1]["X-Cache"] == "HIT"


def test_unreachable_redis_at_start_does_not_fail_searches(
    search_env: dict[str, str], dynamodb: Any, monkeypatch: pytest.MonkeyPatch, call_search: SearchCall
) -> None:
    from cached_booking_api.local.processes import free_port

    monkeypatch.setenv(config.CACHE_URL, f"redis://127.0.0.1:{free_port()}")
    monkeypatch.setenv(config.CACHE_CLUSTER_MODE, "true")  # the cluster client contacts the cluster when built
    search.search_service.cache_clear()
    load(dynamodb, search_env["TABLE_NAME"], listing("lis-1"))
    status, headers, body = call_search(destination="Lisbon", checkIn=CHECK_IN, checkOut=CHECK_OUT)
    assert (status, headers["X-Cache"], body["count"]) == (200, "BYPASS", 1)
