"""Inbound integration (issue 9.4): ``inventory.updated`` events from the allowed sources → a consumer function that
applies them through the loader's safe write, once per (source, eventId); a dead-letter queue at both hops.

A rule on the bus matches ``inventory.updated`` from the ``inventory_sources`` only and invokes the consumer
asynchronously (retries, then its dead-letter queue, if EventBridge cannot invoke it); the function's own failures are
retried twice by Lambda and then recorded in the same queue (on-failure destination); events that can never be applied
are put there by the handler with the reason. The cache is invalidated by the table stream's existing consumer.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from ..runtime.inventory_contract import INVENTORY_UPDATED, MAX_SOURCE_LENGTH, inventory_event_pattern
from ..runtime.settings import InventoryUpdatesSettings
from .durations import hours
from .event_bus import encrypted_queue
from .functions import FunctionDefaults, PythonFunction, dead_lettered_function


def validate_inventory_sources(sources: Sequence[str], event_source: str) -> list[str]:
    """The ``inventory_sources`` prop, checked: a ValueError names the entry and the fix."""
    if isinstance(sources, str) or not isinstance(sources, Sequence):
        raise ValueError("inventory_sources: give a list of EventBridge sources, e.g. inventory_sources=['pms.acme'].")
    seen: set[str] = set()
    for index, source in enumerate(sources):
        prop = f"inventory_sources[{index}]"
        if not isinstance(source, str) or not 1 <= len(source) <= MAX_SOURCE_LENGTH or source != source.strip():
            raise ValueError(f"{prop}: {source!r} is not an EventBridge source. Use 1-256 characters without "
                             "surrounding spaces, e.g. 'pms.acme'.")  # fmt: skip
        if any(c.isspace() for c in source) or not source.isprintable():
            raise ValueError(f"{prop}: {source!r} contains spaces or control characters. Use e.g. 'pms.acme'.")
        if source.startswith("aws."):
            raise ValueError(f"{prop}: {source!r} starts with 'aws.', which AWS reserves for its services. Give the "
                             "external system its own source, e.g. 'pms.acme'.")  # fmt: skip
        if source == event_source:
            raise ValueError(f"{prop}: {source!r} is the construct's own event_source. Give the external system "
                             "its own source, e.g. 'pms.acme', so its events cannot pass for this API's.")  # fmt: skip
        if source in seen:
            raise ValueError(f"{prop}: {source!r} is listed twice. List each source once.")
        seen.add(source)
    return list(sources)


class InventoryInbound(Construct):
    """Attributes: ``rule``, ``consumer`` (PythonFunction, outside the VPC), ``dead_letter_queue`` (alarmed by
    ``Monitoring``)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        table: dynamodb.ITable,
        event_bus: events.IEventBus,
        sources: Sequence[str],
        service_name: str,
        metrics_namespace: str,
        defaults: FunctionDefaults,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dead_letter_queue: sqs.Queue = encrypted_queue(
            self, "Dlq", dead_letter_for="the inventory.updated consumer (rule target, invocations, rejected events)"
        )
        self.consumer: PythonFunction = dead_lettered_function(
            self,
            "Consumer",
            settings=InventoryUpdatesSettings(
                service_name=service_name,
                metrics_namespace=metrics_namespace,
                timeout_seconds=30,
                table_name=table.table_name,
                inventory_sources=tuple(sources),
                dead_letter_queue_url=self.dead_letter_queue.queue_url,
            ),  # fmt: skip
            description="Applies inventory.updated events from the allowed sources (once per eventId)",
            defaults=defaults,
            dead_letter_queue=self.dead_letter_queue,
            dead_letter_reason="Invoked asynchronously by an EventBridge rule: failed invocations go to the "
            "on-failure destination (EventInvokeConfig → the SQS queue Dlq), the successor of DeadLetterConfig that "
            "also records the error; events that can never be applied are dead-lettered to the same queue by the "
            "handler.",
        )
        function = self.consumer.function
        # Item-level actions on the table only: the listing's destination (GetItem), the receipt (PutItem) and the
        # month items (UpdateItem), in one TransactWriteItems (authorized per item action). No Query, Scan, Delete.
        iam.Grant.add_to_principal(
            grantee=self.consumer.role,
            actions=["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
            resource_arns=[table.table_arn],
        )
        if table.encryption_key is not None:  # regulated=True: the table's customer managed key
            table.encryption_key.grant_encrypt_decrypt(self.consumer.role)
        pattern = inventory_event_pattern(list(sources))
        self.rule = events.Rule(
            self,
            "Rule",
            event_bus=event_bus,
            description=f"{INVENTORY_UPDATED} from the allowed sources to the inventory consumer",
            event_pattern=events.EventPattern(source=pattern["source"], detail_type=pattern["detail-type"]),
            targets=[
                targets.LambdaFunction(
                    function,
                    dead_letter_queue=self.dead_letter_queue,
                    retry_attempts=8,
                    max_event_age=hours(24),
                )
            ],
        )
