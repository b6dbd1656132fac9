"""Cache-aside storage of search results in Redis/Valkey.

Key layout (every key of one destination shares the hash tag ``{d:<tag>}``, so multi-key commands stay in one cluster
slot and work on ElastiCache Serverless, which is always cluster-mode):

- ``gen:{d:<tag>}:all``         generation of the whole destination, bumped when a listing of it changes
- ``gen:{d:<tag>}:<yyyy-mm-dd>`` generation of one night of the destination, bumped when a unit of it is booked,
                                 given back or its capacity changes
- ``sr:{d:<tag>}:<query>``       a search result entry: JSON ``{"gen", "fresh_until", "results"}``
- ``lock:{d:<tag>}:<query>``     single-flight lock held by the one request that refreshes the entry

A search depends on its destination's generation and on the generation of each night of its stay, and on nothing else:
a booking invalidates only the searches whose stay overlaps its nights (issue 9.5). One round trip (``MGET`` of the
generations and the entry) answers a hit.

A generation is an opaque token, ``<bump time in ms, hex>.<random>``, never a counter: an entry is current only when
the tokens it was computed under are exactly the current ones. A generation key that is missing (never set, evicted,
lost in a failover) matches no entry; the request that loads sets a fresh token first (``SET NX``), so a lost key can
never bring back an entry of an older generation (issue 8.1). The token's time is when its scope last changed: a result
loaded within ``settle_seconds`` of it may come from an index that has not caught up with the change yet (all reads of
a global secondary index are eventually consistent), so it is cached only until that window ends (issue 8.3).

Upgrading from 0.1.x, whose generations were counters at ``gen:{d:<tag>}``: those keys are no longer read (they go
with the cache), and entries with a counter generation never match a token, so each is one miss, then rewritten.

An entry past ``fresh_until`` but not yet expired is stale and may be served while one request refreshes it, or when
DynamoDB fails.
"""

from __future__ import annotations

import base64
import json
import random
import secrets
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from .redis_client import LazyClient
from .schema import ALL_NIGHTS
from .settings import CacheTimings

CacheRecord = dict[str, Any]


@dataclass(frozen=True)
class CachePolicy:
    """Timings of the cache-aside path."""

    ttl_seconds: float = CacheTimings.ttl_seconds
    jitter_ratio: float = 0.1
    stale_seconds: float = CacheTimings.stale_seconds
    negative_ttl_seconds: float = CacheTimings.negative_ttl_seconds
    lock_ttl_ms: int = 3000
    """How long the single-flight lock lives: at least the DynamoDB client's worst case for a load
    (``config.cache_policy`` derives it from the client), so the holder's lock does not expire while it loads."""
    wait_for_fill_ms: int | None = None
    """How long a request waits for another request's load; None (default): as long as the lock can live."""
    wait_poll_ms: int = 10
    """First poll interval while waiting; it grows by half each poll up to ``wait_poll_max_ms``."""
    wait_poll_max_ms: int = 100
    settle_seconds: float = 2.0
    """How long after a generation changed a loaded result may still predate the change: DynamoDB propagates a write
    to a global secondary index asynchronously ("All reads from GSIs and streams are eventually consistent"), within a
    second normally. A result loaded within this window after its newest generation is cached only until the window
    ends, never as current for a whole TTL."""
    generation_ttl_seconds: float = 7 * 86_400
    """Generation keys expire after this long without a change (a lost generation only costs a miss), so searches over
    ever new dates and destinations cannot fill the cache with keys that never go."""
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


__all__ = ["ALL_NIGHTS", "CacheKeys", "CachePolicy", "CachedEntry", "Generation", "SearchCache", "generation_key"]


def generation_key(destination_tag: str, scope: str = ALL_NIGHTS) -> str:
    """The generation key of a destination (``ALL_NIGHTS``) or of one night of it (``yyyy-mm-dd``)."""
    return f"gen:{{d:{destination_tag}}}:{'all' if scope == ALL_NIGHTS else scope}"


@dataclass(frozen=True)
class CacheKeys:
    """The Redis keys of one canonical query."""

    generations: tuple[str, ...]
    """The generations the query's answer depends on: its destination's, then one per night of the stay."""
    entry: str
    lock: str

    @property
    def generation(self) -> str:
        """The destination-wide generation key."""
        return self.generations[0]

    @classmethod
    def for_query(cls, destination_tag: str, query_hash: str, nights: Sequence[date] = ()) -> CacheKeys:
        """Keys for a query of a destination over ``nights`` (see the module docstring for the layout)."""
        tag = f"{{d:{destination_tag}}}"
        generations = (
            generation_key(destination_tag),
            *(generation_key(destination_tag, n.isoformat()) for n in nights),
        )
        return cls(generations=generations, entry=f"sr:{tag}:{query_hash}", lock=f"lock:{tag}:{query_hash}")


@dataclass(frozen=True)
class Generation:
    """The current generation of a query: the tokens of all its scopes, and when the newest of them was set."""

    token: str
    changed_at: float


def new_generation_token(changed_at: float) -> str:
    """A fresh generation token: the change time (ms, hex) and 48 random bits, so no two tokens are ever equal."""
    return f"{int(changed_at * 1000):x}.{secrets.token_hex(6)}"


