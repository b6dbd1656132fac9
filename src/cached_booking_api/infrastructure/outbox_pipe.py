"""The transactional outbox's delivery: an EventBridge Pipe from the table stream to the bus, with a DLQ and an alarm.

The Pipe passes only new outbox items (``runtime.outbox.PIPE_FILTER_PATTERN``) and shapes each into the
booking.confirmed detail (``runtime.outbox.pipe_input_template()``): the same definitions the local mode runs.
"""

from __future__ import annotations

import json

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_pipes as pipes
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from ..runtime.outbox import BOOKING_CONFIRMED, PIPE_FILTER_PATTERN, pipe_input_template
from .event_bus import encrypted_queue
from .nag import acknowledge


class Outbox(Construct):
    """Attributes: ``pipe`` (CfnPipe), ``role``, ``dead_letter_queue`` (alarmed by ``Monitoring``)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        table: dynamodb.ITable,
        event_bus: events.IEventBus,
        event_source: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dead_letter_queue: sqs.Queue = encrypted_queue(self, "Dlq", dead_letter_for="the outbox pipe")
        self.role = iam.Role(
            self, "Role", assumed_by=iam.ServicePrincipal("pipes.amazonaws.com"),
            description="Outbox pipe: read the table stream, put booking events on the bus",
        )  # fmt: skip
        stream_arn = table.table_stream_arn
        assert stream_arn is not None, "the table must have a stream"
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"],
                resources=[stream_arn],
            )
        )
        # EventBridge Pipes lists dynamodb:ListStreams among the DynamoDB source's required permissions; the action
        # has no resource-level permissions (IAM service authorization reference), hence "*".
        self.role.add_to_principal_policy(iam.PolicyStatement(actions=["dynamodb:ListStreams"], resources=["*"]))
        if table.encryption_key is not None:  # a stream is encrypted with its table's key
            table.encryption_key.grant_decrypt(self.role)
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["events:PutEvents"],
                resources=[event_bus.event_bus_arn],
            )
        )
        self.dead_letter_queue.grant_send_messages(self.role)
        self.pipe = pipes.CfnPipe(
            self,
            "Pipe",
            description="booking.confirmed: table stream (outbox items) to the event bus",
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
            target=event_bus.event_bus_arn,
            target_parameters=pipes.CfnPipe.PipeTargetParametersProperty(
                input_template=pipe_input_template(),
                event_bridge_event_bus_parameters=pipes.CfnPipe.PipeTargetEventBridgeEventBusParametersProperty(
                    detail_type=BOOKING_CONFIRMED, source=event_source
                ),
            ),
        )
        self.pipe.node.add_dependency(self.role)
        acknowledge(
            self.role.node.find_child("DefaultPolicy"),
            "AwsSolutions-IAM5[Resource::*]",
            "dynamodb:ListStreams, which EventBridge Pipes requires for a DynamoDB stream source, supports no "
            "resource-level permissions; every other action is scoped to the stream, the bus and the DLQ.",
        )
