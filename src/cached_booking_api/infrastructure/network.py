"""The VPC: the user's, or a created one with private isolated subnets only (no NAT, no interface endpoints).

Functions in the VPC reach DynamoDB only through a gateway endpoint on their subnets' route tables: the created VPC has
one, and a bring-your-own VPC gets one on the route tables of the subnets the functions use (unless the user says it
already has one). Their security groups allow HTTPS to DynamoDB's AWS-managed prefix list only, looked up at deploy
time (``DescribeManagedPrefixLists``: prefix list ids differ per region and have no CloudFormation attribute).
"""

from __future__ import annotations

from aws_cdk import Aws, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import Construct

from .nag import acknowledge, acknowledge_each

#: The id of the DynamoDB gateway endpoint this library adds to a bring-your-own VPC (one per VPC, shared by every
#: instance in the app).
BYO_ENDPOINT_ID = "CachedBookingApiDynamoDbEndpoint"

#: The rule CDK renders when a security group may send nothing: ICMP type 252 code 86 to 255.255.255.255/32.
NO_TRAFFIC_EGRESS = {
    "CidrIp": "255.255.255.255/32", "Description": "Disallow all traffic", "FromPort": 252, "IpProtocol": "icmp",
    "ToPort": 86,
}  # fmt: skip


class Network(Construct):
    """Where the cache-facing functions run.

    A created VPC has two AZs of private isolated subnets, a DynamoDB gateway endpoint (free) and flow logs. Nothing
    else is needed: CloudWatch Logs and X-Ray are reached through the Lambda service, and the cache token is signed
    locally. Attributes: ``vpc``, ``subnets``, ``flow_log_group`` (None for a bring-your-own VPC),
    ``dynamodb_endpoint`` (None when the user's VPC already has one), ``dynamodb_prefix_list_id``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc | None,
        log_retention: logs.RetentionDays,
        vpc_has_dynamodb_endpoint: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        self.flow_log_group: logs.LogGroup | None = None
        self.dynamodb_endpoint: ec2.IGatewayVpcEndpoint | None = None
        if vpc is not None:
            self.vpc = vpc
            self.subnets = ec2.SubnetSelection(
                subnet_type=ec2.SubnetType.PRIVATE_ISOLATED
                if vpc.isolated_subnets
                else ec2.SubnetType.PRIVATE_WITH_EGRESS
            )
            if not vpc_has_dynamodb_endpoint:
                self.dynamodb_endpoint = _byo_endpoint(vpc, self.subnets)
        else:
            if vpc_has_dynamodb_endpoint:
                raise ValueError("vpc_has_dynamodb_endpoint: applies to your own vpc only. Drop it (the created VPC "
                                 "has its DynamoDB gateway endpoint), or pass vpc=.")  # fmt: skip
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
            self.dynamodb_endpoint = created.node.find_child("DynamoDb")  # type: ignore[assignment]

        lookup = cr.AwsCustomResource(
            self,
            "DynamoDbPrefixList",
            on_update=cr.AwsSdkCall(
                service="EC2",
                action="describeManagedPrefixLists",
                parameters={"Filters": [{"Name": "prefix-list-name", "Values": dynamodb_prefix_list_names()}]},
                physical_resource_id=cr.PhysicalResourceId.from_response("PrefixLists.0.PrefixListId"),
                output_paths=["PrefixLists.0.PrefixListId"],
            ),
            policy=cr.AwsCustomResourcePolicy.from_sdk_calls(resources=cr.AwsCustomResourcePolicy.ANY_RESOURCE),
            install_latest_aws_sdk=False,
            memory_size=128,
        )
        acknowledge(
            lookup,
            "AwsSolutions-IAM5[Resource::*]",
            "ec2:DescribeManagedPrefixLists supports no resource-level permissions; it is the lookup's only action.",
        )
        _acknowledge_lookup_provider(Stack.of(self))
        self.dynamodb_prefix_list_id: str = lookup.get_response_field("PrefixLists.0.PrefixListId")
        """The AWS-managed prefix list of DynamoDB in this region (the gateway endpoint's destinations)."""

    def allow_dynamodb(self, security_group: ec2.SecurityGroup) -> None:
        """Egress on HTTPS to DynamoDB's prefix list (the gateway endpoint), and nothing implicit."""
        security_group.add_egress_rule(
            ec2.Peer.prefix_list(self.dynamodb_prefix_list_id), ec2.Port.tcp(443), "DynamoDB (gateway endpoint)"
        )
        only_explicit_egress(security_group)


def _acknowledge_lookup_provider(stack: Stack) -> None:
    """The stack's AwsCustomResource provider function (CDK's singleton) answers CloudFormation only."""
    provider = stack.node.try_find_child(AwsCustomResourceProviderId)
    if provider is None:  # pragma: no cover - CDK names it so since 2018
        return
    acknowledge_each(
        provider,
        [
            (
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AWSLambdaBasicExecutionRole]",
                "CDK's AwsCustomResource provider (the DynamoDB prefix-list lookup at deploy time): its role holds the "
                "AWS-documented basic execution policy (log writes only) plus the one describe call.",
            ),
            *(
                (rule, f"CDK's AwsCustomResource provider (DynamoDB prefix-list lookup). {reason}")
                for rule, reason in (
                    ("Serverless-LambdaDLQ", "Invoked synchronously by CloudFormation, which receives its failure."),
                    ("Serverless-LambdaTracing", "A deploy-time lookup of one prefix list id; nothing to trace."),
                )
            ),
        ],
    )


