"""The DynamoDB table, with the key schema and indexes of ``runtime/schema.py``."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct

from ..runtime import schema
from .regulated import regulated_profile


class Data(Construct):
    """On-demand table with point-in-time recovery, AWS-managed encryption, a NEW_AND_OLD_IMAGES stream and TTL; and
    the idempotency table (booking records of Powertools idempotency, the only place the booking role may delete).

    Attributes: ``table``, ``idempotency_table``.
    """

    def __init__(self, scope: Construct, construct_id: str, *, removal_policy: RemovalPolicy) -> None:
        super().__init__(scope, construct_id)
        string = dynamodb.AttributeType.STRING
        # regulated=True: the profile's customer managed key (the stream and the backups are encrypted with it too).
        profile = regulated_profile(self)
        encryption = dynamodb.TableEncryption.CUSTOMER_MANAGED if profile else dynamodb.TableEncryption.AWS_MANAGED
        key = profile.data_key if profile else None
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name=schema.PARTITION_KEY, type=string),
            sort_key=dynamodb.Attribute(name=schema.SORT_KEY, type=string),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=encryption,
            encryption_key=key,
            stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
            time_to_live_attribute=schema.TTL_ATTRIBUTE,
            removal_policy=removal_policy,
            deletion_protection=removal_policy == RemovalPolicy.RETAIN,
        )
        self.idempotency_table = dynamodb.Table(
            self,
            "IdempotencyTable",
            partition_key=dynamodb.Attribute(name=schema.IDEMPOTENCY_PARTITION_KEY, type=string),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=encryption,
            encryption_key=key,
            time_to_live_attribute=schema.IDEMPOTENCY_TTL_ATTRIBUTE,
            removal_policy=RemovalPolicy.DESTROY,  # records live 24 h; nothing to keep
        )
        for index in schema.GLOBAL_SECONDARY_INDEXES:
            self.table.add_global_secondary_index(
                index_name=index.name,
                partition_key=dynamodb.Attribute(name=index.partition_key, type=string),
                sort_key=dynamodb.Attribute(name=index.sort_key, type=string),
                projection_type=dynamodb.ProjectionType.ALL
                if index.projected_attributes is None
                else dynamodb.ProjectionType.INCLUDE,
                non_key_attributes=None if index.projected_attributes is None else list(index.projected_attributes),
            )

    def grant_search_reads(self, grantee: iam.IGrantable) -> iam.Grant:
        """Query/GetItem/BatchGetItem on the table and its indexes: nothing else (and decrypting with the table's
        customer managed key, when it has one)."""
        if self.table.encryption_key is not None:
            self.table.encryption_key.grant_decrypt(grantee)
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["dynamodb:Query", "dynamodb:GetItem", "dynamodb:BatchGetItem"],
            resource_arns=[
                self.table.table_arn,
                *(f"{self.table.table_arn}/index/{index.name}" for index in schema.GLOBAL_SECONDARY_INDEXES),
            ],
        )

    def grant_booking_writes(self, grantee: iam.IGrantable) -> None:
        """What the booking transaction needs on the table (item-level only: no Scan, no DeleteItem, no index), and
        the idempotency records' actions on the idempotency table (and the tables' customer managed key, when they
        have one)."""
        keys = [t.encryption_key for t in (self.table, self.idempotency_table) if t.encryption_key is not None]
        for key in dict.fromkeys(keys):  # one grant per key (both tables share the regulated profile's)
            key.grant_encrypt_decrypt(grantee)
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=[
                "dynamodb:GetItem",
                "dynamodb:BatchGetItem",  # sold-out check after contention
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:ConditionCheckItem",
            ],
            resource_arns=[self.table.table_arn],
        )
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
            resource_arns=[self.idempotency_table.table_arn],
        )
