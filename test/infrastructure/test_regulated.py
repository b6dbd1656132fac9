"""``regulated=True`` (issue 12.6): customer managed keys, versioned buckets, backups, reserved concurrency, dead-letter
paths, WAF; cdk-nag PCI DSS 3.2.1, NIST 800-53 rev 5 and HIPAA Security (and AwsSolutions, Serverless) report nothing
unacknowledged, and each acknowledgment is one rule on one resource with its reason.

One regulated stack is synthesized once for the module (bundling skipped) with all five packs attached.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, PCIDSS321Checks, ServerlessChecks

from cached_booking_api import CachedSearchApi

WEB_ACL = "arn:aws:wafv2:us-east-1:111111111111:regional/webacl/booking-api/0a1b2c3d"
REGULATED_PACKS = ("PCI.DSS.321", "NIST.800.53.R5", "HIPAA.Security")


@dataclass
class Regulated:
    """The synthesized regulated stack and cdk-nag's report."""

    template: dict[str, Any]
    report: dict[str, Any]

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.template["Resources"].items() if v["Type"] == resource_type}

    def one(self, resource_type: str) -> tuple[str, dict[str, Any]]:
        [(logical_id, resource)] = self.resources(resource_type).items()
        return logical_id, resource


def encrypted_topic(stack: cdk.Stack) -> sns.Topic:
    """An alarm topic as the packs want it: encrypted with a rotated customer managed key, TLS only."""
    key = kms.Key(stack, "AlarmTopicKey", enable_key_rotation=True)
    return sns.Topic(stack, "AlarmTopic", master_key=key, enforce_ssl=True)


def regulated_stack(app: cdk.App) -> cdk.Stack:
    stack = cdk.Stack(app, "Regulated")
    CachedSearchApi(stack, "Api", regulated=True, web_acl_arn=WEB_ACL, alarm_topic=encrypted_topic(stack),
                    api_cloud_watch_role=False, inventory_sources=["pms.example"])  # fmt: skip
    return stack


@pytest.fixture(scope="module")
def regulated() -> Regulated:
    outdir = tempfile.mkdtemp(prefix="cdk-regulated-")
    app = cdk.App(outdir=outdir, context={"aws:cdk:bundling-stacks": []})
    stack = regulated_stack(app)
    cdk.Validations.of(app).add_plugins(
        PCIDSS321Checks(app), NIST80053R5Checks(app), HIPAASecurityChecks(app), AwsSolutionsChecks(app),
        ServerlessChecks(app),
    )  # fmt: skip
    with contextlib.suppress(Exception):  # cdk-nag 3 raises when findings remain; the report says which
        app.synth()
    template = json.loads((Path(outdir) / f"{stack.artifact_id}.template.json").read_text())
    return Regulated(template, json.loads((Path(outdir) / "validation-report.json").read_text()))


def test_no_unacknowledged_finding_in_pci_nist_hipaa_and_the_default_packs(regulated: Regulated) -> None:
    plugins = {p["pluginName"]: p for p in regulated.report["pluginReports"]}
    assert set(REGULATED_PACKS) <= set(plugins)
    findings = [f"{v['ruleName']} @ {c['constructPath']}" for p in plugins.values() for v in p["violations"]
                for c in v["violatingConstructs"]]  # fmt: skip
    assert findings == []


def test_every_acknowledgment_is_one_rule_on_one_resource_with_a_reason(regulated: Regulated) -> None:
    """An auditor reads each acknowledgment: it names one rule (no pack-wide or wildcard id), it covers one resource,
    it is placed on that resource (not on the stack or the whole construct), and it says why."""
    suppressed = [v for p in regulated.report["pluginReports"] for v in p.get("suppressedViolations", [])]
    assert {v["ruleName"].split("-", 1)[0] for v in suppressed} >= set(REGULATED_PACKS)
    for violation in suppressed:
        pack, rule = violation["acknowledgedId"].split("::", 1)
        assert rule == violation["ruleName"] and "*" not in rule.split("[")[0], violation  # one rule or finding
        assert pack == violation["ruleName"].split("-", 1)[0]
        [construct] = violation["violatingConstructs"]
        at = violation["acknowledgedAt"]
        below = construct["constructPath"].removeprefix(at)
        assert below != construct["constructPath"] and below.count("/") <= 2, (at, construct["constructPath"])
        assert at not in ("Regulated", "Regulated/Api"), at  # never the stack or the whole construct
        assert len(violation["reason"]) >= (100 if pack in REGULATED_PACKS else 40), violation["reason"]


