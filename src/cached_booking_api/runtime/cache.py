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
- ``lock:{d:<tag>}``            single-flight lock of the destination: held by the one request that fills its data

A search reads the generation, the catalogue and the stay's 1-2 month hashes in ONE round trip (a pipeline of one
``MGET`` and 1-2 ``HGETALL``s, one slot, one node) and composes its answer in memory (``sellable.compose``), so every
search of a destination-month shares one cached copy of the data, whatever its dates, length or guests.

Bookings, cancellations, reloads and inventory events change month items; the stream consumer does not invalidate
what they change, it **writes it through**: ``HSET`` of the listing's field from the record's new image (DynamoDB
delivers the records of one item in order, so the last write is the newest), a tombstone (``""``, never ``HDEL``) where
an item was removed or moved to another destination. A fill (a miss: hash absent, without the marker, or stale) is
optimistic (``MonthFill``): the month's ``chg:``/``inv:`` keys are WATCHed before the index read, the write is one
MULTI/EXEC that Redis aborts if the consumer wrote meanwhile, and the listings the consumer wrote into a partial hash
win over the index read: a value the consumer wrote is newer than any index read and wins, in either order.
The hash the consumer creates gets an expiry (``EXPIRE NX``) and no marker, so it is never served as complete.

Index reads lag the table ("All reads from GSIs and streams are eventually consistent"): a value the consumer wrote
protects a fill only while it is in the hash. If it was lost (evicted or expired) a fill right
after the change may bring back the old value, so a fill that started within ``settle_seconds`` of the month's last
change (``chg:``) is kept only until that window ends (issue 8.3). The catalogue keeps the generation machinery: a
generation is an opaque token ``<change time in ms, hex>.<random>``; a missing generation key matches no catalogue and
is set (``SET NX``) before a load, so a lost key can never bring back an older catalogue (issue 8.1).

A catalogue or a month past its ``fresh_until`` but not expired is stale: served while one request refreshes it, or
when DynamoDB fails. A stale month the consumer changed within ``settle_seconds`` is kept, not refreshed (the
written-through hash is newer than the lagging index); nothing is deleted before an index read, so a failed refresh
leaves the stale hash as it is and serves it (stale-if-error), never an older copy.

Upgrading from 0.1.x (``sr:`` result entries under counter generations at ``gen:{d:<tag>}``): those keys are no longer
read and expire; the cache user's ACL no longer reaches ``sr:``.
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
    "CatalogueLoad", "Generation", "MonthFill", "MonthWrite", "SearchCache", "generation_key",
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
        """The single-flight lock of the destination's fills: ONE per destination, not per month set, so searches of
        one destination over different months (a stay in December, one in January, one across both) never load its
        catalogue (or a shared month) side by side; a waiter whose months the holder did not fill takes the lock over
        when it is freed and loads only what is still missing."""
        return f"lock:{_tag(self.destination_tag)}"

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
    changed: dict[str, Any] = field(default_factory=dict)
    """Per month, its change-time key as read (raw; None when missing)."""

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
            # The months' change times ride along (a few bytes): a fill WATCHes them and knows what changed since.
            lock = [keys.lock] if with_lock else []
            pipe.execute_command("MGET", keys.generation, keys.catalogue, *lock, *map(keys.change, keys.months))
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
        changed = dict(zip(keys.months, values[2 + len(lock) :], strict=True))
        generation, catalogue = parse_generation(values[0]), _decode_catalogue(values[1])
        view = CacheView(generation, catalogue, months, frozenset(corrupt), partial, changed)
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

    def write_catalogue(self, keys: CacheKeys, load: CatalogueLoad) -> None:
        """Store a catalogue on its own (one round trip; ``MonthFill.commit`` writes it with the months)."""
        with self.client.get().pipeline(transaction=False) as pipe:
            self._queue_catalogue(pipe, keys, load)
            if len(pipe):
                pipe.execute()

    def _queue_catalogue(self, pipe: Any, keys: CacheKeys, load: CatalogueLoad) -> None:
        """``SET`` of a catalogue; the key outlives freshness by the stale window.

        A catalogue whose read STARTED within ``settle_seconds`` of the generation's last change may predate the change
        (the index had not caught up, however long the read then took): it is fresh only until that window ends, with
        no stale window, and not cached at all when the window is already over (issue 8.3).
        """
        now = self._clock()
        listings = load.listings
        fresh = self.policy.fresh_seconds(empty=not listings, rng=self._rng)
        stale = self.policy.stale_seconds if listings else 0.0
        settled_at = load.generation.changed_at + self.policy.settle_seconds
        if settled_at > load.read_started_at:
            if settled_at <= now:
                return  # the read may predate the change and no window is left to keep it in
            fresh, stale = min(fresh, settled_at - now), 0.0
        payload = json.dumps(
            {"gen": load.generation.token, "fresh_until": now + fresh, "listings": listings}, separators=(",", ":")
        )
        if self.policy.compress:
            payload = _compress(payload)
        pipe.set(keys.catalogue, payload, px=max(1, int((fresh + stale) * 1000)))

    # -- the months -----------------------------------------------------------------------------------------------
    def begin_month_fill(self, keys: CacheKeys, view: CacheView, months: Sequence[str]) -> MonthFill:
        """Start filling ``months``: ``WATCH`` their ``chg:`` and ``inv:`` keys, then read the change times (two round
        trips), BEFORE the index read; a change time that differs from ``view``'s means the hash changed since the view
        was read. The caller must ``close()`` the returned fill (it holds a connection)."""
        pipe = self.client.get().pipeline(transaction=True)
        try:
            names = [keys.change(m) for m in months]
            pipe.watch(*names, *(keys.inventory(m) for m in months))
            raw = pipe.execute_command("MGET", *names)
        except BaseException:
            pipe.reset()
            raise
        now = self._clock()
        moved = {m for m, r in zip(months, raw, strict=True) if r != view.changed.get(m)}
        changed = {m: _change_time(r, now) for m, r in zip(months, raw, strict=True)}
        return MonthFill(self, pipe, keys, view, changed, frozenset(moved))

    # -- the stream consumer --------------------------------------------------------------------------------------
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


