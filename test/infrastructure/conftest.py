"""Synthesized templates shared by the construct tests: each variant is synthesized once per session, with the
AwsSolutions and Serverless cdk-nag packs attached and bundling skipped (asset hashes do not depend on bundling)."""

from __future__ import annotations

import functools
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
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from cached_booking_api import CachedSearchApi, CacheOptions, ThrottleOptions

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Synthesized:
    """A synthesized stack: its template, cdk-nag's findings and cfn-lint's output."""

    template: dict[str, Any]
    nag_findings: list[str]
    template_path: Path

    @functools.cached_property
    def assertions(self) -> Template:
        """The template for ``aws_cdk.assertions`` (``has_resource_properties``, ``resource_count_is``, ...)."""
        return Template.from_json(self.template)

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
    synth_error: Exception | None = None
    try:
        app.synth()
    except Exception as error:  # cdk-nag 3 raises when findings remain; the report says which
        synth_error = error
    report_path = Path(outdir) / "validation-report.json"
    findings: list[str] = []
    if report_path.exists():
        report = json.loads(report_path.read_text())
        for plugin in report.get("pluginReports", []):
            for violation in plugin.get("violations", []):
                for construct in violation.get("violatingConstructs", []):
                    findings.append(f"{violation['ruleName']} @ {construct['constructPath']}")
    template_path = Path(outdir) / f"{stack.artifact_id}.template.json"
    if synth_error is not None and not template_path.exists():
        raise synth_error  # not a nag finding: the synth itself failed (e.g. a token that cannot be resolved)
    return Synthesized(json.loads(template_path.read_text()), findings, template_path)


def cfn_lint(path: Path) -> str:
    """cfn-lint's findings on a template (W3005, CDK's redundant DependsOn, ignored); empty when clean."""
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), str(path), "--ignore-checks", "W3005", "--format", "parseable"],
        capture_output=True, text=True,
    )  # fmt: skip
    return (result.stdout + result.stderr).strip()


def cfn_lint_each(paths: list[Path]) -> dict[Path, str]:
    """cfn-lint's findings on several templates, in one run (cfn-lint's start-up is most of its time)."""
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), *map(str, paths), "--ignore-checks", "W3005",
         "--format", "parseable"],
        capture_output=True, text=True,
    )  # fmt: skip
    lines = (result.stdout + result.stderr).strip().splitlines()
    findings = {path: "\n".join(line for line in lines if line.startswith(str(path) + ":")) for path in paths}
    unattributed = [line for line in lines if not any(line.startswith(str(path) + ":") for path in paths)]
    assert not unattributed, unattributed  # a crash or a message about no file: not a finding of one template
    return findings


# -- minimal stacks: the construct with one prop group each (nothing else in the stack but what the prop needs) -------

ORIGIN = "https://booking.example.com"
INVENTORY_SOURCES = ["pms.example", "channel-manager.example"]


def _default(app: cdk.App) -> cdk.Stack:
    """``CachedSearchApi(stack, "Api")``: every default."""
    stack = cdk.Stack(app, "Defaults")  # not "Default": CDK leaves an id "Default" out of unique names
    CachedSearchApi(stack, "Api")
    return stack


def _provisioned(app: cdk.App) -> cdk.Stack:
    stack = cdk.Stack(app, "Provisioned")
    CachedSearchApi(stack, "Api", cache=CacheOptions(mode="provisioned"))
    return stack


def _redis_engine(app: cdk.App) -> cdk.Stack:
    stack = cdk.Stack(app, "RedisEngine")
    CachedSearchApi(stack, "Api", cache=CacheOptions(engine="redis"))
    return stack


def _given_vpc(app: cdk.App) -> cdk.Stack:
    """A VPC of the user's (isolated subnets only, flow logs on, as the construct would create it)."""
    stack = cdk.Stack(app, "GivenVpc")
    vpc = ec2.Vpc(
        stack,
        "UserVpc",
        nat_gateways=0,
        max_azs=2,
        subnet_configuration=[ec2.SubnetConfiguration(name="iso", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)],
        flow_logs={"f": ec2.FlowLogOptions()},
        restrict_default_security_group=True,
    )
    CachedSearchApi(stack, "Api", vpc=vpc, api_cloud_watch_role=False)
    return stack


def _two_instances(app: cdk.App) -> cdk.Stack:
    stack = cdk.Stack(app, "TwoInstances")
    CachedSearchApi(stack, "One", api_cloud_watch_role=False)
    CachedSearchApi(stack, "Two", api_cloud_watch_role=False, cache=CacheOptions(mode="provisioned"))
    return stack