def combine_generations(values: Sequence[Any]) -> Generation | None:
    """The generation of a query from the values of its generation keys; None when one of them is missing.

    Raises ``ValueError`` for a value that is not a generation token (a foreign or corrupt key is a cache failure).
    """
    tokens: list[str] = []
    changed_at = 0.0
    for value in values:
        if value is None:
            return None
        token = value.decode() if isinstance(value, bytes) else str(value)
        millis, dot, rest = token.partition(".")
        if not (dot and rest) or not all(c in "0123456789abcdef" for c in millis + rest):
            raise ValueError(f"malformed cache generation: {token[:40]!r}")
        tokens.append(token)
        changed_at = max(changed_at, int(millis, 16) / 1000)
    return Generation("|".join(tokens), changed_at)


@dataclass(frozen=True)
class CachedEntry:
    """A cached search result as read back."""

    generation: str
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

    def read(self, keys: CacheKeys) -> tuple[Generation | None, CachedEntry | None]:
        """The query's current generation (None when a generation key is missing) and its entry, if any, in one round
        trip."""
        *generations, raw = self.client.get().mget([*keys.generations, keys.entry])
        return combine_generations(generations), _decode(raw)

    def ensure_generation(self, keys: CacheKeys) -> Generation:
        """The query's current generation, setting a fresh token on every generation key that is missing
        (``SET NX GET``: a key set meanwhile by another request or a bump keeps its value). Called before a load, so the
        entry it writes can never match a generation older than what it read.

        A token set here records no change time: a generation key goes missing by expiring after
        ``generation_ttl_seconds`` without a change, by eviction (least recently used: never a key just bumped) or with
        the whole cache, so no change of its scope is recent and the result is cached for its full TTL.
        """
        token = new_generation_token(0.0)  # no change is known, so none is recent (see ``ensure_generation``'s note)
        ttl_ms = int(self.policy.generation_ttl_seconds * 1000)
        with self.client.get().pipeline(transaction=False) as pipe:
            for key in keys.generations:
                pipe.set(key, token, nx=True, get=True, px=ttl_ms)
            previous = pipe.execute()
        generation = combine_generations([token if value is None else value for value in previous])
        assert generation is not None
        return generation

    def is_current(self, entry: CachedEntry | None, generation: Generation | None) -> bool:
        """Whether ``entry`` was computed under exactly the current generation (never when a key is missing)."""
        return entry is not None and generation is not None and entry.generation == generation.token

    def write(self, keys: CacheKeys, generation: Generation, results: list[CacheRecord]) -> None:
        """Store results loaded at ``generation``; the key outlives freshness by the stale window.

        A result loaded within ``settle_seconds`` of the generation's last change may predate the change (the index
        had not caught up): it is fresh only until that window ends, with no stale window, and then loaded again.
        """
        now = self._clock()
        fresh = self.policy.fresh_seconds(empty=not results, rng=self._rng)
        stale = self.policy.stale_seconds if results else 0.0
        settled_at = generation.changed_at + self.policy.settle_seconds
        if now < settled_at:
            fresh, stale = min(fresh, settled_at - now), 0.0
        payload = json.dumps(
            {"gen": generation.token, "fresh_until": now + fresh, "results": results}, separators=(",", ":")
        )
        if self.policy.compress:
            payload = _compress(payload)
        self.client.get().set(keys.entry, payload, px=max(1, int((fresh + stale) * 1000)))

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
        *,
        max_wait_seconds: float | None = None,
        takeover_within_seconds: float | None = None,
    ) -> WaitOutcome:
        """Wait for the entry the lock holder is loading, as long as its lock can live (and ``max_wait_seconds``).

        Each poll reads the entry, the lock and the generations in one ``MGET`` (same hash slot); an entry counts when
        it is of the generation current at that poll and fresh. When the lock is gone without a fresh
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
            raw, lock, *generations = self.client.get().mget([keys.entry, keys.lock, *keys.generations])
            entry = _decode(raw)
            if entry is not None and self.is_current(entry, combine_generations(generations)) and self.is_fresh(entry):
                return WaitOutcome(entry=entry)
            if lock is None and self._clock() < takeover_deadline:
                token = self.try_lock(keys)
                if token is not None:
                    return WaitOutcome(token=token)
        return WaitOutcome()

    def is_fresh(self, entry: CachedEntry) -> bool:
        """Whether the entry is within its TTL."""
        return self._clock() < entry.fresh_until

    def bump_generations(self, scopes: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """Invalidate every cached search that depends on one of ``scopes`` (``(destination tag, night or
        ALL_NIGHTS)``): each gets a fresh token stamped with the change time. One round trip; returns the new tokens."""
        ordered = sorted(set(scopes))
        if not ordered:
            return {}
        now = self._clock()
        ttl_ms = int(self.policy.generation_ttl_seconds * 1000)
        tokens = {scope: new_generation_token(now) for scope in ordered}
        with self.client.get().pipeline(transaction=False) as pipe:
            for (tag, night), token in tokens.items():
                pipe.set(generation_key(tag, night), token, px=ttl_ms)
            pipe.execute()
        return tokens

    def bump_generation(self, destination_tag: str, scope: str = ALL_NIGHTS) -> str:
        """Invalidate every cached search of a destination (or of one of its nights); returns the new token."""
        return self.bump_generations([(destination_tag, scope)])[(destination_tag, scope)]


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
        return CachedEntry(str(data["gen"]), float(data["fresh_until"]), list(data["results"]))
    except (ValueError, KeyError, TypeError, zlib.error):
        return None  # a corrupt or foreign value is a miss, and gets overwritten
