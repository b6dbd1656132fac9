"""Outbox Pipe target: puts each outbox record of a batch on the bus as its own detail type (booking.confirmed or
booking.cancelled), shaped by ``runtime.outbox.event_detail_from_record``.

Why a function and not the Pipe's input template: one Pipe has one input template, and a template is a fixed set of
keys, while the two events have different fields (BRIEF §4). The Pipe (the only reader of the stream besides the
cache invalidation consumer) filters outbox inserts and invokes this synchronously with the batch as a JSON array.
Entries EventBridge rejects are retried; if some still fail, the invocation fails, so the Pipe retries the batch and,
after its retries, sends it to its dead-letter queue. Runs outside the VPC.
"""

from __future__ import annotations

import os
from functools import cache
from itertools import groupby
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from .. import config
from ..events import EventPublisher, PublishReport
from ..outbox import event_detail_from_record, event_detail_type_from_record, matches_pipe_filter

logger = Logger()


@cache
def publisher() -> EventPublisher:
    """The process-wide publisher (no dead-letter sink: a failure fails the invocation, the Pipe retries)."""
    import boto3

    return EventPublisher(boto3.client("events"), bus_name=os.environ[config.EVENT_BUS_NAME])


def publish_records(records: list[dict[str, Any]], events_publisher: EventPublisher, source: str) -> PublishReport:
    """Publish the outbox records among ``records`` in stream order, each as its own detail type."""
    report = PublishReport()
    outbox = [record for record in records if matches_pipe_filter(record)]
    for detail_type, run in groupby(outbox, key=event_detail_type_from_record):
        part = events_publisher.publish(source, detail_type, [event_detail_from_record(r) for r in run])
        report.delivered += part.delivered
        report.retried += part.retried
        report.calls += part.calls
    return report


@logger.inject_lambda_context(log_event=False)
def handler(event: list[dict[str, Any]], context: LambdaContext) -> dict[str, int]:
    """Lambda entry point (EventBridge Pipes target, REQUEST_RESPONSE: the batch as a JSON array)."""
    records = event if isinstance(event, list) else [event]
    source = os.environ.get(config.EVENT_SOURCE, config.DEFAULT_EVENT_SOURCE)
    report = publish_records(records, publisher(), source)
    logger.info("published", extra={"records": len(records), "delivered": report.delivered,
                                    "retried": report.retried})  # fmt: skip
    return {"delivered": report.delivered}
