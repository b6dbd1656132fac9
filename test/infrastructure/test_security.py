"""The security properties the construct promises, asserted on the minimal stacks' synthesized templates (the
defaults unless a test is about a prop)."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest

from cached_booking_api import CachedSearchApi
from test.infrastructure.conftest import MINIMAL, ORIGIN, Stacks, Synthesized, synthesize

WRITE_WORDS = ("Put", "Update", "Delete", "Write", "Create", "Batchwrite", "Transact")
STAR_ALLOWED = {
    "xray:PutTraceSegments", "xray:PutTelemetryRecords",
    "ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses",
}  # fmt: skip


def logical_id(synth: Synthesized, resource_type: str, path_part: str) -> str:
    """The logical id of the one resource of a type whose id contains ``path_part``."""
    [found] = [k for k in synth.resources(resource_type) if path_part in k]
    return found


def role_statements(synth: Synthesized, role_id: str) -> list[dict[str, Any]]:
    """Every statement of every policy attached to a role."""
    statements = []
    for policy in synth.resources("AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    role = synth.template["Resources"][role_id]["Properties"]
    for inline in role.get("Policies", []):
        statements += inline["PolicyDocument"]["Statement"]
    return statements


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_the_usage_plan_is_linked_to_the_stage(quota_stack: Synthesized) -> None:
    plan = quota_stack.one("AWS::ApiGateway::UsagePlan")["Properties"]
    stage_id = logical_id(quota_stack, "AWS::ApiGateway::Stage", "Api")
    api_id = logical_id(quota_stack, "AWS::ApiGateway::RestApi", "Api")
    [linked] = plan["ApiStages"]
    assert (linked["ApiId"], linked["Stage"]) == ({"Ref": api_id}, {"Ref": stage_id})


def test_the_usage_plan_carries_the_throttle_and_quota_props(quota_stack: Synthesized) -> None:
    plan = quota_stack.one("AWS::ApiGateway::UsagePlan")["Properties"]
    assert plan["Throttle"] == {"RateLimit": 100, "BurstLimit": 200}
    assert plan["Quota"] == {"Limit": 1_000_000, "Period": "MONTH"}


def test_the_api_key_belongs_to_the_usage_plan(quota_stack: Synthesized) -> None:
    key = quota_stack.one("AWS::ApiGateway::UsagePlanKey")["Properties"]
    assert key["KeyType"] == "API_KEY" and key["UsagePlanId"] == {
        "Ref": logical_id(quota_stack, "AWS::ApiGateway::UsagePlan", "")
    }


def test_every_method_but_cors_preflight_requires_an_api_key(cors_stack: Synthesized) -> None:
    methods = cors_stack.resources("AWS::ApiGateway::Method").values()
    for method in methods:
        props = method["Properties"]
        assert props.get("ApiKeyRequired") is (props["HttpMethod"] != "OPTIONS"), props["HttpMethod"]


def test_stage_logs_without_data_trace_and_traces(default_stack: Synthesized) -> None:
    stage = default_stack.one("AWS::ApiGateway::Stage")["Properties"]
    assert stage["TracingEnabled"] is True
    assert "DestinationArn" in stage["AccessLogSetting"]
    assert json.loads(stage["AccessLogSetting"]["Format"])["status"] == "$context.status"
    [settings] = [s for s in stage["MethodSettings"] if (s["HttpMethod"], s["ResourcePath"]) == ("*", "/*")]
    assert settings["DataTraceEnabled"] is False
    assert settings["LoggingLevel"] == "ERROR"
    assert all(s.get("DataTraceEnabled") is not True for s in stage["MethodSettings"])


def test_the_api_is_regional(default_stack: Synthesized) -> None:
    api = default_stack.one("AWS::ApiGateway::RestApi")["Properties"]
    assert api["EndpointConfiguration"] == {"Types": ["REGIONAL"]}


def test_search_has_gateway_validation_of_required_parameters(default_stack: Synthesized) -> None:
    [get] = [
        m["Properties"]
        for m in default_stack.resources("AWS::ApiGateway::Method").values()
        if "method.request.querystring.destination" in m["Properties"].get("RequestParameters", {})
    ]
    assert get["RequestParameters"] == {
        "method.request.querystring.destination": True,
        "method.request.querystring.checkIn": True,
        "method.request.querystring.checkOut": True,
        "method.request.querystring.guests": False,
        "method.request.querystring.limit": False,
        "method.request.querystring.cursor": False,
    }
    validator = default_stack.one("AWS::ApiGateway::RequestValidator")["Properties"]
    assert validator["ValidateRequestParameters"] is True
    assert get["Integration"]["Type"] == "AWS_PROXY"


def test_cors_allows_only_the_given_origins(cors_stack: Synthesized) -> None:
    options = [
        m
        for m in cors_stack.resources("AWS::ApiGateway::Method").values()
        if m["Properties"]["HttpMethod"] == "OPTIONS"
    ]
    assert options
    origin_headers = {
        json.dumps(
            o["Properties"]["Integration"]["IntegrationResponses"][0]["ResponseParameters"][
                "method.response.header.Access-Control-Allow-Origin"
            ]
        )
        for o in options
    }
    assert origin_headers == {json.dumps(f"'{ORIGIN}'")}


def test_without_cors_origins_there_is_no_preflight_method(default_stack: Synthesized) -> None:
    without_origins = default_stack.resources("AWS::ApiGateway::Method").values()
    assert all(m["Properties"]["HttpMethod"] != "OPTIONS" for m in without_origins)


def test_cache_uses_tls_and_an_iam_authenticated_user(stacks: Stacks) -> None:
    for name, synth in stacks.items():
        users = [u["Properties"] for u in synth.resources("AWS::ElastiCache::User").values()]
        iam_users = [u for u in users if u["AuthenticationMode"]["Type"] == "iam"]
        defaults = [u for u in users if u["UserName"] == "default"]
        instances = len(synth.resources("AWS::ElastiCache::UserGroup"))
        assert len(iam_users) == instances, name
        assert all(u["UserName"] == u["UserId"] for u in iam_users)
        assert all(d["AccessString"].startswith("off ") for d in defaults), "the default user must be switched off"
        assert all(d["Engine"] == "redis" for d in defaults), "only redis-engine groups hold a default user"
        assert "Passwords" not in json.dumps(synth.template), name
        assert "AuthToken" not in json.dumps(synth.template), name


def test_serverless_cache_sits_behind_its_security_group(default_stack: Synthesized) -> None:
    cache = default_stack.one("AWS::ElastiCache::ServerlessCache")["Properties"]
    assert cache["Engine"] == "valkey"
    assert cache["UserGroupId"] == {"Ref": logical_id(default_stack, "AWS::ElastiCache::UserGroup", "")}
    ingress = [r["Properties"] for r in default_stack.resources("AWS::EC2::SecurityGroupIngress").values()]
    clients = {
        json.dumps({"Fn::GetAtt": [logical_id(default_stack, "AWS::EC2::SecurityGroup", name), "GroupId"]})
        for name in ("SearchSecurityGroup", "InvalidationSecurityGroup")
    }
    assert ingress and {json.dumps(rule["SourceSecurityGroupId"]) for rule in ingress} == clients


def test_provisioned_cache_is_multi_az_encrypted_on_a_non_default_port(stacks: Stacks) -> None:
    group = stacks["provisioned"].one("AWS::ElastiCache::ReplicationGroup")["Properties"]
    assert group["TransitEncryptionEnabled"] is True and group["TransitEncryptionMode"] == "required"
    assert group["AtRestEncryptionEnabled"] is True
    assert group["MultiAZEnabled"] is True and group["AutomaticFailoverEnabled"] is True
    assert group["ReplicasPerNodeGroup"] >= 1
    assert group["Port"] != 6379


def test_the_redis_engine_gives_a_redis_serverless_cache(stacks: Stacks) -> None:
    assert stacks["redis-engine"].one("AWS::ElastiCache::ServerlessCache")["Properties"]["Engine"] == "redis"


def test_created_vpc_has_no_nat_no_internet_and_no_interface_endpoints(default_stack: Synthesized) -> None:
    for forbidden in ("AWS::EC2::NatGateway", "AWS::EC2::InternetGateway", "AWS::EC2::EIP"):
        assert not default_stack.resources(forbidden), forbidden
    [endpoint] = default_stack.resources("AWS::EC2::VPCEndpoint").values()
    assert endpoint["Properties"].get("VpcEndpointType", "Gateway") == "Gateway"
    assert "dynamodb" in json.dumps(endpoint["Properties"]["ServiceName"])


def test_the_created_vpc_logs_its_flows_with_a_retention(default_stack: Synthesized) -> None:
    assert default_stack.resources("AWS::EC2::FlowLog")
    flow_logs = [g for k, g in default_stack.resources("AWS::Logs::LogGroup").items() if "FlowLogs" in k]
    assert flow_logs and all("RetentionInDays" in g["Properties"] for g in flow_logs)


def test_table_is_on_demand_recoverable_encrypted_and_streams(default_stack: Synthesized) -> None:
    table = default_stack.template["Resources"][logical_id(default_stack, "AWS::DynamoDB::Table", "DataTable")]
    props = table["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    indexes = {index["IndexName"]: index for index in props["GlobalSecondaryIndexes"]}
    assert set(indexes) == {"byDestination", "inventoryByDestination"}
    assert indexes["byDestination"]["Projection"]["ProjectionType"] == "INCLUDE"
    assert indexes["inventoryByDestination"]["Projection"] == {"ProjectionType": "ALL"}
    assert table["DeletionPolicy"] == "Retain"


def test_projected_attributes_stay_within_dynamodbs_limits(default_stack: Synthesized) -> None:
    """AWS (DynamoDB API Reference, Projection.NonKeyAttributes): "For global and local secondary indexes, the total
    count of NonKeyAttributes summed across all of the secondary indexes, must not exceed 100." and "Array Members:
    Minimum number of 1 item. Maximum number of 20 items." So the inventory index (62 day attributes) projects ALL."""
    table = default_stack.template["Resources"][logical_id(default_stack, "AWS::DynamoDB::Table", "DataTable")]
    indexes = table["Properties"]["GlobalSecondaryIndexes"]
    lists = [index["Projection"].get("NonKeyAttributes", []) for index in indexes]
    assert sum(len(names) for names in lists) <= 100 and all(len(names) <= 20 for names in lists)


