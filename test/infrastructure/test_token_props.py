"""Option props given as tokens (a ``CfnParameter``'s value, another resource's attribute), as aws-cdk-lib treats them:
CloudFormation resolves a token at deploy time, so the construct cannot check it and does not (aws-cdk-lib guards each
check with ``Token.isUnresolved``, e.g. ``aws_lambda.Function``'s memory size); the token reaches the template as it
is. A prop the construct derives other numbers from (CloudFormation has no arithmetic) is refused as a token, naming
the prop and what to give instead, never checked or derived as the number a token looks like in Python (a huge
negative float)."""

from __future__ import annotations

import json
import re
from typing import Any

import aws_cdk as cdk
import jsii
import pytest
from aws_cdk import Duration

from cached_booking_api import AlarmOptions, CachedSearchApi, CacheOptions, Partner, ThrottleOptions
from cached_booking_api.runtime import config

GARBAGE = r"e\+2\d\d|\d{100}"
"""A number token as Python sees it (about -1.89e+289), written with ``str()`` or ``str(int())``."""


def new_stack(stack_id: str) -> cdk.Stack:
    return cdk.Stack(cdk.App(context={"aws:cdk:bundling-stacks": []}), stack_id)


def number(stack: cdk.Stack, name: str) -> float:
    """A number known at deploy time only (a ``Number`` parameter)."""
    return cdk.CfnParameter(stack, name, type="Number").value_as_number


def template_of(stack: cdk.Stack) -> dict[str, Any]:
    from aws_cdk.assertions import Template

    return Template.from_stack(stack).to_json()  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def tokens() -> dict[str, Any]:
    """Every pass-through option prop as a parameter (serverless caps literal: the cache alarms derive from them)."""
    stack = new_stack("OptionTokens")
    CachedSearchApi(
        stack,
        "Api",
        cache=CacheOptions(
            timeout_ms=number(stack, "CacheTimeoutMs"),  # type: ignore[arg-type]
            connect_timeout_ms=number(stack, "ConnectTimeoutMs"),  # type: ignore[arg-type]
            circuit_failure_threshold=number(stack, "CircuitThreshold"),  # type: ignore[arg-type]
            ttl=Duration.seconds(number(stack, "Ttl")),
            stale_window=Duration.seconds(number(stack, "Stale")),
            negative_ttl=Duration.seconds(number(stack, "NegativeTtl")),
            circuit_cooldown=Duration.seconds(number(stack, "Cooldown")),
            max_ecpu_per_second=5000,
            max_data_storage_gb=5,
        ),
        throttle=ThrottleOptions(quota_limit=number(stack, "Quota")),  # type: ignore[arg-type]
        alarms=AlarmOptions(
            api_5xx_rate_percent=number(stack, "Api5xx"),
            search_error_rate_percent=number(stack, "SearchErrors"),
            booking_error_rate_percent=number(stack, "BookingErrors"),
            api_throttled_rate_percent=number(stack, "Throttled"),
            cache_errors_per_5_minutes=number(stack, "CacheErrors"),  # type: ignore[arg-type]
            evaluation_periods=number(stack, "Periods"),  # type: ignore[arg-type]
            datapoints_to_alarm=number(stack, "Datapoints"),  # type: ignore[arg-type]
            api_p99_latency=Duration.millis(number(stack, "P99Ms")),
            invalidation_iterator_age=Duration.millis(number(stack, "IteratorAgeMs")),
        ),
    )
    return template_of(stack)


def resources(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: r["Properties"] for k, r in template["Resources"].items() if r["Type"] == resource_type}


def alarm(template: dict[str, Any], name: str) -> dict[str, Any]:
    [found] = [props for k, props in resources(template, "AWS::CloudWatch::Alarm").items() if f"Monitoring{name}" in k]
    return found


def search_environment(template: dict[str, Any]) -> dict[str, Any]:
    [search] = [f for f in resources(template, "AWS::Lambda::Function").values()
                if f.get("Handler", "").endswith("handlers.search.handler")]  # fmt: skip
    return search["Environment"]["Variables"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("variable", "parameter"),
    [
        (config.CACHE_TIMEOUT_MS, "CacheTimeoutMs"),
        (config.CACHE_CONNECT_TIMEOUT_MS, "ConnectTimeoutMs"),
        (config.CIRCUIT_FAILURE_THRESHOLD, "CircuitThreshold"),
        (config.CACHE_TTL_SECONDS, "Ttl"),
        (config.CACHE_STALE_SECONDS, "Stale"),
        (config.CACHE_NEGATIVE_TTL_SECONDS, "NegativeTtl"),
        (config.CIRCUIT_COOLDOWN_SECONDS, "Cooldown"),
    ],
)
def test_a_token_cache_setting_reaches_the_search_function_as_the_parameter(
    tokens: dict[str, Any], variable: str, parameter: str
) -> None:
    assert search_environment(tokens)[variable] == {"Ref": parameter}


