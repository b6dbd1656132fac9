"""The search use case: answers composed from cached data (catalogue + sellable months), filled on a miss with
single-flight, stale serving and a circuit breaker; canonical query hashes bind pagination cursors."""

from __future__ import annotations

import base64
import binascii
import bisect
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from . import schema, tracing
from .cache import CacheKeys, CacheRecord, CacheView, CatalogueLoad, MonthFill, SearchCache
from .circuit import CircuitBreaker
from .errors import service_unavailable, validation_error
from .models import SearchQuery
from .redis_client import CACHE_ERRORS
from .repository import ListingRepository, RepositoryUnavailable
from .sellable import MonthSellable, compose

log = logging.getLogger(__name__)
T = TypeVar("T")

#: How long before its own timeout a waiting request stops waiting and answers (its own load or 503).
WAIT_MARGIN_MS = 500


class CacheStatus(StrEnum):
    """Value of the ``X-Cache`` response header."""

    HIT = "HIT"
    MISS = "MISS"
    STALE = "STALE"
    BYPASS = "BYPASS"


@dataclass(frozen=True)
class SearchOutcome:
    """A page of results and how the cache served it."""

    body: dict[str, Any]
    cache: CacheStatus
    query_hash: str
    result_count: int
    cache_errors: int


def canonical_query(query: SearchQuery) -> str:
    """The query in canonical form: normalized destination, dates, guests. Page size and cursor are not part of it:
    every page of a query continues the same ordered result list (the cursor holds the last result's price and id)."""
    check_in, check_out = query.stay
    return "|".join(
        (
            schema.normalize_destination(query.destination),
            check_in.isoformat(),
            check_out.isoformat(),
            str(query.guests),
        )
    )


def query_hash(query: SearchQuery) -> str:
    """A short stable hash of the canonical query (cache key part, cursor binding, event field)."""
    return hashlib.sha256(canonical_query(query).encode()).hexdigest()[:24]


class SearchService:
    """Answers searches from the cache when it can, from DynamoDB when it must, and never fails because of Redis."""

    def __init__(self, repository: ListingRepository, cache: SearchCache, breaker: CircuitBreaker) -> None:
        self.repository = repository
        self.cache = cache
        self.breaker = breaker

    def search(self, query: SearchQuery, remaining_ms: Callable[[], int] | None = None) -> SearchOutcome:
        """Run a search; raises ``ApiError`` 400 for a bad cursor and 503 when no data source can answer.

        ``remaining_ms`` (the Lambda context's ``get_remaining_time_in_millis``) bounds how long this request waits
        for another request's fill: it stops ``WAIT_MARGIN_MS`` before its own timeout, and answers from its own load
        when there is still time for one, else 503, never a Lambda timeout.
        """
        digest = query_hash(query)
        after = decode_cursor(query.cursor, digest)
        keys = CacheKeys.for_stay(schema.destination_tag(query.destination), query.nights)
        attempt = _Attempt(self, query, keys, remaining_ms)
        results, status = attempt.run()
        # Keyset paging: the results after the previous page's last (price, id), in the same order; stable while
        # bookings sell listings out or free them between two pages (an offset would skip or repeat one).
        start = 0 if after is None else bisect.bisect_right([_order_key(r) for r in results], after)
        page = results[start : start + query.limit]
        more = start + len(page) < len(results)
        body = {
            "results": page,
            "count": len(page),
            "nextCursor": encode_cursor(_order_key(page[-1]), digest) if page and more else None,
        }
        return SearchOutcome(body, status, digest, len(results), attempt.cache_errors)