def _change_time(raw: Any, now: float) -> float | None:
    """When the consumer last wrote a month (None: not known); an unreadable value counts as a change ``now``, so a
    fill after it is short-lived, never kept for a whole TTL."""
    if raw is None:
        return None
    try:
        return int(raw) / 1000
    except (TypeError, ValueError):
        return now


class MonthFill:
    """A fill of month hashes under optimistic locking: their ``chg:``/``inv:`` keys are WATCHed before the index is
    read, and ``commit`` writes in one ``MULTI``/``EXEC`` that Redis aborts if the stream consumer wrote any of them
    meanwhile (it stamps ``chg:`` and ``HSET``s ``inv:``), so a lagging index read never overwrites a newer value.

    Per month, from its last change time (``changed``, read after the WATCH) and the view the search read before:

    - a complete (stale) hash changed within ``settle_seconds`` of now, or since the view, is *kept*, not refreshed:
      write-through made it newer than a lagging index can be; it is marked fresh until the change has settled (its
      current content read back in the same transaction), then refreshed from an index that has caught up;
    - otherwise the hash is what the view saw (WATCH guards it from then on): ``DEL`` + ONE multi-field ``HSET`` of the
      loaded listings (over which the listings the consumer wrote into a partial hash win: they are newer than any
      index read) and the marker + ``PEXPIRE``: 3 commands, whatever the listing count;
    - a partial or absent hash the consumer wrote since the view: ``HSETNX`` per listing (the consumer's values,
      tombstones included, win) + marker + expiry, its content read back in the same transaction;
    - a read that started within ``settle_seconds`` after the month's last change may predate it: the month is fresh
      only until the window ends (no stale window), and not cached at all once it is over (issue 8.3).
    """

    def __init__(
        self,
        cache: SearchCache,
        pipe: Any,
        keys: CacheKeys,
        view: CacheView,
        changed: dict[str, float | None],
        moved: frozenset[str],
    ) -> None:
        self.cache = cache
        self.pipe = pipe
        self.keys = keys
        self.view = view
        self.changed = changed
        self.moved = moved
        """Months the consumer wrote since ``view`` was read (what the hash holds is not what the view saw)."""

    def _settled_at(self, month: str, since: float) -> float | None:
        """When the month's last change settles, if that is after ``since`` (else None: long settled)."""
        changed_at = self.changed.get(month)
        if changed_at is None:
            return None
        settled_at = changed_at + self.cache.policy.settle_seconds
        return settled_at if settled_at > since else None

    def keeps(self, month: str) -> bool:
        """Whether a complete stale copy of ``month`` is kept rather than refreshed: it changed within the settle
        window, or since the view was read."""
        return month in self.moved or self._settled_at(month, self.cache.now()) is not None

    def commit(
        self,
        *,
        catalogue: CatalogueLoad | None,
        keep: Sequence[str],
        loaded: Mapping[str, Mapping[str, MonthSellable]],
        read_started_at: float,
    ) -> dict[str, dict[str, MonthSellable]] | None:
        """Write the catalogue, mark ``keep`` months fresh until their change settles, fill ``loaded`` months (read
        from the index from ``read_started_at``); one round trip. Returns per written month the listings the cache now
        holds (for the answer), or None when Redis aborted the transaction (the consumer wrote meanwhile: nothing is
        written, the caller answers from what it loaded)."""
        from redis.exceptions import WatchError

        cache, keys, pipe, policy = self.cache, self.keys, self.pipe, self.cache.policy
        now = cache.now()
        view = self.view
        read_back: list[str] = []
        written: dict[str, dict[str, MonthSellable]] = {}
        pipe.multi()
        if catalogue is not None:
            cache._queue_catalogue(pipe, keys, catalogue)  # noqa: SLF001 - one transaction with the months
        for month in keep:
            keep_until = self._settled_at(month, now) or now + policy.settle_seconds
            pipe.hgetall(keys.inventory(month))
            pipe.hset(keys.inventory(month), COMPLETE_FIELD, repr(keep_until))
            read_back.append(month)
        for month, listings in loaded.items():
            name = keys.inventory(month)
            fresh = policy.fresh_seconds(empty=False, rng=cache._rng)  # noqa: SLF001
            stale = policy.stale_seconds
            settled_at = self._settled_at(month, read_started_at)
            if settled_at is not None:  # the read may predate the month's last change
                if settled_at <= now:
                    continue  # ... whose value may be gone, and the window is over: not cached
                fresh, stale = min(fresh, settled_at - now), 0.0
            if month in self.moved:  # the hash changed since the view: HSETNX, so what the consumer wrote wins
                if month in view.corrupt:
                    pipe.delete(name)
                for listing_id, units in listings.items():
                    pipe.hsetnx(name, listing_id, encode(units))
                pipe.hset(name, COMPLETE_FIELD, repr(now + fresh))
                pipe.pexpire(name, max(1, int((fresh + stale) * 1000)))
                pipe.hgetall(name)
                read_back.append(month)
                continue
            # The hash is what the view saw (WATCH guards it from here): replace it in 3 commands, keeping the
            # listings the consumer wrote into a partial hash (newer than any index read).
            merged = {**listings, **view.partial.get(month, {})}
            fields = {listing_id: encode(units) for listing_id, units in merged.items()}
            pipe.delete(name)
            pipe.hset(name, mapping={**fields, COMPLETE_FIELD: repr(now + fresh)})
            pipe.pexpire(name, max(1, int((fresh + stale) * 1000)))
            written[month] = merged
        if not len(pipe):
            return written
        try:
            replies = pipe.execute()
        except WatchError:
            return None
        hashes = [reply for reply in replies if isinstance(reply, dict)]
        vanished = []
        for month, raw in zip(read_back, hashes, strict=True):
            if month in keep and COMPLETE_FIELD not in raw:
                vanished.append(month)  # the kept hash went between the view and WATCH: not complete, remove it
                continue
            written[month] = {k: decode(v) for k, v in raw.items() if k != COMPLETE_FIELD}
        if vanished:
            cache.client.get().delete(*(keys.inventory(m) for m in vanished))
        return written

    def close(self) -> None:
        """Release the connection (``UNWATCH`` when the transaction did not run)."""
        self.pipe.reset()


@dataclass(frozen=True)
class CatalogueLoad:
    """A catalogue read from the index: under which generation, what, and when the read started (issue 8.3)."""

    generation: Generation
    listings: list[CacheRecord]
    read_started_at: float


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
        listings = list(data["listings"])
        if not all(_is_listing(item) for item in listings):
            return None  # another release's shape (a rolling deploy) or a foreign writer: a miss, overwritten
        return CachedCatalogue(str(data["gen"]), float(data["fresh_until"]), listings)
    except (ValueError, KeyError, TypeError, zlib.error):
        return None  # a corrupt or foreign value is a miss, and gets overwritten


#: The fields (and their types) of a catalogue listing: the result fields and ``maxGuests``.
LISTING_FIELD_TYPES: dict[str, type] = {
    "listingId": str, "name": str, "destination": str, "pricePerNight": int, "currency": str, "maxGuests": int,
}  # fmt: skip


def _is_listing(item: Any) -> bool:
    return isinstance(item, dict) and all(
        isinstance(item.get(name), kind) and not isinstance(item.get(name), bool)
        for name, kind in LISTING_FIELD_TYPES.items()
    )


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
