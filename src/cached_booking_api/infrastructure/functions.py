"""How the construct builds its Lambda functions: Python 3.14 on arm64, Powertools, X-Ray, own role and log group."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from ..tools import bundling
from .nag import acknowledge

# ENI management for functions in a VPC: these actions do not support resource-level permissions.
_VPC_ACCESS_ACTIONS = [
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
]


class PythonFunction(Construct):
    """A handler of ``cached_booking_api.runtime.handlers`` with a role that holds only what it is granted.

    Attributes: ``function``, ``role``, ``log_group``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handler_module: str,
        description: str,
        service_name: str,
        metrics_namespace: str,
        environment: Mapping[str, str],
        log_retention: logs.RetentionDays,
        timeout: Duration,
        memory_size: int = 512,
        vpc: ec2.IVpc | None = None,
        vpc_subnets: ec2.SubnetSelection | None = None,
        security_groups: Sequence[ec2.ISecurityGroup] = (),
        reserved_concurrent_executions: int | None = None,
        log_removal_policy: RemovalPolicy = RemovalPolicy.DESTROY,
        asynchronous: bool = False,
        wildcard_actions_reason: str = "",
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(self, "Logs", retention=log_retention, removal_policy=log_removal_policy)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{description} (least privilege, no managed policies)",
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],  # the group's ARN ends in ":*": its streams
            )
        )
        if vpc is not None:
            self.role.add_to_principal_policy(iam.PolicyStatement(actions=_VPC_ACCESS_ACTIONS, resources=["*"]))
            acknowledge(
                self.role.node.find_child("DefaultPolicy"),
                "AwsSolutions-IAM5[Resource::*]",
                "Lambda ENI management (ec2:CreateNetworkInterface & co.) and X-Ray PutTraceSegments do not support "
                "resource-level permissions; the role holds only those on '*'." + wildcard_actions_reason,
            )
        self.function = lambda_.Function(
            self,
            "Function",
            description=description,
            runtime=bundling.RUNTIME,
            architecture=bundling.ARCHITECTURE,
            code=bundling.handler_code(),
            handler=f"cached_booking_api.runtime.handlers.{handler_module}.handler",
            role=self.role,
            memory_size=memory_size,
            timeout=timeout,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            environment={
                "POWERTOOLS_SERVICE_NAME": service_name,
                "POWERTOOLS_METRICS_NAMESPACE": metrics_namespace,
                "POWERTOOLS_LOG_LEVEL": "INFO",
                **environment,
            },
            vpc=vpc,
            vpc_subnets=vpc_subnets,
            security_groups=list(security_groups) or None,
            allow_public_subnet=False,
            reserved_concurrent_executions=reserved_concurrent_executions,
        )
        if not asynchronous:
            acknowledge(
                self.function,
                "Serverless-LambdaDLQ",
                "Invoked synchronously (API Gateway proxy): a failed request is answered to the caller, there is no "
                "event to dead-letter.",
            )
        if vpc is None:
            acknowledge(
                self.role.node.find_child("DefaultPolicy"),
                "AwsSolutions-IAM5[Resource::*]",
                "X-Ray PutTraceSegments/PutTelemetryRecords do not support resource-level permissions."
                + wildcard_actions_reason,
            )
