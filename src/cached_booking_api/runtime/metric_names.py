"""The EMF metrics the handlers emit: one list, read by the handlers (``metrics.add_metric``) and by the construct's
alarms, dashboard and ``metric_*()`` helpers, so a renamed metric cannot leave an alarm watching nothing.

Each metric is emitted by one function, under the Powertools ``service`` dimension of that function
(``POWERTOOLS_SERVICE_NAME``) in the construct's metrics namespace. Standard library only: the construct imports this.
"""

from __future__ import annotations

from typing import Final

# -- GET /search (search function) ---------------------------------------------------------------------------------
SEARCH_REQUEST: Final = "SearchRequest"
"""One per search request (Count)."""
SEARCH_LATENCY: Final = "SearchLatency"
"""Time the handler spent on a search, in milliseconds (alarm on percentiles)."""
CACHE_HIT: Final = "CacheHit"
"""A search answered from a fresh cache entry (Count)."""
CACHE_MISS: Final = "CacheMiss"
"""A search loaded from DynamoDB and cached (Count)."""
CACHE_STALE: Final = "CacheStale"
"""A search answered from a stale entry, while it is refreshed or DynamoDB fails (Count)."""
CACHE_BYPASS: Final = "CacheBypass"
"""A search answered from DynamoDB without the cache: cache down, slow, or circuit open (Count)."""
CACHE_ERROR: Final = "CacheError"
"""Cache calls that failed or timed out (Count)."""
CIRCUIT_OPEN: Final = "CircuitOpen"
"""The cache circuit breaker opened (Count)."""

# -- /bookings (booking function) ----------------------------------------------------------------------------------
BOOKING_REQUEST: Final = "BookingRequest"
"""One per ``POST /bookings`` (Count)."""
BOOKING_CONFIRMED: Final = "BookingConfirmed"
"""A booking confirmed (Count; a replayed idempotent request counts again)."""
BOOKING_READ: Final = "BookingRead"
"""One per ``GET /bookings/{bookingId}`` (Count)."""
CANCELLATION_REQUEST: Final = "CancellationRequest"
"""One per ``DELETE /bookings/{bookingId}`` (Count)."""
BOOKING_CANCELLED: Final = "BookingCancelled"
"""A cancellation answered 200 (Count; repeating it counts again)."""

# -- table stream consumer (invalidation function) -----------------------------------------------------------------
CACHE_INVALIDATIONS: Final = "CacheInvalidations"
"""Cache scopes the stream consumer wrote: destination-months written through, destinations whose catalogue
generation it bumped (Count)."""

#: Cache outcomes of a search, in the order the dashboard shows them.
CACHE_OUTCOMES: Final = (CACHE_HIT, CACHE_MISS, CACHE_STALE, CACHE_BYPASS, CACHE_ERROR)

#: Which function emits each metric (the handler module under ``runtime/handlers``; its service name is the dimension).
EMITTED_BY: Final[dict[str, str]] = {
    **dict.fromkeys(
        (SEARCH_REQUEST, SEARCH_LATENCY, CACHE_HIT, CACHE_MISS, CACHE_STALE, CACHE_BYPASS, CACHE_ERROR, CIRCUIT_OPEN),
        "search",
    ),
    **dict.fromkeys(
        (BOOKING_REQUEST, BOOKING_CONFIRMED, BOOKING_READ, CANCELLATION_REQUEST, BOOKING_CANCELLED), "bookings"
    ),
    CACHE_INVALIDATIONS: "invalidation",
}
