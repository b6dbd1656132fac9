"""Fixtures for handler tests: a fresh table per test module, a search handler wired to the test servers."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cached_booking_api.local.gateway import proxy_event
from cached_booking_api.runtime import config, schema
from cached_booking_api.runtime.handlers import bookings
from cached_booking_api.runtime.loader import load_listings
from test.conftest import create_table, listing, stay


class LambdaContextStub:
    """The attributes of a Lambda context that Powertools reads."""

    function_name = "search"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:search"
    aws_request_id = "test-request"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 3_000  # also how long an idempotency record stays IN_PROGRESS


SEARCH_TIMEOUT_MS = 10_000  # the search function's timeout (construct.SEARCH_TIMEOUT)


class SearchContext(LambdaContextStub):
    """A search invocation's context whose remaining time runs down from ``timeout_ms`` like Lambda's."""

    def __init__(self, timeout_ms: int) -> None:
        import time

        self._deadline = time.monotonic() + timeout_ms / 1000

    def get_remaining_time_in_millis(self) -> int:  # type: ignore[override]
        import time

        return max(0, int((self._deadline - time.monotonic()) * 1000))


@pytest.fixture
def search_env(
    monkeypatch: pytest.MonkeyPatch, redis_server: Any, dynamodb_local: Any, dynamodb: Any
) -> Iterator[dict[str, str]]:
    """A new table and an empty Redis; the search handler's process-wide service rebuilt for them."""
    import redis

    from cached_booking_api.runtime.handlers import search

    redis.Redis.from_url(redis_server.url).flushall()
    env = {
        config.TABLE_NAME: create_table(dynamodb),
        config.DYNAMODB_ENDPOINT: dynamodb_local.endpoint,
        config.CACHE_URL: redis_server.url,
        config.FUNCTION_TIMEOUT_SECONDS: str(SEARCH_TIMEOUT_MS // 1000),  # as the construct sets it
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv(config.CACHE_CLUSTER_MODE, raising=False)
    search.search_service.cache_clear()
    yield env
    search.search_service.cache_clear()


def load(dynamodb: Any, table: str, *listings: dict[str, Any]) -> None:
    """Write listing records with the real loader."""
    report = load_listings(dynamodb, table, [json.dumps(item) for item in listings])
    assert report.ok, report.rejected


def response_headers(response: dict[str, Any]) -> dict[str, str]:
    """Single- and multi-value headers of a proxy response, as API Gateway merges them."""
    headers = {name: values[-1] for name, values in (response.get("multiValueHeaders") or {}).items()}
    return {**headers, **(response.get("headers") or {})}


SearchCall = Callable[..., tuple[int, dict[str, str], dict[str, Any]]]


@pytest.fixture
def call_search() -> SearchCall:
    """Invoke the search Lambda handler in-process: returns (status, headers, JSON body)."""
    from cached_booking_api.runtime.handlers import search

    def call(**query: Any) -> tuple[int, dict[str, str], dict[str, Any]]:
        event = proxy_event("GET", "/search", query={k: str(v) for k, v in query.items()})
        response = search.handler(event, SearchContext(SEARCH_TIMEOUT_MS))
        return response["statusCode"], response_headers(response), json.loads(response["body"])

    return call


# -- bookings ---------------------------------------------------------------------------------------------------
CHECK_IN, CHECK_OUT = stay(5, 3)
BookCall = Callable[..., tuple[int, dict[str, Any]]]


@pytest.fixture
def booking_env(monkeypatch: pytest.MonkeyPatch, dynamodb_local: Any, dynamodb: Any) -> Iterator[dict[str, str]]:
    """A fresh table (listing lis-1: 5 units a night, up to 4 guests) and idempotency table."""
    idempotency = create_table_of(dynamodb, schema.idempotency_table_definition())
    env = {
        config.TABLE_NAME: create_table(dynamodb),
        config.IDEMPOTENCY_TABLE_NAME: idempotency,
        config.DYNAMODB_ENDPOINT: dynamodb_local.endpoint,
        # One DynamoDB Local JVM on two cores serves 200 threads here: allow it more than Lambda's 2 s.
        config.DYNAMODB_READ_TIMEOUT_SECONDS: "30",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    bookings.booking_service.cache_clear()
    bookings.idempotent_booking.cache_clear()
    load(dynamodb, env[config.TABLE_NAME], listing("lis-1", units=5, price=12900), listing("lis-2", units=1))
    yield env
    bookings.booking_service.cache_clear()
    bookings.idempotent_booking.cache_clear()


def create_table_of(client: Any, definition: dict[str, Any]) -> str:
    import uuid

    name = f"idem-{uuid.uuid4().hex[:12]}"
    client.create_table(TableName=name, **definition)
    return name


def body(**overrides: Any) -> dict[str, Any]:
    return {
        "listingId": "lis-1",
        "checkIn": CHECK_IN,
        "checkOut": CHECK_OUT,
        "guests": 2,
        "customer": {"name": "Ana Silva", "email": "ana@example.com"},
        **overrides,
    }


@pytest.fixture
def book() -> BookCall:
    def call(
        payload: Any, key: str | None = "key-00000001", raw: str | None = None, api_key: str = "client-a"
    ) -> tuple[int, dict[str, Any]]:
        headers = {"Content-Type": "application/json"}
        if key is not None:
            headers["Idempotency-Key"] = key
        event = proxy_event("POST", "/bookings", headers=headers, body=raw if raw is not None else json.dumps(payload))
        event["requestContext"]["identity"]["apiKeyId"] = api_key
        response = bookings.handler(event, LambdaContextStub())
        return response["statusCode"], json.loads(response["body"])

    return call


class ConflictingTransactions:
    """The real DynamoDB Local client, except that the first ``conflicts`` TransactWriteItems calls are cancelled the
    way DynamoDB cancels one whose month item is in another ongoing transaction (a booking's). DynamoDB Local
    serialises transactions instead (it never answers TransactionConflict), so the interleaving is injected."""

    def __init__(self, client: Any, conflicts: int, code: str = "TransactionConflict") -> None:
        self.client, self.exceptions, self.left, self.code, self.calls = client, client.exceptions, conflicts, code, 0

    def transact_write_items(self, **request: Any) -> Any:
        self.calls += 1
        if self.left > 0:
            self.left -= 1
            reasons = [{"Code": "None"}] + [{"Code": self.code, "Message": "Transaction is ongoing for the item"}] * (
                len(request["TransactItems"]) - 1
            )
            error = {
                "Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"},
                "CancellationReasons": reasons,
            }
            raise self.exceptions.TransactionCanceledException(error, "TransactWriteItems")
        return self.client.transact_write_items(**request)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)
