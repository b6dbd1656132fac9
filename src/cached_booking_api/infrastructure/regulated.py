"""The regulated profile (``CachedSearchApi(regulated=True)``): what auditors of payment and health data ask for.

One construct, ``RegulatedProfile``, created first inside ``CachedSearchApi`` under the id ``Regulated``. Builders
that create a resource of a kind the profile covers ask ``regulated_profile(scope)`` and build it protected (queues,
the table, the bus, the analytics bucket); once everything exists, ``apply_profile`` walks the whole construct and
puts every log group under the logs key and reserves concurrency for every function, so a function or log group
added later (by this library or by a subclass) gets the same treatment without being listed anywhere.

- Two customer managed KMS keys, rotated yearly: ``logs_key`` (CloudWatch Logs only: its key policy admits the
  regional logs service principal for this account's log groups) and ``data_key`` (tables and their streams,
  dead-letter queues, the bus and its archive, the analytics bucket, the backup vault).
- The table and the idempotency table in an AWS Backup plan (daily, kept 35 days) in a vault encrypted with
  ``data_key``.
- Reserved concurrency on every function (``RESERVED_CONCURRENCY``; a function not listed gets
  ``DEFAULT_RESERVED_CONCURRENCY``).
- cdk-nag PCI DSS 3.2.1, NIST 800-53 rev 5 and HIPAA Security: the findings that remain are acknowledged one rule
  on one resource at a time, with the reason (``acknowledge_regulated``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import jsii
from aws_cdk import Aws, IAspect, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_elasticache as elasticache
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_pipes as pipes
from constructs import Construct, IConstruct

from .nag import acknowledge, acknowledge_each

if TYPE_CHECKING:  # imported by add_tables: a synth without regulated=True does not load the module
    from aws_cdk import aws_backup as backup

#: The construct id of the profile inside ``CachedSearchApi`` (``regulated_profile`` looks for it).
PROFILE_ID = "Regulated"

#: The cdk-nag packs the regulated profile is checked against (their rule-id prefixes).
REGULATED_PACKS = ("PCI.DSS.321", "NIST.800.53.R5", "HIPAA.Security")

#: Reserved concurrency per function, by the path of its ``PythonFunction`` under the construct. Search: 100 (the
#: default stage limit, 500 rps, at ~0.1 s per answer needs ~50; twice that for cold starts and misses); bookings: 25
#: (50 rps at ~0.3 s = 15, plus headroom); the forwarder: 5 (one invocation per log batch); the stream consumer: 10 (one
#: concurrent batch per stream shard); the outbox publisher: 5 (the outbox Pipe invokes it once per stream shard at a
#: time); the inventory consumer (with ``inventory_sources``): 10.
RESERVED_CONCURRENCY = {"Search": 100, "Booking": 25, "Events/Forwarder": 5, "Invalidation/Consumer": 10,
                        "Outbox/Publisher": 5, "InventoryEvents/Consumer": 10}  # fmt: skip

#: Reserved concurrency of a function the table above does not name.
DEFAULT_RESERVED_CONCURRENCY = 10


class RegulatedProfile(Construct):
    """Keys and backups of the regulated profile. Attributes: ``logs_key``, ``data_key``, ``backup_vault``,
    ``backup_plan`` (the last two exist once ``add_tables`` ran)."""

    def __init__(self, scope: Construct, construct_id: str = PROFILE_ID) -> None:
        super().__init__(scope, construct_id)
        _PROFILES[id(scope)] = (scope, self)
        self.logs_key = kms.Key(
            self,
            "LogsKey",
            description="cached-booking-api: CloudWatch Logs of this API (regulated profile)",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,  # deleting it would make every encrypted log unreadable
        )
        # CloudWatch Logs user guide, encrypt-log-data-kms: the key policy gives the regional service principal the
        # key, for log groups of this account only (encryption context aws:logs:arn). The Aws.* tokens are read here,
        # not at import: a synth without regulated=True asks aws-cdk-lib nothing for this module.
        log_groups_of_this_account = f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:*"
        self.logs_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchLogsOfThisAccount",
                principals=[iam.ServicePrincipal(f"logs.{Aws.REGION}.{Aws.URL_SUFFIX}")],
                actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                resources=["*"],
                conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn": log_groups_of_this_account}},
            )
        )
        self.data_key = kms.Key(
            self,
            "DataKey",
            description="cached-booking-api: tables, queues, event bus, analytics bucket, backups (regulated profile)",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,  # the table, its backups and the archive stay readable
        )
        # EventBridge delivers failed rule targets to encrypted dead-letter queues and encrypts the bus and archive
        # with this key (SQS and EventBridge user guides: the service principal needs kms:GenerateDataKey* and
        # kms:Decrypt in the key policy), for this account only.
        self.data_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="EventBridgeOfThisAccount",
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["kms:GenerateDataKey*", "kms:Decrypt", "kms:ReEncrypt*", "kms:DescribeKey"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            )
        )
        self.backup_vault: backup.BackupVault | None = None
        self.backup_plan: backup.BackupPlan | None = None

    def add_tables(self, tables: Iterable[dynamodb.ITable]) -> None:
        """Put the tables in a daily AWS Backup plan (35 days) with a vault encrypted by ``data_key`` (no plan when
        there is no table to back up)."""
        tables = list(tables)
        if not tables:
            return
        from aws_cdk import aws_backup as backup

        self.backup_vault = backup.BackupVault(
            self, "BackupVault", encryption_key=self.data_key, removal_policy=RemovalPolicy.RETAIN
        )
        self.backup_plan = backup.BackupPlan(
            self,
            "BackupPlan",
            backup_vault=self.backup_vault,
            backup_plan_rules=[backup.BackupPlanRule.daily()],  # 05:00 UTC every day, each kept 35 days
        )
        selection = self.backup_plan.add_selection(
            "Tables", resources=[backup.BackupResource.from_dynamo_db_table(table) for table in tables]
        )
        self.data_key.grant_decrypt(selection)
        role = selection.node.try_find_child("Role")
        if role is not None:
            acknowledge(
                role,
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AWSBackupServiceRolePolicyForBackup]",
                "The role AWS Backup assumes to back the tables up: AWS Backup developer guide documents this AWS "
                "managed policy for backup jobs and keeps it current as services are added.",
            )


#: Every profile of this process and the construct it protects (its parent), by ``id()`` of that construct (held here,
#: so that no other object can take its id).
_PROFILES: dict[int, tuple[IConstruct, RegulatedProfile]] = {}


def regulated_profile(scope: IConstruct) -> RegulatedProfile | None:
    """The profile of the ``CachedSearchApi`` that ``scope`` belongs to, or None when it is not regulated.

    Asked by every builder of a protected resource: without any profile in the process it answers None at once, and
    otherwise with one look at ``scope``'s ancestors (each call into aws-cdk-lib is a round trip to its Node process).
    """
    if not _PROFILES:
        return None
    for ancestor in reversed(scope.node.scopes):
        owner, profile = _PROFILES.get(id(ancestor), (None, None))
        if owner is ancestor:
            return profile
    return None


@jsii.implements(IAspect)
class RegulatedAspect:
    """Applies the profile when the app is synthesized, to everything under ``root`` by then: a function or log
    group added after the construct was built (by a subclass, or by your code under it) is covered too."""

    def __init__(self, root: Construct, profile: RegulatedProfile) -> None:
        self.root = root
        self.profile = profile

    def visit(self, node: IConstruct) -> None:
        """Acts once, on ``root`` (aspects visit a scope before its children)."""
        if node is self.root:
            apply_profile(self.root, self.profile)
            acknowledge_regulated_findings(self.root)


def apply_profile(root: Construct, profile: RegulatedProfile, reserved: dict[str, int] | None = None) -> None:
    """Every log group under ``root`` encrypted with ``logs_key``; every function under ``root`` with reserved
    concurrency (``reserved`` by the path of its PythonFunction under ``root``, else ``RESERVED_CONCURRENCY``, else
    the default); a value already set is kept."""
    table = {**RESERVED_CONCURRENCY, **(reserved or {})}
    for node in root.node.find_all():
        if isinstance(node, logs.CfnLogGroup) and node.kms_key_id is None:
            node.kms_key_id = profile.logs_key.key_arn
        elif isinstance(node, lambda_.CfnFunction) and node.reserved_concurrent_executions is None:
            node.reserved_concurrent_executions = table.get(_owner_path(root, node), DEFAULT_RESERVED_CONCURRENCY)


def _owner_path(root: IConstruct, function: lambda_.CfnFunction) -> str:
    """The path, under ``root``, of the construct that owns a function (``Events/Forwarder`` for
    ``<root>/Events/Forwarder/Function/Resource``)."""
    owner = function.node.scope.node.scope if function.node.scope is not None else None
    path = owner.node.path if owner is not None else function.node.path
    return path.removeprefix(root.node.path + "/")


def acknowledge_regulated(scope: IConstruct, rule: str, reason: str, packs: Iterable[str] = REGULATED_PACKS) -> None:
    """Acknowledge one rule (its name without the pack prefix, e.g. ``LambdaDLQ``) on one resource, in each of the
    regulated packs that has it."""
    acknowledge_each(scope, [(f"{pack}-{rule}", reason) for pack in packs])


#: The IAM user guide's own case for inline policies (access_policies_managed-vs-inline.html), quoted in each
#: acknowledgment of IAMNoInlinePolicy.
INLINE_POLICY_REASON = (
    "Least privilege per role: this policy belongs to one role created for one function or service of this "
    "construct and grants only what that role's code calls, on this construct's resources. IAM user guide, Inline "
    "policies: 'Inline policies maintain a strict one-to-one relationship between a policy and an identity. They are "
    "deleted when you delete the identity.' A managed policy would make these permissions attachable to other "
    "principals, which is what the control guards against."
)


def acknowledge_key_grants(root: IConstruct, keys: Iterable[kms.IKey]) -> None:
    """AwsSolutions-IAM5 on the action wildcards of CDK's KMS grants (``kms:GenerateDataKey*``, ``kms:ReEncrypt*``)
    in a policy whose every such statement names only the profile's keys."""
    stack = Stack.of(root)
    cfn_keys = [key.node.default_child for key in keys]
    key_ids = {stack.resolve(cfn.logical_id) for cfn in cfn_keys if isinstance(cfn, kms.CfnKey)}
    for node in root.node.find_all():
        if not isinstance(node, iam.CfnPolicy):
            continue
        found: set[str] = set()
        only_profile_keys = True
        for statement in stack.resolve(node.policy_document).get("Statement", []):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            wildcards = {a for a in actions if a.startswith("kms:") and a.endswith("*")}
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            if wildcards and not all(isinstance(r, dict) and r.get("Fn::GetAtt", [None])[0] in key_ids
                                     for r in resources):  # fmt: skip
                only_profile_keys = False  # a wildcard on some other key: leave the finding for a human
            found |= wildcards
        for action in sorted(found) if only_profile_keys else ():
            acknowledge(
                node,
                f"AwsSolutions-IAM5[Action::{action}]",
                f"CDK's grant for data encrypted with the regulated profile's customer managed key ({action} covers "
                "the GenerateDataKey/ReEncrypt variants the service picks): the statement names that one key ARN only.",
            )


