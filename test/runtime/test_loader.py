"""The listing loader and the `load` command against DynamoDB Local."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from cached_booking_api.runtime import schema
from cached_booking_api.runtime.loader import load_listings, parse_listings
from cached_booking_api.tools import cli
from cached_booking_api.tools.sample import sample_lines
from test.conftest import create_table, listing

SAMPLE_LINES = list(sample_lines())  # the sample the local mode loads, inventory from today (test/test_sample.py)


def _get(dynamodb: Any, table: str, key: dict[str, str]) -> dict[str, Any] | None:
    item: dict[str, Any] | None = dynamodb.get_item(TableName=table, Key={k: {"S": v} for k, v in key.items()}).get(
        "Item"
    )
    return item


def test_valid_listings_are_written_with_the_shared_schema(dynamodb_local: Any, dynamodb: Any) -> None:
    table = create_table(dynamodb)
    record = listing("lis-1", nights=3, units=2)
    report = load_listings(dynamodb, table, [json.dumps(record)])
    assert (report.ok, report.listings, report.nights_changed) == (True, 1, 3)
    item = _get(dynamodb, table, schema.listing_key("lis-1"))
    assert item is not None
    assert item["gsi1pk"] == {"S": "DEST#lisbon"}
    assert item["gsi1sk"] == {"S": "000000010000#lis-1"}
    first_night = sorted(record["inventory"])[0]
    from datetime import date

    day = date.fromisoformat(first_night)
    month = _get(dynamodb, table, schema.month_key("lis-1", schema.month_of(day)))
    assert month is not None
    assert month[schema.capacity_attribute(day)] == {"N": "2"} and month[schema.booked_attribute(day)] == {"N": "0"}
    assert month["gsi2pk"] == {"S": "DEST#lisbon"} and month["gsi2sk"] == {"S": f"{schema.month_of(day)}#lis-1"}


BAD_LINES = [
    ("{not json", "not valid JSON"),
    (json.dumps({**listing("bad-1"), "pricePerNight": -5}), "pricePerNight"),
    (json.dumps({k: v for k, v in listing("bad-2").items() if k != "name"}), "name"),
    (json.dumps({**listing("bad-3"), "inventory": {"2026-13-01": 1}}), "inventory"),
    (json.dumps({**listing("bad-4"), "currency": "euro"}), "currency"),
    (json.dumps({**listing("bad-5"), "extra": 1}), "extra"),
    (json.dumps({**listing("bad-6"), "maxGuests": 0}), "maxGuests"),
]


def test_bad_lines_are_reported_by_number_and_write_nothing(dynamodb_local: Any, dynamodb: Any) -> None:
    table = create_table(dynamodb)
    lines = [json.dumps(listing("good-1")), "", *(line for line, _ in BAD_LINES), json.dumps(listing("good-1"))]
    report = load_listings(dynamodb, table, lines)
    assert report.listings == 1
    numbers = [error.line for error in report.rejected]
    assert numbers == [3, 4, 5, 6, 7, 8, 9, 10]
    for error, (_, expected) in zip(report.rejected, BAD_LINES, strict=False):
        assert expected in error.message, error
    assert "already defined on line 1" in report.rejected[-1].message
    for n in range(1, 7):
        assert _get(dynamodb, table, schema.listing_key(f"bad-{n}")) is None
    scanned = dynamodb.scan(TableName=table, Select="COUNT")["Count"]
    months = {schema.month_of(date.fromisoformat(night)) for night in listing("good-1")["inventory"]}
    assert scanned == 1 + len(months)  # good-1 and its inventory (one item per month) only


def test_load_command_exit_codes_and_messages(
    dynamodb_local: Any, dynamodb: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = create_table(dynamodb)
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps(listing("a")) + "\n")
    assert cli.main(["load", "--table", table, "--endpoint-url", dynamodb_local.endpoint, str(good)]) == 0
    assert "loaded 1 listings" in capsys.readouterr().out

    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(listing("b")) + "\n" + BAD_LINES[1][0] + "\n")
    assert cli.main(["load", "--table", table, "--endpoint-url", dynamodb_local.endpoint, str(bad)]) == 1
    captured = capsys.readouterr()
    assert f"{bad}:line 2: pricePerNight" in captured.err
    assert "rejected 1 line(s)" in captured.out

    assert cli.main(["load", "--table", table, str(tmp_path / "missing.jsonl")]) == 2
    assert "no such file" in capsys.readouterr().err


@pytest.mark.fast
def test_the_shipped_sample_file_is_valid() -> None:
    records, errors = parse_listings(SAMPLE_LINES)
    assert errors == []
    assert len(records) >= 24
    assert len({record.destination for record in records}) >= 3


class ConflictingClient:
    """The real DynamoDB Local client, except that the first ``conflicts`` UpdateItem calls are rejected the way
    DynamoDB rejects one that meets an ongoing transaction (DynamoDB Local serialises instead, so the interleaving is
    injected)."""

    def __init__(self, client: Any, conflicts: int) -> None:
        self.client, self.exceptions, self.left, self.calls = client, client.exceptions, conflicts, 0

    def update_item(self, **request: Any) -> Any:
        self.calls += 1
        if self.left > 0:
            self.left -= 1
            error = {
                "Error": {"Code": "TransactionConflictException", "Message": "Transaction is ongoing for the item"}
            }
            raise self.exceptions.TransactionConflictException(error, "UpdateItem")
        return self.client.update_item(**request)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


def test_a_capacity_update_meeting_an_ongoing_booking_transaction_is_retried(
    dynamodb_local: Any, dynamodb: Any
) -> None:
    """AWS, DynamoDB Developer Guide, "Transaction conflict handling in DynamoDB": "A PutItem, UpdateItem, or
    DeleteItem request for an item conflicts with an ongoing TransactWriteItems request that includes the same item."
    and "When a PutItem, UpdateItem, or DeleteItem request is rejected, the request fails with a
    TransactionConflictException." (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html)
    botocore does not retry that code, so a load running while bookings come in crashed on the first conflict."""
    from cached_booking_api.runtime.loader import apply_capacity

    table = create_table(dynamodb)
    night = date(2027, 3, 14)
    assert apply_capacity(dynamodb, table, "busy-1", "Lisbon", {night: 2}).changed == 1  # the month item exists
    client = ConflictingClient(dynamodb, conflicts=3)
    slept: list[float] = []
    result = apply_capacity(client, table, "busy-1", "Lisbon", {night: 4}, sleep=slept.append)
    assert (result.changed, result.conflicts, client.calls, len(slept)) == (1, [], 4, 3)
    month = _get(dynamodb, table, schema.month_key("busy-1", schema.month_of(night)))
    assert month is not None and month[schema.capacity_attribute(night)] == {"N": "4"}


def test_a_month_item_that_stays_busy_ends_the_load_with_a_clear_message(
    dynamodb_local: Any,
    dynamodb: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    file = tmp_path / "busy.jsonl"
    file.write_text(json.dumps(listing("busy-2", nights=3)) + "\n")
    table = create_table(dynamodb)
    assert cli.main(["load", "--table", table, "--endpoint-url", dynamodb_local.endpoint, str(file)]) == 0
    file.write_text(json.dumps(listing("busy-2", nights=3, units=5)) + "\n")  # a capacity change: updates
    import boto3

    make = boto3.client  # the command builds its own client: wrap what it gets
    monkeypatch.setattr(boto3, "client", lambda *a, **k: ConflictingClient(make(*a, **k), conflicts=10_000))
    assert cli.main(["load", "--table", table, "--endpoint-url", dynamodb_local.endpoint, str(file)]) == 1
    err = capsys.readouterr().err
    assert "error: busy-2 " in err and "transaction" in err and "safe to repeat" in err and "Traceback" not in err


def test_loading_into_a_table_that_does_not_exist_is_a_clear_error(
    dynamodb_local: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "one.jsonl"
    file.write_text(json.dumps(listing("nowhere-1", nights=2)) + "\n")
    assert cli.main(["load", "--table", "no-such-table", "--endpoint-url", dynamodb_local.endpoint, str(file)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: table no-such-table not found") and "--table" in err and "--region" in err


class CountingClient:
    """The real client, counting the writes of month items and hiding them from reads when ``blind``."""

    def __init__(self, client: Any, *, blind: bool = False) -> None:
        self.client, self.exceptions, self.blind = client, client.exceptions, blind
        self.writes: list[str] = []

    def put_item(self, **request: Any) -> Any:
        self.writes.append("put")
        return self.client.put_item(**request)

    def update_item(self, **request: Any) -> Any:
        self.writes.append("update")
        return self.client.update_item(**request)

    def batch_get_item(self, **request: Any) -> Any:
        return {"Responses": {}} if self.blind else self.client.batch_get_item(**request)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


def test_reloading_an_unchanged_file_writes_no_month_item_and_a_change_only_its_nights(
    dynamodb_local: Any, dynamodb: Any
) -> None:
    """The read before the writes only leaves out writes that would change nothing: a new month is one conditional
    put, an unchanged month nothing, a changed one an update of the nights that change."""
    table = create_table(dynamodb)
    record = listing("quiet-1", first_night=date(2027, 5, 30), nights=4)  # May and June
    counting = CountingClient(dynamodb)
    report = load_listings(counting, table, [json.dumps(record)])
    assert (report.nights_changed, counting.writes) == (4, ["put", "put"])
    counting.writes.clear()
    report = load_listings(counting, table, [json.dumps(record)])
    assert (report.ok, report.nights_changed, counting.writes) == (True, 0, [])
    record["inventory"]["2027-06-01"] = 7
    report = load_listings(counting, table, [json.dumps(record)])
    assert (report.nights_changed, counting.writes) == (1, ["update"])
    june = _get(dynamodb, table, schema.month_key("quiet-1", "2027-06"))
    assert june is not None and june["c01"] == {"N": "7"} and june["c02"] == {"N": "3"}


def test_a_new_destination_rewrites_the_month_items_index_keys(dynamodb_local: Any, dynamodb: Any) -> None:
    table = create_table(dynamodb)
    record = listing("moved-1", first_night=date(2027, 5, 1), nights=2)
    assert load_listings(dynamodb, table, [json.dumps(record)]).ok
    assert load_listings(dynamodb, table, [json.dumps({**record, "destination": "Porto"})]).ok
    may = _get(dynamodb, table, schema.month_key("moved-1", "2027-05"))
    assert may is not None and may["gsi2pk"] == {"S": "DEST#porto"}
    assert may[schema.DESTINATION_TAG_ATTRIBUTE] == {"S": schema.destination_tag("Porto")}


def test_a_stale_read_cannot_make_the_loader_overwrite_booked_units(dynamodb_local: Any, dynamodb: Any) -> None:
    """The read decides nothing: with every read answering "no such month" (as when a month is created and booked
    between the read and the write), the put conditional on absence fails and the conditional update still refuses a
    capacity below what is booked."""
    from cached_booking_api.runtime.loader import CapacityConflict, apply_capacity

    table = create_table(dynamodb)
    night = date(2027, 7, 9)
    assert apply_capacity(dynamodb, table, "raced-1", "Lisbon", {night: 3}).changed == 1
    key = {k: {"S": v} for k, v in schema.month_key("raced-1", "2027-07").items()}
    dynamodb.update_item(TableName=table, Key=key, UpdateExpression="SET b09 = :two",
                         ExpressionAttributeValues={":two": {"N": "2"}})  # fmt: skip  # two units booked
    blind = CountingClient(dynamodb, blind=True)
    result = apply_capacity(blind, table, "raced-1", "Lisbon", {night: 1})
    assert result.conflicts == [CapacityConflict("raced-1", night, 1, 2)] and blind.writes[0] == "put"
    month = dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
    assert (month["c09"], month["b09"]) == ({"N": "3"}, {"N": "2"})


class BookingAfterTheRead(CountingClient):
    """The real client; right after the loader's read of the months, ``units`` are booked on ``night`` (as a booking
    landing between the read and the write would), and the update requests are kept."""

    def __init__(self, client: Any, table: str, listing_id: str, night: date, units: int) -> None:
        super().__init__(client)
        self.table, self.listing_id, self.night, self.units = table, listing_id, night, units
        self.updates: list[dict[str, Any]] = []

    def batch_get_item(self, **request: Any) -> Any:
        answer = self.client.batch_get_item(**request)
        key = {k: {"S": v} for k, v in schema.month_key(self.listing_id, schema.month_of(self.night)).items()}
        self.client.update_item(TableName=self.table, Key=key, UpdateExpression="SET #b = #b + :n",
                                ExpressionAttributeNames={"#b": schema.booked_attribute(self.night)},
                                ExpressionAttributeValues={":n": {"N": str(self.units)}})  # fmt: skip
        return answer

    def update_item(self, **request: Any) -> Any:
        self.updates.append(request)
        return super().update_item(**request)


def test_a_changed_month_is_one_lean_update_and_a_booking_after_the_read_is_still_never_handed_back(
    dynamodb_local: Any, dynamodb: Any
) -> None:
    """A reload of changed capacities sets only the capacities of the nights that change (the index keys and the
    booked attributes the read showed are not written again, no old values are returned: what makes the changed
    reload fast, bench/load_bench.py) - and still by condition, at write time: two units booked between the read and
    the update make a capacity of 1 refused, never applied over them."""
    from cached_booking_api.runtime.loader import CapacityConflict, apply_capacity

    table = create_table(dynamodb)
    first, second = date(2027, 8, 10), date(2027, 8, 11)
    assert apply_capacity(dynamodb, table, "lean-1", "Lisbon", {first: 3, second: 3}).changed == 2
    racing = BookingAfterTheRead(dynamodb, table, "lean-1", first, units=2)
    result = apply_capacity(racing, table, "lean-1", "Lisbon", {first: 1, second: 5})
    assert result.conflicts == [CapacityConflict("lean-1", first, 1, 2)] and result.changed == 1
    lean = racing.updates[0]
    assert lean["UpdateExpression"] == "SET #c10 = :c10, #c11 = :c11"
    assert lean["ConditionExpression"] == "#b10 <= :c10 AND #b11 <= :c11" and "ReturnValues" not in lean
    month = _get(dynamodb, table, schema.month_key("lean-1", "2027-08"))
    assert month is not None
    assert (month["c10"], month["b10"], month["c11"], month["b11"]) == ({"N": "3"}, {"N": "2"}, {"N": "5"}, {"N": "0"})
