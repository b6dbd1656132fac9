"""The booking-platform example: a CachedSearchApi with alarms to an SNS topic and search events to a partner queue.

Synthesize with ``cdk synth`` (cdk.json here) or ``python examples/booking_platform/app.py``.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cached_booking_api import CachedSearchApi, CacheOptions, ThrottleOptions


class BookingPlatformStack(cdk.Stack):
    """The stack of the example. Variants: ``cache`` and ``vpc`` props of ``CachedSearchApi``."""

    def __init__(
        self, scope: Construct, construct_id: str, *, cache: CacheOptions | None = None, **kwargs: object
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        topic_key = kms.Key(self, "AlarmTopicKey", enable_key_rotation=True, description="Alarm topic encryption")
        alarm_topic = sns.Topic(self, "AlarmTopic", master_key=topic_key, enforce_ssl=True)
        partner_dlq = sqs.Queue(self, "PartnerDlq", encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True)
        partner_queue = sqs.Queue(
            self,
            "PartnerQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            dead_letter_queue=sqs.DeadLetterQueue(queue=partner_dlq, max_receive_count=5),
        )
        for rule in ("AwsSolutions::AwsSolutions-SQS3", "Serverless::Serverless-SQSRedrivePolicy"):
            cdk.Validations.of(partner_dlq).acknowledge(
                cdk.Acknowledgment(id=rule, reason="This queue is the partner queue's dead-letter queue.")
            )
        self.api = CachedSearchApi(
            self,
            "BookingApi",
            cache=cache or CacheOptions(),
            throttle=ThrottleOptions(rate_limit=100, burst_limit=200, quota_limit=1_000_000, quota_period="MONTH"),
            alarm_topic=alarm_topic,
            search_event_targets=[targets.SqsQueue(partner_queue, dead_letter_queue=partner_dlq, retry_attempts=3)],
            booking_event_targets=[targets.SqsQueue(partner_queue, dead_letter_queue=partner_dlq, retry_attempts=3)],
            cors_allowed_origins=["https://booking.example.com"],
            # capacity changes pushed by a property-management system and a channel manager (inventory.updated)
            inventory_sources=["pms.example", "channel-manager.example"],
        )
        cdk.CfnOutput(self, "ApiUrl", value=self.api.url)
        cdk.CfnOutput(self, "ApiKeyId", value=self.api.api_key.key_id)
        cdk.CfnOutput(self, "TableName", value=self.api.table.table_name)


def build_app(app: cdk.App | None = None) -> cdk.App:
    """The example app (tests pass their own ``App`` to skip bundling)."""
    app = app or cdk.App()
    BookingPlatformStack(app, "BookingPlatform")
    return app


if __name__ == "__main__":
    build_app().synth()
