"""The existing-resources example (examples/existing_resources): ``CachedSearchApi`` on a team's VPC (looked up, the
answer cached in cdk.context.json), table (imported with its stream and indexes), bus and alarm topic. It creates
none of them, grants only on them, synthesizes with no unacknowledged cdk-nag finding and a clean cfn-lint."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest

from test.examples.conftest import EXAMPLES, Synthesized, cfn_lint, example_context, load_example, synthesize_example

CONTEXT = example_context("existing_resources")
[VPC_LOOKUP] = [value for key, value in CONTEXT.items() if key.startswith("vpc-provider:")]
[PRIVATE] = [group for group in VPC_LOOKUP["subnetGroups"] if group["type"] == "Private"]
PRIVATE_SUBNETS = [subnet["subnetId"] for subnet in PRIVATE["subnets"]]
PRIVATE_ROUTE_TABLES = [subnet["routeTableId"] for subnet in PRIVATE["subnets"]]
STREAM_ARN = CONTEXT["existing:tableStreamArn"]
TABLE_ARN = f"arn:aws:dynamodb:{CONTEXT['existing:region']}:{CONTEXT['existing:account']}:table/bookings"
BUS_ARN = f"arn:aws:events:{CONTEXT['existing:region']}:{CONTEXT['existing:account']}:event-bus/platform-events"


@pytest.fixture(scope="module")
def example_app() -> Synthesized:
    """The example, synthesized once for this module with its cdk.json and cdk.context.json."""
    return synthesize_example("existing_resources")


def statements(synthesized: Synthesized, role_prefix: str) -> list[dict[str, Any]]:
    """Every statement of the inline policies of the roles whose logical id starts with ``role_prefix``."""
    return [
        statement
        for policy_id, policy in synthesized.resources("AWS::IAM::Policy").items()
        if policy_id.startswith(role_prefix)
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def resolved(value: Any) -> str:
    """An ARN as the template writes it (``arn:${AWS::Partition}:...`` joined), with the partition ``aws``."""
    if isinstance(value, dict) and "Fn::Join" in value:
        refs = {"AWS::Partition": "aws", "AWS::Region": CONTEXT["existing:region"]}
        return "".join(refs[part["Ref"]] if isinstance(part, dict) else str(part) for part in value["Fn::Join"][1])
    return str(value)


def test_the_example_has_no_unacknowledged_nag_findings(example_app: Synthesized) -> None:
    assert example_app.nag_findings == []


def test_the_example_passes_cfn_lint(example_app: Synthesized) -> None:
    assert cfn_lint(example_app.template_path) == ""


def test_the_cached_lookup_is_the_vpc_cdk_json_names() -> None:
    """The committed cdk.context.json answers exactly the lookup the app makes (else the CLI would look up again)."""
    [key] = [key for key in json.loads((EXAMPLES / "existing_resources" / "cdk.context.json").read_text())]
    assert f"filter.vpc-id={CONTEXT['existing:vpcId']}" in key
    assert f"account={CONTEXT['existing:account']}" in key and f"region={CONTEXT['existing:region']}" in key


def test_no_vpc_is_created_and_the_functions_and_cache_use_the_teams_private_subnets(example_app: Synthesized) -> None:
    for resource_type in ("AWS::EC2::VPC", "AWS::EC2::Subnet", "AWS::EC2::NatGateway", "AWS::EC2::FlowLog"):
        assert example_app.resources(resource_type) == {}, resource_type
    in_vpc = [f for f in example_app.resources("AWS::Lambda::Function").values() if "VpcConfig" in f["Properties"]]
    assert len(in_vpc) == 2  # the search function and the cache invalidation consumer
    assert all(f["Properties"]["VpcConfig"]["SubnetIds"] == PRIVATE_SUBNETS for f in in_vpc)
    assert example_app.one("AWS::ElastiCache::ServerlessCache")["Properties"]["SubnetIds"] == PRIVATE_SUBNETS


def test_a_dynamodb_gateway_endpoint_is_added_on_the_private_route_tables(example_app: Synthesized) -> None:
    """The PrivateLink guide ("Gateway endpoints"): "All instances in the subnets associated with a route table
    associated with a gateway endpoint automatically use the gateway endpoint to access the service". With
    existing:vpcHasDynamoDbEndpoint false in cdk.json, the construct adds DynamoDB's gateway endpoint on exactly the
    route tables of the looked-up private subnets the functions run in (the public route table gets none)."""
    assert CONTEXT["existing:vpcHasDynamoDbEndpoint"] is False
    endpoint = example_app.one("AWS::EC2::VPCEndpoint")["Properties"]
    assert endpoint["VpcId"] == CONTEXT["existing:vpcId"]
    assert endpoint["RouteTableIds"] == PRIVATE_ROUTE_TABLES
    assert endpoint["VpcEndpointType"] == "Gateway"
    assert resolved(endpoint["ServiceName"]).endswith(".dynamodb")


def test_no_bookings_table_is_created_only_the_idempotency_table(example_app: Synthesized) -> None:
    [table] = example_app.resources("AWS::DynamoDB::Table").values()
    assert [key["AttributeName"] for key in table["Properties"]["KeySchema"]] == ["id"]  # the idempotency records
    assert "StreamSpecification" not in table["Properties"]


def test_the_search_role_reads_only_the_given_table_and_its_indexes(example_app: Synthesized) -> None:
    dynamodb = [s for s in statements(example_app, "BookingApiSearchRole") if "dynamodb:Query" in s["Action"]]
    [statement] = dynamodb
    assert sorted(statement["Action"]) == ["dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:Query"]
    assert [resolved(r) for r in statement["Resource"]] == [
        TABLE_ARN, f"{TABLE_ARN}/index/byDestination", f"{TABLE_ARN}/index/inventoryByDestination",
    ]  # fmt: skip


def test_the_booking_role_writes_items_of_the_given_table_only(example_app: Synthesized) -> None:
    [statement] = [s for s in statements(example_app, "BookingApiBookingRole") if "dynamodb:ConditionCheckItem" in
                   s["Action"]]  # fmt: skip
    assert resolved(statement["Resource"]) == TABLE_ARN
    assert "dynamodb:Scan" not in statement["Action"] and "dynamodb:DeleteItem" not in statement["Action"]


def test_the_outbox_pipe_and_the_invalidation_consumer_read_the_given_stream(example_app: Synthesized) -> None:
    assert example_app.one("AWS::Pipes::Pipe")["Properties"]["Source"] == STREAM_ARN
    assert example_app.one("AWS::Lambda::EventSourceMapping")["Properties"]["EventSourceArn"] == STREAM_ARN


def test_no_bus_is_created_rules_and_puts_use_the_teams_bus(example_app: Synthesized) -> None:
    assert example_app.resources("AWS::Events::EventBus") == {}
    assert example_app.resources("AWS::Events::Archive") == {}
    rules = example_app.resources("AWS::Events::Rule").values()
    assert rules and all(rule["Properties"]["EventBusName"] == "platform-events" for rule in rules)
    puts = [s for s in statements(example_app, "BookingApi") if s["Action"] == "events:PutEvents"]
    assert len(puts) == 2  # the search.completed forwarder and the outbox publisher
    for statement in puts:
        assert resolved(statement["Resource"]) == BUS_ARN
        assert statement["Condition"]["StringEquals"]["events:source"] == "booking.platform"


def test_alarms_notify_the_teams_topic(example_app: Synthesized) -> None:
    alarms = example_app.resources("AWS::CloudWatch::Alarm").values()
    assert alarms and all(a["Properties"]["AlarmActions"] == [CONTEXT["existing:alarmTopicArn"]] for a in alarms)
    assert example_app.resources("AWS::SNS::Topic") == {}


def test_a_missing_setting_is_a_clear_error() -> None:
    context = {key: value for key, value in CONTEXT.items() if key != "existing:tableStreamArn"}
    with pytest.raises(ValueError, match=r"existing:tableStreamArn: not set\. Set it in cdk\.json's context"):
        load_example("existing_resources").build_app(cdk.App(context=context))


def test_python_app_py_gets_the_context_cdk_synth_would_give(monkeypatch: pytest.MonkeyPatch) -> None:
    """``python app.py`` reads this folder's cdk.json and cdk.context.json; under the CLI (``CDK_CONTEXT_JSON`` set)
    it adds nothing, the CLI's context being read by ``cdk.App`` itself."""
    module = load_example("existing_resources")
    monkeypatch.delenv("CDK_CONTEXT_JSON", raising=False)
    assert module.cli_context() == CONTEXT
    monkeypatch.setenv("CDK_CONTEXT_JSON", "{}")
    assert module.cli_context() == {}
