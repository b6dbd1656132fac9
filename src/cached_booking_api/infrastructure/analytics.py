"""The analytics sink: booking.* and search.completed events → Firehose → S3, partitioned by date for Athena.

The bucket is encrypted with SSE-S3: events carry no personal data, and SSE-S3 costs nothing per request, where a KMS
key would add a monthly key fee and per-request charges to every Firehose write and Athena read. Public access is
blocked, TLS is enforced, server access logs go to a log bucket, and objects move to cheaper storage as they age.
"""

from __future__ import annotations

from typing import Any

import jsii
from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .durations import days
from .event_bus import encrypted_queue
from .nag import acknowledge, acknowledge_each
from .regulated import acknowledge_regulated, regulated_profile

DATA_PREFIX = "events/"
ERROR_PREFIX = "errors/"


def secure_bucket(scope: Construct, construct_id: str, *, server_access_logs: bool = False, **props: Any) -> s3.Bucket:
    """A retained bucket with SSE-S3, all public access blocked and plain-HTTP requests denied.

    Under ``regulated=True``: versioned (noncurrent versions kept 30 days) and, unless it receives S3 server access
    logs (which accept SSE-S3 only), encrypted with the profile's customer managed key (S3 Bucket Key on, so KMS is
    called per bucket key, not per object).
    """
    profile = regulated_profile(scope)
    kms_encrypted = profile is not None and not server_access_logs
    bucket = s3.Bucket(
        scope,
        construct_id,
        encryption=s3.BucketEncryption.KMS if kms_encrypted else s3.BucketEncryption.S3_MANAGED,
        encryption_key=profile.data_key if kms_encrypted and profile else None,
        bucket_key_enabled=True if kms_encrypted else None,
        versioned=True if profile else None,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        removal_policy=RemovalPolicy.RETAIN,
        **props,
    )
    if profile is not None:
        bucket.add_lifecycle_rule(noncurrent_version_expiration=days(30))
        acknowledge_regulated(
            bucket, "S3BucketReplicationEnabled",
            "Events here carry no personal data and are a copy: the system of record is the DynamoDB table (point-"
            "in-time recovery, daily AWS Backup). Versioning keeps overwritten or deleted objects 30 days; a replica "
            "in a second region would double storage for data that can be rebuilt from the bus archive.",
        )  # fmt: skip
    if profile is not None and server_access_logs:
        acknowledge_regulated(
            bucket, "S3DefaultEncryptionKMS",
            "S3 server access log target: Amazon S3 user guide, enable-server-access-logging.html: 'You can use "
            "default bucket encryption on the target bucket only if you use AES256 (SSE-S3). Default encryption with "
            "AWS KMS keys (SSE-KMS) is not supported.' It is encrypted at rest with SSE-S3, versioned, and holds "
            "request metadata only.",
        )  # fmt: skip
    return bucket


