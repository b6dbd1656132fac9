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
