"""The outbox Pipe's target: booking.confirmed and booking.cancelled each on the bus as its own detail type, with
exactly its contract's fields (issue 9.3; moto for EventBridge/SQS)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import jsonschema
import pytest
from moto import mock_aws

from cached_booking_api.runtime.events import EventPublisher
from cached_booking_api.runtime.handlers.outbox_publisher import publish_records
from cached_booking_api.runtime.outbox import (
    BOOKING_CANCELLED,
    BOOKING_CANCELLED_SCHEMA,
    BOOKING_CONFIRMED_SCHEMA,
    event_detail_from_record,
    matches_pipe_filter,
    outbox_item,
)

CONFIRMED = {
    "eventId": "evt-1", "bookingId": "bk_0123456789abcdef01234567", "listingId": "lis-001",
    "checkIn": "2026-12-01", "checkOut": "2026-12-03", "guests": 2, "totalPrice": 25800, "currency": "EUR",
    "createdAt": "2026-11-25T10:00:00Z",
}  # fmt: skip
CANCELLED = {
    "eventId": "evt-2", "bookingId": CONFIRMED["bookingId"], "listingId": "lis-001", "checkIn": "2026-12-01",
    "checkOut": "2026-12-03", "guests": 2, "cancelledAt": "2026-11-26T10:00:00Z",
}  # fmt: skip


def stream_record(image: dict[str, Any], event_name: str = "INSERT") -> dict[str, Any]:
    """A DynamoDB Streams record as EventBridge Pipes hands it on (N values are strings)."""
    return {"eventID": "1", "eventName": event_name, "eventSource": "aws:dynamodb",
            "dynamodb": {"Keys": {}, "NewImage": image, "StreamViewType": "NEW_AND_OLD_IMAGES"}}  # fmt: skip


@pytest.fixture
def bus() -> Iterator[dict[str, Any]]:
    """A bus whose rule (booking.* of the source, as the construct's) delivers to a queue."""
    with mock_aws():
        events, sqs = boto3.client("events"), boto3.client("sqs")
        events.create_event_bus(Name="bus")
        queue = sqs.create_queue(QueueName="target")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        pattern = {"source": ["booking.platform"], "detail-type": [{"prefix": "booking."}]}
        events.put_rule(Name="r", EventBusName="bus", EventPattern=json.dumps(pattern))
        events.put_targets(Rule="r", EventBusName="bus", Targets=[{"Id": "q", "Arn": arn}])
        yield {"events": events, "sqs": sqs, "queue": queue}


def received(sqs: Any, queue: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while messages := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
        out += [json.loads(m["Body"]) for m in messages]
        sqs.delete_message_batch(QueueUrl=queue, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                                                          for i, m in enumerate(messages)])  # fmt: skip
    return out


def test_a_batch_of_both_detail_types_reaches_the_bus_once_each_with_its_contract(bus: dict[str, Any]) -> None:
    """Amazon EventBridge user guide, "Amazon EventBridge Pipes targets" (eb-pipes-event-target.html): "Lambda and
    Step Functions do not have a batch API. To process batches of events from a pipe source, the batch is converted to
    a JSON array and passed to as input to the Lambda or Step Functions target."  The publisher takes that array of
    stream records and puts every outbox insert on the bus as its own detail type; the details validate against
    their JSON Schemas (numbers as JSON numbers, no other field)."""
    batch = [
        stream_record(outbox_item(CONFIRMED, now_epoch=1_800_000_000)),
        stream_record({"pk": {"S": "LISTING#x"}, "sk": {"S": "MONTH#2026-12"}}, "MODIFY"),  # not an outbox item
        stream_record(outbox_item(CANCELLED, 1_800_000_100, detail_type=BOOKING_CANCELLED)),
        stream_record(outbox_item(CONFIRMED, 1_800_000_000), "REMOVE"),  # the TTL deleting it: no event
    ]
    report = publish_records(batch, EventPublisher(bus["events"], bus_name="bus"), "booking.platform")
    assert report.delivered == 2
    events = sorted(received(bus["sqs"], bus["queue"]), key=lambda e: e["detail"]["eventId"])
    assert [(e["detail-type"], e["source"]) for e in events] == [
        ("booking.confirmed", "booking.platform"), ("booking.cancelled", "booking.platform"),
    ]  # fmt: skip
    assert [e["detail"] for e in events] == [CONFIRMED, CANCELLED]
    jsonschema.validate(events[0]["detail"], BOOKING_CONFIRMED_SCHEMA)
    jsonschema.validate(events[1]["detail"], BOOKING_CANCELLED_SCHEMA)
    with pytest.raises(jsonschema.ValidationError):  # the two shapes are different contracts
        jsonschema.validate(events[1]["detail"], BOOKING_CONFIRMED_SCHEMA)


def test_only_new_outbox_items_of_a_known_detail_type_pass_the_filter() -> None:
    assert matches_pipe_filter(stream_record(outbox_item(CANCELLED, 1, detail_type=BOOKING_CANCELLED)))
    unknown = outbox_item(CONFIRMED, 1)
    unknown["detailType"] = {"S": "booking.other"}
    assert not matches_pipe_filter(stream_record(unknown))
    assert not matches_pipe_filter(stream_record(outbox_item(CONFIRMED, 1), "MODIFY"))


def test_string_values_with_quotes_and_backslashes_stay_intact() -> None:
    record = stream_record(outbox_item({**CONFIRMED, "listingId": 'lis "quoted" \\ id'}, now_epoch=1_800_000_000))
    assert event_detail_from_record(record)["listingId"] == 'lis "quoted" \\ id'


def test_an_entry_eventbridge_keeps_refusing_fails_the_invocation_so_the_pipe_retries(bus: dict[str, Any]) -> None:
    """Amazon EventBridge user guide, "Amazon EventBridge Pipes targets": "By default, for pipes with ordered
    sources, EventBridge invokes targets synchronously because a response from the target is needed before
    proceeding to the next event."  A failed invocation is what makes the Pipe retry the batch and, after its
    retries, dead-letter it: an entry is never dropped silently."""

    class Refusing:
        def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803 - boto3's name
            return {"FailedEntryCount": len(Entries),
                    "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "x"} for _ in Entries]}  # fmt: skip

    publisher = EventPublisher(Refusing(), bus_name="bus", sleep=lambda _: None)
    with pytest.raises(RuntimeError, match="could not be delivered"):
        publish_records([stream_record(outbox_item(CONFIRMED, 1))], publisher, "booking.platform")
