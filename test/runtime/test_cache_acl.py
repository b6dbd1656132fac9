"""The ElastiCache user's access string lets the handlers do everything they do, and nothing else, on a real Redis."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from cached_booking_api.infrastructure.cache_cluster import ACCESS_STRING, DEFAULT_USER_ACCESS_STRING
from cached_booking_api.runtime import config, schema
from cached_booking_api.runtime.cache import CacheKeys, MonthWrite
from cached_booking_api.runtime.handlers import search
from test.conftest import listing, stay
from test.runtime.conftest import SearchCall, load

USER, PASSWORD = "search-user", "test-password"


def client_sees(url: str, key: str) -> str | None:
    """A key's value as the ACL user reads it."""
    value = redis.Redis.from_url(url, decode_responses=True).get(key)
    return None if value is None else str(value)


def test_handlers_work_as_the_acl_user_and_nothing_else_is_allowed(
    search_env: dict[str, str],
    redis_server: Any,
    dynamodb: Any,
    monkeypatch: pytest.MonkeyPatch,
    call_search: SearchCall,
) -> None:
    admin = redis.Redis.from_url(redis_server.url)
    admin.execute_command("ACL", "SETUSER", USER, "reset", f">{PASSWORD}", *ACCESS_STRING.split())
    try:
        url = redis_server.url.replace("redis://", f"redis://{USER}:{PASSWORD}@")
        monkeypatch.setenv(config.CACHE_URL, url)
        search.search_service.cache_clear()
        load(dynamodb, search_env["TABLE_NAME"], listing("lis-1"))
        check_in, check_out = stay(4, 2)
        query = {"destination": "Lisbon", "checkIn": check_in, "checkOut": check_out}
        assert call_search(**query)[1]["X-Cache"] == "MISS"
        assert call_search(**query)[1]["X-Cache"] == "HIT"
        assert search.search_service().breaker.is_open is False
        lisbon = schema.destination_tag("Lisbon")
        search.search_service().cache.bump_generation(lisbon)  # what the stream consumer does for a listing change
        assert client_sees(url, CacheKeys(lisbon, ()).generation) is not None
        assert call_search(**query)[1]["X-Cache"] == "MISS"
        # the consumer's write-through (HSET, EXPIRE NX, the change time) and a search that composes from it
        month = check_in[:7]
        search.search_service().cache.write_through([MonthWrite(lisbon, month, "lis-1", "1*31")])
        assert call_search(**query)[1]["X-Cache"] == "HIT"
        assert call_search(**query)[2]["results"][0]["available"] == 1
        assert client_sees(url, CacheKeys(lisbon, (month,)).change(month)) is not None

        # the single-flight lock's atomic release (WATCH/MULTI/EXEC) is allowed, and refuses a lock that is not ours

        lock_keys = CacheKeys(schema.destination_tag("Lisbon"), ("acl",))
        cache = search.search_service().cache
        token = cache.try_lock(lock_keys)
        assert token is not None and cache.unlock(lock_keys, "not-ours") is False
        assert cache.unlock(lock_keys, token) is True and cache.try_lock(lock_keys) is not None

        client = redis.Redis.from_url(url)
        for forbidden in (
            ("FLUSHALL",),
            ("KEYS", "*"),
            ("CONFIG", "GET", "*"),
            ("SET", "other:key", "1"),
            ("SET", "sr:{d:x}:q", "1"),  # the 0.2 result entries are not written any more
            ("HGETALL", "other:key"),
            ("HDEL", "inv:{d:x}:2030-01", "lis-1"),  # write-through writes tombstones, never deletes a field
            ("INCRBY", "gen:{d:x}:all", "1"),
            ("EVAL", "return 1", "0"),
        ):
            with pytest.raises(redis.exceptions.NoPermissionError):
                client.execute_command(*forbidden)
    finally:
        admin.execute_command("ACL", "DELUSER", USER)


def test_the_switched_off_default_user_admits_no_unauthenticated_connection(redis_server: Any) -> None:
    """ElastiCache RBAC (Amazon ElastiCache user guide, "Role-Based Access Control (RBAC)", Clusters.RBAC.html): "For
    user rights, you pass on and off as part of the access string."  The redis engine's user group must include a
    ``default`` user; ours carries DEFAULT_USER_ACCESS_STRING, so a client that does not authenticate (or names the
    default user) gets nothing, while the IAM-mode user still works. Checked on a real redis-server ACL."""
    admin_url = redis_server.url.replace("redis://", "redis://acl-admin:admin-password@")
    redis.Redis.from_url(redis_server.url).execute_command(
        "ACL", "SETUSER", "acl-admin", "on", ">admin-password", "~*", "&*", "+@all"
    )
    admin = redis.Redis.from_url(admin_url)
    admin.execute_command("ACL", "SETUSER", USER, "reset", f">{PASSWORD}", *ACCESS_STRING.split())
    admin.execute_command("ACL", "SETUSER", "default", "reset", *DEFAULT_USER_ACCESS_STRING.split())
    try:
        with pytest.raises(redis.exceptions.AuthenticationError):
            redis.Redis.from_url(redis_server.url).ping()
        with pytest.raises(redis.exceptions.AuthenticationError):
            redis.Redis.from_url(redis_server.url.replace("redis://", "redis://default:anything@")).ping()
        assert redis.Redis.from_url(redis_server.url.replace("redis://", f"redis://{USER}:{PASSWORD}@")).ping()
    finally:
        admin.execute_command("ACL", "SETUSER", "default", "reset", "on", "nopass", "~*", "&*", "+@all")
        admin.execute_command("ACL", "DELUSER", USER)
        redis.Redis.from_url(redis_server.url).execute_command("ACL", "DELUSER", "acl-admin")