def key_logical_id(regulated: Regulated, description_part: str) -> str:
    [logical_id] = [k for k, v in regulated.resources("AWS::KMS::Key").items()
                    if description_part in v["Properties"].get("Description", "")]  # fmt: skip
    return logical_id


def test_log_groups_are_encrypted_with_a_rotated_key_the_logs_service_may_use(regulated: Regulated) -> None:
    """Amazon CloudWatch Logs user guide, "Encrypt Log Data in CloudWatch Logs Using AWS KMS"
    (encrypt-log-data-kms.html; stored copy awsdocs/amazon-cloudwatch-logs-user-guide,
    doc_source/encrypt-log-data-kms.md): "With this step, you give the CloudWatch service principal permission to use
    the CMK. This service principal must be in the same region as where the CMK is stored." (principal
    ``logs.region.amazonaws.com``) and "If you revoke CloudWatch Logs access to an associated CMK or delete an
    associated CMK, your encrypted data in CloudWatch Logs can no longer be retrieved."  So: the regional principal,
    scoped to this account's log groups, and the key is retained."""
    logs_key = key_logical_id(regulated, "CloudWatch Logs")
    key = regulated.template["Resources"][logs_key]
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Retain"
    [grant] = [s for s in key["Properties"]["KeyPolicy"]["Statement"] if s.get("Sid") == "CloudWatchLogsOfThisAccount"]
    assert grant["Principal"]["Service"] == {"Fn::Join": ["", ["logs.", {"Ref": "AWS::Region"}, ".",
                                                              {"Ref": "AWS::URLSuffix"}]]}  # fmt: skip
    assert "aws:logs:arn" in json.dumps(grant["Condition"]["ArnLike"])
    groups = regulated.resources("AWS::Logs::LogGroup")
    assert len(groups) >= 7
    for logical_id, group in groups.items():
        assert group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [logs_key, "Arn"]}, logical_id


def test_tables_use_the_data_key_and_are_in_a_daily_backup_plan(regulated: Regulated) -> None:
    """cdk-nag DynamoDBInBackupPlan (the AWS Config rule dynamodb-in-backup-plan): "To help with data back-up
    processes, ensure your Amazon DynamoDB tables are a part of an AWS Backup plan."  Both tables are selected in a
    daily plan (each recovery point kept 35 days) whose vault is encrypted with the data key; the tables (and so
    their stream) use the data key, and every role that reads or writes them may use it."""
    data_key = key_logical_id(regulated, "tables, queues")
    assert regulated.template["Resources"][data_key]["Properties"]["EnableKeyRotation"] is True
    tables = regulated.resources("AWS::DynamoDB::Table")
    assert len(tables) == 2
    for table in tables.values():
        assert table["Properties"]["SSESpecification"] == {
            "KMSMasterKeyId": {"Fn::GetAtt": [data_key, "Arn"]}, "SSEEnabled": True, "SSEType": "KMS"}  # fmt: skip
    _, selection = regulated.one("AWS::Backup::BackupSelection")
    selected = json.dumps(selection["Properties"]["BackupSelection"]["Resources"])
    assert all(logical_id in selected for logical_id in tables)
    _, plan = regulated.one("AWS::Backup::BackupPlan")
    [rule] = plan["Properties"]["BackupPlan"]["BackupPlanRule"]
    assert rule["Lifecycle"] == {"DeleteAfterDays": 35} and rule["ScheduleExpression"].startswith("cron(")
    _, vault = regulated.one("AWS::Backup::BackupVault")
    assert vault["Properties"]["EncryptionKeyArn"] == {"Fn::GetAtt": [data_key, "Arn"]}
    kms_grants = {
        role["Ref"]
        for policy in regulated.resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "kms:Decrypt" in json.dumps(statement["Action"]) and data_key in json.dumps(statement["Resource"])
        for role in policy["Properties"]["Roles"]
    }
    readers = {
        k
        for k, v in regulated.resources("AWS::IAM::Role").items()
        if any(part in k for part in ("Search", "Booking", "Outbox", "Consumer", "Forwarder", "Tables"))
        and "OutboxPublisher" not in k  # the Pipe hands it the records: it reads no table, stream or queue
    }
    assert readers and readers <= kms_grants, readers - kms_grants  # fmt: skip


