"""The DynamoDB table, with the key schema and indexes of ``runtime/schema.py``."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from aws_cdk import Annotations, RemovalPolicy, Stack, Token
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct

from ..runtime import schema
from .regulated import regulated_profile
from .tokens import unresolved

#: ``dynamodb.Table`` props the construct decides (the runtime's key schema, the stream the outbox pipe and the cache
#: invalidation read, the TTL attribute outbox items expire by); ``table_props`` may repeat them only with the same
#: value. Everything else (billing, encryption key, table class, contributor insights, ...) it may override.
OWNED_TABLE_PROPS = ("partition_key", "sort_key", "stream", "time_to_live_attribute")


class Data(Construct):
    """On-demand table with point-in-time recovery, AWS-managed encryption, a NEW_AND_OLD_IMAGES stream and TTL (or
    the ``table`` you bring); and the idempotency table (booking records of Powertools idempotency, the only place
    the booking role may delete).

    Attributes: ``table`` (ITable), ``idempotency_table``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        removal_policy: RemovalPolicy | None,
        table: dynamodb.ITable | None = None,
        table_props: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        string = dynamodb.AttributeType.STRING
        # regulated=True: the profile's customer managed key (the stream and the backups are encrypted with it too).
        profile = regulated_profile(self)
        encryption = dynamodb.TableEncryption.CUSTOMER_MANAGED if profile else dynamodb.TableEncryption.AWS_MANAGED
        key = profile.data_key if profile else None
        if table is not None:
            if table_props or removal_policy is not None:
                prop = "table_props" if table_props else "table_removal_policy"
                raise ValueError(f"table, {prop}: {prop} applies to the table the construct creates. Drop {prop}, or "
                                 "drop table to let the construct create one.")  # fmt: skip
            validate_table(table)
            self.table: dynamodb.ITable = table
        else:
            removal_policy = RemovalPolicy.RETAIN if removal_policy is None else removal_policy
            needed: dict[str, Any] = {
                "partition_key": dynamodb.Attribute(name=schema.PARTITION_KEY, type=string),
                "sort_key": dynamodb.Attribute(name=schema.SORT_KEY, type=string),
                "stream": dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
                "time_to_live_attribute": schema.TTL_ATTRIBUTE,
            }
            props: dict[str, Any] = {
                "billing_mode": dynamodb.BillingMode.PAY_PER_REQUEST,
                "point_in_time_recovery_specification": dynamodb.PointInTimeRecoverySpecification(
                    point_in_time_recovery_enabled=True
                ),
                "encryption": encryption,
                "encryption_key": key,
                "removal_policy": removal_policy,
                "deletion_protection": removal_policy == RemovalPolicy.RETAIN,
            }
            allowed = set(inspect.signature(dynamodb.Table.__init__).parameters) - {"self", "scope", "id"}
            for name, value in (table_props or {}).items():
                if name not in allowed:
                    raise ValueError(f"table_props: {name!r} is not a dynamodb.Table prop. Use the snake_case "
                                     "names of dynamodb.Table's keyword arguments (e.g. billing_mode).")  # fmt: skip
                if name in needed and value != needed[name]:
                    raise ValueError(f"table_props.{name}: the construct needs {needed[name]!r} (the runtime's key "
                                     "schema, stream and TTL attribute, runtime/schema.py). Remove it.")  # fmt: skip
                if name == "encryption_key" and "encryption" not in (table_props or {}):
                    props["encryption"] = dynamodb.TableEncryption.CUSTOMER_MANAGED
                props[name] = value
            created = dynamodb.Table(self, "Table", **needed, **props)
            for index in schema.GLOBAL_SECONDARY_INDEXES:
                created.add_global_secondary_index(
                    index_name=index.name,
                    partition_key=dynamodb.Attribute(name=index.partition_key, type=string),
                    sort_key=dynamodb.Attribute(name=index.sort_key, type=string),
                    projection_type=dynamodb.ProjectionType.ALL
                    if index.projected_attributes is None
                    else dynamodb.ProjectionType.INCLUDE,
                    non_key_attributes=None if index.projected_attributes is None else list(index.projected_attributes),
                )
            self.table = created
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

    def grant_search_reads(self, grantee: iam.IGrantable) -> iam.Grant:
        """Query/GetItem/BatchGetItem on the table and its indexes: nothing else (and decrypting with the table's
        customer managed key, when it has one)."""
        key = self.table.encryption_key
        if key is not None:
            key.grant_decrypt(grantee)
        table_arn = self.table.table_arn  # read once: each attribute read is a round trip to aws-cdk-lib
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["dynamodb:Query", "dynamodb:GetItem", "dynamodb:BatchGetItem"],
            resource_arns=[
                table_arn,
                *(f"{table_arn}/index/{index.name}" for index in schema.GLOBAL_SECONDARY_INDEXES),
            ],
        )

    def grant_booking_writes(self, grantee: iam.IGrantable) -> None:
        """What the booking transaction needs on the table (item-level only: no Scan, no DeleteItem, no index), and
        the idempotency records' actions on the idempotency table (and the tables' customer managed key, when they
        have one)."""
        keys = [key for key in (t.encryption_key for t in (self.table, self.idempotency_table)) if key is not None]
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