def test_a_token_quota_reaches_the_usage_plan(tokens: dict[str, Any]) -> None:
    [plan] = resources(tokens, "AWS::ApiGateway::UsagePlan").values()
    assert plan["Quota"] == {"Limit": {"Ref": "Quota"}, "Period": "DAY"}


@pytest.mark.parametrize(
    ("name", "parameter"),
    [
        ("Api5xxRate", "Api5xx"),
        ("SearchErrorRate", "SearchErrors"),
        ("BookingErrorRate", "BookingErrors"),
        ("ApiThrottled", "Throttled"),
        ("CacheErrors", "CacheErrors"),
        ("ApiLatencyP99", "P99Ms"),
        ("InvalidationIteratorAge", "IteratorAgeMs"),
    ],
)
def test_a_token_alarm_threshold_reaches_its_alarm(tokens: dict[str, Any], name: str, parameter: str) -> None:
    assert alarm(tokens, name)["Threshold"] == {"Ref": parameter}


def test_token_evaluation_periods_and_datapoints_reach_every_rate_alarm(tokens: dict[str, Any]) -> None:
    rate = alarm(tokens, "SearchErrorRate")
    assert (rate["EvaluationPeriods"], rate["DatapointsToAlarm"]) == ({"Ref": "Periods"}, {"Ref": "Datapoints"})


def test_no_token_is_written_as_the_number_it_looks_like_in_python(tokens: dict[str, Any]) -> None:
    """A number token is a float such as -1.8881545897087626e+289 in Python: written with ``str()`` (or as a whole
    number) it would deploy as that number."""
    assert not re.search(GARBAGE, json.dumps(tokens))


@pytest.fixture(scope="module")
def provisioned_tokens() -> dict[str, Any]:
    stack = new_stack("ProvisionedTokens")
    CachedSearchApi(stack, "Api", cache=CacheOptions(mode="provisioned", replicas=number(stack, "Replicas"),  # type: ignore[arg-type]
                    port=number(stack, "Port")))  # type: ignore[arg-type]  # fmt: skip
    return template_of(stack)


def test_token_replicas_and_port_reach_the_replication_group(provisioned_tokens: dict[str, Any]) -> None:
    [group] = resources(provisioned_tokens, "AWS::ElastiCache::ReplicationGroup").values()
    assert (group["ReplicasPerNodeGroup"], group["Port"]) == ({"Ref": "Replicas"}, {"Ref": "Port"})
    assert not re.search(GARBAGE, json.dumps(provisioned_tokens))


def _build(props: Any) -> None:
    stack = new_stack("Derived")
    CachedSearchApi(stack, "Api", **props(stack))


@pytest.mark.parametrize(
    ("props", "message"),
    [
        (lambda s: {"throttle": ThrottleOptions(expected_peak_rps=number(s, "P"))}, "throttle.expected_peak_rps"),
        (lambda s: {"throttle": ThrottleOptions(rate_limit=number(s, "P"))}, "throttle.rate_limit"),
        (lambda s: {"throttle": ThrottleOptions(burst_limit=number(s, "P"))}, "throttle.burst_limit"),  # type: ignore[arg-type]
        (lambda s: {"throttle": ThrottleOptions(booking_rate_limit=number(s, "P"))}, "throttle.booking_rate_limit"),
        (
            lambda s: {"throttle": ThrottleOptions(partners=(Partner("a", rate_limit=number(s, "P")),))},
            "throttle.partners[0].rate_limit",
        ),  # fmt: skip
        (
            lambda s: {"cache": CacheOptions(expected_peak_searches_per_second=number(s, "P"))},
            "cache.expected_peak_searches_per_second",
        ),  # fmt: skip
        (lambda s: {"cache": CacheOptions(max_ecpu_per_second=number(s, "P"))}, "cache.max_ecpu_per_second"),  # type: ignore[arg-type]
        (lambda s: {"cache": CacheOptions(max_data_storage_gb=number(s, "P"))}, "cache.max_data_storage_gb"),  # type: ignore[arg-type]
        (lambda s: {"cache": CacheOptions(ttl=Duration.seconds(number(s, "P")))}, "cache.ttl"),
        (lambda s: {"cache": CacheOptions(ttl=Duration.minutes(number(s, "P")), max_data_storage_gb=5)}, "cache.ttl"),
        (
            lambda s: {"alarms": AlarmOptions(api_p99_latency=Duration.seconds(number(s, "P")))},
            "alarms.api_p99_latency",
        ),  # fmt: skip
    ],
    ids=[
        "peak-rps",
        "rate",
        "burst",
        "booking-rate",
        "partner-rate",
        "peak-searches",
        "ecpu-cap",
        "storage-cap",
        "ttl-storage-derived",
        "ttl-in-minutes",
        "p99-in-seconds",
    ],  # fmt: skip
)
def test_a_token_the_construct_derives_from_is_refused_naming_the_prop(props: Any, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message) + r": .*token") as refused:
        _build(props)
    assert "." in str(refused.value).split("token", 1)[1], "the message says what to give instead"


