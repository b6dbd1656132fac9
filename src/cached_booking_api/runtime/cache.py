"""Cache-aside storage of search results in Redis/Valkey.

Key layout (every key of one destination shares the hash tag ``{d:<tag>}``, so multi-key commands stay in one cluster
slot and work on ElastiCache Serverless, which is always cluster-mode):

- ``gen:{d:<tag>}``            generation of the destination, bumped when its inventory changes
- ``sr:{d:<tag>}:<query>``      a search result entry: JSON ``{"gen", "fresh_until", "results"}``
- ``lock:{d:<tag>}:<query>``    single-flight lock held by the one request that refreshes the entry

One round trip (``MGET gen entry``) answers a hit. An entry whose generation is behind is invalidated; an entry past
``fresh_until`` but not yet expired is stale and may be served while one request refreshes it, or when DynamoDB fails.
"""

from __future__ import annotations

import base64
import json
import random
import secrets
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .redis_client import LazyClient

CacheRecord = dict[str, Any]


@dataclass(frozen=True)
class CachePolicy:
    """Timings of the cache-aside path."""

    ttl_seconds: float = 300.0
    jitter_ratio: float = 0.1
    stale_seconds: float = 600.0
    negative_ttl_seconds: float = 30.0
    lock_ttl_ms: int = 3000
    """How long the single-flight lock lives: at least the DynamoDB client's worst case for a load
    (``config.cache_policy`` derives it from the client), so the holder's lock does not expire while it loads."""
    wait_for_fill_ms: int | None = None
    """How long a request waits for another request's load; None (default): as long as the lock can live."""
    wait_poll_ms: int = 10
    """First poll interval while waiting; it grows by half each poll up to ``wait_poll_max_ms``."""
    wait_poll_max_ms: int = 100
    compress: bool = True
    """Store entries zlib-compressed (base64, behind a ``z:`` prefix) when that makes them smaller. ElastiCache
    Serverless bills ECPUs per KB transferred, so a ~6x smaller entry is a ~6x cheaper hit; reads accept both forms."""

    @property
    def wait_ms(self) -> int:
        """How long a request waits for another request's load (``wait_for_fill_ms``, else the lock's lifetime)."""
        return self.lock_ttl_ms if self.wait_for_fill_ms is None else self.wait_for_fill_ms

    def fresh_seconds(self, *, empty: bool, rng: Callable[[], float] = random.random) -> float:
        """How long a new entry is fresh: TTL ± jitter (so entries written together do not expire together)."""
        base = self.negative_ttl_seconds if empty else self.ttl_seconds
        return base * (1 + self.jitter_ratio * (2 * rng() - 1))


@dataclass(frozen=True)
class CacheKeys:
    """The Redis keys of one canonical query."""

    generation: str
    entry: str
    lock: str

    @classmethod
    def for_query(cls, destination_tag: str, query_hash: str) -> CacheKeys:
        """Keys for a query of a destination (see the module docstring for the layout)."""
        tag = f"{{d:{destination_tag}}}"
        return cls(generation=f"gen:{tag}", entry=f"sr:{tag}:{query_hash}", lock=f"lock:{tag}:{query_hash}")


@dataclass(frozen=True)
class CachedEntry:
    """A cached search result as read back."""

    generation: int
    fresh_until: float
    results: list[CacheRecord]


@dataclass(frozen=True)
class WaitOutcome:
    """How a wait for another request's load ended: its entry, the lock taken over, or neither (time is up)."""

    entry: CachedEntry | None = None
    token: str | None = None


