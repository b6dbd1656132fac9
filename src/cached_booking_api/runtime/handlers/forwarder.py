"""Log subscription → EventBridge: turns the search function's search.completed log lines into bus events.

Runs outside the VPC. Invoked asynchronously by CloudWatch Logs; entries EventBridge rejects are retried, then sent
to the dead-letter queue; an invocation that crashes goes to the function's on-failure destination.
"""

from __future__ import annotations

import base64
import gzip
import json
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from .. import config
from ..events import EventPublisher, PublishReport, search_completed_detail, sqs_dead_letter
from ..settings import ForwarderSettings

logger = Logger()


def decode_log_events(event: dict[str, Any]) -> list[dict[str, Any]]:
    """The search.completed details carried by a CloudWatch Logs subscription payload (other lines are skipped)."""
    payload = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
    if payload.get("messageType") != "DATA_MESSAGE":
        return []  # CONTROL_MESSAGE: CloudWatch checking that the destination is reachable
    details = []
    for log_event in payload.get("logEvents", []):
        try:
            line = json.loads(log_event["message"])
        except (ValueError, TypeError):
            continue
        fields = line.get(config.SEARCH_COMPLETED_FIELD) if isinstance(line, dict) else None
        if isinstance(fields, dict):
            details.append(search_completed_detail(fields))
    return details


@cache
def publisher() -> EventPublisher:
    """The process-wide publisher (clients are reused across invocations)."""
    import boto3

    settings = ForwarderSettings.from_environment()
    queue_url = settings.dead_letter_queue_url
    return EventPublisher(
        boto3.client("events"),
        bus_name=settings.event_bus_name,
        dead_letter=sqs_dead_letter(boto3.client("sqs"), queue_url) if queue_url else None,
    )


def forward(event: dict[str, Any], events_publisher: EventPublisher, *, source: str) -> PublishReport:
    """Decode a subscription payload and publish its search.completed events with ``source``."""
    return events_publisher.publish(source, "search.completed", decode_log_events(event))


@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    """Lambda entry point (CloudWatch Logs subscription filter)."""
    report = forward(event, publisher(), source=ForwarderSettings.from_environment().event_source)
    logger.info("forwarded", extra={"delivered": report.delivered, "retried": report.retried,
                                    "deadLettered": report.dead_lettered})  # fmt: skip
    return {"delivered": report.delivered, "deadLettered": report.dead_lettered}
