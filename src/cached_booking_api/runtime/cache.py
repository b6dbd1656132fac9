"""The search cache: the data every search is composed from, written through from the table stream (issue 9.5).

Key layout (every key of one destination shares the hash tag ``{d:<tag>}``, so a search's keys are in one cluster slot
and one pipeline to one node answers it; ElastiCache Serverless is always cluster-mode):

- ``gen:{d:<tag>}:all``        generation of the destination's catalogue, bumped when a listing of it changes
- ``cat:{d:<tag>}``            the catalogue: JSON ``{"gen", "fresh_until", "listings"}`` (every listing of the
                               destination with ``maxGuests``), valid only under exactly the current generation
- ``inv:{d:<tag>}:<yyyy-mm>``  a HASH of what can be sold in a month: field = listing id, value = units left per day
                               (``sellable.encode``), plus the marker field ``#complete`` (value: until when the fill is
                               fresh) that only a full fill sets
- ``chg:{d:<tag>}:<yyyy-mm>``  when the stream consumer last wrote that month (ms since the epoch)
- ``lock:{d:<tag>}:<months>``  single-flight lock held by the one request that fills the stay's data

A search reads the generation, the catalogue and the stay's 1-2 month hashes in ONE round trip (a pipeline of one
``MGET`` and 1-2 ``HGETALL``s, one slot, one node) and composes its answer in memory (``sellable.compose``), so every
search of a destination-month shares one cached copy of the data, whatever its dates, length or guests.

Bookings, cancellations, reloads and inventory events change month items; the stream consumer does not invalidate
what they change, it **writes it through**: ``HSET`` of the listing's field from the record's new image (DynamoDB
delivers the records of one item in order, so the last write is the newest), a tombstone (``""``, never ``HDEL``) where
an item was removed or moved to another destination. A fill (a miss: hash absent, or without the marker) writes each
listing's field with ``HSETNX``: a value the consumer wrote is newer than any index read and wins, in either order.
The hash the consumer creates gets an expiry (``EXPIRE NX``) and no marker, so it is never served as complete.

Index reads lag the table ("All reads from GSIs and streams are eventually consistent"): a value the consumer wrote
protects a fill only while it is in the hash. If it was lost (evicted, expired, or cleared by a refresh) a fill right
after the change may bring back the old value, so a fill that started within ``settle_seconds`` of the month's last
change (``chg:``) is kept only until that window ends (issue 8.3). The catalogue keeps the generation machinery: a
generation is an opaque token ``<change time in ms, hex>.<random>``; a missing generation key matches no catalogue and
is set (``SET NX``) before a load, so a lost key can never bring back an older catalogue (issue 8.1).

A catalogue or a month past its ``fresh_until`` but not expired is stale: served while one request refreshes it, or
when DynamoDB fails. A stale month is refreshed by deleting it under the lock before the index read (so values the
consumer writes meanwhile survive) and filling it again; if the read fails, the stale copy is put back.

Upgrading from 0.2.x (``sr:`` result entries, per-night generations): those keys are no longer read and expire.
"""

from __future__ import annotations

import base64
import json
import random
import secrets
import time
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from . import schema
from .redis_client import LazyClient
from .schema import ALL_NIGHTS
from .sellable import MonthSellable, MonthWrite, decode, encode
from .settings import CacheTimings

CacheRecord = dict[str, Any]

#: The field only a complete fill sets (a listing id never contains ``#``).
COMPLETE_FIELD = "#complete"


@dataclass(frozen=True)
class CachePolicy:
    """Timings of the search cache."""

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
    """How long after a change an index read may still predate it: DynamoDB propagates a write to a global secondary
    index asynchronously ("All reads from GSIs and streams are eventually consistent"), within a second normally. A
    catalogue loaded within this window after its generation changed, or a month filled by a read that started within
    it after the month's last change, is cached only until the window ends, never as current for a whole TTL."""
    generation_ttl_seconds: float = 7 * 86_400
    """Generation and change-time keys expire after this long without a change (a lost generation only costs a miss),
    so searches over ever new dates and destinations cannot fill the cache with keys that never go."""
    compress: bool = True
    """Store catalogues zlib-compressed (base64, behind a ``z:`` prefix) when that makes them smaller. ElastiCache
    Serverless bills ECPUs per KB transferred, so a ~4x smaller catalogue is a cheaper hit; reads accept both forms."""

    @property
    def wait_ms(self) -> int:
        """How long a request waits for another request's load (``wait_for_fill_ms``, else the lock's lifetime)."""
        return self.lock_ttl_ms if self.wait_for_fill_ms is None else self.wait_for_fill_ms

    def fresh_seconds(self, *, empty: bool, rng: Callable[[], float] = random.random) -> float:
        """How long a new catalogue or month is fresh: TTL ± jitter (so what is filled together does not expire
        together); an empty catalogue: the negative TTL."""
        base = self.negative_ttl_seconds if empty else self.ttl_seconds
        return base * (1 + self.jitter_ratio * (2 * rng() - 1))


