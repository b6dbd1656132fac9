"""The cache's timeouts, limits and alarms as synthesized: connection set-up timeout, serverless usage limits."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest

from cached_booking_api import CachedSearchApi, CacheOptions
from cached_booking_api.runtime import config
from test.construct.conftest import Synthesized


def _functions_with(example: Synthesized, variable: str) -> dict[str, dict[str, Any]]:
    functions = example.resources("AWS::Lambda::Function")
    return {
        name: fn["Properties"]["Environment"]["Variables"]
        for name, fn in functions.items()
        if variable in fn["Properties"].get("Environment", {}).get("Variables", {})
    }


def test_cache_clients_get_a_connect_timeout_separate_from_the_command_timeout(example: Synthesized) -> None:
    """redis-py applies ``socket_timeout`` to connection set-up too (TLS, AUTH, CLUSTER SLOTS): set-up has its own."""
    with_cache = _functions_with(example, config.CACHE_ENDPOINT)
    assert len(with_cache) >= 2  # the search function and the invalidation consumer
    for variables in with_cache.values():
        assert variables[config.CACHE_TIMEOUT_MS] == "50"
        assert variables[config.CACHE_CONNECT_TIMEOUT_MS] == "1000"


@pytest.mark.parametrize("connect_timeout_ms", [10, 20_000])
def test_connect_timeout_out_of_range_names_the_prop(connect_timeout_ms: int) -> None:
    stack = cdk.Stack(cdk.App(context={"aws:cdk:bundling-stacks": []}), "S")
    with pytest.raises(ValueError, match=r"cache\.connect_timeout_ms.*Use 50 to 10000"):
        CachedSearchApi(stack, "Api", cache=CacheOptions(connect_timeout_ms=connect_timeout_ms))