def acknowledge_inline_policies(root: IConstruct) -> None:
    """IAMNoInlinePolicy: one acknowledgment per inline policy under ``root``, naming the role it belongs to."""
    stack = Stack.of(root)
    for node in root.node.find_all():
        if isinstance(node, iam.CfnPolicy):
            owner = node.node.scope.node.scope if node.node.scope is not None else None
            role = owner.node.path if owner is not None else node.node.path
            reason = f"Inline policy of {role} in stack {stack.stack_name}. {INLINE_POLICY_REASON}"
            acknowledge_regulated(node, "IAMNoInlinePolicy", reason)


#: Why a function of this construct runs outside the VPC, by the path of its ``PythonFunction`` under the construct
#: (LambdaInsideVPC). A
#: function outside the VPC that is not listed here keeps its finding: placing it is a decision to write down.
OUTSIDE_VPC_REASONS = {
    "Booking": (
        "The booking function reaches only DynamoDB (TLS, SigV4, its role's item-level actions on two tables) and "
        "never the cache, so no resource of the VPC is on its path. A Lambda function has no inbound network path "
        "either way; attaching it to the VPC would add ENIs and a security group without narrowing what it can reach "
        "beyond what its role already allows."
    ),
    "Events/Forwarder": (
        "The forwarder calls only EventBridge PutEvents and SQS SendMessage on this construct's bus and dead-letter "
        "queue (IAM-scoped). The VPC's subnets are private and isolated with no NAT: inside them it would need "
        "EventBridge and SQS interface endpoints (about $7 a month each per AZ) to do the same calls."
    ),
    "Outbox/Publisher": (
        "The outbox publisher (the outbox Pipe's target) calls only EventBridge PutEvents on this construct's bus, "
        "with its source and the two booking detail types (IAM conditions); the Pipe invokes it through the Lambda "
        "service. In the isolated subnets it would need an EventBridge interface endpoint (about $7 a month per AZ) "
        "and would gain no narrower reach than its role already has."
    ),
    "InventoryEvents/Consumer": (
        "The inbound inventory.updated consumer reaches only DynamoDB (item-level actions on the table, TLS, SigV4) "
        "and SQS SendMessage on its own dead-letter queue, never the cache; EventBridge invokes it through the Lambda "
        "service. In the isolated subnets it would need an SQS interface endpoint (about $7 a month per AZ) and "
        "would gain no narrower reach than its role already has."
    ),
}