__all__ = [
    "ALL_NIGHTS", "COMPLETE_FIELD", "CacheKeys", "CachePolicy", "CacheView", "CachedCatalogue", "CachedMonth",
    "Generation", "MonthWrite", "SearchCache", "generation_key",
]  # fmt: skip


def _tag(destination_tag: str) -> str:
    return f"{{d:{destination_tag}}}"


def generation_key(destination_tag: str) -> str:
    """The generation key of a destination's catalogue."""
    return f"gen:{_tag(destination_tag)}:all"


def catalogue_key(destination_tag: str) -> str:
    """The catalogue entry of a destination."""
    return f"cat:{_tag(destination_tag)}"


def inventory_key(destination_tag: str, month: str) -> str:
    """The sellable hash of a destination in a ``yyyy-mm`` month."""
    return f"inv:{_tag(destination_tag)}:{month}"


def change_key(destination_tag: str, month: str) -> str:
    """When the stream consumer last wrote a destination's month."""
    return f"chg:{_tag(destination_tag)}:{month}"


@dataclass(frozen=True)
class CacheKeys:
    """The Redis keys one search reads: its destination's generation and catalogue, the months of its stay."""

    destination_tag: str
    months: tuple[str, ...]

    @classmethod
    def for_stay(cls, destination_tag: str, nights: Sequence[date]) -> CacheKeys:
        """Keys of a search of a destination over ``nights``."""
        return cls(destination_tag, tuple(schema.nights_by_month(nights)))

    @property
    def generation(self) -> str:
        return generation_key(self.destination_tag)

    @property
    def catalogue(self) -> str:
        return catalogue_key(self.destination_tag)

    @property
    def lock(self) -> str:
        """The single-flight lock of the fill of this catalogue and these months."""
        return f"lock:{_tag(self.destination_tag)}:{'+'.join(self.months) or 'catalogue'}"

    def inventory(self, month: str) -> str:
        return inventory_key(self.destination_tag, month)

    def change(self, month: str) -> str:
        return change_key(self.destination_tag, month)

    @property
    def all(self) -> tuple[str, ...]:
        """Every key of the search (tests check they share one slot)."""
        months = (key for m in self.months for key in (self.inventory(m), self.change(m)))
        return (self.generation, self.catalogue, self.lock, *months)


@dataclass(frozen=True)
class Generation:
    """The current generation of a catalogue: its token, and when its destination last changed."""

    token: str
    changed_at: float


def new_generation_token(changed_at: float) -> str:
    """A fresh generation token: the change time (ms, hex) and 48 random bits, so no two tokens are ever equal."""
    return f"{int(changed_at * 1000):x}.{secrets.token_hex(6)}"


def parse_generation(value: Any) -> Generation | None:
    """The generation a generation key holds; None when the key is missing.

    Raises ``ValueError`` for a value that is not a generation token (a foreign or corrupt key is a cache failure).
    """
    if value is None:
        return None
    token = value.decode() if isinstance(value, bytes) else str(value)
    millis, dot, rest = token.partition(".")
    if not (dot and rest) or not all(c in "0123456789abcdef" for c in millis + rest):
        raise ValueError(f"malformed cache generation: {token[:40]!r}")
    return Generation(token, int(millis, 16) / 1000)


@dataclass(frozen=True)
class CachedCatalogue:
    """A destination's listings as read back, and the generation they were loaded under."""

    generation: str
    fresh_until: float
    listings: list[CacheRecord]


