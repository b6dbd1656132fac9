"""AWS service rules a first deploy would hit, checked on every minimal stack's synthesized template (issue 7).

Every test quotes the AWS documentation sentence it encodes and names the page. Minimal stacks (conftest ``MINIMAL``):
the defaults, provisioned, redis engine, a user's VPC, two instances in one stack, and one per integration prop
(alarm topic, event targets and inventory sources, CORS, quota).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from test.infrastructure.conftest import MINIMAL, ORIGIN, Stacks, Synthesized

ALL = sorted(MINIMAL)


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def users_of(synth: Synthesized, group: dict[str, Any]) -> list[dict[str, Any]]:
    """The ElastiCache users a user group lists (by Ref to the user resource)."""
    resources = synth.template["Resources"]
    users = []
    for ref in group["Properties"]["UserIds"]:
        assert isinstance(ref, dict) and "Ref" in ref, f"user ids must reference users of this stack: {ref}"
        users.append(resources[ref["Ref"]]["Properties"])
    return users


@pytest.mark.parametrize("variant", ALL)
def test_valkey_user_groups_hold_only_authenticating_users(stacks: Stacks, variant: str) -> None:
    """ElastiCache RBAC (Amazon ElastiCache user guide, "Role-Based Access Control (RBAC)", Clusters.RBAC.html):
    "A user group configured for the VALKEY engine can only contain users that use an authentication mechanism
    (password or IAM)."  A ``no-password-required`` user in a valkey group makes CreateUserGroup fail."""
    synth = stacks[variant]
    groups = synth.resources("AWS::ElastiCache::UserGroup").values()
    assert groups
    for group in groups:
        if group["Properties"]["Engine"] != "valkey":
            continue
        for user in users_of(synth, group):
            assert user["AuthenticationMode"]["Type"] in ("iam", "password"), user
            assert not user.get("NoPasswordRequired"), user


@pytest.mark.parametrize("variant", ALL)
def test_redis_user_groups_include_a_default_user(stacks: Stacks, variant: str) -> None:
    """AWS CloudFormation reference, AWS::ElastiCache::UserGroup (aws-resource-elasticache-usergroup.html),
    UserIds: "The list of user IDs that belong to the user group. A user named default must be included."
    (ElastiCache answers CreateUserGroup with DefaultUserRequired otherwise.) Valkey groups are exempt (see the
    RBAC rule above), redis-engine groups are not."""
    synth = stacks[variant]
    for group in synth.resources("AWS::ElastiCache::UserGroup").values():
        if group["Properties"]["Engine"] == "redis":
            names = [user["UserName"] for user in users_of(synth, group)]
            assert names.count("default") == 1, names


@pytest.mark.parametrize("variant", ALL)
def test_no_unauthenticated_connection_is_possible(stacks: Stacks, variant: str) -> None:
    """ElastiCache RBAC (Clusters.RBAC.html): "For user rights, you pass on and off as part of the access string. If
    neither is specified in the access string, the user is assigned off and doesn't have access rights to the
    cache."  Every user of every group either authenticates (IAM, no password anywhere) or is switched off; the
    group's engine matches the cache's engine; every cache uses a group."""
    synth = stacks[variant]
    groups = synth.resources("AWS::ElastiCache::UserGroup")
    for group in groups.values():
        for user in users_of(synth, group):
            if user["AuthenticationMode"]["Type"] == "iam":
                assert user["UserName"] == user["UserId"] and user["AccessString"].startswith("on ")
            else:
                assert user["AuthenticationMode"]["Type"] == "no-password-required", user
                assert user["UserName"] == "default" and re.match(r"^off( |$)", user["AccessString"]), user
                assert group["Properties"]["Engine"] == "redis"
    caches = [*synth.resources("AWS::ElastiCache::ServerlessCache").values()]
    replication = [*synth.resources("AWS::ElastiCache::ReplicationGroup").values()]
    assert caches or replication
    for cache in caches:
        [group_id] = [cache["Properties"]["UserGroupId"]["Ref"]]
        assert groups[group_id]["Properties"]["Engine"] == cache["Properties"]["Engine"]
    for group in replication:
        [ref] = group["Properties"]["UserGroupIds"]
        assert groups[ref["Ref"]]["Properties"]["Engine"] == group["Properties"]["Engine"]
        assert group["Properties"]["TransitEncryptionMode"] == "required"
    assert "Passwords" not in json.dumps(synth.template) and "AuthToken" not in json.dumps(synth.template)