class _Attempt:
    """One search request's walk through the cache-aside decision tree (the data it composes from: the destination's
    catalogue and the stay's month hashes, runtime/cache.py)."""

    def __init__(
        self, service: SearchService, query: SearchQuery, keys: CacheKeys, remaining_ms: Callable[[], int] | None
    ) -> None:
        self.service = service
        self.remaining_ms = remaining_ms
        self.cache = service.cache
        self.breaker = service.breaker
        self.query = query
        self.keys = keys
        self.cache_errors = 0
        self.pending_catalogue: CatalogueLoad | None = None

    def run(self) -> tuple[list[CacheRecord], CacheStatus]:
        cache = self.cache
        with tracing.subsegment("cache.read"):
            view = self._redis(lambda: cache.read(self.keys))
        if view is None:
            return self._bypass(), CacheStatus.BYPASS
        if self._complete(view, fresh=True):
            return self._compose_view(view), CacheStatus.HIT

        errors_before = self.cache_errors
        token = self._redis(lambda: cache.try_lock(self.keys))
        held_elsewhere = token is None and self.cache_errors == errors_before and not self.breaker.is_open
        if held_elsewhere:
            if self._complete(view, fresh=False):
                return self._compose_view(view), CacheStatus.STALE  # stale-while-revalidate: another request fills
            max_wait, takeover_within = self._wait_budget()
            waited = self._redis(
                lambda: cache.wait_for_fill(
                    self.keys,
                    lambda polled: self._complete(polled, fresh=True),
                    max_wait_seconds=max_wait,
                    takeover_within_seconds=takeover_within,
                )
            )
            if waited is not None and waited.view is not None:
                return self._compose_view(waited.view), CacheStatus.HIT
            if waited is not None:
                token = waited.token  # the lock fell free and is ours now (or time is up: load without it)
                if token is None and not self._time_for_a_load():
                    log.warning("gave up waiting for another request's load: no time left for one of our own")
                    raise service_unavailable()
        try:
            if token is not None:
                # Double-check under the lock: the previous holder may have filled everything since our read.
                reread = self._redis(lambda: cache.read(self.keys))
                if reread is not None:
                    view = reread
                    if self._complete(view, fresh=True):
                        return self._compose_view(view), CacheStatus.HIT
            return self._fill(view, locked=token is not None)
        finally:
            if token is not None:  # released only after the data is written, so no late request refills it
                held = token
                self._redis(lambda: cache.unlock(self.keys, held))

    # -- what the cache holds -------------------------------------------------------------------------------------
    def _needs_months(self, listings: list[CacheRecord]) -> bool:
        """Whether the answer depends on the months at all (no listing fits the guests: it is empty)."""
        guests = self.query.guests
        return bool(self.query.nights) and any(int(listing.get("maxGuests", 0)) >= guests for listing in listings)

    def _complete(self, view: CacheView, *, fresh: bool) -> bool:
        """Whether the view answers the search: the current catalogue and every month it needs (all fresh, or any
        age when ``fresh`` is False)."""
        catalogue = view.current_catalogue
        if catalogue is None or (fresh and not self.cache.is_fresh(catalogue.fresh_until)):
            return False
        if not self._needs_months(catalogue.listings):
            return True
        for month in self.keys.months:
            cached = view.months.get(month)
            if cached is None or (fresh and not self.cache.is_fresh(cached.fresh_until)):
                return False
        return True

    def _compose_view(self, view: CacheView) -> list[CacheRecord]:
        catalogue = view.current_catalogue
        assert catalogue is not None
        months = {month: cached.listings for month, cached in view.months.items() if cached is not None}
        return self._compose(catalogue.listings, months)

    def _compose(self, listings: list[CacheRecord], months: dict[str, dict[str, MonthSellable]]) -> list[CacheRecord]:
        query = self.query
        return compose(listings, lambda listing_id, month: months.get(month, {}).get(listing_id), query.nights,
                       query.guests)  # fmt: skip

    # -- filling it -----------------------------------------------------------------------------------------------
    def _fill(self, view: CacheView, *, locked: bool) -> tuple[list[CacheRecord], CacheStatus]:
        """Load what is missing or stale from DynamoDB (the catalogue: one Query; the months: one Query), write it to
        the cache, and compose the answer; DynamoDB failing, what the cache holds at any age (stale-if-error)."""
        cache, repository, destination = self.cache, self.service.repository, self.query.destination
        stale = False
        catalogue = view.current_catalogue
        if catalogue is not None and cache.is_fresh(catalogue.fresh_until):
            listings = catalogue.listings
        else:
            generation = view.generation
            if generation is None:  # the generation key is missing: set it before loading, never after
                generation = self._redis(lambda: cache.ensure_generation(self.keys))
            read_started_at = cache.now()  # before the Query: a slow read must not look settled (issue 8.3)
            try:
                with tracing.subsegment("dynamodb.catalogue"):
                    listings = repository.catalogue(destination)
            except RepositoryUnavailable as exc:
                if view.catalogue is None:
                    log.error("DynamoDB unavailable and no catalogue cached: %s", exc)
                    raise service_unavailable() from exc
                log.warning("DynamoDB unavailable, serving a stale catalogue: %s", exc)
                listings, stale = view.catalogue.listings, True
            else:
                if generation is not None:
                    self.pending_catalogue = CatalogueLoad(generation, listings, read_started_at)  # with the months
        months: dict[str, dict[str, MonthSellable]] = {}
        try:
            if self._needs_months(listings):
                missing = []
                for month in self.keys.months:
                    cached = view.months.get(month)
                    if cached is not None and cache.is_fresh(cached.fresh_until):
                        months[month] = cached.listings
                    else:
                        missing.append(month)
                if missing:
                    stale |= self._fill_months(view, missing, months, locked=locked)
        finally:
            if self.pending_catalogue is not None:  # not written with months (none needed, or the load failed)
                pending = self.pending_catalogue
                self._redis(lambda: cache.write_catalogue(self.keys, pending))
        return self._compose(listings, months), (CacheStatus.STALE if stale else CacheStatus.MISS)

    def _take_catalogue(self) -> CatalogueLoad | None:
        pending, self.pending_catalogue = self.pending_catalogue, None
        return pending

    def _fill_months(
        self, view: CacheView, missing: list[str], months: dict[str, dict[str, MonthSellable]], *, locked: bool
    ) -> bool:
        """Load ``missing`` months into ``months`` and fill them in the cache; True when stale copies stood in.

        Optimistic locking (``MonthFill``): the months' change-time keys are WATCHed before the index read and the
        write is one MULTI/EXEC, aborted if the stream consumer wrote meanwhile. A stale month the consumer changed
        within the settle window is kept as it is (written through, newer than the lagging index), not refreshed;
        nothing is deleted before the read, so a failed read leaves the stale hash as it is and serves it. Without the
        lock (the wait ran out) only absent or partial hashes are filled: a stale one may be refreshed right now.
        """
        cache, keys = self.cache, self.keys
        stale_copies = {m: cached for m in missing if (cached := view.months.get(m)) is not None}
        targets = missing if locked else [m for m in missing if m not in stale_copies and m not in view.corrupt]
        fill: MonthFill | None = None
        if targets:
            fill = self._redis(lambda: cache.begin_month_fill(keys, view, targets))
        try:
            keep = [m for m in targets if fill is not None and m in stale_copies and fill.keeps(m)]
            to_load = [m for m in missing if m not in keep]
            loaded: dict[str, dict[str, MonthSellable]] = {}
            started = cache.now()
            if to_load:
                try:
                    with tracing.subsegment("dynamodb.sellable"):
                        loaded = self.service.repository.sellable_months(self.query.destination, to_load)
                except RepositoryUnavailable as exc:
                    # The catalogue (and kept months) in the fill's transaction: its EXEC also ends the WATCH, so
                    # this path makes no more round trips than a successful fill.
                    catalogue, kept = self._take_catalogue(), None
                    if fill is not None:
                        active_fill = fill
                        kept = self._redis(
                            lambda: active_fill.commit(catalogue=catalogue, keep=keep, loaded={}, read_started_at=0.0)
                        )
                    elif catalogue is not None:
                        alone = catalogue
                        self._redis(lambda: cache.write_catalogue(keys, alone))
                    if any(m not in stale_copies for m in missing):
                        log.error("DynamoDB unavailable and a month of the stay is not cached: %s", exc)
                        raise service_unavailable() from exc
                    log.warning("DynamoDB unavailable, serving stale months: %s", exc)
                    # Stale-if-error writes no month back: the hash keeps whatever the consumer wrote meanwhile.
                    months.update({m: (kept or {}).get(m, stale_copies[m].listings) for m in missing})
                    return True
            written: dict[str, dict[str, MonthSellable]] | None = None
            if fill is not None:
                active = fill
                writes = {m: loaded[m] for m in to_load if m in targets}
                catalogue = self._take_catalogue()
                written = self._redis(
                    lambda: active.commit(catalogue=catalogue, keep=keep, loaded=writes, read_started_at=started)
                )
                if written is None:
                    log.info("month fill not cached: the stream consumer wrote meanwhile (or the cache failed)")
            for month in missing:
                if written is not None and month in written:
                    months[month] = written[month]
                elif month in keep:
                    months[month] = stale_copies[month].listings
                else:  # as the fill's HSETNX: what the consumer wrote before it (and we read) wins
                    months[month] = {**loaded[month], **view.partial.get(month, {})}
            return bool(keep)
        finally:
            if fill is not None:
                closing = fill
                self._redis(lambda: closing.close())

    def _bypass(self) -> list[CacheRecord]:
        """The cache is unavailable: DynamoDB alone (``find_available``, two Queries), 503 when it fails too."""
        try:
            with tracing.subsegment("dynamodb.find_available"):
                query = self.query
                return self.service.repository.find_available(query.destination, query.nights, query.guests)
        except RepositoryUnavailable as exc:
            log.error("DynamoDB unavailable and the cache too: %s", exc)
            raise service_unavailable() from exc

    def _wait_budget(self) -> tuple[float | None, float | None]:
        """How long this request may wait (until ``WAIT_MARGIN_MS`` before its timeout) and how long it may still
        take a freed lock over (while a whole load fits: the lock's lifetime, which is the DynamoDB client's worst
        case); (None, None) without a Lambda context."""
        if self.remaining_ms is None:
            return None, None
        left_ms = self.remaining_ms() - WAIT_MARGIN_MS
        return max(0.0, left_ms / 1000), max(0.0, (left_ms - self.cache.policy.lock_ttl_ms) / 1000)

    def _time_for_a_load(self) -> bool:
        """Whether a DynamoDB load in its worst case still ends ``WAIT_MARGIN_MS`` before the invocation's timeout."""
        if self.remaining_ms is None:
            return True
        return self.remaining_ms() - WAIT_MARGIN_MS >= self.cache.policy.lock_ttl_ms

    def _redis(self, operation: Callable[[], T]) -> T | None:
        """Run a cache operation behind the breaker; a failure or an open breaker yields None.

        *Any* exception of the cache path counts as a cache failure, not only redis-py's: the IAM credential provider,
        client creation, a malformed value read back. Each one is recorded, which also releases the half-open trial,
        so the breaker can never stay open for the life of the container, and a search never fails because of the
        cache.
        """
        if not self.breaker.allow():
            return None
        try:
            result = operation()
        except Exception as exc:  # noqa: BLE001 - deliberately broad, see the docstring
            self.cache_errors += 1
            self.breaker.record_failure()
            if isinstance(exc, CACHE_ERRORS):
                log.warning("cache unavailable: %s", exc.__class__.__name__)
            else:
                log.error("cache path failed: %s: %s", exc.__class__.__name__, exc)
            return None
        self.breaker.record_success()
        return result


#: A result's place in the answer's order (``sellable.compose``: price, then id): what a cursor points after.
CursorKey = tuple[int, str]


def _order_key(result: CacheRecord) -> CursorKey:
    return int(result["pricePerNight"]), str(result["listingId"])


def encode_cursor(after: CursorKey, digest: str) -> str:
    """An opaque cursor for the page after the result ``after`` (its price and id) of the query ``digest``."""
    raw = json.dumps({"a": [after[0], after[1]], "q": digest}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, digest: str) -> CursorKey | None:
    """The (price, id) a cursor's page starts after (None: the first page); 400 when it is malformed or belongs to
    another query."""
    if cursor is None:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        price, listing_id = data["a"]
        if data["q"] == digest and type(price) is int and isinstance(listing_id, str) and listing_id:
            return price, listing_id
    except (ValueError, KeyError, TypeError, binascii.Error):
        pass
    raise validation_error([{"field": "cursor", "message": "invalid or belongs to a different query"}])