@dataclass(frozen=True)
class CachedMonth:
    """A complete month hash as read back: units left per listing and day."""

    fresh_until: float
    listings: dict[str, MonthSellable]


@dataclass(frozen=True)
class CacheView:
    """What one read found: the generation (None: key missing), the catalogue (any generation), and per month of the
    stay its complete hash (None: absent, partial or corrupt; ``corrupt`` names the hashes a fill must clear first)."""

    generation: Generation | None
    catalogue: CachedCatalogue | None
    months: dict[str, CachedMonth | None]
    corrupt: frozenset[str] = frozenset()
    partial: dict[str, dict[str, MonthSellable]] = field(default_factory=dict)
    """Per month without the marker, the listings the stream consumer wrote: newer than any index read."""

    @property
    def current_catalogue(self) -> CachedCatalogue | None:
        """The catalogue if it was loaded under exactly the current generation (never when the key is missing)."""
        catalogue, generation = self.catalogue, self.generation
        if catalogue is None or generation is None or catalogue.generation != generation.token:
            return None
        return catalogue


@dataclass(frozen=True)
class WaitOutcome:
    """How a wait for another request's fill ended: the data, the lock taken over, or neither (time is up)."""

    view: CacheView | None = None
    token: str | None = None


class SearchCache:
    """Reads, fills, writes through and locks the search cache. Every method may raise ``redis.RedisError``."""

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

    # -- reads ----------------------------------------------------------------------------------------------------
    def read(self, keys: CacheKeys) -> CacheView:
        """Generation, catalogue and the stay's months, in ONE round trip (a pipeline of one slot)."""
        return self._read(keys, with_lock=False)[0]

    def _read(self, keys: CacheKeys, *, with_lock: bool) -> tuple[CacheView, Any]:
        with self.client.get().pipeline(transaction=False) as pipe:
            # One MGET (one command: ElastiCache Serverless bills at least one ECPU per command) by its raw name:
            # redis-py's cluster pipeline refuses ``pipe.mget`` but routes a multi-key command whose keys share a slot.
            pipe.execute_command("MGET", keys.generation, keys.catalogue, *([keys.lock] if with_lock else []))
            for month in keys.months:
                pipe.hgetall(keys.inventory(month))
            replies = pipe.execute()
        values, hashes = replies[0], replies[1:]
        months: dict[str, CachedMonth | None] = {}
        corrupt = set()
        partial = {}
        for month, raw in zip(keys.months, hashes, strict=True):
            months[month], bad = _decode_month(raw)
            if bad:
                corrupt.add(month)
            elif raw and months[month] is None:
                try:
                    partial[month] = {listing_id: decode(value) for listing_id, value in raw.items()}
                except ValueError:
                    corrupt.add(month)
        view = CacheView(parse_generation(values[0]), _decode_catalogue(values[1]), months, frozenset(corrupt), partial)
        return view, (values[2] if with_lock else None)

    def now(self) -> float:
        """The cache's clock (epoch seconds)."""
        return self._clock()

    def is_fresh(self, fresh_until: float) -> bool:
        """Whether something fresh until ``fresh_until`` still is."""
        return self._clock() < fresh_until

    # -- the catalogue --------------------------------------------------------------------------------------------
    def ensure_generation(self, keys: CacheKeys) -> Generation:
        """The catalogue's current generation, setting a fresh token when the key is missing (``SET NX GET``: a key
        set meanwhile by another request or a bump keeps its value). Called before a load, so the catalogue it writes
        can never match a generation older than what it read.

        A token set here records no change time: a generation key goes missing by expiring after
        ``generation_ttl_seconds`` without a change, by eviction (least recently used: never a key just bumped) or with
        the whole cache, so no change of its destination is recent and the catalogue is cached for its full TTL.
        """
        token = new_generation_token(0.0)  # no change is known, so none is recent (see the docstring)
        ttl_ms = int(self.policy.generation_ttl_seconds * 1000)
        previous = self.client.get().set(keys.generation, token, nx=True, get=True, px=ttl_ms)
        generation = parse_generation(token if previous is None else previous)
        assert generation is not None
        return generation

    def write_catalogue(self, keys: CacheKeys, generation: Generation, listings: list[CacheRecord]) -> None:
        """Store a catalogue loaded at ``generation`` (one round trip; ``fill`` does it with the months)."""
        self.fill(keys, catalogue=(generation, listings))

    def _queue_catalogue(self, pipe: Any, keys: CacheKeys, generation: Generation, listings: list[CacheRecord]) -> None:
        """``SET`` of a catalogue loaded at ``generation``; the key outlives freshness by the stale window.

        A catalogue loaded within ``settle_seconds`` of the generation's last change may predate the change (the index
        had not caught up): it is fresh only until that window ends, with no stale window, and then loaded again.
        """
        now = self._clock()
        fresh = self.policy.fresh_seconds(empty=not listings, rng=self._rng)
        stale = self.policy.stale_seconds if listings else 0.0
        settled_at = generation.changed_at + self.policy.settle_seconds
        if now < settled_at:
            fresh, stale = min(fresh, settled_at - now), 0.0
        payload = json.dumps(
            {"gen": generation.token, "fresh_until": now + fresh, "listings": listings}, separators=(",", ":")
        )
        if self.policy.compress:
            payload = _compress(payload)
        pipe.set(keys.catalogue, payload, px=max(1, int((fresh + stale) * 1000)))

    # -- the months -----------------------------------------------------------------------------------------------
    def clear_months(self, keys: CacheKeys, months: Iterable[str]) -> None:
        """Delete stale or corrupt month hashes before they are filled again (under the lock, before the index read:
        values the consumer writes from then on survive the fill)."""
        names = [keys.inventory(month) for month in months]
        if names:
            self.client.get().delete(*names)

    def fill(
        self,
        keys: CacheKeys,
        *,
        catalogue: tuple[Generation, list[CacheRecord]] | None = None,
        months: Mapping[str, Mapping[str, MonthSellable]] | None = None,
        read_started_at: float = 0.0,
        restore: Mapping[str, CachedMonth] | None = None,
    ) -> dict[str, float]:
        """Write what a miss loaded: the catalogue, and month hashes from an index read that started at
        ``read_started_at`` (or, after a failed read, the stale months to ``restore``); returns until when each filled
        month is fresh (a month left out was not cached).

        At most two round trips: the catalogue's ``SET`` with the months' change times, then one pipeline per month
        of ``HSETNX`` per listing (a value the consumer wrote is newer than the read: it wins), the marker, the expiry.
        A read that started within ``settle_seconds`` of the month's last change may have missed it (and the
        consumer's value may be gone): that month is fresh only until the window ends, no stale window, and is not
        cached at all if the window is over. A restore writes the stale copies back the same way (``HSETNX``, their
        old marker, the rest of their stale window), so later requests are served stale too while DynamoDB fails.
        """
        months = months or {}
        names = list(months)
        with self.client.get().pipeline(transaction=False) as pipe:
            if catalogue is not None:
                self._queue_catalogue(pipe, keys, *catalogue)
            for month in names:  # GETs, not MGET: redis-py's cluster pipeline refuses MGET
                pipe.get(keys.change(month))
            for month, cached in (restore or {}).items():
                left = cached.fresh_until + self.policy.stale_seconds - self._clock()
                if left > 0:
                    self._queue_month(pipe, keys.inventory(month), cached.listings, cached.fresh_until, left)
            replies = pipe.execute() if len(pipe) else []
        if not names:
            return {}
        changed = replies[len(replies) - len(names) :]
        now = self._clock()
        fresh_until: dict[str, float] = {}
        with self.client.get().pipeline(transaction=False) as pipe:
            for month, raw_changed in zip(names, changed, strict=True):
                fresh = self.policy.fresh_seconds(empty=False, rng=self._rng)
                stale = self.policy.stale_seconds
                changed_at = _change_time(raw_changed)
                if changed_at is not None and changed_at + self.policy.settle_seconds > read_started_at:
                    settled_at = changed_at + self.policy.settle_seconds
                    if settled_at <= now:
                        continue  # the read may predate a change whose consumer value is gone: do not keep it
                    fresh, stale = min(fresh, settled_at - now), 0.0
                self._queue_month(pipe, keys.inventory(month), months[month], now + fresh, fresh + stale)
                fresh_until[month] = now + fresh
            if len(pipe):
                pipe.execute()
        return fresh_until

    @staticmethod
    def _queue_month(
        pipe: Any, name: str, listings: Mapping[str, MonthSellable], fresh_until: float, lifetime: float
    ) -> None:
        for listing_id, units in listings.items():
            pipe.hsetnx(name, listing_id, encode(units))
        pipe.hset(name, COMPLETE_FIELD, repr(fresh_until))
        pipe.pexpire(name, max(1, int(lifetime * 1000)))

    # -- the stream consumer --------------------------------------------------------------------------------------
    def write_through(self, writes: Sequence[MonthWrite], destinations: Iterable[str] = ()) -> None:
        """Apply a stream batch in one pipeline (in record order, so the last write of a field wins): each month
        write stamps the month's change time, then ``HSET``s the listing's field and gives a hash it creates an
        expiry (``EXPIRE NX``: a fill's expiry is kept); each destination gets a fresh catalogue generation."""
        destinations = sorted(set(destinations))
        if not writes and not destinations:
            return
        now = self._clock()
        generation_ttl_ms = int(self.policy.generation_ttl_seconds * 1000)
        hash_ttl = int(self.policy.ttl_seconds * (1 + self.policy.jitter_ratio) + self.policy.stale_seconds) + 1
        stamp = str(int(now * 1000))
        with self.client.get().pipeline(transaction=False) as pipe:
            for write in writes:
                name = inventory_key(write.destination_tag, write.month)
                pipe.set(change_key(write.destination_tag, write.month), stamp, px=generation_ttl_ms)
                pipe.hset(name, write.listing_id, write.value)
                pipe.expire(name, hash_ttl, nx=True)
            for tag in destinations:
                pipe.set(generation_key(tag), new_generation_token(now), px=generation_ttl_ms)
            pipe.execute()

    def bump_generation(self, destination_tag: str) -> None:
        """Invalidate a destination's catalogue (a listing of it changed)."""
        self.write_through([], [destination_tag])

    # -- single flight --------------------------------------------------------------------------------------------
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
        done: Callable[[CacheView], bool],
        *,
        max_wait_seconds: float | None = None,
        takeover_within_seconds: float | None = None,
    ) -> WaitOutcome:
        """Wait for the data the lock holder is filling, as long as its lock can live (and ``max_wait_seconds``).

        Each poll reads everything and the lock in one round trip; it ends when ``done(view)``. When the lock is gone
        without that (its holder failed, died, or outlived the lock), this request takes the lock over (``SET NX``:
        only one waiter wins) and returns its token: it becomes the loader, the others keep waiting. It only does so
        within ``takeover_within_seconds`` (default: the whole wait), while it still has time to load. Polls back off
        from ``wait_poll_ms`` to ``wait_poll_max_ms`` so a long wait costs few cache requests.
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
            view, lock = self._read(keys, with_lock=True)
            if done(view):
                return WaitOutcome(view=view)
            if lock is None and self._clock() < takeover_deadline:
                token = self.try_lock(keys)
                if token is not None:
                    return WaitOutcome(token=token)
        return WaitOutcome()


def _change_time(raw: Any) -> float | None:
    if raw is None:
        return None
    try:
        return int(raw) / 1000
    except (TypeError, ValueError):
        return float("inf")  # unreadable: assume a change just now (short-lived fill), never a long one


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


def _decode_catalogue(raw: Any) -> CachedCatalogue | None:
    if raw is None:
        return None
    try:
        data = json.loads(entry_json(raw))
        return CachedCatalogue(str(data["gen"]), float(data["fresh_until"]), list(data["listings"]))
    except (ValueError, KeyError, TypeError, zlib.error):
        return None  # a corrupt or foreign value is a miss, and gets overwritten


def _decode_month(raw: Mapping[str, str] | None) -> tuple[CachedMonth | None, bool]:
    """A complete month hash, or None (absent, partial: no marker); and whether it is corrupt (a fill clears it)."""
    if not raw or COMPLETE_FIELD not in raw:
        return None, False
    try:
        fresh_until = float(raw[COMPLETE_FIELD])
        listings = {listing_id: decode(value) for listing_id, value in raw.items() if listing_id != COMPLETE_FIELD}
    except ValueError:
        return None, True
    return CachedMonth(fresh_until, listings), False