def validate_table(table: dynamodb.ITable) -> None:
    """Check a table given as ``table=`` against what the runtime needs; raise ``ValueError`` naming what is missing.

    Every table needs its stream ARN (the outbox pipe and the cache invalidation read the stream). A table defined in
    this app (``dynamodb.Table``) is checked in full: key schema, NEW_AND_OLD_IMAGES stream, the indexes of
    ``runtime/schema.py`` and the TTL attribute; values that are unresolved tokens are skipped, as aws-cdk-lib does.
    An imported table (``Table.from_table_attributes``) does not expose its indexes: a warning names the ones it must
    have.
    """
    indexes = ", ".join(
        f"{index.name} ({index.partition_key}, {index.sort_key})" for index in schema.GLOBAL_SECONDARY_INDEXES
    )
    if table.table_stream_arn is None:
        raise ValueError(
            "table: has no stream. The outbox pipe and the cache invalidation read its NEW_AND_OLD_IMAGES stream: "
            "import it with dynamodb.Table.from_table_attributes(..., table_stream_arn=...), or enable the stream "
            "(stream=StreamViewType.NEW_AND_OLD_IMAGES)."
        )
    cfn = table.node.default_child
    if not isinstance(cfn, dynamodb.CfnTable):
        Annotations.of(table).add_warning_v2(
            "cached-booking-api:imported-table",
            f"table: the indexes of a table not defined as dynamodb.Table in this app (imported, or a TableV2) are not "
            f"checked at synth. It must have the key schema "
            f"{schema.PARTITION_KEY}/{schema.SORT_KEY} (strings), a NEW_AND_OLD_IMAGES stream, TTL on "
            f"{schema.TTL_ATTRIBUTE} and the global secondary indexes {indexes} (runtime/schema.py).",
        )
        return
    resolve = Stack.of(table).resolve
    problems: list[str] = []
    keys = resolve(cfn.key_schema)
    if not Token.is_unresolved(cfn.key_schema) and isinstance(keys, list):
        found = {key["keyType"]: key["attributeName"] for key in keys}
        if found != {"HASH": schema.PARTITION_KEY, "RANGE": schema.SORT_KEY}:
            problems.append(f"key schema {schema.PARTITION_KEY} (partition), {schema.SORT_KEY} (sort)")
    stream = resolve(cfn.stream_specification)
    view = stream.get("streamViewType", "") if isinstance(stream, dict) else ""
    if not unresolved(view) and view != "NEW_AND_OLD_IMAGES":
        problems.append("stream=StreamViewType.NEW_AND_OLD_IMAGES")
    declared = {index["indexName"]: index for index in resolve(cfn.global_secondary_indexes) or []}
    for index in schema.GLOBAL_SECONDARY_INDEXES:
        found_index = declared.get(index.name)
        keys_of = {key["keyType"]: key["attributeName"] for key in (found_index or {}).get("keySchema", [])}
        if keys_of != {"HASH": index.partition_key, "RANGE": index.sort_key}:
            problems.append(f"global secondary index {index.name} ({index.partition_key}, {index.sort_key})")
    ttl = resolve(cfn.time_to_live_specification)
    if not (isinstance(ttl, dict) and ttl.get("attributeName") == schema.TTL_ATTRIBUTE and ttl.get("enabled")):
        problems.append(f"time_to_live_attribute={schema.TTL_ATTRIBUTE!r}")
    if problems:
        raise ValueError(f"table: {table.node.path} lacks what the runtime needs: {'; '.join(problems)} "
                         "(runtime/schema.py). Add them, or let the construct create the table.")  # fmt: skip