def test_bus_archive_and_dead_letter_queues_use_the_data_key(regulated: Regulated) -> None:
    """Amazon EventBridge user guide, "Authorizing EventBridge to use a customer managed key"
    (eb-encryption-key-policy.html): "If you use a customer managed key in your account to protect your EventBridge
    resources, the policies on that KMS key must give EventBridge permission to use it on your behalf. You provide
    these permissions in a key policy."  "Encrypting EventBridge event buses with AWS KMS keys"
    (eb-encryption-event-bus-cmkey.html): "We strongly recommend specifying a DLQ for event buses, to ensure events are
    preserved if encryption or decryption errors occur."  Amazon SQS developer guide, "Enable Compatibility between
    Event Sources from AWS Services and Encrypted Queues" (stored copy awsdocs/amazon-sqs-developer-guide,
    sqs-key-management.md): "Several AWS services send events to Amazon SQS queues. To allow these event sources to
    work with encrypted queues, you must perform the following steps." ... "To allow the AWS service to have the
    `kms:GenerateDataKey*` and `kms:Decrypt` permissions, add the following statement to the CMK policy." (EventBridge
    sends failed analytics deliveries to its dead-letter queue.) AWS CloudFormation reference, AWS::Events::Archive
    KmsKeyIdentifier (as carried in aws-cdk-lib's CfnArchive docs): "If you have specified that EventBridge use a
    customer managed key for encrypting the source event bus, we strongly recommend you also specify a customer
    managed key for any archives for the event bus as well." (aws-cdk-lib 2.275's ``EventBus.archive()`` drops its
    ``kms_key``; the construct sets it on the archive resource.)"""
    data_key = key_logical_id(regulated, "tables, queues")
    statements = regulated.template["Resources"][data_key]["Properties"]["KeyPolicy"]["Statement"]
    events_actions = {a for s in statements if s.get("Principal") == {"Service": "events.amazonaws.com"}
                      for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}  # fmt: skip
    assert {"kms:GenerateDataKey*", "kms:Decrypt", "kms:DescribeKey"} <= events_actions
    _, bus = regulated.one("AWS::Events::EventBus")
    assert bus["Properties"]["KmsKeyIdentifier"] == {"Fn::GetAtt": [data_key, "Arn"]}
    assert "DeadLetterConfig" in bus["Properties"]
    _, archive = regulated.one("AWS::Events::Archive")
    assert data_key in json.dumps(archive["Properties"]["KmsKeyIdentifier"])
    queues = regulated.resources("AWS::SQS::Queue")
    assert len(queues) == 6  # outbox, forwarder, invalidation, analytics, bus, inventory events
    for logical_id, queue in queues.items():
        assert queue["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [data_key, "Arn"]}, logical_id
    dlq_alarms = [k for k in regulated.resources("AWS::CloudWatch::Alarm") if "DeadLetters" in k]
    assert len(dlq_alarms) == len(queues)


def test_buckets_are_versioned_and_the_analytics_bucket_uses_the_data_key(regulated: Regulated) -> None:
    """Amazon S3 user guide, "Enabling Amazon S3 server access logging" (enable-server-access-logging.html), as quoted
    in public templates that follow it: "You can use default bucket encryption on the target bucket only if you use
    AES256 (SSE-S3). Default encryption with AWS KMS keys (SSE-KMS) is not supported."  (The sentence is not in the
    stored AWS pages; it is quoted with this URL in several public repositories.) So the access-log bucket keeps
    SSE-S3 and is versioned; the analytics bucket uses the data key (S3 Bucket Key on)."""
    data_key = key_logical_id(regulated, "tables, queues")
    buckets = regulated.resources("AWS::S3::Bucket")
    assert len(buckets) == 2
    for logical_id, bucket in buckets.items():
        props = bucket["Properties"]
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}, logical_id
        assert {"NoncurrentVersionExpiration": {"NoncurrentDays": 30}, "Status": "Enabled"} in props[
            "LifecycleConfiguration"]["Rules"]  # fmt: skip
        [rule] = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        if "AccessLogs" in logical_id:
            assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
        else:
            assert rule["ServerSideEncryptionByDefault"] == {
                "KMSMasterKeyID": {"Fn::GetAtt": [data_key, "Arn"]}, "SSEAlgorithm": "aws:kms"}  # fmt: skip
            assert rule["BucketKeyEnabled"] is True


