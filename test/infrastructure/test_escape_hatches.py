"""Escape hatches, as aws-cdk-lib has them: bring your own table (``table=``), override the created table's and
functions' props (``table_props``, ``function_props``) where the construct does not need its own value; and the
monitoring surface: per-function alarm thresholds and ``metric_*()`` helpers a user can alarm on."""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Match, Template
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from cached_booking_api import AlarmOptions, CachedSearchApi
from cached_booking_api.runtime import config, metric_names, schema

ACCOUNT, REGION = "123456789012", "eu-west-1"
TABLE_ARN = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/team-bookings"
STREAM_ARN = f"{TABLE_ARN}/stream/2026-11-01T00:00:00.000"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/11111111-2222-3333-4444-555555555555"
INDEX_NAMES = [index.name for index in schema.GLOBAL_SECONDARY_INDEXES]


def new_stack() -> tuple[cdk.App, cdk.Stack]:
    app = cdk.App(outdir=tempfile.mkdtemp(prefix="cdk-"), context={"aws:cdk:bundling-stacks": []})
    return app, cdk.Stack(app, "Stack", env=cdk.Environment(account=ACCOUNT, region=REGION))


def nag_findings(app: cdk.App) -> list[str]:
    """AwsSolutions and Serverless findings left unacknowledged after synth."""
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app))
    with contextlib.suppress(Exception):  # cdk-nag 3 raises when findings remain; the report says which
        app.synth()
    report = Path(app.outdir) / "validation-report.json"
    if not report.exists():
        return []
    return [
        f"{violation['ruleName']} @ {construct['constructPath']}"
        for plugin in json.loads(report.read_text()).get("pluginReports", [])
        for violation in plugin.get("violations", [])
        for construct in violation.get("violatingConstructs", [])
    ]


def imported_table(stack: cdk.Stack, **attributes: Any) -> dynamodb.ITable:
    return dynamodb.Table.from_table_attributes(stack, "TeamTable", table_arn=TABLE_ARN, **attributes)


