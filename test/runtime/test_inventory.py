"""The inventory model: capacity and booked units kept apart, so no write path can hand back a booked unit."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cached_booking_api.runtime import config
from cached_booking_api.runtime.loader import load_listings
from test.conftest import listing, stay
from test.runtime.conftest import BookCall, SearchCall, body, load


def test_reloading_the_same_file_does_not_hand_back_a_booked_unit(
    booking_env: dict[str, str],
    book: BookCall,
    dynamodb: Any,
) -> None:
    """Issue 9: load, book the last unit of a night, load the same file again: the second booking must be 409."""
    table = booking_env[config.TABLE_NAME]
    same_file = [json.dumps(listing("lis-1", units=5, price=12900)), json.dumps(listing("lis-2", units=1))]
    assert book(body(listingId="lis-2"), key="last-unit-1")[0] == 201
    report = load_listings(dynamodb, table, same_file)  # an operator re-runs the load (or retries a failed one)
    assert report.ok
    status, answer = book(body(listingId="lis-2"), key="last-unit-2")
    assert (status, answer["error"]["code"]) == (409, "UNAVAILABLE")


@pytest.mark.fast
def test_listing_file_names_with_control_characters_are_rejected_by_line() -> None:
    from cached_booking_api.runtime.loader import parse_listings

    records, errors = parse_listings([json.dumps({**listing("ctl-1"), "name": "Casa\x00Azul"})])
    assert records == [] and errors[0].line == 1 and errors[0].message.startswith("name:")


def test_destinations_match_whatever_unicode_form_or_case_was_typed(
    search_env: dict[str, str], dynamodb: Any, call_search: SearchCall
) -> None:
    """Issue 8.5: "Zürich" decomposed (NFD), precomposed, upper-case or with a full-width space is one destination in
    the index key and the cache key."""
    import unicodedata

    from cached_booking_api.runtime import schema

    load(dynamodb, search_env[config.TABLE_NAME], listing("zrh-1", destination="Zürich Stadt"))
    check_in, check_out = stay(3, 2)
    typed = [
        unicodedata.normalize("NFD", "Zürich Stadt"),
        "ZÜRICH STADT",
        "zürich\u3000stadt",  # ideographic (full-width) space
        "Zürich Stadt",
    ]
    keys = {schema.destination_partition(form) for form in typed}
    assert keys == {schema.destination_partition("zürich stadt")}
    for form in typed:
        status, headers, found = call_search(destination=form, checkIn=check_in, checkOut=check_out)
        assert status == 200 and [r["listingId"] for r in found["results"]] == ["zrh-1"], form
    assert headers["X-Cache"] == "HIT"  # one cache entry for all the forms


def test_load_command_reports_capacity_below_booked_and_exits_non_zero_unless_partial_is_allowed(
    booking_env: dict[str, str], book: BookCall, dynamodb_local: Any, tmp_path: Any, capsys: Any
) -> None:
    """Issue 9.2: a capacity below what is booked is reported per listing-night and not applied; --dry-run writes
    nothing; --allow-partial makes the same load exit 0."""
    from cached_booking_api.runtime.models import today_utc
    from cached_booking_api.tools import cli

    table = booking_env[config.TABLE_NAME]
    check_in = body()["checkIn"]
    assert book(body(listingId="lis-2"), key="partial-1")[0] == 201  # lis-2 has 1 unit: now fully booked
    shrunk = listing("lis-2", units=1, overrides={check_in: 0})
    file = tmp_path / "shrink.jsonl"
    file.write_text(json.dumps(shrunk) + "\n", encoding="utf-8")
    base = ["load", "--table", table, "--endpoint-url", dynamodb_local.endpoint, str(file)]
    assert cli.main([*base, "--dry-run"]) == 1
    assert f"lis-2 {check_in}: capacity 0 is below the 1 unit(s) already booked" in capsys.readouterr().err
    assert cli.main(base) == 1
    assert f"lis-2 {check_in}" in capsys.readouterr().err
    assert cli.main([*base, "--allow-partial"]) == 0
    status, answer = book(body(listingId="lis-2"), key="partial-2")
    assert (status, answer["error"]["code"]) == (409, "UNAVAILABLE")  # still booked, still sold out
    assert today_utc().isoformat() in shrunk["inventory"]
