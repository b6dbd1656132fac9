"""The construct on minimal stacks (a stack and the construct, nothing else), one behaviour per test, asserted with
``aws_cdk.assertions.Template``. The stacks are conftest's minimal stacks (synthesized once per session) or, for props
given as tokens, one built here; bundling is skipped."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template

from cached_booking_api import CachedSearchApi
from test.infrastructure.conftest import Synthesized


def minimal_stack(stack_id: str = "Minimal") -> cdk.Stack:
    return cdk.Stack(cdk.App(context={"aws:cdk:bundling-stacks": []}), stack_id)


@pytest.fixture(scope="module")
def default(default_stack: Synthesized) -> Template:
    """``CachedSearchApi(stack, "Api")`` with every default (the session's ``default_stack``)."""
    return default_stack.assertions


@pytest.fixture(scope="module")
def given_vpc(given_vpc_stack: Synthesized) -> Template:
    """The construct given a VPC of the user's (isolated subnets only, as the construct would create)."""
    return given_vpc_stack.assertions


@pytest.fixture(scope="module")
def provisioned(provisioned_stack: Synthesized) -> Template:
    return provisioned_stack.assertions


@pytest.fixture(scope="module")
def tokens() -> Template:
    """Props given as tokens (CloudFormation parameters): resolved at deploy time, so validation must let them pass."""
    stack = minimal_stack("Tokens")

    def number(name: str) -> float:
        return cdk.Token.as_number(cdk.CfnParameter(stack, name, type="Number").value_as_number)

    def text(name: str) -> str:
        return cdk.CfnParameter(stack, name, type="String").value_as_string

    CachedSearchApi(
        stack,
        "Api",
        search_memory_size=number("SearchMemory"),  # type: ignore[arg-type]
        booking_memory_size=number("BookingMemory"),  # type: ignore[arg-type]
        search_reserved_concurrency=number("SearchConcurrency"),  # type: ignore[arg-type]
        event_source=text("EventSource"),
        cors_allowed_origins=[text("Origin")],
    )
    return Template.from_stack(stack)


def handler_of(template: Template, suffix: str) -> dict[str, object]:
    """The properties of the one function whose handler ends with ``suffix`` (e.g. ``search.handler``)."""
    found = [
        resource["Properties"]
        for resource in template.find_resources("AWS::Lambda::Function").values()
        if str(resource["Properties"].get("Handler", "")).endswith(suffix)
    ]
    assert len(found) == 1, f"{len(found)} functions with handler *{suffix}"
    return found[0]  # type: ignore[no-any-return]


# -- network --------------------------------------------------------------------------------------------------------


def test_without_a_vpc_it_creates_one(default: Template) -> None:
    default.resource_count_is("AWS::EC2::VPC", 1)


def test_the_created_vpc_has_isolated_subnets_only(default: Template) -> None:
    default.resource_count_is("AWS::EC2::InternetGateway", 0)
    for subnet in default.find_resources("AWS::EC2::Subnet").values():
        assert subnet["Properties"]["MapPublicIpOnLaunch"] is False


def test_the_created_vpc_has_no_nat_gateway(default: Template) -> None:
    default.resource_count_is("AWS::EC2::NatGateway", 0)


def test_the_created_vpc_has_no_interface_endpoint_only_the_dynamodb_gateway(default: Template) -> None:
    endpoints = default.find_resources("AWS::EC2::VPCEndpoint")
    assert [e["Properties"].get("VpcEndpointType", "Gateway") for e in endpoints.values()] == ["Gateway"]


def test_the_created_vpc_logs_its_flows(default: Template) -> None:
    default.resource_count_is("AWS::EC2::FlowLog", 1)


def test_given_a_vpc_it_creates_no_second_vpc(given_vpc: Template) -> None:
    [vpc_id] = given_vpc.find_resources("AWS::EC2::VPC")
    assert vpc_id.startswith("UserVpc")


def test_given_a_vpc_the_cache_functions_run_in_its_subnets(given_vpc: Template) -> None:
    config = handler_of(given_vpc, "search.handler")["VpcConfig"]
    subnets = config["SubnetIds"]  # type: ignore[index]
    assert subnets and all(s["Ref"].startswith("UserVpc") for s in subnets)


def test_only_functions_that_talk_to_the_cache_are_in_the_vpc(default: Template) -> None:
    in_vpc = {
        str(resource["Properties"]["Handler"]).split(".")[-2]
        for resource in default.find_resources("AWS::Lambda::Function").values()
        if "VpcConfig" in resource["Properties"]
        and str(resource["Properties"].get("Handler", "")).startswith("cached_booking_api.")
    }
    assert in_vpc == {"search", "invalidation"}


# -- cache ----------------------------------------------------------------------------------------------------------


def test_by_default_the_cache_is_serverless_valkey(default: Template) -> None:
    default.resource_count_is("AWS::ElastiCache::ReplicationGroup", 0)
    default.has_resource_properties("AWS::ElastiCache::ServerlessCache", {"Engine": "valkey"})


def test_provisioned_mode_creates_a_multi_az_replication_group_and_no_serverless_cache(provisioned: Template) -> None:
    provisioned.resource_count_is("AWS::ElastiCache::ServerlessCache", 0)
    provisioned.has_resource_properties(
        "AWS::ElastiCache::ReplicationGroup",
        {"MultiAZEnabled": True, "AutomaticFailoverEnabled": True, "Port": 6380,
         "TransitEncryptionEnabled": True, "AtRestEncryptionEnabled": True},
    )  # fmt: skip


# -- data -----------------------------------------------------------------------------------------------------------


def test_it_creates_one_on_demand_table_with_recovery_and_a_stream(default: Template) -> None:
    """The listings table (the other table is the idempotency store, which has no stream)."""
    tables = default.find_resources("AWS::DynamoDB::Table", {"Properties": {"StreamSpecification": Match.any_value()}})
    [table] = tables.values()
    assert table["Properties"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["Properties"]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["Properties"]["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert table["Properties"]["SSESpecification"]["SSEEnabled"] is True


# -- props given as tokens -------------------------------------------------------------------------------------------


def test_a_token_memory_size_is_passed_through(tokens: Template) -> None:
    assert handler_of(tokens, "search.handler")["MemorySize"] == {"Ref": "SearchMemory"}
    assert handler_of(tokens, "bookings.handler")["MemorySize"] == {"Ref": "BookingMemory"}


def test_a_token_reserved_concurrency_is_passed_through(tokens: Template) -> None:
    assert handler_of(tokens, "search.handler")["ReservedConcurrentExecutions"] == {"Ref": "SearchConcurrency"}


def test_a_token_stage_name_is_refused_naming_the_prop() -> None:
    """aws-cdk-lib names the stage's constructs after ``stage_name``, so it cannot be a token: a clear error instead
    of aws-cdk-lib's "ID components may not include unresolved tokens" at synthesis."""
    stack = minimal_stack("TokenStage")
    stage = cdk.CfnParameter(stack, "Stage", type="String").value_as_string
    with pytest.raises(ValueError, match="stage_name: must be a literal name, not a token"):
        CachedSearchApi(stack, "Api", stage_name=stage)


def test_a_token_event_source_is_what_the_rules_match(tokens: Template) -> None:
    patterns = [r["Properties"]["EventPattern"] for r in tokens.find_resources("AWS::Events::Rule").values()]
    assert patterns and all(p["source"] == [{"Ref": "EventSource"}] for p in patterns if "source" in p)


def test_a_token_cors_origin_reaches_the_functions(tokens: Template) -> None:
    variables = handler_of(tokens, "search.handler")["Environment"]["Variables"]  # type: ignore[index]
    assert {"Ref": "Origin"} in variables.values() or any("Origin" in str(v) for v in variables.values())
