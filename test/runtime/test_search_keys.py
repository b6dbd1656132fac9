"""Key canonicalisation of searches: which queries share a cache entry, and the cursor bound to one query."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cached_booking_api.runtime import schema
from cached_booking_api.runtime.errors import ApiError
from cached_booking_api.runtime.models import SearchQuery, today_utc
from cached_booking_api.runtime.search_service import canonical_query, decode_cursor, encode_cursor, query_hash

pytestmark = pytest.mark.fast


def query(destination: str = "Lisbon", *, offset: int = 10, nights: int = 2, **more: object) -> SearchQuery:
    check_in = today_utc() + timedelta(days=offset)
    return SearchQuery.model_validate(
        {"destination": destination, "checkIn": check_in.isoformat(),
         "checkOut": (check_in + timedelta(days=nights)).isoformat(), **more}
    )  # fmt: skip


@pytest.mark.parametrize("spelling", ["lisbon", "LISBON", "  Lisbon ", "Lisbon\u3000"])
def test_spellings_of_one_destination_share_the_key(spelling: str) -> None:
    assert canonical_query(query(spelling)) == canonical_query(query("Lisbon"))
    assert query_hash(query(spelling)) == query_hash(query("Lisbon"))


def test_precomposed_decomposed_and_full_width_forms_are_one_destination() -> None:
    forms = ["Z\u00fcrich", "Zu\u0308rich", "Z\u00dcRICH", "zu\u0308rich\u3000"]
    assert len({query_hash(query(form)) for form in forms}) == 1
    assert len({schema.destination_tag(form) for form in forms}) == 1


def test_page_size_and_cursor_are_not_part_of_the_key() -> None:
    assert query_hash(query(limit=5)) == query_hash(query(limit=100)) == query_hash(query(cursor="abc"))


@pytest.mark.parametrize("other", [{"destination": "Porto"}, {"offset": 11}, {"nights": 3}, {"guests": 2}])
def test_destination_dates_and_guests_each_change_the_key(other: dict[str, object]) -> None:
    assert query_hash(query(**other)) != query_hash(query())  # type: ignore[arg-type]


def test_the_canonical_form_and_the_hash_are_stable() -> None:
    q = query("Lisbon", guests=3)
    check_in, check_out = q.stay
    assert canonical_query(q) == f"lisbon|{check_in.isoformat()}|{check_out.isoformat()}|3"
    digest = query_hash(q)
    assert len(digest) == 24 and int(digest, 16) >= 0


def test_a_destination_tag_is_safe_inside_a_redis_hash_tag() -> None:
    tag = schema.destination_tag("{weird}} name")
    assert len(tag) == 16 and not set(tag) & set("{}")


def test_a_cursor_round_trips_for_its_own_query_only() -> None:
    digest, other = query_hash(query()), query_hash(query("Porto"))
    assert decode_cursor(None, digest) is None
    assert decode_cursor(encode_cursor((12000, "lis-7"), digest), digest) == (12000, "lis-7")
    with pytest.raises(ApiError) as raised:
        decode_cursor(encode_cursor((12000, "lis-7"), digest), other)
    assert raised.value.status == 400 and raised.value.details[0]["field"] == "cursor"


@pytest.mark.parametrize("cursor", ["", "not base64!", "e30", encode_cursor((1, ""), "x"), "eyJvIjo0MCwicSI6IngifQ"])
def test_a_malformed_cursor_is_a_400_naming_the_cursor(cursor: str) -> None:
    with pytest.raises(ApiError) as raised:
        decode_cursor(cursor, "x")
    assert raised.value.code == "VALIDATION_ERROR" and raised.value.details[0]["field"] == "cursor"


@pytest.mark.parametrize(
    "units",
    [{}, {1: 3}, {d: 3 for d in range(1, 32)}, {5: 2, 6: 2, 9: 0, 30: 7}, {d: d % 3 for d in range(2, 29)}],
)
def test_the_compact_month_encoding_round_trips(units: dict[int, int]) -> None:
    from cached_booking_api.runtime.sellable import decode, encode

    assert decode(encode(units)) == units
    assert len(encode({d: 3 for d in range(1, 32)})) == 4  # "3*31": a listing-month in 4 bytes


@pytest.mark.parametrize("text", ["x", "3*0", "3*32", "1*30,2*2", "*"])
def test_a_malformed_month_encoding_is_a_value_error(text: str) -> None:
    from cached_booking_api.runtime.sellable import decode

    with pytest.raises(ValueError):
        decode(text)


def test_one_composition_filters_guests_and_nights_and_orders_by_price_then_id() -> None:
    from datetime import date

    from cached_booking_api.runtime.sellable import compose

    def listing(listing_id: str, price: int, guests: int) -> dict[str, object]:
        return {"listingId": listing_id, "name": listing_id, "destination": "Lisbon", "pricePerNight": price,
                "currency": "EUR", "maxGuests": guests}  # fmt: skip

    months = {"2030-01": {"a": {30: 2, 31: 1}, "b": {30: 5, 31: 5}, "c": {30: 1, 31: 1}, "d": {30: 0, 31: 4}},
              "2030-02": {"a": {1: 3}, "b": {1: 5}, "c": {1: 1}, "d": {1: 4}}}  # fmt: skip
    nights = [date(2030, 1, 30), date(2030, 1, 31), date(2030, 2, 1)]
    catalogue = [listing("b", 9000, 4), listing("a", 9000, 4), listing("c", 100, 1), listing("d", 50, 4)]
    results = compose(catalogue, lambda lid, month: months[month].get(lid), nights, 2)
    assert [(r["listingId"], r["available"], r["totalPrice"]) for r in results] == [("a", 1, 27000), ("b", 5, 27000)]
    assert "maxGuests" not in results[0]
