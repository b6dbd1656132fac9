"""The stream consumer that invalidates cached searches when inventory or listings change."""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from constructs import Construct

from ..runtime.invalidation_scopes import STREAM_FILTER_PATTERNS
from ..runtime.settings import InvalidationSettings
from .cache_cluster import Cache
from .durations import hours, seconds
from .event_bus import encrypted_queue
from .functions import FunctionDefaults, PythonFunction
from .nag import acknowledge
from .network import only_explicit_egress


class Invalidation(Construct):
    """Attributes: ``consumer`` (PythonFunction, in the VPC), ``security_group``, ``failure_queue``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        table: dynamodb.ITable,
        cache: Cache,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        settings: InvalidationSettings,
        defaults: FunctionDefaults,
        function_overrides: lambda_.FunctionOptions | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.security_group = ec2.SecurityGroup(
            self, "SecurityGroup", vpc=vpc, allow_all_outbound=False,
            description="Cache invalidation: egress to the cache only",
        )  # fmt: skip
        cache.allow_from(self.security_group)
        only_explicit_egress(self.security_group)  # its rules reference the cache's group: separate resources
        self.failure_queue = encrypted_queue(self, "FailureQueue", dead_letter_for="the cache invalidation consumer")
        self.consumer = PythonFunction(
            self,
            "Consumer",
            settings=settings,
            description=(
                "Writes changed availability through to the search cache; "
                "a listing change renews its destination's catalogue"
            ),
            defaults=defaults,
            memory_size=256,
            vpc=vpc,
            vpc_subnets=subnets,
            security_groups=[self.security_group],
            asynchronous=True,
            wildcard_actions_reason=" The stream event source also needs dynamodb:ListStreams, which has no "
            "resource-level permissions either.",
            overrides=function_overrides,
            overrides_prop="function_props['invalidation']",
        )
        cache.grant_connect(self.consumer.role)
        self.consumer.function.add_event_source(
            sources.DynamoEventSource(
                table,
                starting_position=lambda_.StartingPosition.LATEST,
                batch_size=100,
                max_batching_window=seconds(1),
                bisect_batch_on_error=True,
                retry_attempts=5,
                max_record_age=hours(1),
                on_failure=sources.SqsDlq(self.failure_queue),
                filters=[lambda_.FilterCriteria.filter(pattern) for pattern in STREAM_FILTER_PATTERNS],
            )
        )
        acknowledge(
            self.consumer.function,
            "Serverless-LambdaDLQ",
            "Invoked by a stream event source mapping: failed batches go to its on-failure destination "
            "(FailureQueue), which is where Lambda sends stream failures; DeadLetterConfig applies to async only.",
        )