def role_statements(synth: Synthesized, role_id: str) -> list[dict[str, Any]]:
    statements = []
    for policy in synth.resources("AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


@pytest.mark.parametrize("variant", ALL)
def test_pipe_role_can_list_streams(stacks: Stacks, variant: str) -> None:
    """Amazon EventBridge user guide, "Event source permissions for Amazon EventBridge Pipes"
    (eb-pipes-permissions.html): "For DynamoDB Streams, EventBridge Pipes requires the following permissions to manage
    resources that are related to your DynamoDB data stream": dynamodb:DescribeStream, dynamodb:GetRecords,
    dynamodb:GetShardIterator, dynamodb:ListStreams."""
    synth = stacks[variant]
    pipes = synth.resources("AWS::Pipes::Pipe").values()
    assert pipes
    for pipe in pipes:
        role_id = pipe["Properties"]["RoleArn"]["Fn::GetAtt"][0]
        actions = {a for s in role_statements(synth, role_id) for a in as_list(s["Action"])}
        required = {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
                    "dynamodb:ListStreams"}  # fmt: skip
        assert required <= actions, required - actions


#: What a gateway response template may contain: simple ``$context`` substitutions, rendered here with values full
#: of the characters that break JSON (API Gateway does not escape them).
HOSTILE = 'instance value ("x") not found in enum (possible values: ["a","b"]) \\ end'


def render_gateway_template(template: str) -> str:
    """Substitute every variable the way API Gateway does: plain text, no escaping. ``messageString`` is documented
    as the quoted value of the message."""

    def value(match: re.Match[str]) -> str:
        name = match.group(0)
        if name == "$context.error.messageString":
            return '"Missing required request parameters: [destination]"'
        return HOSTILE

    return re.sub(r"\$(context|stageVariables|input|util|method)[A-Za-z0-9_.]*", value, template)


@pytest.mark.parametrize("variant", ALL)
def test_gateway_response_bodies_are_valid_json_in_the_error_format(stacks: Stacks, variant: str) -> None:
    """Amazon API Gateway developer guide, "x-amazon-apigateway-gateway-responses.responseTemplates object"
    (api-gateway-swagger-extensions-gateway-responses.responseTemplates.html): "A GatewayResponse mapping template
    isn't processed by the Velocity Template Language (VTL) engine." and "A GatewayResponse body mapping template
    supporting only simple variable substitution".  Nothing escapes ``$context.error.validationErrorString``
    (it holds double quotes), so only constant text and the already-quoted ``$context.error.messageString`` may
    appear; every body must render as the contract's error JSON."""
    responses = stacks[variant].resources("AWS::ApiGateway::GatewayResponse").values()
    assert responses
    for response in responses:
        for template in response["Properties"]["ResponseTemplates"].values():
            assert "validationErrorString" not in template
            body = json.loads(render_gateway_template(template))
            assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
            assert re.fullmatch(r"[A-Z][A-Z_]+", body["error"]["code"]) and isinstance(body["error"]["details"], list)


#: CDK's rule for "no traffic" (ICMP type 252 code 86 to a single broadcast address): an inline rule that is not
#: allow-all and lets nothing out.
NO_TRAFFIC = {"CidrIp": "255.255.255.255/32", "Description": "Disallow all traffic", "FromPort": 252,
              "IpProtocol": "icmp", "ToPort": 86}  # fmt: skip


def sg_id(reference: Any) -> str:
    assert isinstance(reference, dict) and "Fn::GetAtt" in reference, reference
    return str(reference["Fn::GetAtt"][0])


@pytest.mark.parametrize("variant", ALL)
def test_functions_in_the_vpc_have_explicit_egress_only(stacks: Stacks, variant: str) -> None:
    """AWS CloudFormation reference, AWS::EC2::SecurityGroup (aws-resource-ec2-securitygroup.html): "When you create a
    security group, if you do not add egress rules, we add egress rules that allow all outbound IPv4 and IPv6 traffic.
    Otherwise, we do not add them."  Rules in separate AWS::EC2::SecurityGroupEgress resources do not count, so
    every security group of a function in the VPC carries inline egress, none of it to 0.0.0.0/0 or ::/0; its
    separate egress goes to the cache's group on the cache ports only."""
    synth = stacks[variant]
    resources = synth.template["Resources"]
    cache_groups = {
        sg_id(ref)
        for kind in ("AWS::ElastiCache::ServerlessCache", "AWS::ElastiCache::ReplicationGroup")
        for cache in synth.resources(kind).values()
        for ref in cache["Properties"]["SecurityGroupIds"]
    }
    function_groups = {
        sg_id(ref)
        for function in synth.resources("AWS::Lambda::Function").values()
        for ref in function["Properties"].get("VpcConfig", {}).get("SecurityGroupIds", [])
    }
    assert function_groups
    for group_id in function_groups:
        inline = resources[group_id]["Properties"].get("SecurityGroupEgress")
        assert inline, f"{group_id}: no inline egress, CloudFormation adds allow-all"
        assert inline == [NO_TRAFFIC], (group_id, inline)
    dynamodb = 0
    for egress in synth.resources("AWS::EC2::SecurityGroupEgress").values():
        props = egress["Properties"]
        if sg_id(props["GroupId"]) not in function_groups:
            continue
        assert props["IpProtocol"] == "tcp" and props["FromPort"] == props["ToPort"], props
        if "DestinationPrefixListId" in props:  # DynamoDB's AWS-managed prefix list, through the gateway endpoint
            assert props["FromPort"] == 443 and "PrefixListId" in json.dumps(props["DestinationPrefixListId"])
            dynamodb += 1
        else:
            assert sg_id(props["DestinationSecurityGroupId"]) in cache_groups, props
    searches = [f for f in synth.resources("AWS::Lambda::Function").values()
                if f["Properties"].get("Handler", "").endswith("handlers.search.handler")]  # fmt: skip
    assert dynamodb == len(searches) >= 1, "only the search function reads DynamoDB from inside the VPC"


def test_two_instances_have_distinct_api_names(stacks: Stacks) -> None:
    """Amazon API Gateway developer guide, "Amazon API Gateway dimensions and metrics"
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-metrics-and-dimensions.html; stored
    copy: awsdocs/amazon-api-gateway-developer-guide, doc_source/api-gateway-metrics-and-dimensions.md), "Dimensions
    for Metrics": "You can use the dimensions in the following table to filter API Gateway metrics." -- ``ApiName``:
    "Filters API Gateway metrics for the REST API with the specified API name." -- ``ApiName, Stage``: "Filters API
    Gateway metrics for the API stage resource with the specified API name and stage."  The API's *name*, not its
    id, keys the metrics CDK alarms on: two APIs with one name share them, so each instance's alarms would see both.
    Names derive from the construct path."""
    names: list[str] = []
    for variant in ALL:
        for api in stacks[variant].resources("AWS::ApiGateway::RestApi").values():
            names.append(api["Properties"]["Name"])
    assert len(names) == len(set(names)), names
    two = [api["Properties"]["Name"] for api in stacks["two-instances"].resources("AWS::ApiGateway::RestApi").values()]
    assert len(two) == 2 and all(name != "RestApi" for name in two), two
    alarms = stacks["two-instances"].resources("AWS::CloudWatch::Alarm").values()
    api_name_dimensions = {
        json.dumps(d["Value"])
        for alarm in alarms
        for metric in alarm["Properties"].get("Metrics", [])
        for d in metric.get("MetricStat", {}).get("Metric", {}).get("Dimensions", [])
        if d["Name"] == "ApiName"
    }
    assert len(api_name_dimensions) == 2, api_name_dimensions


def subnet_route_tables(synth: Synthesized) -> dict[str, str]:
    """Subnet logical id → its route table's logical id (from the route table associations)."""
    return {
        a["Properties"]["SubnetId"]["Ref"]: a["Properties"]["RouteTableId"]["Ref"]
        for a in synth.resources("AWS::EC2::SubnetRouteTableAssociation").values()
    }


@pytest.mark.parametrize("variant", ALL)
def test_functions_subnets_route_to_dynamodb_through_a_gateway_endpoint(stacks: Stacks, variant: str) -> None:
    """AWS PrivateLink guide, "Gateway endpoints", Routing
    (https://docs.aws.amazon.com/vpc/latest/privatelink/gateway-endpoints.html): "When you create a gateway endpoint,
    you select the VPC route tables for the subnets that you enable. The following route is automatically added to
    each route table that you select. The destination is a prefix list for the service owned by AWS and the target
    is the gateway endpoint."  and "All instances in the subnets associated with a route table associated with a
    gateway endpoint automatically use the gateway endpoint to access the service. Instances in subnets that aren't
    associated with these route tables use the public service endpoint, not the gateway endpoint."  A function in
    isolated subnets has no path to the public endpoint: whose route tables lack that route time out on every
    DynamoDB call. In the created VPC and in a VPC the user brings, every subnet a function runs in routes to
    DynamoDB's gateway endpoint."""
    synth = stacks[variant]
    route_tables = subnet_route_tables(synth)
    endpoints = [
        e["Properties"] for e in synth.resources("AWS::EC2::VPCEndpoint").values()
        if "dynamodb" in json.dumps(e["Properties"]["ServiceName"])
    ]  # fmt: skip
    routed = {ref["Ref"] for endpoint in endpoints for ref in endpoint["RouteTableIds"]}
    assert all(e.get("VpcEndpointType", "Gateway") == "Gateway" for e in endpoints)
    for function in synth.resources("AWS::Lambda::Function").values():
        for subnet in function["Properties"].get("VpcConfig", {}).get("SubnetIds", []):
            assert route_tables[subnet["Ref"]] in routed, subnet


def _byo_vpc(**props: Any) -> Any:
    import aws_cdk as cdk
    from aws_cdk import aws_ec2 as ec2

    from cached_booking_api import CachedSearchApi

    app = cdk.App(context={"aws:cdk:bundling-stacks": []})
    stack = cdk.Stack(app, "S")
    vpc = ec2.Vpc(stack, "Vpc", nat_gateways=0, max_azs=2, subnet_configuration=[
        ec2.SubnetConfiguration(name="iso", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)])  # fmt: skip
    CachedSearchApi(stack, "One", vpc=vpc, api_cloud_watch_role=False, **props)
    CachedSearchApi(stack, "Two", vpc=vpc, api_cloud_watch_role=False, **props)
    from aws_cdk.assertions import Template

    return Template.from_stack(stack).find_resources("AWS::EC2::VPCEndpoint")


def test_two_instances_in_one_byo_vpc_share_one_endpoint_and_the_prop_adds_none() -> None:
    """AWS PrivateLink guide, "Gateway endpoints", Routing, Considerations
    (https://docs.aws.amazon.com/vpc/latest/privatelink/gateway-endpoints.html): "You can have endpoint routes to the
    same service (Amazon S3 or DynamoDB) in multiple route tables. You can't have multiple endpoint routes to the same
    service (Amazon S3 or DynamoDB) in a single route table."  So a second DynamoDB gateway endpoint on the same route
    tables cannot be created: instances in one VPC share one endpoint, and vpc_has_dynamodb_endpoint=True adds
    none."""
    assert len(_byo_vpc()) == 1
    assert len(_byo_vpc(vpc_has_dynamodb_endpoint=True)) == 0


def test_byo_vpc_without_route_tables_fails_with_what_to_do() -> None:
    import aws_cdk as cdk
    from aws_cdk import aws_ec2 as ec2

    from cached_booking_api import CachedSearchApi

    stack = cdk.Stack(cdk.App(context={"aws:cdk:bundling-stacks": []}), "S")
    vpc = ec2.Vpc.from_vpc_attributes(stack, "Vpc", vpc_id="vpc-1", availability_zones=["a", "b"],
                                      isolated_subnet_ids=["subnet-1", "subnet-2"])  # fmt: skip
    with pytest.raises(ValueError, match=r"vpc: subnet subnet-1 has no known route table.*vpc_has_dynamodb_endpoint"):
        CachedSearchApi(stack, "Api", vpc=vpc, api_cloud_watch_role=False)
    stack2 = cdk.Stack(cdk.App(context={"aws:cdk:bundling-stacks": []}), "S2")
    with pytest.raises(ValueError, match="vpc_has_dynamodb_endpoint: applies to your own vpc only"):
        CachedSearchApi(stack2, "Api", vpc_has_dynamodb_endpoint=True, api_cloud_watch_role=False)


def test_alarm_topic_key_lets_cloudwatch_use_it(alarm_topic_stack: Synthesized) -> None:
    """Amazon SNS developer guide, "Enable compatibility between event sources from AWS services and encrypted topics"
    (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services; stored copy:
    awsdocs/amazon-sns-developer-guide, doc_source/sns-key-management.md): "Several AWS services publish events to
    Amazon SNS topics. To allow these event sources to work with encrypted topics, you must perform the following
    steps."  ... "To allow the AWS service to have the `kms:GenerateDataKey*` and `kms:Decrypt` permissions, add the
    following statement to the KMS policy." (with ``"Principal": {"Service": "service.amazonaws.com"}``; for
    CloudWatch alarms the service is cloudwatch.amazonaws.com). Without it alarms fire and nothing arrives. The
    topic's key is a key of the same app, so the construct grants it, scoped to this account's alarms."""
    [key] = alarm_topic_stack.resources("AWS::KMS::Key").values()
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    [grant] = [s for s in statements if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}]
    assert set(as_list(grant["Action"])) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    assert grant["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
    assert "alarm:" in json.dumps(grant["Condition"]["ArnLike"]["aws:SourceArn"])


def test_alarm_topic_with_a_key_of_another_app_gets_a_synth_warning() -> None:
    """Same rule: a key the construct cannot change (imported) gets an Annotations warning naming the statement."""
    import aws_cdk as cdk
    from aws_cdk import aws_kms as kms
    from aws_cdk import aws_sns as sns
    from aws_cdk.assertions import Annotations, Match

    from cached_booking_api import CachedSearchApi

    stack = cdk.Stack(cdk.App(context={"aws:cdk:bundling-stacks": []}), "S")
    key = kms.Key.from_key_arn(stack, "Key", "arn:aws:kms:us-east-1:111111111111:key/abc")
    topic = sns.Topic(stack, "Topic", master_key=key, enforce_ssl=True)
    CachedSearchApi(stack, "Api", alarm_topic=topic, api_cloud_watch_role=False)
    Annotations.from_stack(stack).has_warning(
        "*", Match.string_like_regexp("cloudwatch.amazonaws.com.*kms:Decrypt.*kms:GenerateDataKey")
    )


@pytest.mark.parametrize("variant", ALL)
def test_cors_origins_reach_lambda_responses_and_gateway_responses(stacks: Stacks, variant: str) -> None:
    """Amazon API Gateway developer guide, "CORS for REST APIs in API Gateway", "Enabling CORS support for proxy
    integrations" (https://docs.aws.amazon.com/apigateway/latest/developerguide/how-to-cors.html#apigateway-enable-
    cors-proxy): "For a Lambda proxy integration or HTTP proxy integration, your backend is responsible for returning
    the `Access-Control-Allow-Origin`, `Access-Control-Allow-Methods`, and `Access-Control-Allow-Headers` headers,
    because a proxy integration doesn't return an integration response."  And for API Gateway's own answers,
    "Enable CORS on a resource using the API Gateway console" (how-to-cors-console.html): "(Optional) If you created a
    custom gateway response and want to enable CORS support for a response, select a gateway response."  The OPTIONS
    mock alone covers only preflight. One list (prop ``cors_allowed_origins``) feeds all three; without it, none has
    a CORS header."""
    synth = stacks[variant]
    cors_on = variant == "cors"  # cors_allowed_origins=[ORIGIN]
    api_functions = [
        f["Properties"] for f in synth.resources("AWS::Lambda::Function").values()
        if f["Properties"].get("Handler", "").endswith(("handlers.search.handler", "handlers.bookings.handler"))
    ]  # fmt: skip
    assert api_functions
    for function in api_functions:
        value = function["Environment"]["Variables"].get("CORS_ALLOWED_ORIGINS")
        assert value == (ORIGIN if cors_on else None), value
    for response in synth.resources("AWS::ApiGateway::GatewayResponse").values():
        parameters = response["Properties"].get("ResponseParameters", {})
        origin = parameters.get("gatewayresponse.header.Access-Control-Allow-Origin")
        assert origin == (f"'{ORIGIN}'" if cors_on else None), response
        if cors_on:
            assert parameters["gatewayresponse.header.Vary"] == "'Origin'"


def test_stage_limits_come_from_the_expected_load_and_every_plan_is_below_them(default_stack: Synthesized) -> None:
    """Amazon API Gateway developer guide, "Throttle requests to your REST APIs for better throughput in API Gateway"
    (api-gateway-request-throttling.html): "As an API developer, you can set the target limits for individual API
    stages or methods to improve overall performance across all APIs in your account. Alternatively, you can enable
    usage plans to set throttles on client request submissions based on specified requests rates and quotas."
    Stage and method limits count all clients together, usage-plan limits one key: the stage limit is sized from
    the expected total load (default 250 rps peak → 500 rps / burst 1000), POST /bookings has its own lower method
    limit, and every plan sits below the stage."""
    [stage] = default_stack.resources("AWS::ApiGateway::Stage").values()
    settings = {s["HttpMethod"] + " " + s["ResourcePath"]: s for s in stage["Properties"]["MethodSettings"]}
    everything = settings["* /*"]
    assert (everything["ThrottlingRateLimit"], everything["ThrottlingBurstLimit"]) == (500, 1000)
    booking = settings["POST /~1bookings"]
    assert booking["ThrottlingRateLimit"] == 50 and booking["ThrottlingRateLimit"] < everything["ThrottlingRateLimit"]
    for plan in default_stack.resources("AWS::ApiGateway::UsagePlan").values():
        throttle = plan["Properties"]["Throttle"]
        assert throttle["RateLimit"] < everything["ThrottlingRateLimit"]
        assert throttle["BurstLimit"] <= everything["ThrottlingBurstLimit"]
        [linked] = plan["Properties"]["ApiStages"]
        [(method, method_throttle)] = linked["Throttle"].items()
        assert method == "/bookings/POST" and method_throttle["RateLimit"] <= booking["ThrottlingRateLimit"]


def test_each_partner_gets_its_own_key_and_plan() -> None:
    """Amazon API Gateway developer guide, "Usage plans and API keys for REST APIs" (api-gateway-api-usage-plans.html):
    "A usage plan specifies who can access one or more deployed API stages and methods—and optionally sets the target
    request rate to start throttling requests. The plan uses API keys to identify API clients"."""
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    from cached_booking_api import CachedSearchApi, Partner, ThrottleOptions

    stack = cdk.Stack(cdk.App(context={"aws:cdk:bundling-stacks": []}), "S")
    partners = (Partner("acme", rate_limit=50, burst_limit=100, quota_limit=100_000, quota_period="MONTH"),
                Partner("globex", rate_limit=20, burst_limit=40))  # fmt: skip
    api = CachedSearchApi(stack, "Api", api_cloud_watch_role=False, throttle=ThrottleOptions(partners=partners))
    template = Template.from_stack(stack)
    plans = template.find_resources("AWS::ApiGateway::UsagePlan")
    keys = template.find_resources("AWS::ApiGateway::UsagePlanKey")
    assert len(plans) == 2 and len(keys) == 2 and set(api.usage_plans) == {"acme", "globex"}
    by_rate = {p["Properties"]["Throttle"]["RateLimit"]: p["Properties"] for p in plans.values()}
    assert by_rate[50]["Quota"] == {"Limit": 100_000, "Period": "MONTH"} and "Quota" not in by_rate[20]
    assert {k["Properties"]["UsagePlanId"]["Ref"] for k in keys.values()} == set(plans)


def test_throttled_requests_are_alarmed(default_stack: Synthesized) -> None:
    """A 429 means a client was refused: the access log's status feeds a metric filter and an alarm on its rate."""
    [log_filter] = [f["Properties"] for f in default_stack.resources("AWS::Logs::MetricFilter").values()
                    if "429" in f["Properties"]["FilterPattern"]]  # fmt: skip
    assert log_filter["FilterPattern"] == '{ $.status = "429" }'
    access_logs = [k for k in default_stack.resources("AWS::Logs::LogGroup") if "AccessLogs" in k]
    assert log_filter["LogGroupName"] == {"Ref": access_logs[0]}
    metric = log_filter["MetricTransformations"][0]["MetricName"]
    alarms = [a for k, a in default_stack.resources("AWS::CloudWatch::Alarm").items() if "ApiThrottled" in k]
    assert len(alarms) == 1 and metric in json.dumps(alarms[0])


def test_several_cors_origins_warn_that_gateway_errors_carry_the_first_only() -> None:
    """Amazon API Gateway developer guide, "x-amazon-apigateway-gateway-responses.responseParameters object" (stored
    copy: awsdocs/amazon-api-gateway-developer-guide, doc_source/api-gateway-swagger-extensions-gateway-responses.
    responseParameters.md): "Defines a string-to-string map of key-value pairs to generate gateway response
    parameters from the incoming request parameters or using literal strings."  A header is either a literal or a
    copy of a request parameter: ``method.request.header.Origin`` would echo *any* origin (no allow-list check is
    possible there, and gateway response templates are not VTL, so no ``#if``). Echoing would defeat the allow-list,
    so with several origins the gateway responses carry the first and synth warns which one."""
    import aws_cdk as cdk
    from aws_cdk.assertions import Annotations, Match

    from cached_booking_api import CachedSearchApi

    stack = cdk.Stack(cdk.App(context={"aws:cdk:bundling-stacks": []}), "S")
    CachedSearchApi(stack, "Api", api_cloud_watch_role=False,
                    cors_allowed_origins=["https://a.example.com", "https://b.example.com"])  # fmt: skip
    Annotations.from_stack(stack).has_warning("*", Match.string_like_regexp("carry Access-Control-Allow-Origin"))


def _render(value: Any, pseudo: dict[str, str]) -> Any:
    """Evaluate the intrinsics a template uses for pseudo parameters (Ref, Fn::Join) for one region."""
    if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in pseudo:
        return pseudo[value["Ref"]]
    if isinstance(value, dict) and set(value) == {"Fn::Join"}:
        separator, parts = value["Fn::Join"]
        return separator.join(str(_render(part, pseudo)) for part in parts)
    return value


@pytest.mark.parametrize("region", ["cn-north-1", "cn-northwest-1", "us-east-1"])
def test_dynamodb_prefix_list_lookup_finds_the_list_in_china_regions_too(region: str) -> None:
    """Amazon VPC user guide, "AWS-managed prefix lists" (working-with-aws-managed-prefix-lists.html, also on the China
    site docs.amazonaws.cn): Amazon DynamoDB, prefix list name ``com.amazonaws.region.dynamodb``; in the China regions
    (aws-cn partition) service names are also written ``cn.com.amazonaws.<region>.<service>``, and the stored material
    does not settle which one DynamoDB's list carries there. Amazon EC2 API reference, Filter (API_Filter.html):
    "The filter values. Filter values are case-sensitive. If you specify multiple values for a filter, the values are
    joined with an OR, and the request returns all results that match any of the specified values."  So the lookup
    names both spellings in one filter and finds the list in every partition (a lookup that finds nothing would fail
    the deploy at ``PrefixLists.0.PrefixListId``)."""
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    from cached_booking_api import CachedSearchApi

    stack = cdk.Stack(cdk.App(context={"aws:cdk:bundling-stacks": []}), "S",
                      env=cdk.Environment(account="111111111111", region=region))  # fmt: skip
    CachedSearchApi(stack, "Api", api_cloud_watch_role=False)
    [lookup] = Template.from_stack(stack).find_resources("Custom::AWS").values()
    pseudo = {"AWS::Region": region, "AWS::Partition": "aws-cn" if region.startswith("cn-") else "aws",
              "AWS::URLSuffix": "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"}  # fmt: skip
    call = json.loads(_render(lookup["Properties"]["Update"], pseudo))
    assert call["action"] == "describeManagedPrefixLists"
    [name_filter] = call["parameters"]["Filters"]
    assert name_filter["Name"] == "prefix-list-name"
    assert set(name_filter["Values"]) == {f"com.amazonaws.{region}.dynamodb", f"cn.com.amazonaws.{region}.dynamodb"}
