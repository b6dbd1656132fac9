"""Observability cost levers: the X-Ray sampling rule, log levels, and pricing the synthesized template."""

from __future__ import annotations

import aws_cdk as cdk
import pytest

from cached_booking_api import CachedSearchApi, ObservabilityOptions
from cached_booking_api.tools import cost
from test.infrastructure.conftest import Synthesized


def test_the_api_stage_has_a_cheap_xray_sampling_rule(example: Synthesized) -> None:
    """API Gateway docs (Configure AWS X-Ray sampling rules for API Gateway APIs): "Service name (string) - The API
    stage name, in the form of {api-name}/{stage-name}" and "Service type (string) - For an API Gateway API, either
    AWS::ApiGateway::Stage or AWS::ApiGateway::* can be specified." """
    rule = example.one("AWS::XRay::SamplingRule")["Properties"]["SamplingRule"]
    [api] = example.resources("AWS::ApiGateway::RestApi").values()
    [stage] = example.resources("AWS::ApiGateway::Stage").values()
    assert rule["ServiceType"] == "AWS::ApiGateway::Stage"
    assert rule["ServiceName"] == f"{api['Properties']['Name']}/{stage['Properties']['StageName']}"
    assert (rule["FixedRate"], rule["ReservoirSize"], rule["Priority"]) == (0.05, 0, 1000)
    assert len(rule["RuleName"]) <= 32
    assert {rule[k] for k in ("Host", "HTTPMethod", "URLPath", "ResourceARN")} == {"*"}
    assert stage["Properties"]["TracingEnabled"] is True


def test_functions_log_at_the_levels_of_the_props(example: Synthesized) -> None:
    functions = {f["Properties"]["Handler"].rsplit(".", 2)[-2]: f["Properties"]
                 for f in example.resources("AWS::Lambda::Function").values()
                 if "cached_booking_api" in f["Properties"].get("Handler", "")}  # fmt: skip
    assert {"search", "bookings"} <= set(functions)
    for props in functions.values():
        assert props["LoggingConfig"]["SystemLogLevel"] == "WARN"
        assert props["Environment"]["Variables"]["POWERTOOLS_LOG_LEVEL"] == "INFO"
        assert props["TracingConfig"]["Mode"] == "Active"


def test_the_search_function_never_logs_above_info() -> None:
    """search.completed events are INFO log lines: a quieter level must not silence them."""
    app = cdk.App(context={"aws:cdk:bundling-stacks": []})
    stack = cdk.Stack(app, "Quiet")
    api = CachedSearchApi(stack, "Api", observability=ObservabilityOptions(log_level="ERROR", system_log_level="INFO",
                                                                           trace_sampling_rate=0.5))  # fmt: skip
    template = app.synth().get_stack_by_name("Quiet").template
    search = stack.resolve(api.search_function.node.default_child.logical_id)  # type: ignore[union-attr]
    booking = stack.resolve(api.booking_function.node.default_child.logical_id)  # type: ignore[union-attr]
    env = {name: template["Resources"][name]["Properties"]["Environment"]["Variables"] for name in (search, booking)}
    assert env[search]["POWERTOOLS_LOG_LEVEL"] == "INFO" and env[booking]["POWERTOOLS_LOG_LEVEL"] == "ERROR"
    rules = [r for r in template["Resources"].values() if r["Type"] == "AWS::XRay::SamplingRule"]
    assert rules[0]["Properties"]["SamplingRule"]["FixedRate"] == 0.5


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


def test_cost_reads_the_synthesized_template(example: Synthesized) -> None:
    """`cached-booking-api cost --template`: alarm metrics are counted from the template (metric math: each metric),
    as are dashboards, KMS keys, the sampling rule and the log level."""
    deployment = cost.Deployment.from_template(example.template_path)
    alarms = example.resources("AWS::CloudWatch::Alarm").values()
    counted = sum(sum("MetricStat" in m for m in a["Properties"]["Metrics"]) if "Metrics" in a["Properties"] else 1
                  for a in alarms)  # fmt: skip
    assert deployment.alarm_metrics == counted
    assert (deployment.cache_mode, deployment.engine, deployment.dashboards) == ("serverless", "valkey", 1)
    assert (deployment.trace_sampling_rate, deployment.trace_reservoir_per_second) == (0.05, 0)
    assert deployment.system_log_level == "WARN" and deployment.search_gb == 0.5
    assert deployment.kms_keys == 1  # the example's alarm topic key
    assert deployment.interface_endpoints == 0 and deployment.nat_gateways == 0
    priced = cost.estimate(50_000, 1_000, deployment=deployment)
    assert priced.lines["KMS keys"] == 1.0
    assert priced.lines["CloudWatch alarms (per alarm metric)"] == pytest.approx(counted * 0.10)


def test_the_default_alarm_count_of_the_model_matches_the_construct(example: Synthesized) -> None:
    """The model without --template must price the alarms the construct really creates."""
    assert cost.Deployment().alarm_metrics == cost.Deployment.from_template(example.template_path).alarm_metrics


def test_the_custom_metric_count_of_the_model_includes_the_metric_filters(example: Synthesized) -> None:
    """Amazon CloudWatch pricing counts a metric filter's metric as a custom metric, like an EMF one: the model's
    default (9 EMF metric names, README "Observability") must add each metric filter the construct creates (the access
    log's 429 count behind the ApiThrottled alarm)."""
    emf_metrics = 9
    filters = [t for f in example.resources("AWS::Logs::MetricFilter").values()
               for t in f["Properties"]["MetricTransformations"]]  # fmt: skip
    assert [t["MetricName"].endswith("-api-429") for t in filters] == [True]
    assert cost.Deployment().custom_metrics == emf_metrics + len(filters)
    priced = cost.estimate(50_000, 1_000)
    assert priced.lines["CloudWatch custom metrics (EMF)"] == pytest.approx((emf_metrics + len(filters)) * 0.30)
