"""Observability cost levers: the X-Ray sampling rule, log levels, and pricing the synthesized template."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from cached_booking_api import CachedSearchApi, ObservabilityOptions
from cached_booking_api.runtime import emf
from cached_booking_api.tools import cost
from test.infrastructure.conftest import Synthesized


def test_the_api_stage_has_a_cheap_xray_sampling_rule(default_stack: Synthesized) -> None:
    """API Gateway docs (Configure AWS X-Ray sampling rules for API Gateway APIs): "Service name (string) - The API
    stage name, in the form of {api-name}/{stage-name}" and "Service type (string) - For an API Gateway API, either
    AWS::ApiGateway::Stage or AWS::ApiGateway::* can be specified." """
    rule = default_stack.one("AWS::XRay::SamplingRule")["Properties"]["SamplingRule"]
    [api] = default_stack.resources("AWS::ApiGateway::RestApi").values()
    [stage] = default_stack.resources("AWS::ApiGateway::Stage").values()
    assert rule["ServiceType"] == "AWS::ApiGateway::Stage"
    assert rule["ServiceName"] == f"{api['Properties']['Name']}/{stage['Properties']['StageName']}"
    assert (rule["FixedRate"], rule["ReservoirSize"], rule["Priority"]) == (0.05, 0, 1000)
    assert len(rule["RuleName"]) <= 32
    assert {rule[k] for k in ("Host", "HTTPMethod", "URLPath", "ResourceARN")} == {"*"}
    assert stage["Properties"]["TracingEnabled"] is True


def test_functions_log_at_the_levels_of_the_props(default_stack: Synthesized) -> None:
    functions = {f["Properties"]["Handler"].rsplit(".", 2)[-2]: f["Properties"]
                 for f in default_stack.resources("AWS::Lambda::Function").values()
                 if "cached_booking_api" in f["Properties"].get("Handler", "")}  # fmt: skip
    assert {"search", "bookings"} <= set(functions)
    for props in functions.values():
        assert props["LoggingConfig"]["SystemLogLevel"] == "WARN"
        assert props["Environment"]["Variables"]["POWERTOOLS_LOG_LEVEL"] == "INFO"
        assert props["TracingConfig"]["Mode"] == "Active"


@pytest.fixture(scope="module")
def levers() -> tuple[CachedSearchApi, dict[str, Any]]:
    """One stack with every observability lever away from its default (synthesized once for the tests below)."""
    app = cdk.App(context={"aws:cdk:bundling-stacks": []})
    stack = cdk.Stack(app, "Quiet")
    options = ObservabilityOptions(log_level="ERROR", system_log_level="INFO", trace_sampling_rate=0.5,
                                   detailed_metrics=True, dashboard=True)  # fmt: skip
    api = CachedSearchApi(stack, "Api", observability=options)
    return api, app.synth().get_stack_by_name("Quiet").template


def test_the_search_function_never_logs_above_info(levers: tuple[CachedSearchApi, dict[str, Any]]) -> None:
    """search.completed events are INFO log lines: a quieter level must not silence them."""
    api, template = levers
    stack = cdk.Stack.of(api)
    search = stack.resolve(api.search_function.node.default_child.logical_id)  # type: ignore[union-attr]
    booking = stack.resolve(api.booking_function.node.default_child.logical_id)  # type: ignore[union-attr]
    env = {name: template["Resources"][name]["Properties"]["Environment"]["Variables"] for name in (search, booking)}
    assert env[search]["POWERTOOLS_LOG_LEVEL"] == "INFO" and env[booking]["POWERTOOLS_LOG_LEVEL"] == "ERROR"
    rules = [r for r in template["Resources"].values() if r["Type"] == "AWS::XRay::SamplingRule"]
    assert rules[0]["Properties"]["SamplingRule"]["FixedRate"] == 0.5


