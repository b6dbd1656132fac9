"""search.completed log lines → EventBridge, with per-entry retry and a dead-letter queue (moto for EventBridge/SQS)."""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from cached_booking_api.runtime.events import EventPublisher, sqs_dead_letter
from cached_booking_api.runtime.handlers.forwarder import decode_log_events, forward

pytestmark = pytest.mark.fast

DETAIL = {
    "queryHash": "abc", "destination": "Lisbon", "checkIn": "2027-01-01", "checkOut": "2027-01-03",
    "guests": 2, "resultCount": 4, "cache": "HIT", "latencyMs": 1.2,
}  # fmt: skip


def subscription_event(messages: list[str], message_type: str = "DATA_MESSAGE") -> dict[str, Any]:
    payload = {
        "messageType": message_type,
        "logGroup": "/aws/lambda/search",
        "logEvents": [{"id": str(i), "timestamp": 0, "message": m} for i, m in enumerate(messages)],
    }
    return {"awslogs": {"data": base64.b64encode(gzip.compress(json.dumps(payload).encode())).decode()}}


def log_line(detail: dict[str, Any]) -> str:
    return json.dumps({"level": "INFO", "message": "search.completed", "search_completed": detail, "xray": "x"})


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    """A bus whose rule delivers search.completed to a queue, and a DLQ."""
    with mock_aws():
        events, sqs = boto3.client("events"), boto3.client("sqs")
        events.create_event_bus(Name="bus")
        target = sqs.create_queue(QueueName="target")["QueueUrl"]
        dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=target, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name="r", EventBusName="bus", EventPattern=json.dumps({"detail-type": ["search.completed"]}))
        events.put_targets(Rule="r", EventBusName="bus", Targets=[{"Id": "q", "Arn": arn}])
        yield {"events": events, "sqs": sqs, "target": target, "dlq": dlq}


def received(sqs: Any, queue: str) -> list[dict[str, Any]]:
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
    out = []
    while messages:
        out += [json.loads(m["Body"]) for m in messages]
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
    return out


class FlakyEvents:
    """EventBridge (moto) that reports chosen entries as failed on the first call, as throttling does."""

    def __init__(self, client: Any, fail_first: set[int], always_fail: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.client = client
        self.fail_first = fail_first
        self.always_fail = always_fail
        self.calls: list[list[str]] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803 - boto3's name
        self.calls.append([json.loads(e["Detail"])["queryHash"] for e in Entries])
        failing = {i for i, e in enumerate(Entries) if json.loads(e["Detail"])["queryHash"] in self.always_fail}
        if len(self.calls) == 1:
            failing |= self.fail_first
        passing = [e for i, e in enumerate(Entries) if i not in failing]
        real = self.client.put_events(Entries=passing)["Entries"] if passing else []
        results, real_iter = [], iter(real)
        for i in range(len(Entries)):
            failed = {"ErrorCode": "ThrottlingException", "ErrorMessage": "Rate exceeded"}
            results.append(failed if i in failing else next(real_iter))
        return {"FailedEntryCount": len(failing), "Entries": results}


def test_log_lines_become_events_and_other_lines_are_skipped(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVENT_SOURCE", "booking.platform")
    leaky = {**DETAIL, "email": "someone@example.com", "apiKey": "secret", "sourceIp": "10.0.0.1"}
    event = subscription_event([log_line(leaky), "plain text line", json.dumps({"message": "other"})])
    report = forward(event, EventPublisher(aws["events"], bus_name="bus"), source="booking.platform")
    assert report.delivered == 1
    [delivered] = received(aws["sqs"], aws["target"])
    assert delivered["source"] == "booking.platform" and delivered["detail-type"] == "search.completed"
    assert delivered["detail"] == DETAIL  # personal fields dropped


def test_control_messages_publish_nothing() -> None:
    assert decode_log_events(subscription_event([log_line(DETAIL)], "CONTROL_MESSAGE")) == []


def test_partly_failed_put_events_retries_exactly_the_failed_entries(aws: dict[str, Any]) -> None:
    details = [{**DETAIL, "queryHash": f"q{i}"} for i in range(12)]
    flaky = FlakyEvents(aws["events"], fail_first={1, 4})
    report = EventPublisher(flaky, bus_name="bus", sleep=lambda _: None).publish("src", "search.completed", details)
    assert flaky.calls[0] == [f"q{i}" for i in range(10)]
    assert flaky.calls[1] == ["q1", "q4"]  # exactly the failed ones
    assert flaky.calls[2] == ["q10", "q11"]
    assert (report.delivered, report.retried, report.dead_lettered) == (12, 2, 0)
    hashes = sorted(e["detail"]["queryHash"] for e in received(aws["sqs"], aws["target"]))
    assert hashes == sorted(f"q{i}" for i in range(12))  # each once


def test_entries_that_keep_failing_go_to_the_dead_letter_queue(aws: dict[str, Any]) -> None:
    details = [{**DETAIL, "queryHash": f"q{i}"} for i in range(3)]
    flaky = FlakyEvents(aws["events"], fail_first=set(), always_fail={"q2"})
    publisher = EventPublisher(
        flaky, bus_name="bus", dead_letter=sqs_dead_letter(aws["sqs"], aws["dlq"]), sleep=lambda _: None
    )
    report = publisher.publish("src", "search.completed", details)
    assert (report.delivered, report.dead_lettered) == (2, 1)
    [dead] = received(aws["sqs"], aws["dlq"])
    [failed] = dead["failedEntries"]
    assert failed["errorCode"] == "ThrottlingException"
    assert json.loads(failed["entry"]["Detail"])["queryHash"] == "q2"


def test_without_a_dead_letter_queue_a_lost_entry_fails_the_invocation(aws: dict[str, Any]) -> None:
    flaky = FlakyEvents(aws["events"], fail_first=set(), always_fail={"q0"})
    with pytest.raises(RuntimeError, match="could not be delivered"):
        EventPublisher(flaky, bus_name="bus", sleep=lambda _: None).publish(
            "s", "search.completed", [{**DETAIL, "queryHash": "q0"}]
        )