def policy_statements(template: Template, role_logical_prefix: str) -> list[dict[str, Any]]:
    """The statements of the default policy of the role whose logical id starts with the prefix."""
    policies = template.find_resources("AWS::IAM::Policy")
    found = [
        statement
        for policy in policies.values()
        for role in policy["Properties"]["Roles"]
        if role["Ref"].startswith(role_logical_prefix)
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert found, role_logical_prefix
    return found


def actions_on(statements: list[dict[str, Any]], resource: str) -> set[str]:
    actions: set[str] = set()
    for statement in statements:
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        if resource in resources:
            actions.update([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    return actions


# -- table= --------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def given_table() -> tuple[Template, list[str]]:
    app, stack = new_stack()
    table = imported_table(
        stack, table_stream_arn=STREAM_ARN, global_indexes=INDEX_NAMES,
        encryption_key=kms.Key.from_key_arn(stack, "TeamKey", KEY_ARN),
    )  # fmt: skip
    CachedSearchApi(stack, "Api", table=table)
    template = Template.from_stack(stack)
    return template, nag_findings(app)


def test_given_table_creates_no_table(given_table: tuple[Template, list[str]]) -> None:
    template, _ = given_table
    tables = template.find_resources("AWS::DynamoDB::Table")
    assert [table["Properties"]["KeySchema"] for table in tables.values()] == [
        [{"AttributeName": schema.IDEMPOTENCY_PARTITION_KEY, "KeyType": "HASH"}]
    ]  # only the idempotency table, which is the construct's own


def test_given_table_grants_each_function_only_what_it_needs_on_it(given_table: tuple[Template, list[str]]) -> None:
    template, _ = given_table
    search = policy_statements(template, "ApiSearchRole")
    assert actions_on(search, TABLE_ARN) == {"dynamodb:Query", "dynamodb:GetItem", "dynamodb:BatchGetItem"}
    for index in INDEX_NAMES:
        assert actions_on(search, f"{TABLE_ARN}/index/{index}") == {
            "dynamodb:Query", "dynamodb:GetItem", "dynamodb:BatchGetItem",
        }  # fmt: skip
    booking = policy_statements(template, "ApiBookingRole")
    assert "dynamodb:DeleteItem" not in actions_on(booking, TABLE_ARN)
    assert {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem"} <= actions_on(booking, TABLE_ARN)
    assert actions_on(search, KEY_ARN) == {"kms:Decrypt"}  # the table's key: reads decrypt only
    assert {"kms:Encrypt", "kms:Decrypt"} <= actions_on(booking, KEY_ARN)


def test_given_table_feeds_the_pipe_and_the_invalidation_from_its_stream(
    given_table: tuple[Template, list[str]],
) -> None:
    template, _ = given_table
    template.has_resource_properties("AWS::Pipes::Pipe", {"Source": STREAM_ARN})
    template.has_resource_properties("AWS::Lambda::EventSourceMapping", {"EventSourceArn": STREAM_ARN})
    invalidation = policy_statements(template, "ApiInvalidationConsumerRole")
    assert {"dynamodb:GetRecords", "dynamodb:GetShardIterator"} <= actions_on(invalidation, STREAM_ARN)
    assert "kms:Decrypt" in actions_on(invalidation, KEY_ARN)


def test_given_table_functions_read_its_name(given_table: tuple[Template, list[str]]) -> None:
    template, _ = given_table
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {"Environment": {"Variables": Match.object_like({config.TABLE_NAME: "team-bookings"})}},
    )


def test_given_table_is_cdk_nag_clean(given_table: tuple[Template, list[str]]) -> None:
    _, findings = given_table
    assert findings == []


def test_a_table_without_a_stream_is_refused_naming_it() -> None:
    _, stack = new_stack()
    with pytest.raises(ValueError, match=r"table: has no stream.*table_stream_arn"):
        CachedSearchApi(stack, "Api", table=imported_table(stack, global_indexes=INDEX_NAMES))


def test_an_app_table_without_the_indexes_is_refused_naming_them() -> None:
    _, stack = new_stack()
    string = dynamodb.AttributeType.STRING
    table = dynamodb.Table(
        stack, "Mine", partition_key=dynamodb.Attribute(name="pk", type=string),
        sort_key=dynamodb.Attribute(name="sk", type=string), stream=dynamodb.StreamViewType.NEW_IMAGE,
        time_to_live_attribute=schema.TTL_ATTRIBUTE,
    )  # fmt: skip
    with pytest.raises(ValueError, match=r"NEW_AND_OLD_IMAGES.*byDestination \(gsi1pk, gsi1sk\).*inventoryByDest"):
        CachedSearchApi(stack, "Api", table=table)


def test_an_app_table_with_the_schema_is_used_as_is() -> None:
    _, stack = new_stack()
    string = dynamodb.AttributeType.STRING
    table = dynamodb.Table(
        stack, "Mine", partition_key=dynamodb.Attribute(name="pk", type=string),
        sort_key=dynamodb.Attribute(name="sk", type=string), stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
        time_to_live_attribute=schema.TTL_ATTRIBUTE, billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
    )  # fmt: skip
    for index in schema.GLOBAL_SECONDARY_INDEXES:
        table.add_global_secondary_index(
            index_name=index.name, partition_key=dynamodb.Attribute(name=index.partition_key, type=string),
            sort_key=dynamodb.Attribute(name=index.sort_key, type=string),
        )  # fmt: skip
    api = CachedSearchApi(stack, "Api", table=table)
    assert api.table is table
    assert len(Template.from_stack(stack).find_resources("AWS::DynamoDB::Table")) == 2  # the user's + idempotency


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"table_props": {"contributor_insights_enabled": True}}, r"table, table_props: table_props applies to"),
        ({"table_removal_policy": cdk.RemovalPolicy.DESTROY}, r"table, table_removal_policy:"),
    ],
)
def test_table_and_created_table_props_are_mutually_exclusive(props: dict[str, Any], message: str) -> None:
    _, stack = new_stack()
    table = imported_table(stack, table_stream_arn=STREAM_ARN, global_indexes=INDEX_NAMES)
    with pytest.raises(ValueError, match=message):
        CachedSearchApi(stack, "Api", table=table, **props)


