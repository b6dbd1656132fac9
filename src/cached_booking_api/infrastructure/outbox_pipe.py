"""The transactional outbox's delivery: an EventBridge Pipe from the table stream to the bus, with a DLQ and an alarm.

The Pipe passes only new outbox items (``runtime.outbox.PIPE_FILTER_PATTERN``: booking.confirmed and
booking.cancelled) to the outbox publisher function, invoked synchronously with the batch; it puts each on the bus as
its own detail type with exactly its contract's fields (``runtime.handlers.outbox_publisher``, the code the local
mode runs). A Pipe input template could not do it: a Pipe has one template, a template has one fixed set of keys, and
the two events have different fields. The Pipe stays the stream's only reader besides the invalidation consumer.
"""

from __future__ import annotations

import json

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_pipes as pipes
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from ..runtime.outbox import EVENT_FIELDS, PIPE_FILTER_PATTERN
from ..runtime.settings import OutboxPublisherSettings
from .event_bus import encrypted_queue
from .functions import FunctionDefaults, PythonFunction, dead_lettered_function
from .nag import acknowledge


class Outbox(Construct):
    """Attributes: ``pipe`` (CfnPipe), ``role``, ``dead_letter_queue`` (alarmed by ``Monitoring``), ``publisher``
    (PythonFunction, outside the VPC: the Pipe's target)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        table: dynamodb.ITable,
        event_bus: events.IEventBus,
        event_source: str,
        service_name: str,
        metrics_namespace: str,
        defaults: FunctionDefaults,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dead_letter_queue: sqs.Queue = encrypted_queue(self, "Dlq", dead_letter_for="the outbox pipe")
        self.role = iam.Role(
            self, "Role", assumed_by=iam.ServicePrincipal("pipes.amazonaws.com"),
            description="Outbox pipe: read the table stream, invoke the outbox publisher",
        )  # fmt: skip
        stream_arn = table.table_stream_arn
        assert stream_arn is not None, "the table must have a stream"
        iam.Grant.add_to_principal(
            grantee=self.role,
            actions=["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"],
            resource_arns=[stream_arn],
        )
        # EventBridge Pipes lists dynamodb:ListStreams among the DynamoDB source's required permissions; the action
        # has no resource-level permissions (IAM service authorization reference), hence "*".
        iam.Grant.add_to_principal(grantee=self.role, actions=["dynamodb:ListStreams"], resource_arns=["*"])
        table_key = table.encryption_key
        if table_key is not None:  # a stream is encrypted with its table's key
            table_key.grant_decrypt(self.role)
        self.publisher: PythonFunction = dead_lettered_function(
            self,
            "Publisher",
            settings=OutboxPublisherSettings(
                service_name=service_name,
                metrics_namespace=metrics_namespace,
                timeout_seconds=30,
                event_bus_name=event_bus.event_bus_name,
                event_source=event_source,
            ),  # fmt: skip
            description="Puts outbox records on the bus, each as its detail type (the outbox Pipe's target)",
            defaults=defaults,
            dead_letter_queue=self.dead_letter_queue,
            dead_letter_reason="Invoked synchronously by the outbox Pipe (REQUEST_RESPONSE): a failed batch is "
            "retried by the Pipe and then sent to the Pipe's dead-letter queue (Dlq); there is no asynchronous event "
            "to dead-letter here.",
            on_failure=False,  # the Pipe's queue
        )
        iam.Grant.add_to_principal(
            grantee=self.publisher.role,
            actions=["events:PutEvents"],
            resource_arns=[event_bus.event_bus_arn],
            conditions={"StringEquals": {"events:source": event_source, "events:detail-type": list(EVENT_FIELDS)}},
        )
        publisher_arn = self.publisher.function.function_arn
        # The function itself only (grant_invoke would add "<arn>:*", every version and alias: a wildcard).
        iam.Grant.add_to_principal(grantee=self.role, actions=["lambda:InvokeFunction"], resource_arns=[publisher_arn])
        self.dead_letter_queue.grant_send_messages(self.role)
        self.pipe = pipes.CfnPipe(
            self,
            "Pipe",
            description="booking.confirmed and booking.cancelled: table stream (outbox items) to the publisher",
            role_arn=self.role.role_arn,
            source=stream_arn,
            source_parameters=pipes.CfnPipe.PipeSourceParametersProperty(
                dynamo_db_stream_parameters=pipes.CfnPipe.PipeSourceDynamoDBStreamParametersProperty(
                    starting_position="TRIM_HORIZON",
                    batch_size=10,
                    maximum_retry_attempts=10,
                    maximum_record_age_in_seconds=86_400,
                    dead_letter_config=pipes.CfnPipe.DeadLetterConfigProperty(arn=self.dead_letter_queue.queue_arn),
                ),
                filter_criteria=pipes.CfnPipe.FilterCriteriaProperty(
                    filters=[pipes.CfnPipe.FilterProperty(pattern=json.dumps(PIPE_FILTER_PATTERN))]
                ),
            ),
            target=publisher_arn,
            target_parameters=pipes.CfnPipe.PipeTargetParametersProperty(
                lambda_function_parameters=pipes.CfnPipe.PipeTargetLambdaFunctionParametersProperty(
                    invocation_type="REQUEST_RESPONSE"
                ),
            ),
        )
        self.pipe.node.add_dependency(self.role)
        acknowledge(
            self.role.node.find_child("DefaultPolicy"),
            "AwsSolutions-IAM5[Resource::*]",
            "dynamodb:ListStreams, which EventBridge Pipes requires for a DynamoDB stream source, supports no "
            "resource-level permissions; every other action is scoped to the stream, the publisher function and the "
            "DLQ.",
        )
