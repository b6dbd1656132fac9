"""The transactional outbox: the booking.confirmed event as an item, and how a stream record becomes the event.

The construct's EventBridge Pipe filters the table stream with ``PIPE_FILTER_PATTERN`` and shapes each record with
``pipe_input_template()``; ``event_detail_from_record`` does exactly the same in Python (local mode, tests). Both are
generated from ``BOOKING_CONFIRMED_FIELDS``, so they cannot drift apart.
"""

from __future__ import annotations

import json
import re
from typing import Any

from . import schema

BOOKING_CONFIRMED = "booking.confirmed"
BOOKING_CANCELLED = "booking.cancelled"
OUTBOX_TTL_SECONDS = 7 * 24 * 3600

#: The event's fields and their DynamoDB types. No name, e-mail, API key or IP address.
BOOKING_CONFIRMED_FIELDS: tuple[tuple[str, str], ...] = (
    ("eventId", "S"), ("bookingId", "S"), ("listingId", "S"), ("checkIn", "S"), ("checkOut", "S"),
    ("guests", "N"), ("totalPrice", "N"), ("currency", "S"), ("createdAt", "S"),
)  # fmt: skip

#: The booking.cancelled event's fields (written to the outbox with the cancellation; see the README: the Pipe does not
#: deliver it yet, as one Pipe input template can shape one detail type only).
BOOKING_CANCELLED_FIELDS: tuple[tuple[str, str], ...] = (
    ("eventId", "S"), ("bookingId", "S"), ("listingId", "S"), ("checkIn", "S"), ("checkOut", "S"),
    ("guests", "N"), ("cancelledAt", "S"),
)  # fmt: skip
EVENT_FIELDS = {BOOKING_CONFIRMED: BOOKING_CONFIRMED_FIELDS, BOOKING_CANCELLED: BOOKING_CANCELLED_FIELDS}

#: EventBridge Pipes filter: new booking.confirmed outbox items only (a cancellation must never be shaped as one).
PIPE_FILTER_PATTERN: dict[str, Any] = {
    "eventName": ["INSERT"],
    "dynamodb": {
        "NewImage": {
            schema.ENTITY_ATTRIBUTE: {"S": [schema.OUTBOX_ENTITY]},
            "detailType": {"S": [BOOKING_CONFIRMED]},
        }
    },
}


def outbox_item(detail: dict[str, Any], now_epoch: int, detail_type: str = BOOKING_CONFIRMED) -> dict[str, Any]:
    """The outbox item (low-level attribute values) carrying one event of ``detail_type``."""
    item: dict[str, Any] = {name: {"S": value} for name, value in schema.outbox_key(detail["eventId"]).items()}
    item[schema.ENTITY_ATTRIBUTE] = {"S": schema.OUTBOX_ENTITY}
    item["detailType"] = {"S": detail_type}
    for name, kind in EVENT_FIELDS[detail_type]:
        item[name] = {kind: str(detail[name])}
    item[schema.TTL_ATTRIBUTE] = {"N": str(now_epoch + OUTBOX_TTL_SECONDS)}
    return item


#: The booking.confirmed detail as JSON Schema: what consumers may rely on (numbers are JSON integers).
BOOKING_CONFIRMED_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": [name for name, _ in BOOKING_CONFIRMED_FIELDS],
    "properties": {
        name: {"type": "integer"} if kind == "N" else {"type": "string", "minLength": 1}
        for name, kind in BOOKING_CONFIRMED_FIELDS
    },  # fmt: skip
}


def pipe_input_template() -> str:
    """The Pipe's input template: string fields quoted, number fields not. EventBridge Pipes inserts a JSON path's
    scalar value as its (JSON-escaped) text, so ``"guests": <$...guests.N>`` with the stream's ``{"N": "2"}`` renders
    ``"guests": 2``, a JSON number, while quoted placeholders render strings."""
    parts = []
    for name, kind in BOOKING_CONFIRMED_FIELDS:
        path = f"<$.dynamodb.NewImage.{name}.{kind}>"
        parts.append(f'"{name}": "{path}"' if kind == "S" else f'"{name}": {path}')
    return "{" + ", ".join(parts) + "}"


def matches_pipe_filter(record: dict[str, Any]) -> bool:
    """Whether a stream record passes ``PIPE_FILTER_PATTERN``."""
    image = record.get("dynamodb", {}).get("NewImage", {})
    return (
        record.get("eventName") == "INSERT"
        and image.get(schema.ENTITY_ATTRIBUTE) == {"S": schema.OUTBOX_ENTITY}
        and image.get("detailType") == {"S": BOOKING_CONFIRMED}
    )


def event_detail_type_from_record(record: dict[str, Any]) -> str:
    """The detail type an outbox record carries."""
    return str(record["dynamodb"]["NewImage"]["detailType"]["S"])


def render_input_template(template: str, record: dict[str, Any]) -> str:
    """Render a Pipes input template for one source record as EventBridge Pipes documents it: each ``<$.path>`` is
    replaced by the value at that path — an object or array as JSON, a scalar as its text, JSON-escaped (so inside
    quotes it is a valid string, outside them a number stays a number)."""

    def value(match: re.Match[str]) -> str:
        found: Any = record
        for part in match.group(1).split("."):
            found = found[part]
        if isinstance(found, dict | list):
            return json.dumps(found)
        return json.dumps(str(found))[1:-1]

    return re.sub(r"<\$\.([A-Za-z0-9_.-]+)>", value, template)


def event_detail_from_record(record: dict[str, Any]) -> dict[str, Any]:
    """The event detail the Pipe's input template produces from a stream record."""
    detail: dict[str, Any] = json.loads(render_input_template(pipe_input_template(), record))
    return detail
