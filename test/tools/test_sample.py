"""The sample listings: always usable (inventory from the start date, default today, for a year), in the loader's
ordinary file format, deterministic."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from cached_booking_api.runtime.loader import parse_listings
from cached_booking_api.tools import cli
from cached_booking_api.tools.sample import NIGHTS, sample_lines, sample_listings, today

pytestmark = pytest.mark.fast


def test_the_sample_starts_today_and_covers_a_year() -> None:
    listings = list(sample_listings())
    assert len(listings) == 48 and len({item["destination"] for item in listings}) == 4
    for item in listings:
        nights = sorted(item["inventory"])
        assert nights[0] == today().isoformat()
        assert nights[-1] == (today() + timedelta(days=NIGHTS - 1)).isoformat() and len(nights) == NIGHTS
    tomorrow = (today() + timedelta(days=1)).isoformat()
    lisbon = [item for item in listings if item["destination"] == "Lisbon" and item["maxGuests"] >= 2]
    assert sum(item["inventory"][tomorrow] > 0 for item in lisbon) >= 5


def test_the_sample_is_a_valid_listing_file_for_the_loader() -> None:
    records, errors = parse_listings(list(sample_lines(date(2031, 2, 1), 30)))
    assert errors == [] and len(records) == 48


def test_the_sample_is_deterministic_and_a_night_keeps_its_units_whatever_the_start() -> None:
    start = date(2030, 1, 1)
    assert list(sample_lines(start, 40)) == list(sample_lines(start, 40))
    early = {item["listingId"]: item for item in sample_listings(start, 40)}
    later = {item["listingId"]: item for item in sample_listings(start + timedelta(days=10), 40)}
    for listing_id, item in later.items():
        assert {k: v for k, v in item.items() if k != "inventory"} == {
            k: v for k, v in early[listing_id].items() if k != "inventory"
        }
        shared = set(item["inventory"]) & set(early[listing_id]["inventory"])
        assert len(shared) == 30 and all(item["inventory"][n] == early[listing_id]["inventory"][n] for n in shared)


def test_the_sample_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "listings.jsonl"
    assert cli.main(["sample", "-o", str(out), "--start", "2030-03-01", "--nights", "3"]) == 0
    lines = out.read_text().splitlines()
    assert len(lines) == 48
    assert sorted(json.loads(lines[0])["inventory"]) == ["2030-03-01", "2030-03-02", "2030-03-03"]
    assert cli.main(["sample", "--nights", "1"]) == 0
    first = json.loads(capsys.readouterr().out.splitlines()[0])
    assert list(first["inventory"]) == [today().isoformat()]
    assert cli.main(["sample", "--nights", "0"]) == 2
    assert "--nights must be at least 1" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        cli.main(["sample", "--start", "01/03/2030"])
    assert exited.value.code == 2 and "not a date (YYYY-MM-DD): '01/03/2030'" in capsys.readouterr().err
