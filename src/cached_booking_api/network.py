"""The VPC: the user's, or a created one with private isolated subnets only (no NAT, no interface endpoints)."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from constructs import Construct


class Network(Construct):
    """Where the cache-facing functions run.

    A created VPC has two AZs of private isolated subnets, a DynamoDB gateway endpoint (free) and flow logs. Nothing
    else is needed: CloudWatch Logs and X-Ray are reached through the Lambda service, and the cache token is signed
    locally. Attributes: ``vpc``, ``subnets``, ``flow_log_group`` (None for a bring-your-own VPC).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc | None,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        self.flow_log_group: logs.LogGroup | None = None
        if vpc is not None:
            self.vpc = vpc
            self.subnets = ec2.SubnetSelection(
                subnet_type=ec2.SubnetType.PRIVATE_ISOLATED
                if vpc.isolated_subnets
                else ec2.SubnetType.PRIVATE_WITH_EGRESS
            )
            return
        self.flow_log_group = logs.LogGroup(
            self, "FlowLogs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY
        )
        created = ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24)
            ],
            gateway_endpoints={
                "DynamoDb": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.DYNAMODB)
            },
            flow_logs={
                "All": ec2.FlowLogOptions(
                    destination=ec2.FlowLogDestination.to_cloud_watch_logs(self.flow_log_group),
                    traffic_type=ec2.FlowLogTrafficType.ALL,
                )
            },
            restrict_default_security_group=True,
        )
        self.vpc = created
        self.subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
