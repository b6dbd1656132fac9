"""The settings contract of each function: what the construct writes (``to_environment``) the handler reads back
(``from_environment``) unchanged; defaults are the classes' own; bad values are refused naming the variable.

Fast tier: plain Python, no Redis, no DynamoDB Local, no CDK.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from cached_booking_api.runtime import config
from cached_booking_api.runtime.cache import CachePolicy
from cached_booking_api.runtime.circuit import CircuitBreaker
from cached_booking_api.runtime.redis_client import RedisSettings
from cached_booking_api.runtime.settings import (
    FUNCTION_ENVIRONMENTS,
    FUNCTION_SETTINGS,
    BookingSettings,
    CacheConnectionSettings,
    CacheTimings,
    CircuitBreakerSettings,
    DynamoDBSettings,
    ForwarderSettings,
    FunctionSettings,
    InvalidationSettings,
    InventoryUpdatesSettings,
    OutboxPublisherSettings,
    SearchSettings,
)

#: Every field of every function set to a value other than its default.
NON_DEFAULT: dict[type[FunctionSettings], FunctionSettings] = {
    SearchSettings: SearchSettings(
        service_name="svc-search",
        metrics_namespace="Ns",
        timeout_seconds=12,
        table_name="listings",
        dynamodb=DynamoDBSettings(read_timeout_seconds=1.5, endpoint="http://localhost:8000"),
        cache=CacheConnectionSettings(
            endpoint="cache.example",
            port=6380,
            user_id="u-1",
            cache_name="c-1",
            serverless=False,
            cluster_mode=True,
            timeout_ms=75,
            connect_timeout_ms=1500,
            url="redis://localhost:1",
        ),  # fmt: skip
        timings=CacheTimings(ttl_seconds=120, stale_seconds=90.5, negative_ttl_seconds=5),
        circuit_breaker=CircuitBreakerSettings(failure_threshold=7, cooldown_seconds=2.5),
        cors_allowed_origins=("https://a.example", "https://b.example"),
    ),
    BookingSettings: BookingSettings(
        service_name="svc-bookings",
        metrics_namespace="Ns",
        timeout_seconds=20,
        table_name="listings",
        idempotency_table_name="idem",
        dynamodb=DynamoDBSettings(read_timeout_seconds=3, endpoint="http://localhost:8001"),
        cancellation_cutoff_seconds=86_400,
        cors_allowed_origins=("https://a.example",),
    ),
    InvalidationSettings: InvalidationSettings(
        service_name="svc-invalidation",
        metrics_namespace="Ns",
        timeout_seconds=45,
        cache=CacheConnectionSettings(
            endpoint="cache.example",
            port=6390,
            user_id="u",
            cache_name="c",
            serverless=False,
            cluster_mode=True,
            timeout_ms=60,
            connect_timeout_ms=2000,
            url="redis://localhost:2",
        ),  # fmt: skip
    ),
    ForwarderSettings: ForwarderSettings(
        service_name="svc-forwarder",
        metrics_namespace="Ns",
        timeout_seconds=20,
        event_bus_name="bus",
        event_source="partner.platform",
        dead_letter_queue_url="https://sqs.example/q",
    ),
    OutboxPublisherSettings: OutboxPublisherSettings(
        service_name="svc-outbox",
        metrics_namespace="Ns",
        timeout_seconds=25,
        event_bus_name="bus",
        event_source="partner.platform",
    ),  # fmt: skip
    InventoryUpdatesSettings: InventoryUpdatesSettings(
        service_name="svc-inventory",
        metrics_namespace="Ns",
        timeout_seconds=25,
        table_name="inventory-table",
        inventory_sources=("pms.a", "pms.b"),
        dead_letter_queue_url="https://sqs.example/i",
    ),  # fmt: skip
}


def leaves(settings: object, prefix: str = "") -> dict[str, Any]:
    """Every (nested) field of a settings object by dotted path."""
    values: dict[str, Any] = {}
    for item in dataclasses.fields(settings):  # type: ignore[arg-type]
        value = getattr(settings, item.name)
        if dataclasses.is_dataclass(value):
            values.update(leaves(value, f"{prefix}{item.name}."))
        else:
            values[f"{prefix}{item.name}"] = value
    return values


def test_every_function_has_a_settings_class_under_test() -> None:
    assert set(NON_DEFAULT) == set(FUNCTION_SETTINGS)


@pytest.mark.parametrize("cls", FUNCTION_SETTINGS, ids=lambda cls: cls.__name__)
def test_round_trip_of_non_default_values(cls: type[FunctionSettings]) -> None:
    settings = NON_DEFAULT[cls]
    assert cls.from_environment(settings.to_environment()) == settings


@pytest.mark.parametrize("cls", FUNCTION_SETTINGS, ids=lambda cls: cls.__name__)
def test_the_non_default_values_differ_from_every_default(cls: type[FunctionSettings]) -> None:
    """So the round trip above would notice a field that is not written, or not read."""
    required = {"table_name": "t", "idempotency_table_name": "i", "event_bus_name": "b"}
    defaults = leaves(cls(**{name: value for name, value in required.items() if name in cls.__dataclass_fields__}))
    given = leaves(NON_DEFAULT[cls])
    assert {path for path, value in given.items() if defaults[path] == value} <= {"cache.region"}  # Lambda's own


@pytest.mark.parametrize("cls", FUNCTION_SETTINGS, ids=lambda cls: cls.__name__)
def test_round_trip_of_defaults(cls: type[FunctionSettings]) -> None:
    required = {"table_name": "t", "idempotency_table_name": "i", "event_bus_name": "b"}
    settings = cls(**{name: value for name, value in required.items() if name in cls.__dataclass_fields__})
    assert cls.from_environment(settings.to_environment()) == settings


@pytest.mark.parametrize("cls", FUNCTION_SETTINGS, ids=lambda cls: cls.__name__)
def test_no_two_fields_share_a_variable(cls: type[FunctionSettings]) -> None:
    names = cls.environment_names()
    assert len(names) == len(set(names))


def test_unset_variables_take_the_defaults() -> None:
    settings = SearchSettings.from_environment({config.TABLE_NAME: "t"})
    assert settings == SearchSettings(table_name="t")
    assert (settings.timeout_seconds, settings.timings.ttl_seconds, settings.circuit_breaker.failure_threshold) == (
        10,
        300,
        3,
    )
    assert settings.cors_allowed_origins == ()


def test_a_function_environment_is_laid_over_the_process_environment_for_that_function_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The local mode serves every function from one process; Lambda gives each its own environment. What differs for
    one function (``FUNCTION_ENVIRONMENTS``) reaches that function's settings and no other's, and never settings read
    from an explicit mapping."""
    shared = {config.TABLE_NAME: "t", config.IDEMPOTENCY_TABLE_NAME: "i", config.DYNAMODB_READ_TIMEOUT_SECONDS: "2"}
    for name, value in shared.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setitem(FUNCTION_ENVIRONMENTS, "bookings", {config.DYNAMODB_READ_TIMEOUT_SECONDS: "15"})
    assert BookingSettings.from_environment().dynamodb.read_timeout_seconds == 15
    assert SearchSettings.from_environment().dynamodb.read_timeout_seconds == 2
    assert BookingSettings.from_environment(shared).dynamodb.read_timeout_seconds == 2
    assert DynamoDBSettings.from_environment().read_timeout_seconds == 2  # a group is not a function