# -- table_props, function_props -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def overridden() -> Template:
    _, stack = new_stack()
    CachedSearchApi(
        stack,
        "Api",
        table_props={
            "contributor_insights_enabled": True,
            "table_class": dynamodb.TableClass.STANDARD_INFREQUENT_ACCESS,
        },
        function_props={
            "forwarder": lambda_.FunctionOptions(memory_size=1024, environment={"TEAM": "bookings"}),
            "bookings": lambda_.FunctionOptions(timeout=cdk.Duration.seconds(20), reserved_concurrent_executions=7),
        },
        alarms=AlarmOptions(booking_error_rate_percent=5, invalidation_iterator_age=cdk.Duration.minutes(3)),
    )
    return Template.from_stack(stack)


def test_table_props_override_what_the_construct_leaves_open(overridden: Template) -> None:
    overridden.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "ContributorInsightsSpecification": {"Enabled": True},
            "TableClass": "STANDARD_INFREQUENT_ACCESS",
            "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"},  # still the construct's
        },
    )


def test_function_props_override_memory_and_add_environment(overridden: Template) -> None:
    overridden.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "cached_booking_api.runtime.handlers.forwarder.handler",
            "MemorySize": 1024,
            "Environment": {
                "Variables": Match.object_like({"TEAM": "bookings", config.EVENT_SOURCE: Match.any_value()})
            },
        },
    )


def test_a_timeout_override_reaches_the_handler_time_budget(overridden: Template) -> None:
    overridden.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "cached_booking_api.runtime.handlers.bookings.handler",
            "Timeout": 20,
            "ReservedConcurrentExecutions": 7,
            "Environment": {"Variables": Match.object_like({config.FUNCTION_TIMEOUT_SECONDS: "20"})},
        },
    )


@pytest.mark.parametrize(
    ("props", "message"),
    [
        (
            {"table_props": {"partition_key": dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING)}},
            r"table_props.partition_key: the construct needs",
        ),
        ({"table_props": {"partitionKey": None}}, r"table_props: 'partitionKey' is not a dynamodb.Table prop"),
        (
            {"function_props": {"search": lambda_.FunctionOptions(tracing=lambda_.Tracing.DISABLED)}},
            r"function_props\['search'\].tracing: set by the construct",
        ),
        (
            {"function_props": {"bookings": lambda_.FunctionOptions(environment={config.TABLE_NAME: "other"})}},
            r"function_props\['bookings'\].environment: TABLE_NAME belong to the function's settings",
        ),
        (
            {"function_props": {"search": lambda_.FunctionOptions(timeout=cdk.Duration.seconds(40))}},
            r"function_props\['search'\].timeout: 40 s is above 28 s",
        ),
        (
            {"function_props": {"search": lambda_.FunctionOptions(timeout=cdk.Duration.seconds(3))}},
            r"within its 3 s timeout \(function_props\['search'\].timeout\)",
        ),
        ({"function_props": {"loader": lambda_.FunctionOptions()}}, r"function_props: 'loader' is not a function"),
    ],
    ids=["table-key", "table-unknown-prop", "owned-tracing", "settings-variable", "api-timeout", "budget", "name"],
)
def test_a_conflicting_override_is_refused_naming_it(props: dict[str, Any], message: str) -> None:
    _, stack = new_stack()
    with pytest.raises(ValueError, match=message):
        CachedSearchApi(stack, "Api", **props)


def test_an_owned_function_prop_given_with_the_construct_value_is_accepted() -> None:
    _, stack = new_stack()
    api = CachedSearchApi(
        stack, "Api", function_props={"search": lambda_.FunctionOptions(tracing=lambda_.Tracing.ACTIVE)}
    )
    assert api.search_function is not None


# -- monitoring ----------------------------------------------------------------------------------------------------


def alarm(template: Template, name: str) -> dict[str, Any]:
    [found] = [
        resource["Properties"]
        for logical_id, resource in template.find_resources("AWS::CloudWatch::Alarm").items()
        if logical_id.startswith(f"ApiMonitoring{name}")
    ]
    return found


def test_booking_errors_have_their_own_threshold(overridden: Template) -> None:
    assert alarm(overridden, "BookingErrorRate")["Threshold"] == 5
    assert alarm(overridden, "SearchErrorRate")["Threshold"] == 1  # no longer the one BookingErrorRate borrows
    assert alarm(overridden, "InvalidationIteratorAge")["Threshold"] == 180_000


def test_alarms_watch_the_metric_names_the_handlers_emit(overridden: Template) -> None:
    assert alarm(overridden, "CacheCircuitOpen")["MetricName"] == metric_names.CIRCUIT_OPEN
    assert alarm(overridden, "CacheErrors")["MetricName"] == metric_names.CACHE_ERROR


