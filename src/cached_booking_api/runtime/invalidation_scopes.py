"""What a batch of table stream records changes in the search cache (issue 9.5).

A month item's new image says exactly what its listing can sell that month, so the consumer writes it through (a
``MonthWrite`` of ``sellable.encode(month_sellable(NewImage))``) instead of invalidating anything; a removed item, or
one whose listing moved to another destination, leaves a tombstone in its old destination's month. A listing item that
changed at all changes its destination's catalogue (both the old and the new one when a listing moves): its
generation is bumped. Bookings, outbox items and writes that change nothing change nothing. A booking, a cancellation,
a reload and an inbound inventory update all change month items, so they all reach the cache this one way.

The table's stream view is ``NEW_AND_OLD_IMAGES`` (``schema.table_definition`` and the construct's table), so every
INSERT/MODIFY record carries the whole new item.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from . import schema
from .schema import ALL_NIGHTS
from .sellable import TOMBSTONE, MonthWrite, encode, month_sellable

#: Lambda event source mapping filter: only listing and inventory items reach the consumer.
STREAM_FILTER_PATTERNS: tuple[dict[str, Any], ...] = (
    {"dynamodb": {"Keys": {schema.SORT_KEY: {"S": [{"prefix": schema.MONTH_PREFIX}]}}}},
    {"dynamodb": {"Keys": {schema.SORT_KEY: {"S": [schema.LISTING_SORT_KEY]}}}},
)

__all__ = ["ALL_NIGHTS", "STREAM_FILTER_PATTERNS", "CacheChanges", "cache_changes"]


@dataclass
class CacheChanges:
    """Month writes in record order, and the destinations whose catalogue changed."""

    month_writes: list[MonthWrite] = field(default_factory=list)
    destinations: set[str] = field(default_factory=set)

    @property
    def scopes(self) -> set[tuple[str, str]]:
        """``(destination tag, yyyy-mm month or ALL_NIGHTS)`` pairs the batch changed."""
        months = {(write.destination_tag, write.month) for write in self.month_writes}
        return months | {(tag, ALL_NIGHTS) for tag in self.destinations}


def cache_changes(records: Iterable[dict[str, Any]]) -> CacheChanges:
    """What the records change in the cache (see the module docstring)."""
    changes = CacheChanges()
    for record in records:
        change = record.get("dynamodb", {})
        keys = change.get("Keys", {})
        sort_key = keys.get(schema.SORT_KEY, {}).get("S", "")
        new, old = change.get("NewImage", {}), change.get("OldImage", {})
        if sort_key.startswith(schema.MONTH_PREFIX):
            month = schema.month_from_sort_key(sort_key)
            listing_id = schema.listing_id_from_partition_key(keys.get(schema.PARTITION_KEY, {}).get("S", ""))
            new_tag = new.get(schema.DESTINATION_TAG_ATTRIBUTE, {}).get("S")
            old_tag = old.get(schema.DESTINATION_TAG_ATTRIBUTE, {}).get("S")
            removed = record.get("eventName") == "REMOVE" or not new
            if removed:
                if old_tag:
                    changes.month_writes.append(MonthWrite(old_tag, month, listing_id, TOMBSTONE))
                continue
            unchanged = all(new.get(name) == old.get(name) for name in schema.DAY_ATTRIBUTES)
            if new_tag and not (unchanged and new_tag == old_tag):
                changes.month_writes.append(MonthWrite(new_tag, month, listing_id, encode(month_sellable(new))))
            if old_tag and old_tag != new_tag:
                changes.month_writes.append(MonthWrite(old_tag, month, listing_id, TOMBSTONE))
        elif sort_key == schema.LISTING_SORT_KEY and new != old:
            for image in (new, old):
                destination = image.get("destination", {}).get("S")
                if destination:
                    changes.destinations.add(schema.destination_tag(destination))
    return changes
