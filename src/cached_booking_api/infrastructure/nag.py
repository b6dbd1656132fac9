"""cdk-nag acknowledgments without a run-time dependency on cdk-nag (aws-cdk-lib's Validations API).

Every acknowledgment names one rule (finding-level where possible) on one resource, with a reason.
"""

from __future__ import annotations

from collections.abc import Iterable

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge one cdk-nag finding on one construct and its children, with the reason a reviewer reads.

    ``rule_id`` is the rule as cdk-nag reports it, e.g. ``AwsSolutions-IAM5[Resource::*]`` or
    ``Serverless-LambdaDLQ``; the pack prefix (``AwsSolutions::``) is added here.
    """
    acknowledge_each(scope, [(rule_id, reason)])


def acknowledge_each(scope: IConstruct, findings: Iterable[tuple[str, str]]) -> None:
    """``acknowledge`` for several findings on one construct, each ``(rule_id, reason)``: one rule per
    acknowledgment still, in a single call to aws-cdk-lib (each call from Python is a round trip to its Node process).
    """
    acknowledgments = [
        Acknowledgment(id=f"{rule_id.split('-', 1)[0]}::{rule_id}", reason=reason) for rule_id, reason in findings
    ]
    Validations.of(scope).acknowledge(*acknowledgments)