MetricHelper = Callable[[CachedSearchApi], cloudwatch.IMetric]


@pytest.fixture(scope="module")
def user_alarms() -> Template:
    """A user's alarms on the construct's metric helpers."""
    _, stack = new_stack()
    api = CachedSearchApi(stack, "Api", metrics_namespace="Team")
    helpers: dict[str, MetricHelper] = {
        "Hits": lambda api: api.metric_cache_hits(),
        "Misses": lambda api: api.metric_cache_misses(),
        "Bypasses": lambda api: api.metric_cache_bypasses(),
        "Errors": lambda api: api.metric_cache_errors(),
        "Circuit": lambda api: api.metric_circuit_opened(),
        "Latency": lambda api: api.metric_search_latency(),
        "Confirmed": lambda api: api.metric_bookings_confirmed(),
        "Cancelled": lambda api: api.metric_bookings_cancelled(),
        "Invalidations": lambda api: api.metric_cache_invalidations(),
        "HitRatio": lambda api: api.metric_cache_hit_ratio(),
    }
    for name, helper in helpers.items():
        helper(api).create_alarm(stack, f"User{name}", threshold=1, evaluation_periods=1)
    return Template.from_stack(stack)


def user_alarm(template: Template, name: str) -> dict[str, Any]:
    [found] = [
        resource["Properties"]
        for logical_id, resource in template.find_resources("AWS::CloudWatch::Alarm").items()
        if logical_id.startswith(f"User{name}")
    ]
    return found


def service_name_of(template: Template, handler_module: str) -> str:
    [function] = [
        resource["Properties"]
        for resource in template.find_resources("AWS::Lambda::Function").values()
        if resource["Properties"].get("Handler") == f"cached_booking_api.runtime.handlers.{handler_module}.handler"
    ]
    return str(function["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"])


@pytest.mark.parametrize(
    ("name", "metric", "statistic"),
    [
        ("Hits", metric_names.CACHE_HIT, "Sum"),
        ("Misses", metric_names.CACHE_MISS, "Sum"),
        ("Bypasses", metric_names.CACHE_BYPASS, "Sum"),
        ("Errors", metric_names.CACHE_ERROR, "Sum"),
        ("Circuit", metric_names.CIRCUIT_OPEN, "Sum"),
        ("Latency", metric_names.SEARCH_LATENCY, "p99"),
        ("Confirmed", metric_names.BOOKING_CONFIRMED, "Sum"),
        ("Cancelled", metric_names.BOOKING_CANCELLED, "Sum"),
        ("Invalidations", metric_names.CACHE_INVALIDATIONS, "Sum"),
    ],
)
def test_metric_helpers_watch_the_emitting_function(
    user_alarms: Template, name: str, metric: str, statistic: str
) -> None:
    """Each helper names the metric, the namespace and the ``service`` dimension of the function that emits it."""
    properties = user_alarm(user_alarms, name)
    assert properties["MetricName"] == metric and properties["Namespace"] == "Team"
    emitter = service_name_of(user_alarms, metric_names.EMITTED_BY[metric])
    assert properties["Dimensions"] == [{"Name": "service", "Value": emitter}]
    assert properties.get("Statistic", properties.get("ExtendedStatistic")) == statistic


def test_the_hit_ratio_helper_is_a_math_expression_over_search_outcomes(user_alarms: Template) -> None:
    metrics = user_alarm(user_alarms, "HitRatio")["Metrics"]
    names = {m["MetricStat"]["Metric"]["MetricName"] for m in metrics if "MetricStat" in m}
    assert names == {metric_names.CACHE_HIT, metric_names.CACHE_MISS, metric_names.CACHE_STALE}


def test_an_unknown_metric_name_is_refused() -> None:
    _, stack = new_stack()
    api = CachedSearchApi(stack, "Api")
    with pytest.raises(ValueError, match=r"metric_name: 'CacheHits' is not emitted by the handlers"):
        api.metric("CacheHits")


def test_the_cache_type_is_exported() -> None:
    import cached_booking_api
    from cached_booking_api.infrastructure.cache_cluster import Cache

    assert cached_booking_api.Cache is Cache
    assert "Cache" in cached_booking_api.__all__
