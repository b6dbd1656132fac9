"""cdk-nag acknowledgments without a run-time dependency on cdk-nag (aws-cdk-lib's Validations API).

Every acknowledgment names one rule (finding-level where possible) on one resource, with a reason.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge one cdk-nag finding on one construct and its children, with the reason a reviewer reads.

    ``rule_id`` is the rule as cdk-nag reports it, e.g. ``AwsSolutions-IAM5[Resource::*]`` or
    ``Serverless-LambdaDLQ``; the pack prefix (``AwsSolutions::``) is added here.
    """
    pack = rule_id.split("-", 1)[0]
    Validations.of(scope).acknowledge(Acknowledgment(id=f"{pack}::{rule_id}", reason=reason))