def _alarm_topic(app: cdk.App) -> cdk.Stack:
    """``alarm_topic``: a topic encrypted with a key of the same app. ``inventory_sources`` opts into the one optional
    alarm (the inventory dead-letter queue's), so that every alarm the construct can create is seen to notify."""
    stack = cdk.Stack(app, "AlarmTopic")
    key = kms.Key(stack, "TopicKey", enable_key_rotation=True, description="Alarm topic encryption")
    topic = sns.Topic(stack, "Topic", master_key=key, enforce_ssl=True)
    CachedSearchApi(stack, "Api", alarm_topic=topic, inventory_sources=INVENTORY_SOURCES)
    return stack


def _events(app: cdk.App) -> cdk.Stack:
    """Every rule the construct can create: ``search_event_targets`` and ``booking_event_targets`` (an encrypted
    queue, with the dead-letter queue EventBridge needs) and ``inventory_sources`` (the inbound rule)."""
    stack = cdk.Stack(app, "Events")
    encrypted = {"encryption": sqs.QueueEncryption.SQS_MANAGED, "enforce_ssl": True}
    dead_letters = sqs.Queue(stack, "TargetDlq", **encrypted)  # type: ignore[arg-type]
    for rule in ("AwsSolutions::AwsSolutions-SQS3", "Serverless::Serverless-SQSRedrivePolicy"):
        cdk.Validations.of(dead_letters).acknowledge(cdk.Acknowledgment(id=rule, reason="A dead-letter queue."))
    queue = sqs.Queue(stack, "TargetQueue", dead_letter_queue=sqs.DeadLetterQueue(queue=dead_letters,
                      max_receive_count=5), **encrypted)  # type: ignore[arg-type]  # fmt: skip

    def target() -> targets.SqsQueue:
        return targets.SqsQueue(queue, dead_letter_queue=dead_letters, retry_attempts=3)

    CachedSearchApi(stack, "Api", search_event_targets=[target()], booking_event_targets=[target()],
                    inventory_sources=INVENTORY_SOURCES)  # fmt: skip
    return stack


def _cors(app: cdk.App) -> cdk.Stack:
    stack = cdk.Stack(app, "Cors")
    CachedSearchApi(stack, "Api", cors_allowed_origins=[ORIGIN])
    return stack


def _quota(app: cdk.App) -> cdk.Stack:
    stack = cdk.Stack(app, "Quota")
    CachedSearchApi(stack, "Api", throttle=ThrottleOptions(quota_limit=1_000_000, quota_period="MONTH"))
    return stack


MINIMAL: dict[str, Callable[[cdk.App], cdk.Stack]] = {
    "default": _default,
    "provisioned": _provisioned,
    "redis-engine": _redis_engine,
    "given-vpc": _given_vpc,
    "two-instances": _two_instances,
    "alarm-topic": _alarm_topic,
    "events": _events,
    "cors": _cors,
    "quota": _quota,
}
"""Each minimal stack by name; synthesized (with both nag packs, bundling skipped) once per session, on first use."""


class Stacks:
    """The minimal stacks, each synthesized when a test first asks for it."""

    def __init__(self) -> None:
        self._synthesized: dict[str, Synthesized] = {}

    def __getitem__(self, name: str) -> Synthesized:
        if name not in self._synthesized:
            self._synthesized[name] = synthesize(MINIMAL[name])
        return self._synthesized[name]

    def items(self) -> list[tuple[str, Synthesized]]:
        """Every minimal stack (all synthesized)."""
        return [(name, self[name]) for name in MINIMAL]


@pytest.fixture(scope="session")
def stacks() -> Stacks:
    """The minimal stacks, by name (``MINIMAL``)."""
    return Stacks()


@pytest.fixture(scope="session")
def default_stack(stacks: Stacks) -> Synthesized:
    """``CachedSearchApi(stack, "Api")`` with every default."""
    return stacks["default"]


@pytest.fixture(scope="session")
def provisioned_stack(stacks: Stacks) -> Synthesized:
    """``cache=CacheOptions(mode="provisioned")``."""
    return stacks["provisioned"]


@pytest.fixture(scope="session")
def given_vpc_stack(stacks: Stacks) -> Synthesized:
    """``vpc=`` a VPC of the user's."""
    return stacks["given-vpc"]


@pytest.fixture(scope="session")
def alarm_topic_stack(stacks: Stacks) -> Synthesized:
    """``alarm_topic=`` an encrypted topic (and ``inventory_sources``: every optional alarm)."""
    return stacks["alarm-topic"]


@pytest.fixture(scope="session")
def events_stack(stacks: Stacks) -> Synthesized:
    """``search_event_targets``, ``booking_event_targets`` and ``inventory_sources``: every rule."""
    return stacks["events"]


@pytest.fixture(scope="session")
def cors_stack(stacks: Stacks) -> Synthesized:
    """``cors_allowed_origins=[ORIGIN]``."""
    return stacks["cors"]


@pytest.fixture(scope="session")
def quota_stack(stacks: Stacks) -> Synthesized:
    """``throttle=ThrottleOptions(quota_limit=1_000_000, quota_period="MONTH")``."""
    return stacks["quota"]


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