def test_every_function_has_reserved_concurrency(regulated: Regulated) -> None:
    """AWS Lambda developer guide, "Configuring reserved concurrency" (configuration-concurrency.html): "You can reserve
    up to the Unreserved account concurrency value minus 100. The remaining 100 units of concurrency are for functions
    that aren't using reserved concurrency."  The construct reserves 145 in all, 155 with ``inventory_sources``
    (README "Regulated workloads"): an account needs a concurrency quota of at least 255 (the default quota is
    1,000). CDK's deploy-time lookup provider is the only function without it (acknowledged)."""
    functions = {k: v["Properties"] for k, v in regulated.resources("AWS::Lambda::Function").items()}
    ours = {k: f for k, f in functions.items() if k.startswith("Api")}
    reserved = {k.split("Function")[0]: f.get("ReservedConcurrentExecutions") for k, f in ours.items()}
    assert reserved == {"ApiSearch": 100, "ApiBooking": 25, "ApiEventsForwarder": 5, "ApiInvalidationConsumer": 10,
                        "ApiOutboxPublisher": 5, "ApiInventoryEventsConsumer": 10}  # fmt: skip
    assert sum(reserved.values()) == 145 + 10  # + the inventory consumer, as this stack lists inventory_sources


def test_the_stage_is_behind_the_web_acl(regulated: Regulated) -> None:
    _, association = regulated.one("AWS::WAFv2::WebACLAssociation")
    assert association["Properties"]["WebACLArn"] == WEB_ACL


@pytest.mark.parametrize(
    ("missing", "message"),
    [("web_acl_arn", r"web_acl_arn: required with regulated=True .*WAFv2 web ACL"),
     ("alarm_topic", r"alarm_topic: required with regulated=True .*SNS topic")],
)  # fmt: skip
def test_regulated_requires_waf_and_an_alarm_topic(missing: str, message: str) -> None:
    stack = cdk.Stack(cdk.App(context={"aws:cdk:bundling-stacks": []}), "S")
    props: dict[str, Any] = {"web_acl_arn": WEB_ACL, "alarm_topic": sns.Topic(stack, "T")}
    del props[missing]
    with pytest.raises(ValueError, match=message):
        CachedSearchApi(stack, "Api", regulated=True, api_cloud_watch_role=False, **props)


def test_a_function_and_log_group_added_later_get_the_profile() -> None:
    """The profile is applied at synthesis to whatever the construct holds by then (an aspect), so a function added
    after the construct was built, by a subclass or by a user's code, is covered without being listed."""
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_logs as logs
    from aws_cdk.assertions import Template

    stack = cdk.Stack(cdk.App(context={"aws:cdk:bundling-stacks": []}), "S")
    api = CachedSearchApi(stack, "Api", regulated=True, web_acl_arn=WEB_ACL, alarm_topic=sns.Topic(stack, "T"),
                          api_cloud_watch_role=False)  # fmt: skip
    extra_logs = logs.LogGroup(api, "ExtraLogs")
    lambda_.Function(api, "Extra", runtime=lambda_.Runtime.PYTHON_3_13, handler="index.handler",
                     code=lambda_.Code.from_inline("def handler(e, c): return e"), log_group=extra_logs)  # fmt: skip
    template = Template.from_stack(stack).to_json()["Resources"]
    [extra] = [v for k, v in template.items() if k.startswith("ApiExtra") and v["Type"] == "AWS::Lambda::Function"]
    assert extra["Properties"]["ReservedConcurrentExecutions"] == 10
    [group] = [v for k, v in template.items() if k.startswith("ApiExtraLogs")]
    logs_key = stack.resolve(api.regulated_profile.logs_key.key_arn)  # type: ignore[union-attr]
    assert group["Properties"]["KmsKeyId"] == logs_key


def test_an_asynchronous_function_without_a_dead_letter_path_is_not_acknowledged() -> None:
    """LambdaDLQ is acknowledged only for what the construct can show: API-Gateway-only functions, an on-failure
    destination, a stream mapping's on-failure destination. A function some service invokes asynchronously with no
    dead-letter path keeps its finding."""
    from aws_cdk import aws_iam as iam
    from aws_cdk import aws_lambda as lambda_

    from cached_booking_api.infrastructure import regulated as profile

    stack = cdk.Stack(cdk.App(context={"aws:cdk:bundling-stacks": []}), "S")
    function = lambda_.Function(stack, "F", runtime=lambda_.Runtime.PYTHON_3_13, handler="index.handler",
                                code=lambda_.Code.from_inline("def handler(e, c): return e"))  # fmt: skip
    logical_id = stack.resolve(function.node.default_child.logical_id)  # type: ignore[union-attr]
    function.grant_invoke(iam.ServicePrincipal("events.amazonaws.com"))
    permissions = [(n, {"FunctionName": stack.resolve(n.function_name), "Principal": n.principal})
                   for n in stack.node.find_all() if isinstance(n, lambda_.CfnPermission)]  # fmt: skip
    assert profile._dead_letter_reason(logical_id, permissions) is None
    api_only = [(n, {**props, "Principal": "apigateway.amazonaws.com"}) for n, props in permissions]
    assert "synchronously" in (profile._dead_letter_reason(logical_id, api_only) or "")


