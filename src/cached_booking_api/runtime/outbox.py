"""The transactional outbox: booking events as items, and how a stream record becomes the event.

The construct's EventBridge Pipe filters the table stream with ``PIPE_FILTER_PATTERN`` (new outbox items of either
detail type) and invokes the outbox publisher function (``handlers.outbox_publisher``), which shapes each record with
``event_detail_from_record`` and puts it on the bus as its own detail type; the local mode runs the same code. The
fields of each event are listed once (``EVENT_FIELDS``): the item, the event and its JSON Schema derive from them.
"""

from __future__ import annotations

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

#: The booking.cancelled event's fields (written to the outbox with the cancellation, in the same transaction).
BOOKING_CANCELLED_FIELDS: tuple[tuple[str, str], ...] = (
    ("eventId", "S"), ("bookingId", "S"), ("listingId", "S"), ("checkIn", "S"), ("checkOut", "S"),
    ("guests", "N"), ("cancelledAt", "S"),
)  # fmt: skip
EVENT_FIELDS = {BOOKING_CONFIRMED: BOOKING_CONFIRMED_FIELDS, BOOKING_CANCELLED: BOOKING_CANCELLED_FIELDS}

#: EventBridge Pipes filter: new outbox items of a known detail type (an update or a TTL delete is never an event).
PIPE_FILTER_PATTERN: dict[str, Any] = {
    "eventName": ["INSERT"],
    "dynamodb": {
        "NewImage": {
            schema.ENTITY_ATTRIBUTE: {"S": [schema.OUTBOX_ENTITY]},
            "detailType": {"S": list(EVENT_FIELDS)},
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


def detail_schema(detail_type: str) -> dict[str, Any]:
    """An event's detail as JSON Schema: what consumers may rely on (numbers are JSON integers, no other field)."""
    fields = EVENT_FIELDS[detail_type]
    return {
        "type": "object",
        "additionalProperties": False,
        "required": [name for name, _ in fields],
        "properties": {
            name: {"type": "integer"} if kind == "N" else {"type": "string", "minLength": 1} for name, kind in fields
        },
    }


BOOKING_CONFIRMED_SCHEMA: dict[str, Any] = detail_schema(BOOKING_CONFIRMED)
BOOKING_CANCELLED_SCHEMA: dict[str, Any] = detail_schema(BOOKING_CANCELLED)


def matches_pipe_filter(record: dict[str, Any]) -> bool:
    """Whether a stream record passes ``PIPE_FILTER_PATTERN``."""
    image = record.get("dynamodb", {}).get("NewImage", {})
    return (
        record.get("eventName") == "INSERT"
        and image.get(schema.ENTITY_ATTRIBUTE) == {"S": schema.OUTBOX_ENTITY}
        and image.get("detailType", {}).get("S") in EVENT_FIELDS
    )


def event_detail_type_from_record(record: dict[str, Any]) -> str:
    """The detail type an outbox record carries."""
    return str(record["dynamodb"]["NewImage"]["detailType"]["S"])


def event_detail_from_record(record: dict[str, Any]) -> dict[str, Any]:
    """The event detail an outbox record carries: exactly its detail type's fields, numbers as integers."""
    image = record["dynamodb"]["NewImage"]
    return {
        name: int(image[name][kind]) if kind == "N" else str(image[name][kind])
        for name, kind in EVENT_FIELDS[event_detail_type_from_record(record)]
    }