_SYNCHRONOUS_REASON = (
    "Invoked synchronously only (API Gateway Lambda proxy integration; its only resource-policy principal is "
    "apigateway.amazonaws.com): a failure is answered to the caller as a 5xx, and Lambda keeps no event to "
    "dead-letter. Lambda developer guide: dead-letter queues apply to asynchronous invocation."
)


def acknowledge_regulated_findings(root: Construct) -> None:
    """The acknowledgments of the regulated profile, each on one resource for one rule, with its reason.

    Functions are inspected, not listed: a synchronous-only function (invoked by API Gateway alone) and one whose
    failures reach a dead-letter queue (an on-failure destination, or a stream mapping's on-failure destination) are
    acknowledged for LambdaDLQ; any other function keeps the finding, so a new asynchronous path without a dead-letter
    queue fails the compliance test.
    """
    stack = Stack.of(root)
    acknowledge_inline_policies(root)
    profile = regulated_profile(root.node.find_child(PROFILE_ID))
    if profile is not None:
        acknowledge_key_grants(root, [profile.logs_key, profile.data_key])
    resolved: list[tuple[IConstruct, dict[str, object]]] = []
    for node in root.node.find_all():
        if isinstance(node, lambda_.CfnPermission):
            resolved.append((node, {"FunctionName": stack.resolve(node.function_name), "Principal": node.principal}))
        elif isinstance(node, pipes.CfnPipe):
            resolved.append((node, {"FunctionName": stack.resolve(node.target),
                                    "DestinationConfig": stack.resolve(node.source_parameters)}))  # fmt: skip
        elif isinstance(node, (lambda_.CfnEventInvokeConfig, lambda_.CfnEventSourceMapping)):
            resolved.append((node, {"FunctionName": stack.resolve(node.function_name),
                                    "DestinationConfig": stack.resolve(node.destination_config)}))  # fmt: skip
    for node in root.node.find_all():
        if not isinstance(node, lambda_.CfnFunction):
            continue
        logical_id = stack.resolve(node.logical_id)
        name = _owner_path(root, node)
        reason = _dead_letter_reason(logical_id, resolved)
        if reason:
            acknowledge_regulated(node, "LambdaDLQ", reason)
        if node.vpc_config is None and name in OUTSIDE_VPC_REASONS:
            acknowledge_regulated(node, "LambdaInsideVPC", OUTSIDE_VPC_REASONS[name])
    for node in root.node.find_all():
        if isinstance(node, apigw_cfn_stage()):
            acknowledge_regulated(
                node, "APIGWCacheEnabledAndEncrypted",
                "No stage cache: search results are cached by the application in ElastiCache (TLS in transit, "
                "encrypted at rest, IAM-authenticated), keyed and invalidated by inventory; a stage cache would "
                "serve stale availability and could answer GET /bookings/{bookingId} across API keys.",
            )  # fmt: skip
            acknowledge_regulated(
                node, "APIGWSSLEnabled",
                "Backend client certificates authenticate API Gateway to an HTTP backend. Every integration of this "
                "API is a Lambda proxy integration, invoked through the Lambda service API with SigV4; there is no "
                "HTTP backend to present a certificate to. Clients reach the stage over TLS only.",
                packs=("NIST.800.53.R5", "HIPAA.Security", "PCI.DSS.321"),
            )  # fmt: skip
    for node in root.node.find_all():
        if isinstance(node, elasticache.CfnReplicationGroup):
            acknowledge_regulated(
                node, "ElastiCacheRedisClusterAutomaticBackup",
                "The cache holds only derived search results that expire within minutes and are rebuilt from "
                "DynamoDB on a miss; the system of record is the table (point-in-time recovery and the daily AWS "
                "Backup plan). A restored cache snapshot would serve stale availability, so none is kept.",
                packs=("NIST.800.53.R5", "HIPAA.Security", "PCI.DSS.321"),
            )  # fmt: skip
    _acknowledge_lookup_provider(stack)


