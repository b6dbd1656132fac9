"""Synthesized templates shared by the construct tests: minimal stacks (the construct with its defaults, or with one
prop group and only what that prop needs), each synthesized once per session on first use, with the AwsSolutions and
Serverless cdk-nag packs attached and bundling skipped (asset hashes do not depend on bundling).

The construct's tests build their own stacks: the example apps (``examples/``) are tested as examples in
``test/examples``, and changing an example changes none of these."""

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


def _stack_fixture(name: str) -> Any:
    """A session fixture for one minimal stack (documented by its builder in ``MINIMAL``)."""

    @pytest.fixture(scope="session", name=f"{name.replace('-', '_')}_stack")
    def fixture(stacks: Stacks) -> Synthesized:
        return stacks[name]

    fixture.__doc__ = MINIMAL[name].__doc__ or f"The {name!r} minimal stack."
    return fixture


default_stack = _stack_fixture("default")
provisioned_stack = _stack_fixture("provisioned")
given_vpc_stack = _stack_fixture("given-vpc")
alarm_topic_stack = _stack_fixture("alarm-topic")
events_stack = _stack_fixture("events")
cors_stack = _stack_fixture("cors")
quota_stack = _stack_fixture("quota")
