"""The outbox Pipe's input template renders booking.confirmed with numbers as JSON numbers (issue 7.11)."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from cached_booking_api.runtime.outbox import (
    BOOKING_CONFIRMED_SCHEMA,
    event_detail_from_record,
    outbox_item,
    pipe_input_template,
    render_input_template,
)

pytestmark = pytest.mark.fast

DETAIL = {
    "eventId": "evt-1", "bookingId": "bk_0123456789abcdef01234567", "listingId": "lis-001",
    "checkIn": "2026-12-01", "checkOut": "2026-12-03", "guests": 2, "totalPrice": 25800, "currency": "EUR",
    "createdAt": "2026-11-25T10:00:00Z",
}  # fmt: skip


def stream_record(image: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB Streams record as EventBridge Pipes receives it (N values are strings)."""
    return {"eventID": "1", "eventName": "INSERT", "eventSource": "aws:dynamodb",
            "dynamodb": {"Keys": {}, "NewImage": image, "StreamViewType": "NEW_AND_OLD_IMAGES"}}  # fmt: skip


def test_the_template_renders_a_stream_record_into_the_event_schema() -> None:
    """Amazon EventBridge user guide, "Amazon EventBridge Pipes input transformation"
    (eb-pipes-input-transformation.html): "EventBridge replaces input transformers at runtime to ensure a valid JSON
    output. Because of this, put quotes around variables that refer to JSON path parameters, but do not put quotes
    around variables that refer to JSON objects or arrays."  A stream record carries numbers as strings
    (``{"N": "2"}``); the template leaves number placeholders unquoted, so the rendered detail has JSON numbers and
    validates against the event schema; the local mode renders the very same template the same way."""
    record = stream_record(outbox_item(DETAIL, now_epoch=1_800_000_000))
    detail = json.loads(render_input_template(pipe_input_template(), record))
    jsonschema.validate(detail, BOOKING_CONFIRMED_SCHEMA)
    assert detail == DETAIL and isinstance(detail["guests"], int) and isinstance(detail["totalPrice"], int)
    assert event_detail_from_record(record) == detail


def test_string_values_are_escaped_as_pipes_does() -> None:
    """Same rule: a string value with quotes or backslashes still renders valid JSON (Pipes escapes the value)."""
    record = stream_record(outbox_item({**DETAIL, "listingId": 'lis "quoted" \\ id'}, now_epoch=1_800_000_000))
    assert event_detail_from_record(record)["listingId"] == 'lis "quoted" \\ id'