def test_search_role_reads_only_and_uses_star_only_where_aws_requires(default_stack: Synthesized) -> None:
    role_id = logical_id(default_stack, "AWS::IAM::Role", "SearchRole")
    assert "ManagedPolicyArns" not in default_stack.template["Resources"][role_id]["Properties"]
    statements = role_statements(default_stack, role_id)
    actions = {action for s in statements for action in as_list(s["Action"])}
    dynamodb_actions = {a for a in actions if a.startswith("dynamodb:")}
    assert dynamodb_actions == {"dynamodb:Query", "dynamodb:GetItem", "dynamodb:BatchGetItem"}
    assert "elasticache:Connect" in actions
    assert not any(a.startswith(("events:", "cloudwatch:", "sqs:", "s3:")) for a in actions), actions
    for statement in statements:
        if "*" in as_list(statement["Resource"]):
            assert set(as_list(statement["Action"])) <= STAR_ALLOWED, statement
        for action in as_list(statement["Action"]):
            service, name = action.split(":")
            if service not in ("logs", "xray", "ec2"):
                assert not name.startswith(WRITE_WORDS), action


def test_forwarder_runs_outside_the_vpc_and_may_only_put_its_source(default_stack: Synthesized) -> None:
    functions = default_stack.resources("AWS::Lambda::Function")
    forwarder = functions[logical_id(default_stack, "AWS::Lambda::Function", "Forwarder")]["Properties"]
    search = functions[logical_id(default_stack, "AWS::Lambda::Function", "SearchFunction")]["Properties"]
    assert "VpcConfig" not in forwarder and "VpcConfig" in search
    statements = role_statements(default_stack, logical_id(default_stack, "AWS::IAM::Role", "ForwarderRole"))
    [put] = [s for s in statements if "events:PutEvents" in as_list(s["Action"])]
    assert put["Condition"] == {"StringEquals": {"events:source": "booking.platform"}}
    assert "*" not in as_list(put["Resource"])