def dynamodb_prefix_list_names() -> list[str]:
    """The names DynamoDB's AWS-managed prefix list may have in this stack's region (deploy-time tokens).

    AWS documents ``com.amazonaws.<region>.dynamodb`` (VPC user guide, "AWS-managed prefix lists", also on the China
    regions' site, docs.amazonaws.cn); service names in the China regions (cn-north-1, cn-northwest-1) are also seen
    with a ``cn.`` prefix (``cn.com.amazonaws.<region>.dynamodb``). DescribeManagedPrefixLists ORs the values of one
    filter, so the lookup names both and finds the list whichever naming the region uses, with no per-partition
    mapping to keep up to date.
    """
    region = Aws.REGION  # a token, read once (each read is a round trip to aws-cdk-lib)
    return [f"com.amazonaws.{region}.dynamodb", f"cn.com.amazonaws.{region}.dynamodb"]


#: The construct id of CDK's singleton AwsCustomResource provider function in a stack.
AwsCustomResourceProviderId = "AWS679f53fac002430cb0da5b7982bd2287"


def only_explicit_egress(security_group: ec2.SecurityGroup) -> None:
    """For a group whose egress rules all live in separate AWS::EC2::SecurityGroupEgress resources (CDK puts rules
    to other security groups and to a deploy-time prefix list there): render CDK's no-traffic rule inline, or
    CloudFormation would add allow-all egress to the group."""
    cfn = security_group.node.default_child
    assert isinstance(cfn, ec2.CfnSecurityGroup)
    cfn.add_property_override("SecurityGroupEgress", [NO_TRAFFIC_EGRESS])


def _byo_endpoint(vpc: ec2.IVpc, subnets: ec2.SubnetSelection) -> ec2.IGatewayVpcEndpoint:
    """The DynamoDB gateway endpoint on the route tables of the functions' subnets of the user's VPC (one per VPC)."""
    existing = vpc.node.try_find_child(BYO_ENDPOINT_ID)
    if existing is not None:
        return existing  # type: ignore[return-value]
    selected = vpc.select_subnets(subnet_type=subnets.subnet_type).subnets
    for subnet in selected:
        try:
            subnet.route_table.route_table_id  # noqa: B018 - raises for subnets imported without route tables
        except Exception:
            raise ValueError(
                f"vpc: subnet {subnet.subnet_id} has no known route table, so no DynamoDB gateway endpoint can be "
                "added for the functions. Import the VPC with its route tables (ec2.Vpc.from_lookup, or "
                "from_vpc_attributes(..._subnet_route_table_ids=...)), or add a DynamoDB gateway endpoint on those "
                "subnets' route tables yourself and pass vpc_has_dynamodb_endpoint=True."
            ) from None
    return vpc.add_gateway_endpoint(
        BYO_ENDPOINT_ID, service=ec2.GatewayVpcEndpointAwsService.DYNAMODB, subnets=[subnets]
    )