def test_whole_seconds_are_written_without_a_fraction() -> None:
    """``CacheOptions(ttl=Duration.minutes(2))`` reaches the function as ``CACHE_TTL_SECONDS=120``."""
    environment = SearchSettings(table_name="t", timings=CacheTimings(ttl_seconds=120.0)).to_environment()
    assert environment[config.CACHE_TTL_SECONDS] == "120"
    assert environment[config.CACHE_SERVERLESS] == "true"


def test_lambda_reserved_variables_are_read_but_never_written() -> None:
    """Lambda rejects a function that sets a reserved variable such as AWS_REGION."""
    settings = SearchSettings.from_environment({config.TABLE_NAME: "t", "AWS_REGION": "eu-west-1"})
    assert settings.cache.region == "eu-west-1"
    assert "AWS_REGION" not in settings.to_environment()


def test_a_missing_required_variable_is_named() -> None:
    with pytest.raises(ValueError, match=r"EVENT_BUS_NAME: required by ForwarderSettings"):
        ForwarderSettings.from_environment({})


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        (config.CACHE_TTL_SECONDS, "soon", r"CACHE_TTL_SECONDS='soon': not a number"),
        (config.CACHE_TTL_SECONDS, "0", r"CACHE_TTL_SECONDS=0.0: must be at least 1"),
        (config.CACHE_TIMEOUT_MS, "1.5", r"CACHE_TIMEOUT_MS='1.5': not a whole number"),
        (config.CACHE_CLUSTER_MODE, "maybe", r"CACHE_CLUSTER_MODE='maybe': not a boolean"),
        (config.CIRCUIT_FAILURE_THRESHOLD, "0", r"CIRCUIT_FAILURE_THRESHOLD=0: must be at least 1"),
        (config.CACHE_STALE_SECONDS, "nan", r"CACHE_STALE_SECONDS='nan': not a finite number"),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable(name: str, raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SearchSettings.from_environment({config.TABLE_NAME: "t", name: raw})


pytestmark = pytest.mark.fast


def test_a_port_token_stays_a_string_at_synth() -> None:
    """At synth the construct's port is a deploy-time token (a string); at run time it is read back as a number."""
    token = "${Token[TOKEN.123]}"
    environment = CacheConnectionSettings(port=token).to_environment()
    assert environment[config.CACHE_PORT] == token
    assert CacheConnectionSettings.from_environment({config.CACHE_PORT: "6380"}).port == 6380


def test_the_runtime_objects_take_their_defaults_from_the_settings() -> None:
    """One definition of each default: the cache policy, the redis client and the breaker refer to the settings."""
    policy, timings = CachePolicy(), CacheTimings()
    assert (policy.ttl_seconds, policy.stale_seconds, policy.negative_ttl_seconds) == (
        timings.ttl_seconds,
        timings.stale_seconds,
        timings.negative_ttl_seconds,
    )
    redis, connection = RedisSettings(), CacheConnectionSettings()
    assert (redis.socket_timeout_ms, redis.connect_timeout_ms) == (connection.timeout_ms, connection.connect_timeout_ms)
    breaker, circuit = CircuitBreaker(), CircuitBreakerSettings()
    assert (breaker.failure_threshold, breaker.cooldown_seconds) == (
        circuit.failure_threshold,
        circuit.cooldown_seconds,
    )


def test_cache_connection_becomes_redis_settings() -> None:
    aws = CacheConnectionSettings(endpoint="cache.example", port="6380", user_id="u", cache_name="c", region="r",
                                  serverless=False, timeout_ms=40, connect_timeout_ms=900)  # fmt: skip
    assert aws.redis_settings() == RedisSettings(host="cache.example", port=6380, user_id="u", cache_name="c",
                                                 region="r", serverless=False, cluster=False, socket_timeout_ms=40,
                                                 connect_timeout_ms=900)  # fmt: skip
    local = CacheConnectionSettings(url="redis://localhost:1", cluster_mode=True)
    assert local.redis_settings() == RedisSettings(url="redis://localhost:1", cluster=True)


def test_timings_become_the_cache_policy_with_a_lock_that_outlives_a_load() -> None:
    policy = CacheTimings(ttl_seconds=120).policy(load_worst_case_seconds=7.2)
    assert (policy.ttl_seconds, policy.lock_ttl_ms) == (120, 7200)
    assert CacheTimings().policy().lock_ttl_ms == CachePolicy.lock_ttl_ms


def test_the_search_dynamodb_client_fits_a_load_in_the_function_timeout() -> None:
    search = SearchSettings(table_name="t")
    fitted = config.dynamodb_client_config(
        search.dynamodb, function_timeout_seconds=search.timeout_seconds, cache=search.cache
    )
    assert fitted["read_timeout"] == search.dynamodb.read_timeout_seconds
    load = config.load_worst_case_seconds(type("Config", (), fitted))
    assert load + config.cache_worst_case_seconds(search.cache) <= search.timeout_seconds
    assert config.dynamodb_client_config(search.dynamodb, function_timeout_seconds=None)["retries"]["max_attempts"] == 3


@pytest.mark.fast
def test_a_number_token_is_recognised_by_its_bits_and_nothing_else_is() -> None:
    """aws-cdk-lib's number token (a ``CfnParameter``'s ``value_as_number``, as Python receives it) passes the settings'
    minimum checks; real numbers, however large or small, do not look like one."""
    from cached_booking_api.runtime.settings import CacheConnectionSettings, is_deploy_time_number

    token = -1.8881545897087526e289  # CfnParameter(stack, "P", type="Number").value_as_number
    assert is_deploy_time_number(token)
    assert not any(is_deploy_time_number(v) for v in (0.0, -1.0, 1e308, -1e308, 5, float("inf"), float("nan")))
    assert CacheConnectionSettings(timeout_ms=token).timeout_ms == token  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="CACHE_TIMEOUT_MS=-1.0: must be at least 1"):
        CacheConnectionSettings(timeout_ms=-1.0)  # type: ignore[arg-type]