def test_the_forwarder_sends_failed_invocations_to_a_destination(default_stack: Synthesized) -> None:
    forwarder_id = logical_id(default_stack, "AWS::Lambda::Function", "Forwarder")
    [config] = [c["Properties"] for c in default_stack.resources("AWS::Lambda::EventInvokeConfig").values()
                if c["Properties"]["FunctionName"] == {"Ref": forwarder_id}]  # fmt: skip
    assert "OnFailure" in config["DestinationConfig"]


def test_functions_use_the_newest_python_on_arm_with_tracing(default_stack: Synthesized) -> None:
    for function in default_stack.resources("AWS::Lambda::Function").values():
        props = function["Properties"]
        if props.get("Handler", "").startswith("cached_booking_api."):
            assert props["Runtime"] == "python3.14"
            assert props["Architectures"] == ["arm64"]
            assert props["TracingConfig"] == {"Mode": "Active"}
            assert props["Timeout"] <= 30


def test_the_search_function_times_out_within_10_seconds(default_stack: Synthesized) -> None:
    search = default_stack.template["Resources"][logical_id(default_stack, "AWS::Lambda::Function", "SearchFunction")]
    assert search["Properties"]["Timeout"] <= 10


def test_alarms_notify_the_topic_when_given(alarm_topic_stack: Synthesized) -> None:
    alarms = alarm_topic_stack.resources("AWS::CloudWatch::Alarm").values()
    assert len(alarms) >= 8
    for alarm in alarms:
        assert alarm["Properties"]["AlarmActions"] and alarm["Properties"]["OKActions"]
        assert alarm["Properties"].get("Statistic") != "Average"


