"""Each prop that tunes a function lands in that function's environment, as its settings class writes it; with no
props, every function's environment reads back as its settings class's defaults (one definition of each default)."""

from __future__ import annotations

import dataclasses
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Template

from cached_booking_api import CachedSearchApi, CacheOptions
from cached_booking_api.runtime import config
from cached_booking_api.runtime.emf import DETAILED_METRICS_ENV
from cached_booking_api.runtime.settings import (
    FUNCTION_SETTINGS,
    BookingSettings,
    ForwarderSettings,
    FunctionSettings,
    InvalidationSettings,
    SearchSettings,
)

ORIGINS = ("https://app.example.com", "https://admin.example.com")


def synth(**props: Any) -> dict[str, Any]:
    app = cdk.App(context={"aws:cdk:bundling-stacks": []})
    stack = cdk.Stack(app, "Stack", env=cdk.Environment(account="123456789012", region="eu-west-1"))
    # inventory_sources: the inbound consumer exists only with sources, and its settings are checked too
    CachedSearchApi(stack, "Api", **{"inventory_sources": ["pms.test"], **props})
    return Template.from_stack(stack).to_json()


@pytest.fixture(scope="module")
def default() -> dict[str, Any]:
    return synth()


@pytest.fixture(scope="module")
def tuned() -> dict[str, Any]:
    return synth(
        cache=CacheOptions(
            ttl=cdk.Duration.minutes(2), stale_window=cdk.Duration.minutes(15), negative_ttl=cdk.Duration.seconds(5),
            timeout_ms=80, connect_timeout_ms=1500, circuit_failure_threshold=5,
            circuit_cooldown=cdk.Duration.seconds(45),
        ),
        cors_allowed_origins=ORIGINS,
        metrics_namespace="Partners",
        event_source="partner.bookings",
        function_props={"search": lambda_.FunctionOptions(timeout=cdk.Duration.seconds(12))},
    )  # fmt: skip


def function(template: dict[str, Any], settings: type[FunctionSettings]) -> dict[str, Any]:
    """The properties of the function running ``settings``' handler."""
    handler = f"cached_booking_api.runtime.handlers.{settings.handler_module}.handler"
    [found] = [
        resource["Properties"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Lambda::Function" and resource["Properties"].get("Handler") == handler
    ]
    return found


def environment(template: dict[str, Any], settings: type[FunctionSettings]) -> dict[str, Any]:
    return function(template, settings)["Environment"]["Variables"]


@pytest.mark.parametrize(
    ("prop", "settings", "variable", "value"),
    [
        ("cache.ttl=2 min", SearchSettings, config.CACHE_TTL_SECONDS, "120"),
        ("cache.stale_window=15 min", SearchSettings, config.CACHE_STALE_SECONDS, "900"),
        ("cache.negative_ttl=5 s", SearchSettings, config.CACHE_NEGATIVE_TTL_SECONDS, "5"),
        ("cache.timeout_ms", SearchSettings, config.CACHE_TIMEOUT_MS, "80"),
        ("cache.timeout_ms", InvalidationSettings, config.CACHE_TIMEOUT_MS, "80"),
        ("cache.connect_timeout_ms", SearchSettings, config.CACHE_CONNECT_TIMEOUT_MS, "1500"),
        ("cache.connect_timeout_ms", InvalidationSettings, config.CACHE_CONNECT_TIMEOUT_MS, "1500"),
        ("cache.circuit_failure_threshold", SearchSettings, config.CIRCUIT_FAILURE_THRESHOLD, "5"),
        ("cache.circuit_cooldown=45 s", SearchSettings, config.CIRCUIT_COOLDOWN_SECONDS, "45"),
        ("cors_allowed_origins", SearchSettings, config.CORS_ALLOWED_ORIGINS, ",".join(ORIGINS)),
        ("cors_allowed_origins", BookingSettings, config.CORS_ALLOWED_ORIGINS, ",".join(ORIGINS)),
        ("metrics_namespace", SearchSettings, "POWERTOOLS_METRICS_NAMESPACE", "Partners"),
        ("metrics_namespace", BookingSettings, "POWERTOOLS_METRICS_NAMESPACE", "Partners"),
        ("metrics_namespace", InvalidationSettings, "POWERTOOLS_METRICS_NAMESPACE", "Partners"),
        ("metrics_namespace", ForwarderSettings, "POWERTOOLS_METRICS_NAMESPACE", "Partners"),
        ("event_source", ForwarderSettings, config.EVENT_SOURCE, "partner.bookings"),
        ("function_props['search'].timeout=12 s", SearchSettings, config.FUNCTION_TIMEOUT_SECONDS, "12"),
    ],
    ids=lambda value: value if isinstance(value, str) and not value.isupper() else None,
)
def test_a_prop_lands_in_the_function_environment(
    tuned: dict[str, Any], prop: str, settings: type[FunctionSettings], variable: str, value: str
) -> None:
    assert environment(tuned, settings)[variable] == value


def test_the_function_timeout_is_the_one_its_settings_carry(tuned: dict[str, Any], default: dict[str, Any]) -> None:
    """The function's own timeout and FUNCTION_TIMEOUT_SECONDS (what the handler fits its retries in) agree."""
    assert function(tuned, SearchSettings)["Timeout"] == 12
    for settings in FUNCTION_SETTINGS:
        properties = function(default, settings)
        assert str(properties["Timeout"]) == properties["Environment"]["Variables"][config.FUNCTION_TIMEOUT_SECONDS]


def _deploy_time(value: Any) -> bool:
    return not isinstance(value, str)  # {"Ref": ...}, {"Fn::GetAtt": ...}: known at deploy time


@pytest.mark.parametrize("settings", FUNCTION_SETTINGS, ids=lambda cls: cls.__name__)
def test_without_props_each_function_reads_its_settings_defaults(
    default: dict[str, Any], settings: type[FunctionSettings]
) -> None:
    """What the construct writes by default is what the handler would assume if nothing were written."""
    written = environment(default, settings)
    resolved = {name: "deploy-time" if _deploy_time(value) else value for name, value in written.items()}
    read = settings.from_environment(resolved)
    required = {"table_name": "deploy-time", "idempotency_table_name": "deploy-time", "event_bus_name": "deploy-time",
                "inventory_sources": ("pms.test",)}  # fmt: skip  # the consumer exists only with sources (synth above)
    expected = settings(**{k: v for k, v in required.items() if k in settings.__dataclass_fields__})

    def comparable(value: Any, reference: Any) -> Any:
        if dataclasses.is_dataclass(value):
            return {
                item.name: comparable(getattr(value, item.name), getattr(reference, item.name))
                for item in dataclasses.fields(value)
            }
        return "deploy-time" if value == "deploy-time" else value

    ignore = {"service_name", "endpoint", "port", "user_id", "cache_name", "dead_letter_queue_url", "serverless",
              "cluster_mode"}  # fmt: skip  # per instance / per cache mode, not defaults

    def strip(tree: dict[str, Any]) -> dict[str, Any]:
        return {k: strip(v) if isinstance(v, dict) else v for k, v in tree.items() if k not in ignore}

    assert strip(comparable(read, expected)) == strip(comparable(expected, expected))
    # nothing outside the contract but the observability prop's own variables (log level, EMF level)
    assert set(written) <= set(settings.environment_names()) | {"POWERTOOLS_LOG_LEVEL", DETAILED_METRICS_ENV}
