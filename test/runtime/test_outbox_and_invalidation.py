"""Outbox and stream consumer, driven from DynamoDB Local's real stream: N bookings → N booking.confirmed events, and
searches stop serving stale availability once the consumer has seen the batch."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import redis

from cached_booking_api.local.gateway import proxy_event
from cached_booking_api.local.streams import StreamReader
from cached_booking_api.runtime import config, schema
from cached_booking_api.runtime.handlers import bookings, invalidation, search
from cached_booking_api.runtime.outbox import BOOKING_CONFIRMED_FIELDS, event_detail_from_record, matches_pipe_filter
from test.conftest import create_table, listing, stay
from test.runtime.conftest import LambdaContextStub, load, response_headers

CHECK_IN, CHECK_OUT = stay(9, 2)


@pytest.fixture
def platform(
    monkeypatch: pytest.MonkeyPatch, dynamodb_local: Any, dynamodb: Any, redis_server: Any
) -> Iterator[dict[str, Any]]:
    """One table shared by search, bookings and the stream consumer; an empty Redis; a stream reader from the start."""
    redis.Redis.from_url(redis_server.url).flushall()
    table = create_table(dynamodb)
    idempotency = f"idem-{table}"
    dynamodb.create_table(TableName=idempotency, **schema.idempotency_table_definition())
    env = {
        config.TABLE_NAME: table,
        config.IDEMPOTENCY_TABLE_NAME: idempotency,
        config.DYNAMODB_ENDPOINT: dynamodb_local.endpoint,
        config.CACHE_URL: redis_server.url,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    modules = (search.search_service, bookings.booking_service, bookings.idempotent_booking, invalidation.search_cache)
    for cached in modules:
        cached.cache_clear()
    stream_arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    reader = StreamReader(boto3.client("dynamodbstreams", endpoint_url=dynamodb_local.endpoint), stream_arn)
    load(dynamodb, table, listing("lis-1", units=5), listing("por-1", destination="Porto", units=5))
    yield {"table": table, "reader": reader}
    for cached in modules:
        cached.cache_clear()


def do_search(destination: str = "Lisbon") -> tuple[str, dict[str, Any]]:
    event = proxy_event(
        "GET", "/search", query={"destination": destination, "checkIn": CHECK_IN, "checkOut": CHECK_OUT}
    )
    response = search.handler(event, LambdaContextStub())
    return response_headers(response)["X-Cache"], json.loads(response["body"])


def do_book(key: str) -> dict[str, Any]:
    payload = {"listingId": "lis-1", "checkIn": CHECK_IN, "checkOut": CHECK_OUT, "guests": 1,
               "customer": {"name": "Ana Silva", "email": "ana@example.com"}}  # fmt: skip
    event = proxy_event("POST", "/bookings", headers={"Idempotency-Key": key}, body=json.dumps(payload))
    response = bookings.handler(event, LambdaContextStub())
    assert response["statusCode"] == 201, response["body"]
    return dict(json.loads(response["body"]))


def test_n_bookings_make_n_events_and_invalidate_the_nights_booked(platform: dict[str, Any]) -> None:
    reader: StreamReader = platform["reader"]
    invalidation.invalidate(reader.poll(), invalidation.search_cache())  # the load itself
    # About scopes, not timing: results loaded right after a change are not kept as current (test_generations.py).
    service = search.search_service()
    service.cache.policy = dataclasses.replace(service.cache.policy, settle_seconds=0.0)
    assert do_search()[0] == "MISS"
    assert do_search() == ("HIT", do_search()[1])
    assert do_search("Porto")[0] == "MISS"
    assert do_search()[1]["results"][0]["available"] == 5

    created = [do_book(f"outbox-key-{i}") for i in range(3)]
    records = reader.poll()

    outbox = [r for r in records if matches_pipe_filter(r)]
    assert len(outbox) == 3
    details = [event_detail_from_record(r) for r in outbox]
    assert sorted(d["bookingId"] for d in details) == sorted(b["bookingId"] for b in created)
    for detail in details:
        assert list(detail) == [name for name, _ in BOOKING_CONFIRMED_FIELDS]
        assert isinstance(detail["guests"], int) and isinstance(detail["totalPrice"], int)
        assert "ana" not in json.dumps(detail).lower()
    assert len({d["eventId"] for d in details}) == 3

    scopes = invalidation.invalidate(records, invalidation.search_cache())
    lisbon = schema.destination_tag("Lisbon")
    assert scopes == {(lisbon, night[:7]) for night in (CHECK_IN, stay(10, 1)[0])}  # the months booked, nothing else
    status, body = do_search()
    assert status == "HIT" and body["results"][0]["available"] == 2  # the bookings were written through (9.5)
    assert do_search("Porto")[0] == "HIT"  # other destinations keep their cache


def test_a_booking_then_a_search_shows_the_new_count_as_a_hit(platform: dict[str, Any]) -> None:
    """The point of issue 9.5 at the handlers: a booking reaches the cache through the stream consumer as data, so
    the next search of its nights is answered from the cache with the new count, not invalidated into a miss."""
    reader: StreamReader = platform["reader"]
    invalidation.invalidate(reader.poll(), invalidation.search_cache())
    assert do_search()[0] == "MISS"
    assert do_search() == ("HIT", do_search()[1])
    do_book("hit-after-booking")
    invalidation.invalidate(reader.poll(), invalidation.search_cache())
    status, body = do_search()
    assert (status, body["results"][0]["available"]) == ("HIT", 4)


@pytest.mark.fast
def test_records_that_change_nothing_write_nothing() -> None:
    from cached_booking_api.runtime.invalidation_scopes import cache_changes

    night = {"pk": {"S": "LISTING#a"}, "sk": {"S": "MONTH#2027-01"}}
    same = {"c01": {"N": "2"}, "b01": {"N": "1"}, "destinationTag": {"S": "t"}}
    booking = {"pk": {"S": "BOOKING#b"}, "sk": {"S": "BOOKING"}}
    records = [
        {"eventName": "MODIFY", "dynamodb": {"Keys": night, "NewImage": same, "OldImage": same}},
        {"eventName": "INSERT", "dynamodb": {"Keys": booking, "NewImage": {"x": {"S": "y"}}}},
    ]
    assert cache_changes(records).scopes == set()
    booked = {"c05": {"N": "2"}, "b05": {"N": "1"}, "c06": {"N": "2"}, "destinationTag": {"S": "t"}}
    change = {"Keys": night, "NewImage": {**booked, "b05": {"N": "2"}}, "OldImage": booked}
    writes = cache_changes([{"eventName": "MODIFY", "dynamodb": change}]).month_writes
    assert [(w.destination_tag, w.month, w.listing_id, w.value) for w in writes] == [("t", "2027-01", "a", "*4,0,2")]
    removed = {"Keys": night, "OldImage": booked}
    writes = cache_changes([{"eventName": "REMOVE", "dynamodb": removed}]).month_writes
    assert [(w.destination_tag, w.value) for w in writes] == [("t", "")]  # a tombstone, never a deleted field
    moved = {"Keys": {"pk": {"S": "LISTING#a"}, "sk": {"S": "META"}},
             "NewImage": {"destination": {"S": "Porto"}}, "OldImage": {"destination": {"S": "Lisbon"}}}  # fmt: skip
    assert cache_changes([{"eventName": "MODIFY", "dynamodb": moved}]).destinations == {
        schema.destination_tag("Porto"),
        schema.destination_tag("Lisbon"),
    }
