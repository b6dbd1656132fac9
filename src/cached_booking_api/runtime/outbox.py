"""The transactional outbox: the booking.confirmed event as an item, and how a stream record becomes the event.

The construct's EventBridge Pipe filters the table stream with ``PIPE_FILTER_PATTERN`` and shapes each record with
``pipe_input_template()``; ``event_detail_from_record`` does exactly the same in Python (local mode, tests). Both are
generated from ``BOOKING_CONFIRMED_FIELDS``, so they cannot drift apart.
"""

from __future__ import annotations

import json
from typing import Any

from . import schema

BOOKING_CONFIRMED = "booking.confirmed"
OUTBOX_TTL_SECONDS = 7 * 24 * 3600

#: The event's fields and their DynamoDB types. No name, e-mail, API key or IP address.
BOOKING_CONFIRMED_FIELDS: tuple[tuple[str, str], ...] = (
    ("eventId", "S"), ("bookingId", "S"), ("listingId", "S"), ("checkIn", "S"), ("checkOut", "S"),
    ("guests", "N"), ("totalPrice", "N"), ("currency", "S"), ("createdAt", "S"),
)  # fmt: skip

#: EventBridge Pipes filter: new outbox items only.
PIPE_FILTER_PATTERN: dict[str, Any] = {
    "eventName": ["INSERT"],
    "dynamodb": {"NewImage": {schema.ENTITY_ATTRIBUTE: {"S": [schema.OUTBOX_ENTITY]}}},
}


def outbox_item(detail: dict[str, Any], now_epoch: int) -> dict[str, Any]:
    """The outbox item (low-level attribute values) carrying one booking.confirmed event."""
    item: dict[str, Any] = {name: {"S": value} for name, value in schema.outbox_key(detail["eventId"]).items()}
    item[schema.ENTITY_ATTRIBUTE] = {"S": schema.OUTBOX_ENTITY}
    item["detailType"] = {"S": BOOKING_CONFIRMED}
    for name, kind in BOOKING_CONFIRMED_FIELDS:
        item[name] = {kind: str(detail[name])}
    item[schema.TTL_ATTRIBUTE] = {"N": str(now_epoch + OUTBOX_TTL_SECONDS)}
    return item


def pipe_input_template() -> str:
    """The Pipe's input template: strings quoted, numbers inserted raw (Pipes substitutes values as text)."""
    parts = []
    for name, kind in BOOKING_CONFIRMED_FIELDS:
        path = f"<$.dynamodb.NewImage.{name}.{kind}>"
        parts.append(f'"{name}": "{path}"' if kind == "S" else f'"{name}": {path}')
    return "{" + ", ".join(parts) + "}"


def matches_pipe_filter(record: dict[str, Any]) -> bool:
    """Whether a stream record passes ``PIPE_FILTER_PATTERN``."""
    image = record.get("dynamodb", {}).get("NewImage", {})
    return record.get("eventName") == "INSERT" and image.get(schema.ENTITY_ATTRIBUTE) == {"S": schema.OUTBOX_ENTITY}


def event_detail_from_record(record: dict[str, Any]) -> dict[str, Any]:
    """The event detail the Pipe's input template produces from a stream record."""
    rendered = pipe_input_template()
    image = record["dynamodb"]["NewImage"]
    for name, kind in BOOKING_CONFIRMED_FIELDS:
        rendered = rendered.replace(f"<$.dynamodb.NewImage.{name}.{kind}>", image[name][kind])
    detail: dict[str, Any] = json.loads(rendered)
    return detail