def test_detailed_metrics_and_the_dashboard_are_opt_in(default_stack: Synthesized) -> None:
    """Issue 10.2: the fixed cost is justified line by line. By default no dashboard ($3/month) and the handlers
    publish only the metrics an alarm or the hit ratio reads."""
    assert not default_stack.resources("AWS::CloudWatch::Dashboard")
    handlers = [f["Properties"] for f in default_stack.resources("AWS::Lambda::Function").values()
                if "cached_booking_api" in f["Properties"].get("Handler", "")]  # fmt: skip
    assert {f["Environment"]["Variables"][emf.DETAILED_METRICS_ENV] for f in handlers} == {"false"}
    deployment = cost.Deployment.from_template(default_stack.template_path)
    assert (deployment.dashboards, deployment.detailed_metrics) == (0, False)
    assert {m.name for m in deployment.custom_metrics} >= emf.ALARMED


def test_detailed_metrics_and_the_dashboard_are_levers_the_cost_model_reads(
    levers: tuple[CachedSearchApi, dict[str, Any]],
) -> None:
    """Each lever is a prop: with both on, the stack has one dashboard, the handlers publish every metric, and the
    cost model reads both from the template."""
    api, template = levers
    assert api.dashboard is not None
    assert [r["Type"] for r in template["Resources"].values()].count("AWS::CloudWatch::Dashboard") == 1
    functions = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    detailed = {f["Environment"]["Variables"][emf.DETAILED_METRICS_ENV]
                for f in functions if "cached_booking_api" in f["Handler"]}  # fmt: skip
    assert detailed == {"true"}
    path = Path(tempfile.mkdtemp()) / "levers.template.json"
    path.write_text(json.dumps(template))
    priced = cost.Deployment.from_template(path)
    assert (priced.dashboards, priced.detailed_metrics) == (1, True)
    assert len(priced.custom_metrics) == len(cost.CUSTOM_METRICS)


def test_the_429_metric_has_data_only_in_hours_with_a_429(default_stack: Synthesized) -> None:
    """CDK docs (aws_logs.MetricFilterProps.default_value): "The value to emit if the pattern does not match a
    particular event. Default: No metric emitted." With a default value the 429 count had data (and was billed as a
    custom metric) in every hour with traffic; without one it has data only when a client was throttled, and the
    ApiThrottled alarm reads the gaps as 0 (FILL)."""
    [metric_filter] = default_stack.resources("AWS::Logs::MetricFilter").values()
    [transformation] = metric_filter["Properties"]["MetricTransformations"]
    assert "DefaultValue" not in transformation
    [alarm] = [
        a["Properties"] for k, a in default_stack.resources("AWS::CloudWatch::Alarm").items() if "ApiThrottled" in k
    ]
    [expression] = [m["Expression"] for m in alarm["Metrics"] if "Expression" in m]
    assert "FILL(throttled, 0)" in expression


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (ObservabilityOptions(trace_sampling_rate=5), "observability.trace_sampling_rate must be within 0..1"),
        (ObservabilityOptions(trace_reservoir_per_second=-1), "observability.trace_reservoir_per_second must be >= 0"),
        (ObservabilityOptions(trace_sampling_priority=0), "observability.trace_sampling_priority must be within"),
        (ObservabilityOptions(log_level="LOUD"), "observability.log_level must be one of DEBUG, INFO"),  # type: ignore[arg-type]
        (ObservabilityOptions(system_log_level="WARNING"), "observability.system_log_level must be one of"),  # type: ignore[arg-type]
    ],
)
def test_bad_observability_props_are_refused(options: ObservabilityOptions, message: str) -> None:
    stack = cdk.Stack(cdk.App(context={"aws:cdk:bundling-stacks": []}), "Bad")
    with pytest.raises(ValueError, match=message):
        CachedSearchApi(stack, "Api", observability=options)