class SearchCache:
    """Reads, writes and locks search entries. Every method may raise ``redis.RedisError``; callers decide."""

    def __init__(
        self,
        client: LazyClient,
        policy: CachePolicy | None = None,
        *,
        clock: Callable[[], float] = time.time,
        rng: Callable[[], float] = random.random,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.policy = policy or CachePolicy()
        self._clock = clock
        self._rng = rng
        self._sleep = sleep

    def read(self, keys: CacheKeys) -> tuple[int, CachedEntry | None]:
        """The destination's current generation and the query's entry, if any, in one round trip."""
        generation, raw = self.client.get().mget([keys.generation, keys.entry])
        return int(generation or 0), _decode(raw)

    def write(self, keys: CacheKeys, generation: int, results: list[CacheRecord]) -> None:
        """Store results computed at ``generation``; the key outlives freshness by the stale window."""
        fresh = self.policy.fresh_seconds(empty=not results, rng=self._rng)
        stale = self.policy.stale_seconds if results else 0.0
        payload = json.dumps(
            {"gen": generation, "fresh_until": self._clock() + fresh, "results": results}, separators=(",", ":")
        )
        if self.policy.compress:
            payload = _compress(payload)
        self.client.get().set(keys.entry, payload, px=int((fresh + stale) * 1000))

    def try_lock(self, keys: CacheKeys) -> str | None:
        """Take the single-flight lock; returns its token, or None when another request holds it."""
        token = secrets.token_hex(8)
        acquired = self.client.get().set(keys.lock, token, nx=True, px=self.policy.lock_ttl_ms)
        return token if acquired else None

    def unlock(self, keys: CacheKeys, token: str) -> bool:
        """Release the lock if it is still ours, atomically; True when it was released.

        A compare-and-delete with ``WATCH`` + ``MULTI``/``EXEC``: if the lock changes after we read it (it expired and
        another request took it), Redis aborts the ``DEL`` and the other request keeps its lock. Chosen over a Lua
        script (``EVAL``) because it needs no scripting permission in the cache user's ACL (least privilege: the
        transaction runs only commands the ACL already allows, no CPU-unbounded scripts), works on Redis 6+/Valkey 7+
        and in cluster mode (one key, one slot). ``DELIFEQ`` (Valkey 9) / ``DELEX ... IFEQ`` (Redis 8.4) would do it in
        one command, but the engines the construct deploys (Valkey 8, Redis 7) and the test redis-server 7.0 lack them.
        """
        from redis.exceptions import WatchError

        with self.client.get().pipeline(transaction=True) as pipe:
            pipe.watch(keys.lock)
            if pipe.get(keys.lock) != token:
                return False  # leaving the block UNWATCHes
            pipe.multi()
            pipe.delete(keys.lock)
            try:
                pipe.execute()
            except WatchError:
                return False  # it changed hands between GET and EXEC: not ours any more
            return True

    def wait_for_fill(
        self,
        keys: CacheKeys,
        generation: int,
        *,
        max_wait_seconds: float | None = None,
        takeover_within_seconds: float | None = None,
    ) -> WaitOutcome:
        """Wait for the entry the lock holder is loading, as long as its lock can live (and ``max_wait_seconds``).

        Each poll reads the entry and the lock in one ``MGET`` (same hash slot). When the lock is gone without a fresh
        entry (its holder failed, died, or outlived the lock), this request takes the lock over (``SET NX``: only one
        waiter wins) and returns its token: it becomes the loader, the others keep waiting. It only does so within
        ``takeover_within_seconds`` (default: the whole wait), while it still has time to load. Polls back off from
        ``wait_poll_ms`` to ``wait_poll_max_ms`` so a long wait costs few cache requests.
        """
        policy = self.policy
        started = self._clock()
        wait = policy.wait_ms / 1000 if max_wait_seconds is None else min(policy.wait_ms / 1000, max_wait_seconds)
        deadline = started + wait
        takeover_deadline = deadline if takeover_within_seconds is None else started + takeover_within_seconds
        interval = policy.wait_poll_ms / 1000
        while self._clock() < deadline:
            self._sleep(min(interval, max(0.0, deadline - self._clock())))
            interval = min(interval * 1.5, policy.wait_poll_max_ms / 1000)
            raw, lock = self.client.get().mget([keys.entry, keys.lock])
            entry = _decode(raw)
            if entry is not None and entry.generation >= generation and self.is_fresh(entry):
                return WaitOutcome(entry=entry)
            if lock is None and self._clock() < takeover_deadline:
                token = self.try_lock(keys)
                if token is not None:
                    return WaitOutcome(token=token)
        return WaitOutcome()

    def is_fresh(self, entry: CachedEntry) -> bool:
        """Whether the entry is within its TTL."""
        return self._clock() < entry.fresh_until

    def bump_generation(self, destination_tag: str) -> int:
        """Invalidate every cached query of a destination; returns the new generation."""
        return int(self.client.get().incr(CacheKeys.for_query(destination_tag, "").generation))


#: Marks a compressed entry: ``z:`` + base64(zlib(JSON)). JSON never starts with ``z``, so both forms coexist.
COMPRESSED_PREFIX = "z:"
#: Below this size compression does not pay (zlib's header + base64's third outweigh the savings).
COMPRESS_MIN_CHARS = 256


def _compress(payload: str) -> str:
    """The entry as stored: compressed when that is smaller. zlib (standard library, C) at level 6; base64 because
    the client decodes replies as UTF-8 text."""
    if len(payload) < COMPRESS_MIN_CHARS:
        return payload
    packed = COMPRESSED_PREFIX + base64.b64encode(zlib.compress(payload.encode(), 6)).decode("ascii")
    return packed if len(packed) < len(payload) else payload


def entry_json(raw: str | bytes) -> str:
    """The JSON text of a stored entry, compressed or not (raises ``ValueError``/``zlib.error`` when corrupt)."""
    text = raw.decode() if isinstance(raw, bytes) else raw
    if text.startswith(COMPRESSED_PREFIX):
        return zlib.decompress(base64.b64decode(text[len(COMPRESSED_PREFIX) :], validate=True)).decode()
    return text


def _decode(raw: Any) -> CachedEntry | None:
    if raw is None:
        return None
    try:
        data = json.loads(entry_json(raw))
        return CachedEntry(int(data["gen"]), float(data["fresh_until"]), list(data["results"]))
    except (ValueError, KeyError, TypeError, zlib.error):
        return None  # a corrupt or foreign value is a miss, and gets overwritten
