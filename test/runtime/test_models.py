"""The request models of the HTTP contract (BRIEF §3) on their own: each rule answers 400 naming the field."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from cached_booking_api.runtime.errors import ApiError
from cached_booking_api.runtime.models import (
    IDEMPOTENCY_KEY,
    MAX_NIGHTS,
    BookingRequest,
    SearchQuery,
    parse_or_400,
    today_utc,
)

pytestmark = pytest.mark.fast


def day(offset: int) -> str:
    return (today_utc() + timedelta(days=offset)).isoformat()


def search(**fields: Any) -> dict[str, Any]:
    return {"destination": "Lisbon", "checkIn": day(10), "checkOut": day(12), **fields}


def booking(**fields: Any) -> dict[str, Any]:
    return {"listingId": "lis-001", "checkIn": day(10), "checkOut": day(12), "guests": 2,
            "customer": {"name": "Ana Silva", "email": "ana@example.com"}, **fields}  # fmt: skip


def bad_fields(model: type[Any], data: dict[str, Any]) -> set[str]:
    with pytest.raises(ApiError) as raised:
        parse_or_400(model, data)
    assert raised.value.status == 400 and raised.value.code == "VALIDATION_ERROR"
    return {detail["field"] for detail in raised.value.details}


def test_search_defaults_are_one_guest_and_twenty_results() -> None:
    query = parse_or_400(SearchQuery, search())
    assert (query.guests, query.limit, query.cursor) == (1, 20, None)
    assert [night.isoformat() for night in query.nights] == [day(10), day(11)]


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"checkOut": day(10)}, "checkOut"),  # not after checkIn
        ({"checkIn": day(1), "checkOut": day(2 + MAX_NIGHTS)}, "checkOut"),  # 31 nights
        ({"checkIn": day(-1), "checkOut": day(1)}, "checkIn"),  # in the past (UTC)
        ({"checkIn": "2030-02-30"}, "checkIn"),  # not a calendar date
        ({"checkIn": "2030-06-01T00:00:00"}, "checkIn"),  # not YYYY-MM-DD
        ({"guests": 0}, "guests"),
        ({"guests": 17}, "guests"),
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"destination": "   "}, "destination"),
        ({"destination": "Lis\nbon"}, "destination"),
        ({"sort": "price"}, "sort"),  # unknown parameter
    ],
)
def test_each_search_rule_names_its_field(fields: dict[str, Any], bad: str) -> None:
    assert bad_fields(SearchQuery, search(**fields)) == {bad}


def test_a_stay_of_exactly_the_maximum_is_accepted() -> None:
    assert len(parse_or_400(SearchQuery, search(checkIn=day(1), checkOut=day(1 + MAX_NIGHTS))).nights) == MAX_NIGHTS


def test_every_bad_field_is_named_at_once() -> None:
    assert bad_fields(SearchQuery, {"checkIn": "x", "guests": 99}) >= {"destination", "checkIn", "checkOut", "guests"}


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"listingId": "lis 001"}, "listingId"),
        ({"guests": 17}, "guests"),
        ({"customer": {"name": "Ana", "email": "not-an-email"}}, "customer.email"),
        ({"customer": {"name": "", "email": "ana@example.com"}}, "customer.name"),
        ({"customer": {"name": "Ana", "email": "ana@example.com", "phone": "1"}}, "customer.phone"),
    ],
)
def test_each_booking_rule_names_its_field(fields: dict[str, Any], bad: str) -> None:
    assert bad_fields(BookingRequest, booking(**fields)) == {bad}


@pytest.mark.parametrize(
    ("key", "valid"),
    [("abcd-123", True), ("a" * 128, True), ("short", False), ("a" * 129, False), ("has space", False),
     ("ümlaut-key", False)],
)  # fmt: skip
def test_idempotency_keys_are_8_to_128_url_safe_characters(key: str, valid: bool) -> None:
    assert bool(IDEMPOTENCY_KEY.match(key)) is valid