def apigw_cfn_stage() -> type:
    """``aws_apigateway.CfnStage`` (imported late: this module is imported by builders that do not need it)."""
    from aws_cdk import aws_apigateway as apigw

    return apigw.CfnStage


def _refers_to(value: object, logical_id: str) -> bool:
    import json

    return f'"{logical_id}"' in json.dumps(value)


def _dead_letter_reason(logical_id: str, resolved: list[tuple[IConstruct, dict[str, object]]]) -> str | None:
    """Why a function needs no DeadLetterConfig, or None when it has no dead-letter path."""
    principals: set[str] = set()
    on_failure = False
    stream_failures = False
    for node, props in resolved:
        if not _refers_to(props.get("FunctionName"), logical_id):
            continue
        if isinstance(node, lambda_.CfnPermission):
            principals.add(str(props.get("Principal")))
        elif isinstance(node, lambda_.CfnEventInvokeConfig):
            on_failure = on_failure or "onfailure" in str(props.get("DestinationConfig", {})).lower()
        elif isinstance(node, lambda_.CfnEventSourceMapping):
            stream_failures = "onfailure" in str(props.get("DestinationConfig", {})).lower()
            if not stream_failures:
                return None
        elif isinstance(node, pipes.CfnPipe):
            if "deadletterconfig" not in str(props.get("DestinationConfig", {})).lower():
                return None
            return (
                "Invoked synchronously by an EventBridge Pipe (its target, REQUEST_RESPONSE): a batch that still fails "
                "after the Pipe's retries goes to the Pipe's dead-letter queue, an SQS queue encrypted with the "
                "profile's key and alarmed. DeadLetterConfig applies to asynchronous invocation only."
            )
    asynchronous = {p for p in principals if p != "apigateway.amazonaws.com"}
    if asynchronous and on_failure:
        return (
            f"Invoked asynchronously by {', '.join(sorted(asynchronous))}: failed invocations go to the function's "
            "on-failure destination, an SQS queue encrypted with the profile's key and alarmed (EventInvokeConfig "
            "DestinationConfig.OnFailure, the successor of DeadLetterConfig that also records the error)."
        )
    if asynchronous:
        return None
    if stream_failures:
        return (
            "Invoked by a DynamoDB stream event source mapping: batches that still fail after retries and bisection go "
            "to the mapping's on-failure destination, an SQS queue encrypted with the profile's key and alarmed. "
            "DeadLetterConfig applies to asynchronous invocation only."
        )
    if principals:
        return _SYNCHRONOUS_REASON
    return None


def _acknowledge_lookup_provider(stack: Stack) -> None:
    """CDK's singleton AwsCustomResource provider (the DynamoDB prefix-list lookup at deploy time)."""
    from .network import AwsCustomResourceProviderId

    provider = stack.node.try_find_child(AwsCustomResourceProviderId)
    if provider is None:
        return
    prefix = "CDK's AwsCustomResource provider, run by CloudFormation during deployments only (the DynamoDB "
    for rule, reason in (
        ("LambdaConcurrency", "prefix-list lookup): it is idle between deployments; reserving concurrency for it "
         "would withhold account concurrency permanently from the functions that serve requests."),
        ("LambdaDLQ", "prefix-list lookup): invoked synchronously by CloudFormation, which receives the failure "
         "and rolls the deployment back; there is no event to dead-letter."),
        ("LambdaInsideVPC", "prefix-list lookup): it calls only ec2:DescribeManagedPrefixLists and answers "
         "CloudFormation's pre-signed S3 URL; the VPC's isolated subnets have no route to either without interface "
         "endpoints and a gateway endpoint for S3."),
    ):  # fmt: skip
        acknowledge_regulated(provider, rule, prefix + reason)
