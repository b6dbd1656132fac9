"""Which destinations' cached searches a batch of table stream records makes stale.

An inventory item whose ``available`` changed, or a listing item that changed at all, invalidates its destination
(both the old and the new one when a listing moves). Bookings, outbox items and unchanged writes invalidate nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from . import schema

#: Lambda event source mapping filter: only listing and inventory items reach the consumer.
STREAM_FILTER_PATTERNS: tuple[dict[str, Any], ...] = (
    {"dynamodb": {"Keys": {schema.SORT_KEY: {"S": [{"prefix": schema.NIGHT_PREFIX}]}}}},
    {"dynamodb": {"Keys": {schema.SORT_KEY: {"S": [schema.LISTING_SORT_KEY]}}}},
)


def stale_destination_tags(records: Iterable[dict[str, Any]]) -> set[str]:
    """The destination tags whose cache generation must be bumped."""
    tags: set[str] = set()
    for record in records:
        change = record.get("dynamodb", {})
        sort_key = change.get("Keys", {}).get(schema.SORT_KEY, {}).get("S", "")
        new, old = change.get("NewImage", {}), change.get("OldImage", {})
        if sort_key.startswith(schema.NIGHT_PREFIX):
            if new.get(schema.AVAILABLE_ATTRIBUTE) == old.get(schema.AVAILABLE_ATTRIBUTE):
                continue
            for image in (new, old):
                tag = image.get(schema.DESTINATION_TAG_ATTRIBUTE, {}).get("S")
                if tag:
                    tags.add(tag)
        elif sort_key == schema.LISTING_SORT_KEY and new != old:
            for image in (new, old):
                destination = image.get("destination", {}).get("S")
                if destination:
                    tags.add(schema.destination_tag(destination))
    return tags
