"""The cache's timeouts, limits and alarms as synthesized: connection set-up timeout, serverless usage limits."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest

from cached_booking_api import CachedSearchApi, CacheOptions
from cached_booking_api.runtime import config
from test.infrastructure.conftest import Synthesized


def _functions_with(synth: Synthesized, variable: str) -> dict[str, dict[str, Any]]:
    functions = synth.resources("AWS::Lambda::Function")
    return {
        name: fn["Properties"]["Environment"]["Variables"]
        for name, fn in functions.items()
        if variable in fn["Properties"].get("Environment", {}).get("Variables", {})
    }


def test_cache_clients_get_a_connect_timeout_separate_from_the_command_timeout(default_stack: Synthesized) -> None:
    """redis-py applies ``socket_timeout`` to connection set-up too (TLS, AUTH, CLUSTER SLOTS): set-up has its own."""
    with_cache = _functions_with(default_stack, config.CACHE_ENDPOINT)
    assert len(with_cache) >= 2  # the search function and the invalidation consumer
    for variables in with_cache.values():
        assert variables[config.CACHE_TIMEOUT_MS] == "50"
        assert variables[config.CACHE_CONNECT_TIMEOUT_MS] == "1000"


@pytest.mark.parametrize("connect_timeout_ms", [10, 20_000])
def test_connect_timeout_out_of_range_names_the_prop(connect_timeout_ms: int) -> None:
    stack = cdk.Stack(cdk.App(context={"aws:cdk:bundling-stacks": []}), "S")
    with pytest.raises(ValueError, match=r"cache\.connect_timeout_ms.*Use 50 to 10000"):
        CachedSearchApi(stack, "Api", cache=CacheOptions(connect_timeout_ms=connect_timeout_ms))


# --- serverless caps from the expected load, alarms at 75 % of them (issue 10.5) -------------------------------------


@pytest.fixture(scope="module")
def busy() -> dict[str, Any]:
    """A stack expecting 500 searches/s at peak (50x the default), caps derived."""
    from aws_cdk.assertions import Template

    stack = cdk.Stack(cdk.App(context={"aws:cdk:bundling-stacks": []}), "Busy")
    CachedSearchApi(stack, "Api", cache=CacheOptions(expected_peak_searches_per_second=500))
    return Template.from_stack(stack).to_json()  # type: ignore[no-any-return]


def _limits(template: dict[str, Any]) -> dict[str, Any]:
    [cache] = [r for r in template["Resources"].values() if r["Type"] == "AWS::ElastiCache::ServerlessCache"]
    return cache["Properties"]["CacheUsageLimits"]  # type: ignore[no-any-return]


def _alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: r["Properties"] for name, r in template["Resources"].items() if r["Type"] == "AWS::CloudWatch::Alarm"}


def _alarm(template: dict[str, Any], fragment: str) -> dict[str, Any]:
    [alarm] = [props for name, props in _alarms(template).items() if fragment in name]
    return alarm


def test_serverless_caps_derive_from_the_expected_load_with_headroom(
    default_stack: Synthesized, busy: dict[str, Any]
) -> None:
    """Amazon ElastiCache User Guide, "Scaling ElastiCache Serverless" (docs.aws.amazon.com/AmazonElastiCache/latest/
    dg/Scaling.html): "You can choose to configure a maximum usage on both cache data storage and ECPU/second for your
    cache to control cache costs. Doing so will ensure that your cache usage never exceeds the configured maximum." --
    "If you set an ECPU/second maximum and the compute utilization of your workload exceeds this value, ElastiCache
    will begin throttling requests." And on pricing: "Reads and writes require 1 ECPU for each kilobyte (KB) of data
    transferred. For example, a GET command that transfers 3.2 KB of data will consume 3.2 ECPUs."

    So the cap must follow the load (a fixed 5,000 ECPU/s throttles a growing load, every breaker opens and all
    searches land on DynamoDB), and smaller entries (compressed) cost fewer ECPUs per hit.
    """
    from cached_booking_api.infrastructure.cache_cluster import ECPU_PER_SEARCH, HEADROOM, serverless_limits

    default = _limits(default_stack.template)
    assert (default["ECPUPerSecond"]["Maximum"], default["DataStorage"]["Maximum"]) == serverless_limits(CacheOptions())
    limits = _limits(busy)
    assert limits["ECPUPerSecond"]["Maximum"] == 500 * ECPU_PER_SEARCH * HEADROOM == 75_000
    assert limits["DataStorage"] == {"Maximum": 10, "Unit": "GB"}  # 500/s x 930 s x 4 KiB x 5, in GB, rounded up
    explicit = serverless_limits(CacheOptions(max_ecpu_per_second=7000, max_data_storage_gb=3))
    assert explicit == (7000, 3)


def test_cache_alarms_ring_at_75_percent_of_the_caps(default_stack: Synthesized, busy: dict[str, Any]) -> None:
    """Amazon ElastiCache User Guide, "Scaling ElastiCache Serverless": "If you set a maximum on either
    BytesUsedForCache or ElastiCacheProcessingUnits, we highly recommend setting a CloudWatch alarm at a value lower
    than the maximum limit so that you are notified when your cache is operating close to these limits. We recommend
    setting an alarm at 75% of the maximum limit you set." Serverless caches publish these metrics under the
    ``clusterId`` dimension ("Serverless metrics and events for Valkey and Redis OSS")."""
    for template in (default_stack.template, busy):
        limits = _limits(template)
        ecpu = _alarm(template, "CacheEcpuNearLimit")
        assert ecpu["Threshold"] == 0.75 * limits["ECPUPerSecond"]["Maximum"]
        [raw] = [m for m in ecpu["Metrics"] if "MetricStat" in m]
        stat = raw["MetricStat"]
        assert stat["Metric"]["MetricName"] == "ElastiCacheProcessingUnits" and stat["Stat"] == "Sum"
        assert stat["Metric"]["Dimensions"][0]["Name"] == "clusterId" and stat["Period"] == 60
        assert [m["Expression"] for m in ecpu["Metrics"] if "Expression" in m] == ["ecpu / 60"]
        storage = _alarm(template, "CacheStorageNearLimit")
        assert storage["MetricName"] == "BytesUsedForCache"
        assert storage["Threshold"] == 0.75 * limits["DataStorage"]["Maximum"] * 1e9
        assert storage["Dimensions"][0]["Name"] == "clusterId"
        assert _alarm(template, "CacheThrottledCommands")["MetricName"] == "ThrottledCmds"


def test_provisioned_caches_have_no_serverless_cap_alarms(provisioned_stack: Synthesized) -> None:
    names = " ".join(_alarms(provisioned_stack.template))
    assert "CacheEcpuNearLimit" not in names and "CacheStorageNearLimit" not in names


def test_alarms_for_stream_lag_and_dynamodb_write_throttles(default_stack: Synthesized) -> None:
    """What a growing load meets first besides the cache caps: the invalidation consumer falling behind the table
    stream (searches serve stale availability) and DynamoDB throttling writes: the table's WriteThrottleEvents and the
    transactions' ThrottledRequests (why these two: test_monitoring.py). (429s are alarmed with the API.)"""
    lag = _alarm(default_stack.template, "InvalidationIteratorAge")
    assert (lag["MetricName"], lag["Statistic"], lag["Threshold"]) == ("IteratorAge", "Maximum", 60_000)
    writes = _alarm(default_stack.template, "DynamoDbWriteThrottles")
    names = {
        dimension["Value"]
        for m in writes["Metrics"]
        if "MetricStat" in m
        for dimension in m["MetricStat"]["Metric"]["Dimensions"]
        if dimension["Name"] == "Operation"
    }
    assert names == {"TransactWriteItems"}
    assert "WriteThrottleEvents" in {
        m["MetricStat"]["Metric"]["MetricName"] for m in writes["Metrics"] if "MetricStat" in m
    }


def test_expected_load_must_be_positive() -> None:
    stack = cdk.Stack(cdk.App(context={"aws:cdk:bundling-stacks": []}), "S")
    with pytest.raises(ValueError, match=r"cache\.expected_peak_searches_per_second"):
        CachedSearchApi(stack, "Api", cache=CacheOptions(expected_peak_searches_per_second=0))
