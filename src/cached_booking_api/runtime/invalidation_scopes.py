"""Which cached searches a batch of table stream records makes stale.

An inventory (month) item whose capacity or booked units changed on some nights invalidates exactly those nights of its
destination (a search depends on the nights of its stay: runtime/cache.py); a listing item that changed at all
invalidates its whole destination (both the old and the new one when a listing moves). Bookings, outbox items and
writes that change nothing invalidate nothing. A booking, a cancellation, a reload and an inbound inventory update all
change month items, so they all reach the cache this one way.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from . import schema
from .schema import ALL_NIGHTS

#: Lambda event source mapping filter: only listing and inventory items reach the consumer.
STREAM_FILTER_PATTERNS: tuple[dict[str, Any], ...] = (
    {"dynamodb": {"Keys": {schema.SORT_KEY: {"S": [{"prefix": schema.MONTH_PREFIX}]}}}},
    {"dynamodb": {"Keys": {schema.SORT_KEY: {"S": [schema.LISTING_SORT_KEY]}}}},
)

__all__ = ["ALL_NIGHTS", "STREAM_FILTER_PATTERNS", "stale_destination_tags", "stale_scopes"]


def stale_scopes(records: Iterable[dict[str, Any]]) -> set[tuple[str, str]]:
    """``(destination tag, night yyyy-mm-dd or ALL_NIGHTS)`` pairs whose cache generation must be bumped."""
    scopes: set[tuple[str, str]] = set()
    for record in records:
        change = record.get("dynamodb", {})
        sort_key = change.get("Keys", {}).get(schema.SORT_KEY, {}).get("S", "")
        new, old = change.get("NewImage", {}), change.get("OldImage", {})
        if sort_key.startswith(schema.MONTH_PREFIX):
            changed = {name[1:] for name in schema.DAY_ATTRIBUTES if new.get(name) != old.get(name)}
            if not changed:
                continue
            month = schema.month_from_sort_key(sort_key)
            for image in (new, old):
                tag = image.get(schema.DESTINATION_TAG_ATTRIBUTE, {}).get("S")
                if tag:
                    scopes.update((tag, f"{month}-{day}") for day in changed)
        elif sort_key == schema.LISTING_SORT_KEY and new != old:
            for image in (new, old):
                destination = image.get("destination", {}).get("S")
                if destination:
                    scopes.add((schema.destination_tag(destination), ALL_NIGHTS))
    return scopes


def stale_destination_tags(records: Iterable[dict[str, Any]]) -> set[str]:
    """The destination tags with any stale scope."""
    return {tag for tag, _ in stale_scopes(records)}
