"""The search function's time budget is consistent by construction: its DynamoDB client gives up, and the
single-flight lock expires, before Lambda stops the function."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from cached_booking_api.runtime import config
from test.infrastructure.conftest import Synthesized


def _search_function(synth: Synthesized) -> dict[str, Any]:
    functions = synth.resources("AWS::Lambda::Function").values()
    found = [f for f in functions if f["Properties"].get("Description") == "cached-booking-api GET /search"]
    assert len(found) == 1
    return found[0]["Properties"]


def test_the_dynamodb_worst_case_and_the_lock_fit_in_the_search_functions_timeout(default_stack: Synthesized) -> None:
    """AWS::Lambda::Function Timeout: "The amount of time (in seconds) that Lambda allows a function to run before
    stopping it." A search holding the single-flight lock, or waiting for it, must answer before then."""
    function = _search_function(default_stack)
    timeout = function["Timeout"]
    env = function["Environment"]["Variables"]
    assert env[config.FUNCTION_TIMEOUT_SECONDS] == str(timeout)
    strings = {k: v for k, v in env.items() if isinstance(v, str)}
    settings = config.dynamodb_client_settings(strings)
    per_call = config.dynamodb_worst_case_seconds(SimpleNamespace(**settings))
    # A load is two Queries (listings, then their inventory): each may spend the client's whole worst case. Around
    # it: the cache's connection set-up and its round trips of a miss, each up to the command timeout.
    load = 2 * per_call
    cache = int(strings[config.CACHE_CONNECT_TIMEOUT_MS]) / 1000 + 10 * int(strings[config.CACHE_TIMEOUT_MS]) / 1000
    assert load + cache <= timeout
    policy = config.cache_policy({}, load_worst_case_seconds=load)
    assert load <= policy.lock_ttl_ms / 1000, "the lock must outlive its holder's load"
    assert policy.lock_ttl_ms / 1000 + cache <= timeout
    assert policy.wait_ms <= policy.lock_ttl_ms
    assert config.load_worst_case_seconds(SimpleNamespace(**settings)) == load
    assert config.cache_worst_case_seconds(strings) >= cache


def test_a_timeout_too_short_for_one_load_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="FUNCTION_TIMEOUT_SECONDS=6: a search load .*raise the timeout"):
        config.dynamodb_client_settings({config.FUNCTION_TIMEOUT_SECONDS: "6"})


def test_retries_are_the_most_that_fit() -> None:
    settings = config.dynamodb_client_settings({config.FUNCTION_TIMEOUT_SECONDS: "10"})
    # 10 s - 1.5 s cache (1 s connect + 10 x 50 ms) - 0.5 s = 8 s for a load of 2 calls: one 1 s + 2 s attempt each
    # (6 s) fits, a retry each (2 x 7 s) does not.
    assert settings["retries"]["max_attempts"] == 0
    settings = config.dynamodb_client_settings({config.FUNCTION_TIMEOUT_SECONDS: "29"})
    assert settings["retries"]["max_attempts"] == 2  # 2 x (3 x 3 s + 1 s + 2 s) = 24 s <= 29 s - 2 s
    assert config.dynamodb_client_settings({})["retries"]["max_attempts"] == 3  # no function timeout: unchanged
