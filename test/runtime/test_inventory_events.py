"""Inbound inventory.updated events (issue 9.4): the loader's safe write, once per (source, eventId), never half."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import Any

import pytest

from cached_booking_api.runtime import schema
from cached_booking_api.runtime.inventory_events import (
    InvalidInventoryEvent,
    apply_inventory_event,
    parse_event,
    receipt_key,
)
from cached_booking_api.runtime.models import today_utc
from test.conftest import create_table, listing
from test.runtime.conftest import ConflictingTransactions, load

SOURCE = "pms.acme"
FIRST = today_utc() + timedelta(days=20)


def night(offset: int) -> date:
    return FIRST + timedelta(days=offset)


@pytest.fixture
def table(dynamodb: Any) -> str:
    name = create_table(dynamodb)
    load(dynamodb, name, listing("lis-1", units=3, first_night=FIRST, nights=60))
    return name


def day_attributes(dynamodb: Any, table: str, when: date) -> tuple[int, int]:
    """(capacity, booked) of lis-1 on a night, read strongly consistently."""
    item = dynamodb.get_item(
        TableName=table,
        Key={n: {"S": v} for n, v in schema.month_key("lis-1", schema.month_of(when)).items()},
        ConsistentRead=True,
    )["Item"]
    capacity = int(item[schema.capacity_attribute(when)]["N"])
    return capacity, int(item.get(schema.booked_attribute(when), {"N": "0"})["N"])


def book_units(dynamodb: Any, table: str, when: date, units: int) -> None:
    """Units booked on a night, as a booking's conditional increment leaves them."""
    dynamodb.update_item(
        TableName=table,
        Key={n: {"S": v} for n, v in schema.month_key("lis-1", schema.month_of(when)).items()},
        UpdateExpression="SET #b = :n",
        ExpressionAttributeNames={"#b": schema.booked_attribute(when)},
        ExpressionAttributeValues={":n": {"N": str(units)}},
    )


def detail(event_id: str, **nights: int) -> dict[str, Any]:
    return {"eventId": event_id, "listingId": "lis-1",
            "nights": {night(int(offset[1:])).isoformat(): cap for offset, cap in nights.items()}}  # fmt: skip


def test_an_event_sets_capacity_and_a_redelivery_changes_nothing(dynamodb: Any, table: str) -> None:
    """A later event wins over a redelivered earlier one: the receipt keeps the earlier one from being applied
    twice (EventBridge delivers at least once; a DLQ redrive delivers again)."""
    first = apply_inventory_event(dynamodb, table, detail("evt-1", d0=7, d1=6), source=SOURCE)
    assert first.status == "APPLIED" and first.applied == [night(0), night(1)] and first.conflicts == []
    assert day_attributes(dynamodb, table, night(0)) == (7, 0)
    apply_inventory_event(dynamodb, table, detail("evt-2", d0=2), source=SOURCE)
    again = apply_inventory_event(dynamodb, table, detail("evt-1", d0=7, d1=6), source=SOURCE)
    assert again.status == "DUPLICATE" and again.applied == first.applied
    assert day_attributes(dynamodb, table, night(0)) == (2, 0)  # evt-2's capacity stands
    # the same eventId from another source is another event
    other = apply_inventory_event(dynamodb, table, detail("evt-1", d0=4), source="channel.manager")
    assert other.status == "APPLIED" and day_attributes(dynamodb, table, night(0)) == (4, 0)


def test_capacity_below_booked_is_refused_per_night_and_the_rest_applied_once(dynamodb: Any, table: str) -> None:
    """As the loader: booked units are never handed back; the refused night is reported with what is booked."""
    book_units(dynamodb, table, night(1), 3)
    result = apply_inventory_event(dynamodb, table, detail("evt-3", d0=1, d1=2, d2=5), source=SOURCE)
    assert result.status == "APPLIED" and result.applied == [night(0), night(2)]
    assert [(c.night, c.capacity, c.booked) for c in result.conflicts] == [(night(1), 2, 3)]
    assert [day_attributes(dynamodb, table, night(i)) for i in range(3)] == [(1, 0), (3, 3), (5, 0)]
    again = apply_inventory_event(dynamodb, table, detail("evt-3", d0=1, d1=2, d2=5), source=SOURCE)
    assert again.status == "DUPLICATE" and again.as_dict()["conflicts"] == result.as_dict()["conflicts"]