class Analytics(Construct):
    """Attributes: ``bucket``, ``access_log_bucket`` (None for a bring-your-own bucket), ``delivery_stream``,
    ``role``, ``rule``, ``dead_letter_queue``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        event_bus: events.IEventBus,
        event_source: str,
        bucket: s3.IBucket | None,
        retention: Duration,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        self.access_log_bucket: s3.Bucket | None = None
        if bucket is None:
            self.access_log_bucket = secure_bucket(
                self,
                "AccessLogs",
                server_access_logs=True,
                object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,  # no ACLs: log delivery by bucket policy
                lifecycle_rules=[s3.LifecycleRule(expiration=days(90))],
            )
            acknowledge(
                self.access_log_bucket,
                "AwsSolutions-S1",
                "This is the server access log bucket of the analytics bucket; logging it would recurse.",
            )
            bucket = secure_bucket(
                self,
                "Bucket",
                lifecycle_rules=[
                    s3.LifecycleRule(
                        transitions=[
                            s3.Transition(storage_class=s3.StorageClass.INFREQUENT_ACCESS, transition_after=days(30)),
                            s3.Transition(
                                storage_class=s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
                                transition_after=days(90),
                            ),
                        ],  # fmt: skip
                        expiration=retention,
                        abort_incomplete_multipart_upload_after=days(7),
                    )
                ],
            )
            self._log_access(bucket, self.access_log_bucket)
        self.bucket = bucket

        self.log_group = logs.LogGroup(self, "DeliveryLogs", retention=log_retention,
                                       removal_policy=RemovalPolicy.DESTROY)  # fmt: skip
        log_stream = self.log_group.add_stream("S3Delivery")
        self.role = iam.Role(
            self, "Role", assumed_by=iam.ServicePrincipal("firehose.amazonaws.com"),
            description="Analytics delivery: write under the events/ and errors/ prefixes only",
        )  # fmt: skip
        # Grant.add_to_principal: one round trip to aws-cdk-lib each, where add_to_principal_policy takes four.
        bucket_arn = bucket.bucket_arn  # read once (each attribute read is a round trip to aws-cdk-lib)
        iam.Grant.add_to_principal(
            grantee=self.role,
            actions=["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
            resource_arns=[bucket_arn],
        )
        iam.Grant.add_to_principal(
            grantee=self.role,
            actions=["s3:PutObject", "s3:AbortMultipartUpload"],
            resource_arns=[bucket.arn_for_objects(f"{DATA_PREFIX}*"), bucket.arn_for_objects(f"{ERROR_PREFIX}*")],
        )
        iam.Grant.add_to_principal(
            grantee=self.role, actions=["logs:PutLogEvents"], resource_arns=[self.log_group.log_group_arn]
        )
        if isinstance(bucket, s3.Bucket) and bucket.encryption_key is not None:  # SSE-KMS: Firehose encrypts with it
            bucket.encryption_key.grant(self.role, "kms:GenerateDataKey", "kms:Decrypt")
        bucket_ref = None
        if self.access_log_bucket is not None:  # the bucket is created here: findings name its logical id
            stack = Stack.of(self)
            bucket_ref = f"<{stack.resolve(stack.get_logical_id(bucket.node.default_child))}.Arn>"  # type: ignore[arg-type]
        acknowledge_each(
            self.role.node.find_child("DefaultPolicy"),
            [
                (
                    f"AwsSolutions-IAM5[Resource::{bucket_ref}/{prefix}*]" if bucket_ref else "AwsSolutions-IAM5",
                    f"Firehose writes one object per buffer under the {prefix} prefix: object keys are not known in "
                    "advance, so the grant is the prefix.",
                )
                for prefix in (DATA_PREFIX, ERROR_PREFIX)
            ],
        )
        self.delivery_stream = firehose.CfnDeliveryStream(
            self,
            "DeliveryStream",
            delivery_stream_type="DirectPut",
            delivery_stream_encryption_configuration_input=firehose.CfnDeliveryStream.DeliveryStreamEncryptionConfigurationInputProperty(
                key_type="AWS_OWNED_CMK"
            ),
            extended_s3_destination_configuration=firehose.CfnDeliveryStream.ExtendedS3DestinationConfigurationProperty(
                bucket_arn=bucket_arn,
                role_arn=self.role.role_arn,
                prefix=f"{DATA_PREFIX}dt=!{{timestamp:yyyy-MM-dd}}/",
                error_output_prefix=f"{ERROR_PREFIX}!{{firehose:error-output-type}}/dt=!{{timestamp:yyyy-MM-dd}}/",
                buffering_hints=firehose.CfnDeliveryStream.BufferingHintsProperty(
                    interval_in_seconds=300, size_in_m_bs=5
                ),
                compression_format="GZIP",
                processing_configuration=firehose.CfnDeliveryStream.ProcessingConfigurationProperty(
                    enabled=True,
                    processors=[firehose.CfnDeliveryStream.ProcessorProperty(type="AppendDelimiterToRecord")],
                ),
                cloud_watch_logging_options=firehose.CfnDeliveryStream.CloudWatchLoggingOptionsProperty(
                    enabled=True,
                    log_group_name=self.log_group.log_group_name,
                    log_stream_name=log_stream.log_stream_name,
                ),
            ),  # fmt: skip
        )
        self.delivery_stream.node.add_dependency(self.role)

        self.dead_letter_queue: sqs.Queue = encrypted_queue(self, "Dlq", dead_letter_for="the analytics rule target")
        self.rule = events.Rule(
            self,
            "Rule",
            event_bus=event_bus,
            description="booking.* and search.completed to the analytics store",
            event_pattern=events.EventPattern(
                source=[event_source],
                detail_type=events.Match.any_of(
                    events.Match.exact_string("search.completed"), events.Match.prefix("booking.")
                ),
            ),  # fmt: skip
            targets=[FirehoseTarget(self, self.delivery_stream.attr_arn, self.dead_letter_queue)],  # type: ignore[list-item]
        )
        self.dead_letter_queue.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["sqs:SendMessage"],
                resources=[self.dead_letter_queue.queue_arn],
                conditions={"ArnEquals": {"aws:SourceArn": self.rule.rule_arn}},
            )
        )

    @staticmethod
    def _log_access(bucket: s3.Bucket, log_bucket: s3.Bucket) -> None:
        """Server access logs through a bucket policy (no legacy ACL, whatever the app's feature flags)."""
        prefix = "analytics/"
        cfn_bucket = bucket.node.default_child
        assert isinstance(cfn_bucket, s3.CfnBucket)
        cfn_bucket.logging_configuration = s3.CfnBucket.LoggingConfigurationProperty(
            destination_bucket_name=log_bucket.bucket_name, log_file_prefix=prefix
        )
        log_bucket.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("logging.s3.amazonaws.com")],
                actions=["s3:PutObject"],
                resources=[log_bucket.arn_for_objects(f"{prefix}*")],
                conditions={
                    "ArnLike": {"aws:SourceArn": bucket.bucket_arn},
                    "StringEquals": {"aws:SourceAccount": Stack.of(bucket).account},
                },
            )
        )


@jsii.implements(events.IRuleTarget)
class FirehoseTarget:
    """A rule target that puts events on a Firehose stream, with a retry policy and a dead-letter queue (the
    aws-events-targets Firehose classes take neither)."""

    def __init__(self, scope: Construct, stream_arn: str, dead_letter_queue: sqs.Queue) -> None:
        self.stream_arn = stream_arn
        self.dead_letter_queue = dead_letter_queue
        self.role = iam.Role(scope, "RuleTargetRole", assumed_by=iam.ServicePrincipal("events.amazonaws.com"))
        iam.Grant.add_to_principal(
            grantee=self.role, actions=["firehose:PutRecord", "firehose:PutRecordBatch"], resource_arns=[stream_arn]
        )

    def bind(self, _rule: events.IRule, _id: str | None = None) -> events.RuleTargetConfig:
        """The target's CloudFormation configuration."""
        return events.RuleTargetConfig(
            arn=self.stream_arn,
            role=self.role,
            dead_letter_config=events.CfnRule.DeadLetterConfigProperty(arn=self.dead_letter_queue.queue_arn),
            retry_policy=events.CfnRule.RetryPolicyProperty(
                maximum_retry_attempts=8, maximum_event_age_in_seconds=86_400
            ),
        )