def test_token_trace_sampling_props_reach_the_sampling_rule() -> None:
    from cached_booking_api import ObservabilityOptions

    stack = new_stack("ObservabilityTokens")
    options = ObservabilityOptions(trace_sampling_rate=number(stack, "Rate"),
                                   trace_reservoir_per_second=number(stack, "Reservoir"),  # type: ignore[arg-type]
                                   trace_sampling_priority=number(stack, "Priority"))  # type: ignore[arg-type]  # fmt: skip
    CachedSearchApi(stack, "Api", observability=options)
    [rule] = resources(template_of(stack), "AWS::XRay::SamplingRule").values()
    sampling = rule["SamplingRule"]
    assert (sampling["FixedRate"], sampling["ReservoirSize"], sampling["Priority"]) == (
        {"Ref": "Rate"}, {"Ref": "Reservoir"}, {"Ref": "Priority"},
    )  # fmt: skip


@pytest.fixture(scope="module")
def timeout_tokens() -> dict[str, Any]:
    """Each function's timeout and memory given as parameters through ``function_props``."""
    from aws_cdk import aws_lambda as lambda_

    stack = new_stack("TimeoutTokens")
    CachedSearchApi(stack, "Api", function_props={
        name: lambda_.FunctionOptions(timeout=Duration.seconds(number(stack, f"{name}Timeout")),
                                      memory_size=number(stack, f"{name}Memory"))  # type: ignore[arg-type]
        for name in ("search", "bookings", "invalidation", "forwarder")
    })  # fmt: skip
    return template_of(stack)


@pytest.mark.parametrize("name", ["search", "bookings", "invalidation", "forwarder"])
def test_a_token_function_timeout_reaches_the_function_and_its_settings(
    timeout_tokens: dict[str, Any], name: str
) -> None:
    """The synth-time time-budget check of the search cannot run on a token and does not; the handler checks the
    resolved timeout when it starts."""
    [function] = [f for f in resources(timeout_tokens, "AWS::Lambda::Function").values()
                  if f.get("Handler", "").endswith(f"handlers.{name}.handler")]  # fmt: skip
    assert (function["Timeout"], function["MemorySize"]) == ({"Ref": f"{name}Timeout"}, {"Ref": f"{name}Memory"})
    assert function["Environment"]["Variables"][config.FUNCTION_TIMEOUT_SECONDS] == {"Ref": f"{name}Timeout"}
    assert not re.search(GARBAGE, json.dumps(function))


def test_a_token_function_timeout_in_minutes_is_refused_naming_the_prop() -> None:
    from aws_cdk import aws_lambda as lambda_

    stack = new_stack("TimeoutInMinutes")
    options = lambda_.FunctionOptions(timeout=Duration.minutes(number(stack, "T")))
    with pytest.raises(ValueError, match=r"function_props\['bookings'\]\.timeout: .*token.*Duration\.seconds"):
        CachedSearchApi(stack, "Api", function_props={"bookings": options})


def test_token_checks_answer_as_aws_cdk_lib_without_asking_it_about_plain_literals(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``infrastructure.tokens.unresolved`` (issue 10.3: every call into aws-cdk-lib is a round trip to its Node
    process) gives ``Token.is_unresolved``'s answer for tokens of every kind and for literals, and asks aws-cdk-lib
    nothing about a plain string or a number of ordinary size."""
    from cached_booking_api.infrastructure import tokens as module

    stack = new_stack("TokenCheck")
    parameter = cdk.CfnParameter(stack, "Name")
    values: list[Any] = [
        parameter.value_as_string, number(stack, "Count"), cdk.Aws.REGION, f"arn:{cdk.Aws.PARTITION}:s3:::b",
        cdk.Token.as_list(parameter.value_as_string), cdk.Lazy.string(producer=_Name()), "Token[x", [cdk.Aws.REGION],
        "plain", "", 0, 5, -3.5, 1e199, True, None, [], ["a"], {"k": "v"},
    ]  # fmt: skip
    assert [module.unresolved(v) for v in values] == [bool(cdk.Token.is_unresolved(v)) for v in values]
    assert [module.unresolved(v) for v in values[:6]] == [True] * 6

    def refuse(value: object) -> bool:
        raise AssertionError(f"asked aws-cdk-lib about {value!r}")

    monkeypatch.setattr(module.Token, "is_unresolved", refuse)
    for literal in ("plain", "https://booking.example.com", 0, 512, 0.05, -3.5, True, None):
        assert module.unresolved(literal) is False


@jsii.implements(cdk.IStringProducer)
class _Name:
    def produce(self, _context: Any) -> str:
        return "name"
