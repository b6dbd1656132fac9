"""Synthesized templates shared by the construct tests: each variant is synthesized once per session, with the
AwsSolutions and Serverless cdk-nag packs attached and bundling skipped (asset hashes do not depend on bundling)."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from cached_booking_api import CachedSearchApi, CacheOptions, ThrottleOptions

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Synthesized:
    """A synthesized stack: its template, cdk-nag's findings and cfn-lint's output."""

    template: dict[str, Any]
    nag_findings: list[str]
    template_path: Path

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        """Logical id → resource, for one CloudFormation type."""
        return {k: v for k, v in self.template["Resources"].items() if v["Type"] == resource_type}

    def one(self, resource_type: str) -> dict[str, Any]:
        """The single resource of a type (fails if there is not exactly one)."""
        found = list(self.resources(resource_type).values())
        assert len(found) == 1, f"{len(found)} {resource_type}"
        return found[0]


def synthesize(build: Callable[[cdk.App], cdk.Stack], *, context: Mapping[str, Any] | None = None) -> Synthesized:
    """Synthesize a stack with both nag packs; collect their findings instead of raising. ``context``: more app
    context (an example's cdk.json and cdk.context.json, as the CDK CLI passes them)."""
    outdir = tempfile.mkdtemp(prefix="cdk-")
    app = cdk.App(outdir=outdir, context={**(context or {}), "aws:cdk:bundling-stacks": []})
    stack = build(app)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app))
    with contextlib.suppress(Exception):  # cdk-nag 3 raises when findings remain; the report says which
        app.synth()
    report_path = Path(outdir) / "validation-report.json"
    findings: list[str] = []
    if report_path.exists():
        report = json.loads(report_path.read_text())
        for plugin in report.get("pluginReports", []):
            for violation in plugin.get("violations", []):
                for construct in violation.get("violatingConstructs", []):
                    findings.append(f"{violation['ruleName']} @ {construct['constructPath']}")
    template_path = Path(outdir) / f"{stack.artifact_id}.template.json"
    return Synthesized(json.loads(template_path.read_text()), findings, template_path)


def cfn_lint(path: Path) -> str:
    """cfn-lint's findings on a template (W3005, CDK's redundant DependsOn, ignored); empty when clean."""
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), str(path), "--ignore-checks", "W3005", "--format", "parseable"],
        capture_output=True, text=True,
    )  # fmt: skip
    return (result.stdout + result.stderr).strip()


def wired_stack(app: cdk.App, stack_id: str, *, cache: CacheOptions | None = None) -> cdk.Stack:
    """A stack with every integration a user wires to the construct: an encrypted alarm topic, a partner queue (with
    its dead-letter queue) as search and booking event target, a quota, CORS, and outputs of the public attributes.

    The construct tests' own stack (ids kept from the example it was first modelled on, so the snapshots stayed):
    changing ``examples/`` never changes these tests; the example is tested as an example in ``test/examples``.
    """
    stack = cdk.Stack(app, stack_id)
    topic_key = kms.Key(stack, "AlarmTopicKey", enable_key_rotation=True, description="Alarm topic encryption")
    alarm_topic = sns.Topic(stack, "AlarmTopic", master_key=topic_key, enforce_ssl=True)
    partner_dlq = sqs.Queue(stack, "PartnerDlq", encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True)
    partner_queue = sqs.Queue(
        stack,
        "PartnerQueue",
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        dead_letter_queue=sqs.DeadLetterQueue(queue=partner_dlq, max_receive_count=5),
    )
    for rule in ("AwsSolutions::AwsSolutions-SQS3", "Serverless::Serverless-SQSRedrivePolicy"):
        cdk.Validations.of(partner_dlq).acknowledge(
            cdk.Acknowledgment(id=rule, reason="This queue is the partner queue's dead-letter queue.")
        )
    api = CachedSearchApi(
        stack,
        "BookingApi",
        cache=cache or CacheOptions(),
        throttle=ThrottleOptions(rate_limit=100, burst_limit=200, quota_limit=1_000_000, quota_period="MONTH"),
        alarm_topic=alarm_topic,
        search_event_targets=[targets.SqsQueue(partner_queue, dead_letter_queue=partner_dlq, retry_attempts=3)],
        booking_event_targets=[targets.SqsQueue(partner_queue, dead_letter_queue=partner_dlq, retry_attempts=3)],
        cors_allowed_origins=["https://booking.example.com"],
        inventory_sources=["pms.example", "channel-manager.example"],  # the inbound consumer, checked by nag too
    )
    cdk.CfnOutput(stack, "ApiUrl", value=api.url)
    cdk.CfnOutput(stack, "ApiKeyId", value=api.api_key.key_id)
    cdk.CfnOutput(stack, "TableName", value=api.table.table_name)
    return stack


VARIANTS: dict[str, Callable[[cdk.App], cdk.Stack]] = {
    "serverless-valkey": lambda app: wired_stack(app, "BookingPlatform"),
    "provisioned": lambda app: wired_stack(app, "BookingPlatformProvisioned", cache=CacheOptions(mode="provisioned")),
    "redis-engine": lambda app: wired_stack(app, "BookingPlatformRedis", cache=CacheOptions(engine="redis")),
}


def _own_vpc_stack(app: cdk.App) -> cdk.Stack:
    stack = cdk.Stack(app, "OwnVpc")
    vpc = ec2.Vpc(
        stack,
        "Vpc",
        nat_gateways=0,
        max_azs=2,
        subnet_configuration=[ec2.SubnetConfiguration(name="iso", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)],
        flow_logs={"f": ec2.FlowLogOptions()},
        restrict_default_security_group=True,
    )
    CachedSearchApi(stack, "Api", vpc=vpc, api_cloud_watch_role=False)
    return stack


VARIANTS["own-vpc"] = _own_vpc_stack


def _two_instances_stack(app: cdk.App) -> cdk.Stack:
    stack = cdk.Stack(app, "TwoInstances")
    CachedSearchApi(stack, "One", api_cloud_watch_role=False)
    CachedSearchApi(stack, "Two", api_cloud_watch_role=False, cache=CacheOptions(mode="provisioned"))
    return stack


VARIANTS["two-instances"] = _two_instances_stack


@pytest.fixture(scope="session")
def variants() -> dict[str, Synthesized]:
    """Every variant, synthesized once."""
    return {name: synthesize(build) for name, build in VARIANTS.items()}


@pytest.fixture(scope="session")
def example(variants: dict[str, Synthesized]) -> Synthesized:
    """The wired stack (``wired_stack``) with the default serverless Valkey cache. (Named after the example app it
    was first taken from; it no longer is: see ``wired_stack``.)"""
    return variants["serverless-valkey"]