def test_an_event_across_months_commits_all_or_nothing(dynamodb: Any, table: str) -> None:
    nights = {night(i).isoformat(): 9 for i in range(45)}  # spans two or three month items
    result = apply_inventory_event(dynamodb, table, {"eventId": "evt-m", "listingId": "lis-1", "nights": nights},
                                   source=SOURCE)  # fmt: skip
    assert len(result.applied) == 45 and len(schema.nights_by_month(result.applied)) >= 2
    assert {day_attributes(dynamodb, table, night(i))[0] for i in range(45)} == {9}


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"eventId": "e", "listingId": "lis-1", "nights": {}}, "detail.nights"),
        ({"eventId": "e", "listingId": "lis-1", "nights": {"2026-02-30": 1}}, "detail.nights.2026-02-30.[key]"),
        ({"eventId": "e", "listingId": "lis-1", "nights": {"2030-01-01": -1}}, "detail.nights.2030-01-01"),
        ({"eventId": "e e", "listingId": "lis-1", "nights": {"2030-01-01": 1}}, "detail.eventId"),
        ({"eventId": "e", "listingId": "lis-1", "nights": {"2030-01-01": 1}, "x": 1}, "detail.x"),
        ({"listingId": "lis-1", "nights": {"2030-01-01": 1}}, "detail.eventId"),
    ],
)
def test_invalid_details_are_refused_naming_the_field_and_write_nothing(
    dynamodb: Any, table: str, bad: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInventoryEvent) as refused:
        apply_inventory_event(dynamodb, table, bad, source=SOURCE)
    assert field in [d["field"] for d in refused.value.details]
    assert "Item" not in dynamodb.get_item(
        TableName=table, Key={n: {"S": v} for n, v in receipt_key(SOURCE, "e").items()}
    )


def test_an_unknown_listing_or_a_reused_event_id_is_refused_with_nothing_written(dynamodb: Any, table: str) -> None:
    with pytest.raises(InvalidInventoryEvent, match="does not exist"):
        apply_inventory_event(dynamodb, table, {**detail("evt-u", d0=1), "listingId": "nope"}, source=SOURCE)
    apply_inventory_event(dynamodb, table, detail("evt-r", d0=5), source=SOURCE)
    with pytest.raises(InvalidInventoryEvent, match="different detail"):
        apply_inventory_event(dynamodb, table, detail("evt-r", d0=1, d1=1), source=SOURCE)
    assert [day_attributes(dynamodb, table, night(i)) for i in range(2)] == [(5, 0), (3, 0)]


def test_concurrent_deliveries_of_one_event_apply_it_once(dynamodb: Any, table: str) -> None:
    event = detail("evt-c", d0=8, d1=8)
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda _: apply_inventory_event(dynamodb, table, event, source=SOURCE).status,
                                 range(8)))  # fmt: skip
    assert sorted(statuses) == ["APPLIED"] + ["DUPLICATE"] * 7


def test_events_are_read_as_delivered_by_a_rule_or_as_put_by_a_sender() -> None:
    import json

    body = detail("evt-p", d0=1)
    delivered = {"source": SOURCE, "detail-type": "inventory.updated", "detail": body}
    put = {"Source": SOURCE, "DetailType": "inventory.updated", "Detail": json.dumps(body)}
    assert parse_event(delivered) == parse_event(put)
    for wrong, problem in (({**delivered, "detail-type": "x"}, "detail-type"), ({**delivered, "source": "aws.x"},
                           "source"), ({**put, "Detail": "{"}, "Detail")):  # fmt: skip
        with pytest.raises(InvalidInventoryEvent) as refused:
            parse_event(wrong)
        assert refused.value.details[0]["field"] == problem