def test_cost_reads_the_synthesized_template(alarm_topic_stack: Synthesized) -> None:
    """`cached-booking-api cost --template`: alarm metrics are counted from the template (metric math: each metric),
    as are dashboards, KMS keys, the sampling rule and the log level."""
    deployment = cost.Deployment.from_template(alarm_topic_stack.template_path)
    alarms = alarm_topic_stack.resources("AWS::CloudWatch::Alarm").values()
    counted = sum(sum("MetricStat" in m for m in a["Properties"]["Metrics"]) if "Metrics" in a["Properties"] else 1
                  for a in alarms)  # fmt: skip
    assert deployment.alarm_metrics == counted
    assert (deployment.cache_mode, deployment.engine, deployment.dashboards) == ("serverless", "valkey", 0)
    assert (deployment.trace_sampling_rate, deployment.trace_reservoir_per_second) == (0.05, 0)
    assert deployment.system_log_level == "WARN" and deployment.search_gb == 0.5
    assert deployment.kms_keys == 1  # the alarm topic's key
    assert deployment.interface_endpoints == 0 and deployment.nat_gateways == 0
    priced = cost.estimate(50_000, 1_000, deployment=deployment)
    assert priced.lines["KMS keys"] == 1.0
    assert priced.lines["CloudWatch alarms (per alarm metric)"] == pytest.approx(counted * 0.10)


def test_the_default_alarm_count_of_the_model_matches_the_construct(alarm_topic_stack: Synthesized) -> None:
    """The model without --template must price the alarms the construct really creates (the alarm-topic stack also
    opts into ``inventory_sources``: one more dead-letter alarm, InventoryEventsDeadLetters)."""
    opted_in = 1
    deployed = cost.Deployment.from_template(alarm_topic_stack.template_path).alarm_metrics
    assert cost.Deployment().alarm_metrics + opted_in == deployed


def test_the_default_alarms_of_the_model_are_the_construct_s(alarm_topic_stack: Synthesized) -> None:
    """The model without --template prices and explains, line by line, the alarms the construct really creates."""
    read = cost.Deployment.from_template(alarm_topic_stack.template_path)
    opted_in = [a for a in read.alarms if "InventoryEventsDeadLetters" in a.name]  # the stack lists inventory_sources
    assert [a.metrics for a in opted_in] == [1]
    defaults = sorted((a.name, a.metrics) for a in read.alarms if a not in opted_in)
    assert defaults == sorted((a.name, a.metrics) for a in cost.DEFAULT_ALARMS)
    assert all(a.guards for a in read.alarms)  # the template's AlarmDescription


def test_the_custom_metric_model_counts_every_metric_the_stack_can_publish(default_stack: Synthesized) -> None:
    """CloudWatch bills a metric filter's metric as a custom metric, like an EMF one: the model lists every EMF metric
    name the handlers can emit (each with one dimension set, ``service``) and each metric filter the construct
    creates (the access log's 429 count behind the ApiThrottled alarm)."""
    import importlib
    import re

    from cached_booking_api.runtime import handlers

    try:  # the shared list of metric names, where the handlers take them from
        emitted = set(importlib.import_module("cached_booking_api.runtime.metric_names").EMITTED_BY)
    except ModuleNotFoundError:  # handlers that name their metrics with literals
        emitted = set()
        for source in Path(handlers.__file__).parent.glob("*.py"):
            text = source.read_text()
            emitted |= set(re.findall(r'add_metric\(name="(\w+)"', text))
            emitted |= set(re.findall(r'CacheStatus\.\w+: "(\w+)"', text))
    filters = [t["MetricName"] for f in default_stack.resources("AWS::Logs::MetricFilter").values()
               for t in f["Properties"]["MetricTransformations"]]  # fmt: skip
    assert [name.endswith("-search-api-429") for name in filters] == [True]
    modelled = {m.name for m in cost.CUSTOM_METRICS}
    assert emitted and emitted | {"<prefix>-search-api-429"} == modelled
    assert {m.name for m in cost.CUSTOM_METRICS if not m.detailed} == emf.ALARMED | {"<prefix>-search-api-429"}
