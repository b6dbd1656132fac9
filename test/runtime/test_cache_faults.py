"""Any failure of the cache path is a cache failure: the search answers (never a 500) and the breaker recovers.

Faults are injected where the real code meets them: the IAM credential provider (called by redis-py on every new
connection), client creation (incomplete settings), and a malformed generation value in a real redis-server.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import redis

from cached_booking_api.runtime import schema
from cached_booking_api.runtime.cache import CacheKeys
from cached_booking_api.runtime.circuit import CircuitBreaker
from cached_booking_api.runtime.handlers import search
from cached_booking_api.runtime.redis_client import ElastiCacheIamCredentialProvider, RedisSettings
from test.conftest import listing, stay
from test.runtime.conftest import SearchCall, load

CHECK_IN, CHECK_OUT = stay(5, 2)
QUERY = {"destination": "Lisbon", "checkIn": CHECK_IN, "checkOut": CHECK_OUT}


def _no_credentials() -> object:
    raise RuntimeError("no AWS credentials found to sign the cache IAM auth token")  # as _session_credentials does


def _credential_provider_fault(service: Any, url: str) -> Callable[[], None]:
    provider = ElastiCacheIamCredentialProvider(
        user_id="search-user", cache_name="c", region="us-east-1", serverless=True, credentials_loader=_no_credentials
    )
    service.cache.client._client = redis.Redis.from_url(
        url, credential_provider=provider, decode_responses=True, socket_timeout=2
    )

    def heal() -> None:
        service.cache.client._client = redis.Redis.from_url(url, decode_responses=True, socket_timeout=2)

    return heal


def _client_creation_fault(service: Any, url: str) -> Callable[[], None]:
    lazy = service.cache.client
    lazy.reset()
    good = lazy.settings
    lazy.settings = RedisSettings(host="cache.example")  # no user id, cache name, region: create_client raises

    def heal() -> None:
        lazy.settings = good

    return heal


def _malformed_generation_fault(service: Any, url: str) -> Callable[[], None]:
    admin = redis.Redis.from_url(url)
    key = CacheKeys(schema.destination_tag("Lisbon"), ()).generation
    admin.set(key, "not-a-number")
    return lambda: admin.delete(key)


FAULTS = {
    "credential provider": _credential_provider_fault,
    "client creation": _client_creation_fault,
    "malformed generation": _malformed_generation_fault,
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_any_cache_path_failure_bypasses_and_the_breaker_recovers(
    fault: str, search_env: dict[str, str], redis_server: Any, dynamodb: Any, call_search: SearchCall
) -> None:
    load(dynamodb, search_env["TABLE_NAME"], listing("lis-1"))
    service = search.search_service()
    now = [1000.0]
    service.breaker = CircuitBreaker(failure_threshold=3, cooldown_seconds=30, clock=lambda: now[0])
    heal = FAULTS[fault](service, redis_server.url)

    for _ in range(5):  # never a 500: the cache failing is a bypass to DynamoDB
        status, headers, body = call_search(**QUERY)
        assert (status, headers["X-Cache"], body["count"]) == (200, "BYPASS", 1), body
    assert service.breaker.is_open

    now[0] += 31  # the half-open trial meets the same fault: it must count as a failure and release the trial
    assert call_search(**QUERY)[:2][0] == 200
    assert service.breaker.is_open

    heal()
    now[0] += 31  # next trial: the cache works again, so the breaker closes (it is not stuck open)
    status, headers, _ = call_search(**QUERY)
    assert (status, headers["X-Cache"]) == (200, "MISS")
    assert not service.breaker.is_open
    assert call_search(**QUERY)[1]["X-Cache"] == "HIT"
