"""Cluster mode (as on ElastiCache Serverless): a real 3-node Redis cluster, no CROSSSLOT errors on any path."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
from redis import Redis as RedisClient
from redis.cluster import RedisCluster

from cached_booking_api.infrastructure.cache_cluster import ACCESS_STRING
from cached_booking_api.local.processes import RedisServer, wait_until
from cached_booking_api.runtime import config, schema
from cached_booking_api.runtime.cache import COMPLETE_FIELD, CacheKeys, MonthWrite, entry_json
from cached_booking_api.runtime.handlers import search
from cached_booking_api.runtime.models import SearchQuery
from test.conftest import listing, stay
from test.runtime.conftest import SearchCall, load

CHECK_IN, CHECK_OUT = stay(3, 4)
DESTINATIONS = ["Lisbon", "Porto", "Barcelona", "London", "Madrid", "Paris"]


@pytest.fixture(scope="module")
def redis_cluster() -> Iterator[str]:
    """Three masters, no replicas, slots spread by redis-cli; yields a startup URL."""
    nodes = [RedisServer(extra_args=["--cluster-enabled", "yes", "--cluster-node-timeout", "2000"]) for _ in range(3)]
    try:
        for node in nodes:
            node.start()
        addresses = [f"127.0.0.1:{node.port}" for node in nodes]
        redis_cli = shutil.which("redis-cli")
        assert redis_cli, "redis-cli comes with redis-server (redis-tools)"
        subprocess.run(
            [redis_cli, "--cluster", "create", *addresses, "--cluster-replicas", "0", "--cluster-yes"],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip

        def healthy() -> bool:
            out = subprocess.run([redis_cli, "-p", str(nodes[0].port), "cluster", "info"], capture_output=True)
            return b"cluster_state:ok" in out.stdout

        assert wait_until(healthy, timeout=20), "cluster did not become healthy"
        for node in nodes:  # the handlers connect as the construct's ElastiCache user would
            RedisClient.from_url(node.url).execute_command(
                "ACL", "SETUSER", "search", "reset", ">pw", *ACCESS_STRING.split()
            )
        yield nodes[0].url.replace("redis://", "redis://search:pw@")
    finally:
        for node in nodes:
            node.stop()


def test_every_cache_path_works_in_cluster_mode(
    redis_cluster: str,
    search_env: dict[str, str],
    dynamodb: Any,
    monkeypatch: pytest.MonkeyPatch,
    call_search: SearchCall,
) -> None:
    monkeypatch.setenv(config.CACHE_URL, redis_cluster)
    monkeypatch.setenv(config.CACHE_CLUSTER_MODE, "true")
    search.search_service.cache_clear()
    load(dynamodb, search_env["TABLE_NAME"], *(listing(f"l-{d}", destination=d) for d in DESTINATIONS))
    admin_url = redis_cluster.replace("search:pw@", "")
    cluster = RedisCluster.from_url(admin_url, decode_responses=True)
    cluster.flushall()

    for destination in DESTINATIONS:
        query = {"destination": destination, "checkIn": CHECK_IN, "checkOut": CHECK_OUT}
        assert call_search(**query)[1]["X-Cache"] == "MISS", destination
        assert call_search(**query)[1]["X-Cache"] == "HIT", destination
        search_query = SearchQuery(destination=destination, checkIn=CHECK_IN, checkOut=CHECK_OUT)
        tag = schema.destination_tag(destination)
        keys = CacheKeys.for_stay(tag, search_query.nights)
        slots = {cluster.keyslot(key) for key in keys.all}
        assert len(slots) == 1, "one pipeline, one slot"
        # stale + lock held elsewhere → STALE; then the lock winner refreshes (MISS)
        entry = json.loads(entry_json(cluster.get(keys.catalogue)))
        cluster.set(keys.catalogue, json.dumps({**entry, "fresh_until": 0}), keepttl=True)
        for month in keys.months:
            cluster.hset(keys.inventory(month), COMPLETE_FIELD, repr(time.time() - 1))
        cluster.set(keys.lock, "other", px=5000)
        assert call_search(**query)[1]["X-Cache"] == "STALE", destination
        cluster.delete(keys.lock)
        cluster.delete(*(keys.change(m) for m in keys.months))  # no recent write-through: the months are refreshed
        assert call_search(**query)[1]["X-Cache"] == "MISS", destination
        cache = search.search_service().cache
        cache.bump_generation(tag)
        assert call_search(**query)[1]["X-Cache"] == "MISS", destination
        # a stream batch over every destination at once (every node), then searches compose from it
        month = keys.months[0]
        cache.write_through([MonthWrite(schema.destination_tag(d), month, f"l-{d}", "1*31") for d in DESTINATIONS])
        status, headers, body = call_search(**query)
        assert (headers["X-Cache"], body["results"][0]["available"]) == ("HIT", 1), destination
        # stale right after a write-through: kept, not refreshed (WATCH + MULTI/HGETALL/HSET/EXEC in the slot)
        cluster.hset(keys.inventory(month), COMPLETE_FIELD, repr(time.time() - 1))
        status, headers, body = call_search(**query)
        assert (headers["X-Cache"], body["results"][0]["available"]) == ("STALE", 1), destination
        assert call_search(**query)[1]["X-Cache"] == "HIT", destination
        cluster.delete(keys.generation)  # a lost generation: SET NX GET seeds it in the search's slot
        assert call_search(**query)[1]["X-Cache"] == "MISS", destination

    slots_by_node = {
        cluster.get_node_from_key(CacheKeys(schema.destination_tag(d), ()).catalogue).name  # type: ignore[union-attr]
        for d in DESTINATIONS
    }
    assert len(slots_by_node) > 1, "the destinations should spread over several nodes"
    cache = search.search_service().cache
    for destination in DESTINATIONS:  # the atomic lock release (WATCH/MULTI/EXEC) on every node, as the ACL user
        lock_keys = CacheKeys(schema.destination_tag(destination), ("unlock",))
        token = cache.try_lock(lock_keys)
        assert token is not None and cache.unlock(lock_keys, "not-ours") is False
        assert cache.unlock(lock_keys, token) is True and cluster.get(lock_keys.lock) is None
    assert search.search_service().breaker.is_open is False


def test_slow_topology_discovery_is_given_the_connect_timeout(redis_cluster: str) -> None:
    """CLUSTER SLOTS is connection set-up: a startup node answering it in 300 ms must not fail a 50 ms command timeout
    (a proxy on 127.0.0.1 holds the reply; the cluster then hands out the real node addresses)."""
    import time

    from cached_booking_api.runtime.redis_client import RedisSettings, create_client
    from test.runtime.redis_proxy import RedisProxy

    def slow_slots(request: bytes, index: int) -> None:
        if b"SLOTS" in request.upper():
            time.sleep(0.3)

    port = int(redis_cluster.rsplit(":", 1)[1])
    with RedisProxy(port, slow_slots) as proxy:
        url = proxy.url.replace("redis://", "redis://search:pw@")
        client = create_client(RedisSettings(url=url, cluster=True, socket_timeout_ms=50, connect_timeout_ms=2000))
        assert proxy.connections >= 1
        assert client.get(CacheKeys("slow-slots", ()).catalogue) is None
