"""Invalid props fail at construction with a ValueError naming the prop and the fix."""

from __future__ import annotations

import re
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_

from cached_booking_api import AlarmOptions, CachedSearchApi, CacheOptions, Partner, ThrottleOptions


def build(**props: Any) -> None:
    stack = cdk.Stack(cdk.App(context={"aws:cdk:bundling-stacks": []}), "S")
    CachedSearchApi(stack, "Api", **props)


@pytest.mark.parametrize(
    ("props", "prop_name"),
    [
        ({"cache": CacheOptions(mode="cluster")}, "cache.mode"),  # type: ignore[arg-type]
        ({"cache": CacheOptions(engine="memcached")}, "cache.engine"),  # type: ignore[arg-type]
        ({"cache": CacheOptions(mode="provisioned", replicas=0)}, "cache.replicas"),
        ({"cache": CacheOptions(mode="provisioned", port=6379)}, "cache.port"),
        ({"cache": CacheOptions(timeout_ms=2)}, "cache.timeout_ms"),
        # valid alone, but 5 s connect + 10 commands x 400 ms leave no time for a search's load within its 10 s
        (
            {"cache": CacheOptions(timeout_ms=400, connect_timeout_ms=5000)},
            "cache.timeout_ms / cache.connect_timeout_ms",
        ),
        ({"cache": CacheOptions(ttl=Duration.millis(10))}, "cache.ttl"),
        ({"cache": CacheOptions(max_data_storage_gb=0)}, "cache.max_data_storage_gb"),
        ({"throttle": ThrottleOptions(rate_limit=100, burst_limit=10)}, "throttle.burst_limit"),
        ({"throttle": ThrottleOptions(quota_limit=0)}, "throttle.quota_limit"),
        ({"alarms": AlarmOptions(api_5xx_rate_percent=0)}, "alarms.api_5xx_rate_percent"),
        ({"alarms": AlarmOptions(evaluation_periods=2, datapoints_to_alarm=3)}, "alarms.datapoints_to_alarm"),
        ({"search_reserved_concurrency": 0}, "search_reserved_concurrency"),
        ({"search_memory_size": 64}, "search_memory_size"),
        ({"booking_memory_size": 20000}, "booking_memory_size"),
        ({"stage_name": "my stage"}, "stage_name"),
        ({"event_source": "aws.events"}, "event_source"),
        ({"cors_allowed_origins": ["*"]}, "cors_allowed_origins"),
        ({"throttle": ThrottleOptions(expected_peak_rps=10)}, "throttle.rate_limit"),  # default 100 rps > stage 20
        ({"throttle": ThrottleOptions(partners=(Partner("a", 600, 1200),))}, "throttle.partners[0].rate_limit"),
        ({"throttle": ThrottleOptions(partners=(Partner("a"), Partner("a")))}, "throttle.partners[1].name"),
        ({"throttle": ThrottleOptions(booking_rate_limit=0)}, "throttle.booking_rate_limit"),
    ],
)
def test_invalid_props_name_the_prop(props: dict[str, Any], prop_name: str) -> None:
    with pytest.raises(ValueError, match=re.escape(prop_name)) as error:
        build(**props)
    assert len(str(error.value)) > len(prop_name) + 20, "the message must say what to do"


def test_authorizer_and_iam_authorization_are_mutually_exclusive() -> None:
    stack = cdk.Stack(cdk.App(context={"aws:cdk:bundling-stacks": []}), "S")
    fn = lambda_.Function(stack, "Auth", runtime=lambda_.Runtime.PYTHON_3_14, handler="a.h",
                          code=lambda_.Code.from_inline("def h(e, c): pass"))  # fmt: skip
    authorizer = apigw.TokenAuthorizer(stack, "Authorizer", handler=fn)
    with pytest.raises(ValueError, match="authorizer, iam_authorization: pick one"):
        CachedSearchApi(stack, "Api", authorizer=authorizer, iam_authorization=True)


@pytest.mark.parametrize("prop", ["search_event_targets", "booking_event_targets"])
def test_rule_targets_without_a_dead_letter_queue_fail_synthesis(prop: str) -> None:
    from aws_cdk import aws_events_targets as targets
    from aws_cdk import aws_sqs as sqs

    app = cdk.App(context={"aws:cdk:bundling-stacks": []})
    stack = cdk.Stack(app, "S")
    queue = sqs.Queue(stack, "Partner", enforce_ssl=True)
    CachedSearchApi(stack, "Api", api_cloud_watch_role=False, **{prop: [targets.SqsQueue(queue)]})
    with pytest.raises(Exception, match=rf"{prop}\[0\]: every target needs a dead-letter queue and a retry policy"):
        app.synth()