def test_the_cost_command_reads_the_regulated_template(regulated: Regulated, tmp_path: Path) -> None:
    """`cached-booking-api cost --template` on a regulated stack prices the profile: its keys (and the alarm topic's),
    its bus dead-letter alarm, and the regulated lines."""
    from cached_booking_api.tools import cost

    path = tmp_path / "Regulated.template.json"
    path.write_text(json.dumps(regulated.template))
    deployment = cost.Deployment.from_template(path)
    assert deployment.regulated and deployment.kms_keys == 3  # logs key, data key, the alarm topic's key
    lines = cost.estimate(50_000, 1_000, deployment=deployment).lines
    assert lines["KMS keys"] == 3.0 and "AWS Backup, 35 daily copies (regulated)" in lines


def test_the_provisioned_cache_variant_is_clean_too() -> None:
    """The same packs with ``CacheOptions(mode="provisioned")``: the replication group's automatic backups are the one
    extra finding, acknowledged (the cache holds derived results only; the table is the system of record)."""
    from cached_booking_api import CacheOptions

    outdir = tempfile.mkdtemp(prefix="cdk-regulated-provisioned-")
    app = cdk.App(outdir=outdir, context={"aws:cdk:bundling-stacks": []})
    stack = cdk.Stack(app, "RegulatedProvisioned")
    CachedSearchApi(stack, "Api", regulated=True, web_acl_arn=WEB_ACL, alarm_topic=encrypted_topic(stack),
                    cache=CacheOptions(mode="provisioned"), api_cloud_watch_role=False)  # fmt: skip
    cdk.Validations.of(app).add_plugins(PCIDSS321Checks(app), NIST80053R5Checks(app), HIPAASecurityChecks(app))
    with contextlib.suppress(Exception):
        app.synth()
    report = json.loads((Path(outdir) / "validation-report.json").read_text())
    findings = [f"{v['ruleName']} @ {c['constructPath']}" for p in report["pluginReports"] for v in p["violations"]
                for c in v["violatingConstructs"]]  # fmt: skip
    assert findings == []
    acknowledged = {v["ruleName"] for p in report["pluginReports"] for v in p.get("suppressedViolations", [])}
    assert "NIST.800.53.R5-ElastiCacheRedisClusterAutomaticBackup" in acknowledged


def test_the_regulated_template_is_cfn_lint_clean(regulated: Regulated, tmp_path: Path) -> None:
    from test.infrastructure.conftest import cfn_lint

    path = tmp_path / "Regulated.template.json"
    path.write_text(json.dumps(regulated.template))
    assert cfn_lint(path) == ""


def test_the_profile_protects_what_is_built_under_its_construct_only() -> None:
    """``regulated_profile`` (asked by every builder of a queue, bucket, table or bus) finds the profile of the
    construct a scope belongs to, at any depth, and nothing for a sibling construct or another app, however many
    profiles the process holds; it is no longer looked up child by child through aws-cdk-lib (issue 10.3)."""
    from constructs import Construct

    from cached_booking_api.infrastructure.regulated import RegulatedProfile, regulated_profile

    stacks = [cdk.Stack(cdk.App(context={"aws:cdk:bundling-stacks": []}), "S") for _ in range(2)]
    regulated = [Construct(stack, "Regulated") for stack in stacks]
    profiles = [RegulatedProfile(scope) for scope in regulated]
    plain = Construct(stacks[0], "Plain")
    for scope, profile in zip(regulated, profiles, strict=True):
        deep = Construct(Construct(scope, "A"), "B")
        assert regulated_profile(deep) is profile and regulated_profile(scope) is profile
    assert regulated_profile(Construct(plain, "C")) is None
    assert regulated_profile(plain) is None and regulated_profile(stacks[0]) is None
