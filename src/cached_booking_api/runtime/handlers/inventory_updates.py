"""Inbound ``inventory.updated`` consumer: an EventBridge rule (the allowed sources only) invokes it asynchronously.

Each event is applied with ``runtime.inventory_events.apply_inventory_event`` (the loader's safe write, once per
source and eventId, all or nothing). An event that can never be applied (invalid detail, source not allowed, unknown
listing, reused eventId) is sent to the dead-letter queue with the reason and the invocation succeeds: retrying it
would only fail again. Any other failure raises, so Lambda retries the invocation and then sends it to its on-failure
destination, the same queue. The cache is invalidated by the table stream, as for a booking. Runs outside the VPC.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from .. import config
from ..inventory_events import InvalidInventoryEvent, apply_inventory_event, parse_event

logger = Logger()

DeadLetter = Callable[[dict[str, Any]], None]


@cache
def table_client() -> Any:
    """The process-wide DynamoDB client."""
    return config.dynamodb_client()


@cache
def dead_letter() -> DeadLetter:
    """Sends a rejected event, with the reason, to the dead-letter queue."""
    import boto3

    sqs = boto3.client("sqs")
    queue_url = os.environ[config.DEAD_LETTER_QUEUE_URL]

    def send(message: dict[str, Any]) -> None:
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(message, default=str))

    return send


def process(
    event: dict[str, Any],
    client: Any,
    table_name: str,
    allowed_sources: list[str],
    reject: DeadLetter,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Apply one event; an event that can never be applied goes to ``reject`` with its reason (nothing written).
    A transient failure (``InventoryEventBusy`` after the retries, a network error) raises: Lambda retries the
    invocation, then sends the event to its on-failure destination."""
    try:
        source, detail = parse_event(event)
        if source not in allowed_sources:
            raise InvalidInventoryEvent(
                f"source {source!r} is not allowed to send inventory.updated events (allowed: "
                f"{', '.join(allowed_sources) or 'none'}; the construct's inventory_sources prop)",
                [{"field": "source", "message": "not allowed"}],
            )
        result = apply_inventory_event(client, table_name, detail, source=source, sleep=sleep)
    except InvalidInventoryEvent as exc:
        reject({"event": event, **exc.body()})
        logger.warning("inventory event rejected", extra={"reason": exc.message, "details": exc.details})
        return {"status": "REJECTED", **exc.body()}
    outcome = result.as_dict()
    if result.conflicts:
        logger.warning("capacity below booked: nights not applied", extra=outcome)
    else:
        logger.info("inventory event", extra=outcome)
    return outcome


@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda entry point (EventBridge rule target, asynchronous)."""
    return process(event, table_client(), os.environ[config.TABLE_NAME], config.inventory_sources(), dead_letter())
