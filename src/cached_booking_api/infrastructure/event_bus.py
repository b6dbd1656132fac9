"""Event fan-out: the bus, its archive, the search.completed path (log subscription → forwarder → bus) and its rule."""

from __future__ import annotations

from collections.abc import Sequence

import jsii
from aws_cdk import Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_logs_destinations as log_destinations
from aws_cdk import aws_sqs as sqs
from constructs import Construct, IValidation

from ..runtime import config
from ..runtime.settings import ForwarderSettings
from .durations import days
from .functions import FunctionDefaults, PythonFunction, dead_lettered_function, timeout_from
from .nag import acknowledge_each
from .regulated import regulated_profile


def encrypted_queue(scope: Construct, construct_id: str, *, dead_letter_for: str) -> sqs.Queue:
    """An SQS dead-letter queue: SSE, TLS only, 14 days retention. Under ``regulated=True`` SSE uses the profile's
    customer managed key (senders granted through ``grant_send_messages`` get the key with it)."""
    profile = regulated_profile(scope)
    queue = sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.KMS if profile else sqs.QueueEncryption.SQS_MANAGED,
        encryption_master_key=profile.data_key if profile else None,
        enforce_ssl=True,
        retention_period=days(14),
    )
    reason = f"This queue is the dead-letter queue of {dead_letter_for}; a DLQ of a DLQ would only move the problem."
    acknowledge_each(queue, [("AwsSolutions-SQS3", reason), ("Serverless-SQSRedrivePolicy", reason)])
    return queue


class Events(Construct):
    """Attributes: ``event_bus``, ``archive`` (None for a bring-your-own bus), ``forwarder`` (PythonFunction),
    ``forwarder_dead_letter_queue``, ``search_log_subscription``, ``search_completed_rule`` (None without targets),
    ``bus_dead_letter_queue`` (the created bus's, under ``regulated=True``; else None)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        event_bus: events.IEventBus | None,
        event_source: str,
        archive_retention: Duration,
        search_log_group: logs.ILogGroup,
        search_event_targets: Sequence[events.IRuleTarget],
        service_prefix: str,
        metrics_namespace: str,
        defaults: FunctionDefaults,
        function_overrides: lambda_.FunctionOptions | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.archive: events.Archive | None = None
        self.bus_dead_letter_queue: sqs.Queue | None = None
        if event_bus is None:
            profile = regulated_profile(self)
            if profile is not None:  # EventBridge strongly recommends a DLQ for a bus under a customer managed key
                self.bus_dead_letter_queue = encrypted_queue(
                    self, "BusDlq", dead_letter_for="the event bus (events it could not encrypt or decrypt)"
                )
            bus = events.EventBus(
                self,
                "Bus",
                description="cached-booking-api business events",
                kms_key=profile.data_key if profile else None,
                dead_letter_queue=self.bus_dead_letter_queue,
            )
            self.archive = bus.archive(
                "Archive",
                description="Replayable copy of every cached-booking-api event",
                event_pattern=events.EventPattern(source=[event_source]),
                retention=archive_retention,
                kms_key=profile.data_key if profile else None,
            )
            if profile is not None:  # Bus.archive() drops kms_key (aws-cdk-lib 2.275): set it on the archive itself
                cfn_archive = self.archive.node.default_child
                assert isinstance(cfn_archive, events.CfnArchive)
                cfn_archive.kms_key_identifier = profile.data_key.key_arn
            event_bus = bus
        self.event_bus = event_bus

        self.forwarder_dead_letter_queue = encrypted_queue(self, "ForwarderDlq", dead_letter_for="the event forwarder")
        prop = "function_props['forwarder']"
        self.forwarder: PythonFunction = dead_lettered_function(
            self,
            "Forwarder",
            settings=ForwarderSettings(
                service_name=f"{service_prefix}-forwarder",
                metrics_namespace=metrics_namespace,
                timeout_seconds=timeout_from(function_overrides, ForwarderSettings.timeout_seconds, prop=prop),
                event_bus_name=event_bus.event_bus_name,
                event_source=event_source,
                dead_letter_queue_url=self.forwarder_dead_letter_queue.queue_url,
            ),
            description="Forwards search.completed log lines to EventBridge",
            defaults=defaults,
            dead_letter_queue=self.forwarder_dead_letter_queue,
            dead_letter_reason="Failed asynchronous invocations go to the on-failure destination (EventInvokeConfig → "
            "the SQS queue ForwarderDlq), the successor of DeadLetterConfig that also records the error; rejected "
            "events are dead-lettered to the same queue by the handler.",
            overrides=function_overrides,
            overrides_prop=prop,
        )
        function = self.forwarder.function
        iam.Grant.add_to_principal(
            grantee=self.forwarder.role,
            actions=["events:PutEvents"],
            resource_arns=[event_bus.event_bus_arn],
            conditions={"StringEquals": {"events:source": event_source}},
        )
        self.search_log_subscription = logs.SubscriptionFilter(
            self,
            "SearchCompletedSubscription",
            log_group=search_log_group,
            destination=log_destinations.LambdaDestination(function),
            filter_pattern=logs.FilterPattern.literal(config.SEARCH_COMPLETED_FILTER_PATTERN),
        )
        self.event_source = event_source
        self.search_completed_rule = self.add_rule(
            "SearchCompletedRule", "search.completed to the configured targets", "search.completed",
            search_event_targets,
        )  # fmt: skip

    @property
    def forwarder_function(self) -> lambda_.Function:
        """The forwarder's Lambda function."""
        return self.forwarder.function

    def add_rule(
        self,
        construct_id: str,
        description: str,
        detail_type: str | list[str],
        targets: Sequence[events.IRuleTarget],
    ) -> events.Rule | None:
        """A rule for events of this source with a detail type (string or ``events.Match``), or None without
        targets: a rule without targets would only be a place for events to vanish."""
        if not targets:
            return None
        rule = events.Rule(
            self,
            construct_id,
            event_bus=self.event_bus,
            description=description,
            event_pattern=events.EventPattern(
                source=[self.event_source], detail_type=[detail_type] if isinstance(detail_type, str) else detail_type
            ),
            targets=list(targets),
        )
        rule.node.add_validation(TargetsAreReliable(rule, prop=_prop_name(construct_id)))
        return rule


def _prop_name(construct_id: str) -> str:
    return "booking_event_targets" if construct_id.startswith("Booking") else "search_event_targets"


@jsii.implements(IValidation)
class TargetsAreReliable:
    """Synth-time check that every target of a rule has a dead-letter queue and a retry policy (targets are bound
    lazily, so this cannot be checked when the props are given)."""

    def __init__(self, rule: events.Rule, *, prop: str) -> None:
        self.rule = rule
        self.prop = prop

    def validate(self) -> list[str]:
        """One message per target that lacks a dead-letter queue or a retry policy."""
        cfn_rule = self.rule.node.default_child
        assert isinstance(cfn_rule, events.CfnRule)
        problems = []
        for index, target in enumerate(Stack.of(self.rule).resolve(cfn_rule.targets) or []):
            if "deadLetterConfig" not in target or "retryPolicy" not in target:
                problems.append(
                    f"{self.prop}[{index}]: every target needs a dead-letter queue and a retry policy, or failed "
                    "deliveries are lost. E.g. targets.SqsQueue(queue, dead_letter_queue=dlq, retry_attempts=3)."
                )
        return problems