def test_the_consumer_applies_allowed_sources_and_dead_letters_what_can_never_apply(dynamodb: Any, table: str) -> None:
    """Invalid events and sources not allowed go to the dead-letter queue with the reason, nothing written; the
    invocation succeeds (a retry would fail the same way)."""
    from cached_booking_api.runtime.handlers.inventory_updates import process

    rejected: list[dict[str, Any]] = []
    event = {"source": SOURCE, "detail-type": "inventory.updated", "detail": detail("evt-h", d0=6)}
    applied = process(event, dynamodb, table, [SOURCE], rejected.append)
    assert applied["status"] == "APPLIED" and applied["applied"] == [night(0).isoformat()]
    stranger = process({**event, "source": "someone.else"}, dynamodb, table, [SOURCE], rejected.append)
    invalid = process({**event, "detail": {**event["detail"], "nights": {}}}, dynamodb, table, [SOURCE],
                      rejected.append)  # fmt: skip
    assert stranger["status"] == invalid["status"] == "REJECTED"
    assert [r["error"]["details"][0]["field"] for r in rejected] == ["source", "detail.nights"]
    assert "inventory_sources" in rejected[0]["error"]["message"] and rejected[0]["event"] == {
        **event, "source": "someone.else"}  # fmt: skip
    assert day_attributes(dynamodb, table, night(0)) == (6, 0)


def test_a_transient_failure_raises_so_lambda_retries_it(dynamodb: Any) -> None:
    from cached_booking_api.runtime.handlers.inventory_updates import process

    rejected: list[dict[str, Any]] = []
    event = {"source": SOURCE, "detail-type": "inventory.updated", "detail": detail("evt-t", d0=6)}
    with pytest.raises(dynamodb.exceptions.ResourceNotFoundException):
        process(event, dynamodb, "no-such-table", [SOURCE], rejected.append)
    assert rejected == []


@pytest.mark.parametrize("code", ["TransactionConflict", "ThrottlingError"])
def test_an_event_meeting_ongoing_booking_transactions_is_retried_after_a_jittered_backoff(
    dynamodb: Any, table: str, code: str
) -> None:
    """AWS, DynamoDB Developer Guide, "Transaction conflict handling in DynamoDB": "An item within a
    TransactWriteItems request is part of another ongoing TransactWriteItems request." and "If any item-level request
    within TransactWriteItems or TransactGetItems is rejected, the request fails with a TransactionCanceledException."
    (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html) botocore does not retry
    it: a booking holding the month item made the event fail after 5 immediate attempts. Now it waits a jittered,
    growing while (as the loader does) and is applied."""
    from cached_booking_api.runtime.inventory_events import MAX_TRANSACTION_CONFLICTS

    conflicts = MAX_TRANSACTION_CONFLICTS  # more than the 5 attempts of before
    client = ConflictingTransactions(dynamodb, conflicts=conflicts, code=code)
    slept: list[float] = []
    result = apply_inventory_event(client, table, detail("evt-busy", d0=5), source=SOURCE, sleep=slept.append)
    assert result.status == "APPLIED" and result.applied == [night(0)] and result.conflicts == []
    assert client.calls == conflicts + 1 and len(slept) == conflicts
    assert all(0 <= pause <= min(0.05 * 2**attempt, 1.0) for attempt, pause in enumerate(slept, start=1))
    assert len(set(slept)) > 1  # jittered: concurrent retries do not collide again in step
    assert day_attributes(dynamodb, table, night(0)) == (5, 0)


def test_an_event_whose_month_stays_busy_raises_so_lambda_retries_it_then_dead_letters_it(
    dynamodb: Any, table: str
) -> None:
    """Retries exhausted: nothing written, no receipt (a later delivery applies it), and the consumer raises rather
    than returning, so Lambda's asynchronous retries and then its on-failure destination (the DLQ) take over; the
    event is never dropped as if it had been handled."""
    from cached_booking_api.runtime.handlers.inventory_updates import process
    from cached_booking_api.runtime.inventory_events import InventoryEventBusy

    client = ConflictingTransactions(dynamodb, conflicts=10_000)
    event = {"source": SOURCE, "detail-type": "inventory.updated", "detail": detail("evt-stuck", d0=5)}
    rejected: list[dict[str, Any]] = []
    with pytest.raises(InventoryEventBusy, match="lis-1.*evt-stuck"):
        process(event, client, table, [SOURCE], rejected.append, sleep=lambda _: None)
    assert rejected == [] and day_attributes(dynamodb, table, night(0)) == (3, 0)
    assert "Item" not in dynamodb.get_item(
        TableName=table, Key={n: {"S": v} for n, v in receipt_key(SOURCE, "evt-stuck").items()}, ConsistentRead=True
    )
    later = apply_inventory_event(dynamodb, table, event["detail"], source=SOURCE)  # the retry
    assert later.status == "APPLIED" and day_attributes(dynamodb, table, night(0)) == (5, 0)