def test_without_a_topic_alarms_have_no_actions(given_vpc_stack: Synthesized) -> None:
    for alarm in given_vpc_stack.resources("AWS::CloudWatch::Alarm").values():
        assert "AlarmActions" not in alarm["Properties"]


@pytest.mark.parametrize("name", sorted(MINIMAL))
def test_no_fixed_physical_names(stacks: Stacks, name: str) -> None:
    synth = stacks[name]
    stack_name = synth.template_path.name.split(".")[0]
    name_properties = ("TableName", "FunctionName", "RoleName", "QueueName", "TopicName", "Name", "LogGroupName",
                       "DashboardName", "AlarmName", "BucketName", "RestApiName", "UsagePlanName")  # fmt: skip
    for logical, resource in synth.template["Resources"].items():
        for prop in name_properties:
            value = resource.get("Properties", {}).get(prop)
            # CDK derives some required names (e.g. the event bus) from the stack name and construct path: unique
            derived = isinstance(value, str) and value.startswith(stack_name)
            assert value is None or not isinstance(value, str) or derived, f"{logical}.{prop} = {value}"


def test_two_instances_in_one_stack_and_two_stacks_do_not_collide() -> None:
    def build(app: cdk.App) -> cdk.Stack:
        first = cdk.Stack(app, "First")
        CachedSearchApi(first, "One", api_cloud_watch_role=False)
        CachedSearchApi(first, "Two", api_cloud_watch_role=False)
        second = cdk.Stack(app, "Second")
        CachedSearchApi(second, "One", api_cloud_watch_role=False)
        return first

    synth = synthesize(build)
    names = [u["Properties"]["UserId"] for u in synth.resources("AWS::ElastiCache::User").values()]
    caches = [
        c["Properties"]["ServerlessCacheName"] for c in synth.resources("AWS::ElastiCache::ServerlessCache").values()
    ]
    assert len(names) == len(set(names)) == 2 and len(set(caches)) == 2  # one IAM user each (valkey)
    second = json.loads((synth.template_path.parent / "Second.template.json").read_text())
    second_caches = {
        r["Properties"]["ServerlessCacheName"]
        for r in second["Resources"].values()
        if r["Type"] == "AWS::ElastiCache::ServerlessCache"
    }
    assert not second_caches & set(caches)
    services = {
        json.dumps(f["Properties"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"])
        for f in synth.resources("AWS::Lambda::Function").values()
        if "Environment" in f["Properties"]
    }
    assert len(services) == 10  # search, bookings, forwarder, invalidation, outbox publisher per instance


@pytest.mark.parametrize("name", sorted(set(MINIMAL) - {"given-vpc"}))  # the user's VPC's flow logs are the user's
@pytest.mark.parametrize("resource_type", ["AWS::Logs::LogGroup"])
def test_every_log_group_has_retention(stacks: Stacks, name: str, resource_type: str) -> None:
    for group in stacks[name].resources(resource_type).values():
        assert group["Properties"]["RetentionInDays"] == 30
