"""The search use case: canonical query keys, cache-aside with single-flight, stale serving and a circuit breaker."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from . import schema, tracing
from .cache import CachedEntry, CacheKeys, CacheRecord, SearchCache
from .circuit import CircuitBreaker
from .errors import service_unavailable, validation_error
from .models import SearchQuery
from .redis_client import CACHE_ERRORS
from .repository import ListingRepository, RepositoryUnavailable

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
    every page of a query is cut from one cached result list."""
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
        for another request's load: it stops ``WAIT_MARGIN_MS`` before its own timeout, and answers from its own load
        when there is still time for one, else 503, never a Lambda timeout.
        """
        digest = query_hash(query)
        offset = decode_cursor(query.cursor, digest)
        keys = CacheKeys.for_query(schema.destination_tag(query.destination), digest, query.nights)
        attempt = _Attempt(self, query, keys, remaining_ms)
        results, status = attempt.run()
        page = results[offset : offset + query.limit]
        next_offset = offset + len(page)
        body = {
            "results": page,
            "count": len(page),
            "nextCursor": encode_cursor(next_offset, digest) if next_offset < len(results) else None,
        }
        return SearchOutcome(body, status, digest, len(results), attempt.cache_errors)


class _Attempt:
    """One search request's walk through the cache-aside decision tree."""

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

    def run(self) -> tuple[list[CacheRecord], CacheStatus]:
        cache = self.cache
        with tracing.subsegment("cache.read"):
            read = self._redis(lambda: cache.read(self.keys))
        if read is None:
            return self._load(fallback=None), CacheStatus.BYPASS
        generation, entry = read
        current = entry if cache.is_current(entry, generation) else None
        if current is not None and cache.is_fresh(current):
            return current.results, CacheStatus.HIT

        errors_before = self.cache_errors
        token = self._redis(lambda: cache.try_lock(self.keys))
        held_elsewhere = token is None and self.cache_errors == errors_before and not self.breaker.is_open
        if held_elsewhere:
            if current is not None:
                return current.results, CacheStatus.STALE  # stale-while-revalidate: another request refreshes it
            max_wait, takeover_within = self._wait_budget()
            waited = self._redis(
                lambda: cache.wait_for_fill(
                    self.keys, max_wait_seconds=max_wait, takeover_within_seconds=takeover_within
                )
            )
            if waited is not None and waited.entry is not None:
                return waited.entry.results, CacheStatus.HIT
            if waited is not None:
                token = waited.token  # the lock fell free and is ours now (or time is up: load without it)
                if token is None and not self._time_for_a_load():
                    log.warning("gave up waiting for another request's load: no time left for one of our own")
                    raise service_unavailable()
        try:
            if token is not None:
                # Double-check under the lock: the previous holder may have filled the entry since our read.
                reread = self._redis(lambda: cache.read(self.keys))
                if reread is not None:
                    generation, latest = reread
                    if latest is not None and cache.is_current(latest, generation) and cache.is_fresh(latest):
                        return latest.results, CacheStatus.HIT
            if generation is None:  # a generation key is missing: set it before loading, never after
                generation = self._redis(lambda: cache.ensure_generation(self.keys))
            try:
                results = self._load(fallback=entry)
            except _ServeStale as stale:
                return stale.results, CacheStatus.STALE
            if generation is not None:
                loaded_at = generation
                self._redis(lambda: cache.write(self.keys, loaded_at, results))
            return results, CacheStatus.MISS
        finally:
            if token is not None:  # released only after the entry is written, so no late request refills it
                held = token
                self._redis(lambda: cache.unlock(self.keys, held))

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

    def _load(self, fallback: CachedEntry | None) -> list[CacheRecord]:
        """Results from DynamoDB; when it fails, the cached entry if any (stale-if-error), else 503."""
        try:
            with tracing.subsegment("dynamodb.find_available"):
                query = self.query
                return self.service.repository.find_available(query.destination, query.nights, query.guests)
        except RepositoryUnavailable as exc:
            if fallback is not None:
                log.warning("DynamoDB unavailable, serving a stale entry: %s", exc)
                raise _ServeStale(fallback.results) from exc
            log.error("DynamoDB unavailable and nothing cached: %s", exc)
            raise service_unavailable() from exc

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


class _ServeStale(Exception):
    """DynamoDB failed but a cached entry exists: serve it (stale-if-error)."""

    def __init__(self, results: list[CacheRecord]) -> None:
        super().__init__("serve stale")
        self.results = results


def encode_cursor(offset: int, digest: str) -> str:
    """An opaque cursor for the page starting at ``offset`` of the query ``digest``."""
    raw = json.dumps({"o": offset, "q": digest}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, digest: str) -> int:
    """The offset a cursor stands for; 400 when it is malformed or belongs to another query."""
    if cursor is None:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        offset = data["o"]
        if data["q"] == digest and isinstance(offset, int) and offset >= 0:
            return offset
    except (ValueError, KeyError, TypeError, binascii.Error):
        pass
    raise validation_error([{"field": "cursor", "message": "invalid or belongs to a different query"}])
