"""Synthesized templates shared by the construct tests: each variant is synthesized once per session, with the
AwsSolutions and Serverless cdk-nag packs attached and bundling skipped (asset hashes do not depend on bundling)."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from cached_booking_api import CacheOptions

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "examples" / "booking_platform"))

from app import BookingPlatformStack  # noqa: E402


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


def synthesize(build: Callable[[cdk.App], cdk.Stack]) -> Synthesized:
    """Synthesize a stack with both nag packs; collect their findings instead of raising."""
    outdir = tempfile.mkdtemp(prefix="cdk-")
    app = cdk.App(outdir=outdir, context={"aws:cdk:bundling-stacks": []})
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


VARIANTS: dict[str, Callable[[cdk.App], cdk.Stack]] = {
    "serverless-valkey": lambda app: BookingPlatformStack(app, "BookingPlatform"),
    "provisioned": lambda app: BookingPlatformStack(
        app, "BookingPlatformProvisioned", cache=CacheOptions(mode="provisioned")
    ),
    "redis-engine": lambda app: BookingPlatformStack(app, "BookingPlatformRedis", cache=CacheOptions(engine="redis")),
}


def _own_vpc_stack(app: cdk.App) -> cdk.Stack:
    from cached_booking_api import CachedSearchApi

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
    from cached_booking_api import CachedSearchApi

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
    """The booking-platform example (serverless Valkey)."""
    return variants["serverless-valkey"]
